/**
 * Unpacking stored layer blobs into snapshots, for images that arrive without a
 * registry (`mydocker load`). Same rules as a pull: each layer is decompressed
 * (by its magic bytes), applied as an overlay snapshot over the snapshots
 * below it, its diff ID checked against the config, and committed under its
 * chain ID only then, under the chain ID's lock.
 *
 * TODO(#8): pull.ts has the same steps privately (unpackStoredBlob/unpackStream);
 * once it exports them, this module should call them instead.
 */
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {PassThrough, Transform} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {corrupt, digestMismatch} from '../errors.js'
import {chainIds} from '../image/chain.js'
import {createDecompressor} from '../image/decompress.js'
import type {Descriptor} from '../image/types.js'
import type {SnapshotInfo} from '../snapshot/store.js'
import type {StoredLayer} from '../store/images.js'
import type {Lease} from '../store/lease.js'
import {acquireLock, snapshotLockKey} from '../store/locks.js'
import type {Store} from '../store/store.js'

/** The layers of an image with their snapshots, as recordImage wants them. */
export interface UnpackedLayers {
  layers: StoredLayer[]
  /** Sum of the snapshot sizes. */
  unpackedSize: number
}

/**
 * Makes sure every layer of an image (its blobs already stored) has its
 * snapshot, bottom first, building the missing ones one at a time. The chain
 * IDs are held by `lease` so garbage collection keeps them until the image is
 * recorded. Throws CORRUPT when the config's diff IDs do not match the layer
 * count, DIGEST_MISMATCH when an unpacked layer has another diff ID.
 */
export async function ensureLayerSnapshots(
  store: Store,
  layers: Descriptor[],
  diffIds: string[],
  lease: Lease,
): Promise<UnpackedLayers> {
  if (diffIds.length !== layers.length) {
    throw corrupt(`image config lists ${diffIds.length} diff IDs for ${layers.length} layers`)
  }
  const chains = chainIds(diffIds)
  const snapshots: SnapshotInfo[] = []
  for (const [position, descriptor] of layers.entries()) {
    lease.hold(chains[position])
    const task = {descriptor, diffId: diffIds[position], chainId: chains[position], parentChainId: chains[position - 1] ?? null}
    const lowers = snapshots.map((snapshot) => store.snapshots.directory(snapshot.id)).reverse()
    snapshots.push(store.snapshots.get(task.chainId) ?? (await buildSnapshot(store, task, lowers)))
  }

  return {
    layers: layers.map((descriptor, position) => ({
      blobDigest: descriptor.digest,
      mediaType: descriptor.mediaType,
      size: descriptor.size,
      diffId: diffIds[position],
      chainId: chains[position],
    })),
    unpackedSize: snapshots.reduce((total, snapshot) => total + snapshot.size, 0),
  }
}

interface LayerTask {
  descriptor: Descriptor
  diffId: string
  chainId: string
  parentChainId: string | null
}

async function buildSnapshot(store: Store, task: LayerTask, lowers: string[]): Promise<SnapshotInfo> {
  const release = await acquireLock(store.paths.locks, snapshotLockKey(task.chainId))
  try {
    // Another process may have built it while this one waited for the lock.
    const existing = store.snapshots.get(task.chainId)
    if (existing) return existing

    const prepared = store.snapshots.prepare()
    try {
      const size = await applyBlob(store, task, prepared.directory, lowers)
      return await store.snapshots.commit(prepared, {
        chainId: task.chainId,
        diffId: task.diffId,
        parentChainId: task.parentChainId,
        kind: 'overlay',
        size,
      })
    } catch (error) {
      await store.snapshots.abort(prepared)
      throw error
    }
  } finally {
    await release()
  }
}

// Streams the stored blob through decompression into the applier, hashing the
// tar stream on the way; resolves with the bytes the snapshot holds.
async function applyBlob(store: Store, task: LayerTask, target: string, lowers: string[]): Promise<number> {
  const {applyLayer} = await import('../snapshot/apply.js')
  const diffHash = createHash('sha256')
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      diffHash.update(chunk)
      callback(null, chunk)
    },
  })
  const tar = new PassThrough({highWaterMark: 1 << 20})
  const source = createReadStream(store.content.blobPath(task.descriptor.digest))
  const [, applied] = await Promise.all([
    pipeline(source, createDecompressor(task.descriptor.digest), hashing, tar),
    applyLayer({target, tar, kind: 'overlay', lowers: async () => lowers}),
  ])

  const diffId = `sha256:${diffHash.digest('hex')}`
  if (diffId !== task.diffId) {
    throw digestMismatch(`layer ${task.descriptor.digest}: uncompressed content has diff ID ${diffId}, config says ${task.diffId}`)
  }
  return applied.size
}
