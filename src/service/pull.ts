/**
 * Pulling an image into the store.
 *
 * 1. Resolve the reference to a manifest (through an index for the platform).
 *    An image already stored under the name costs one HEAD request.
 * 2. Store the config, then each layer: the blob streams to its ingest file and,
 *    in the same pass, through decompression into the layer applier, so a layer
 *    is unpacked while it arrives. Its snapshot is committed only after the blob
 *    digest and the diff ID both verify. Layers run in parallel within a bound.
 * 3. Record the manifest and the name in one transaction.
 *
 * Everything written before step 3 is held by a lease, so a concurrent `rm`
 * never collects it; a killed pull leaves ingest files that the next one resumes.
 */
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {PassThrough, Transform, type Readable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {digestMismatch, fromSystemError, invalidArgument, isErrorCode, MydockerError, unsupported} from '../errors.js'
import {chainIds} from '../image/chain.js'
import {createDecompressor} from '../image/decompress.js'
import {parseImageConfig, parseManifestOrIndex} from '../image/parse.js'
import {hostPlatform, platformMatches, selectManifest} from '../image/platform.js'
import type {Descriptor, ImageConfig, ImageManifest, Platform} from '../image/types.js'
import {repositoryName, storedName, type Reference} from '../reference/reference.js'
import type {RegistryClient} from '../registry/client.js'
import {applyLayer} from '../snapshot/apply.js'
import type {SnapshotInfo} from '../snapshot/store.js'
import type {StoredLayer} from '../store/images.js'
import {Lease} from '../store/lease.js'
import {acquireLock, blobLockKey, snapshotLockKey} from '../store/locks.js'
import type {Store} from '../store/store.js'

/** How many layers download and unpack at once. */
const LAYER_CONCURRENCY = 3
/** Configs are small JSON documents; anything larger is refused. */
const MAX_CONFIG_BYTES = 8 << 20

/** What a pull reports as it goes, for progress displays. */
export type PullEvent =
  | {type: 'resolved'; name: string; manifestDigest: string; layers: Descriptor[]}
  | {type: 'layer'; digest: string; status: LayerStatus; current?: number; total?: number}

export type LayerStatus = 'waiting' | 'exists' | 'downloading' | 'verifying' | 'extracting' | 'complete'

export interface PullOptions {
  registry: RegistryClient
  platform?: Platform
  onEvent?: (event: PullEvent) => void
}

export interface PullResult {
  name: string
  manifestDigest: string
  configDigest: string
  /** True when the store already had this image under this name. */
  upToDate: boolean
}

/** Pulls `reference` into `store`; see the module comment for the steps. */
export async function pullImage(store: Store, reference: Reference, options: PullOptions): Promise<PullResult> {
  const name = storedName(reference)
  const current = await upToDate(store, reference, options)
  if (current) return current

  const lease = Lease.create(store.db)
  try {
    // What a killed pull was unpacking is never used; clear it before adding more.
    await store.snapshots.removeAbandoned()
    const resolved = await resolveManifest(store, reference, options, lease)
    const emit = options.onEvent ?? (() => {})
    emit({type: 'resolved', name, manifestDigest: resolved.digest, layers: resolved.manifest.layers})

    const config = await storeConfig(store, reference, resolved.manifest.config, options.registry, lease)
    const layers = await storeLayers(store, reference, resolved.manifest, config, {...options, lease, emit})

    store.images.recordImage({
      name,
      repository: repositoryName(reference),
      tag: reference.digest ? undefined : reference.tag,
      manifestDigest: resolved.digest,
      manifestMediaType: resolved.mediaType,
      indexDigest: resolved.indexDigest,
      configDigest: resolved.manifest.config.digest,
      platform: {os: config.os, architecture: config.architecture, variant: config.variant},
      created: config.created,
      layers: layers.map((layer) => layer.stored),
      unpackedSize: layers.reduce((total, layer) => total + layer.snapshot.size, 0),
    })
    return {name, manifestDigest: resolved.digest, configDigest: resolved.manifest.config.digest, upToDate: false}
  } catch (error) {
    throw asStoreError(error, store, `pulling ${name}`)
  } finally {
    lease.release()
  }
}

// A stored name that still points where the registry says costs one request
// (none for a digest reference, which cannot change).
// A name stored for another platform than the one asked for is pulled again.
async function upToDate(store: Store, reference: Reference, options: PullOptions): Promise<PullResult | undefined> {
  const name = storedName(reference)
  const image = store.images.runnable(name)
  const stored = store.images.summary(name)
  if (!image || !stored || image.snapshotIds.some((id) => id === null)) return undefined
  if (!platformMatches(stored.platform, options.platform ?? hostPlatform())) return undefined
  const result = {name, manifestDigest: image.manifestDigest, configDigest: image.configDigest, upToDate: true}
  if (reference.digest) return result

  const head = await options.registry.headManifest(reference)
  if (!head) return undefined
  return head.digest === stored.manifestDigest || head.digest === stored.indexDigest ? result : undefined
}

interface ResolvedManifest {
  digest: string
  mediaType: string
  manifest: ImageManifest
  indexDigest?: string
}

async function resolveManifest(
  store: Store,
  reference: Reference,
  options: PullOptions,
  lease: Lease,
): Promise<ResolvedManifest> {
  const top = await options.registry.getManifest(reference)
  const parsed = parseManifestOrIndex(top.body, top.mediaType)
  lease.hold(top.digest)
  await store.content.writeBlob(top.digest, top.body, parsed.mediaType)
  if (parsed.kind === 'manifest') return {digest: top.digest, mediaType: parsed.mediaType, manifest: parsed.manifest}

  const chosen = selectManifest(parsed.index, options.platform ?? hostPlatform())
  const response = await options.registry.getManifest(reference, chosen.digest)
  const child = parseManifestOrIndex(response.body, response.mediaType)
  if (child.kind !== 'manifest') {
    throw unsupported(`index ${top.digest} points at another index ${chosen.digest}; nested indexes are not supported`)
  }
  lease.hold(response.digest)
  await store.content.writeBlob(response.digest, response.body, child.mediaType)
  return {digest: response.digest, mediaType: child.mediaType, manifest: child.manifest, indexDigest: top.digest}
}

async function storeConfig(
  store: Store,
  reference: Reference,
  descriptor: Descriptor,
  registry: RegistryClient,
  lease: Lease,
): Promise<ImageConfig> {
  lease.hold(descriptor.digest)
  const stored = () => (store.content.info(descriptor.digest) ? parseImageConfig(store.content.readBlob(descriptor.digest)) : undefined)
  const early = stored()
  if (early) return early
  if (descriptor.size > MAX_CONFIG_BYTES) {
    throw invalidArgument(`config ${descriptor.digest} is ${descriptor.size} bytes, more than the ${MAX_CONFIG_BYTES} allowed`)
  }

  // Under the blob's lock, so concurrent pulls of one image download it once.
  const release = await acquireLock(store.paths.locks, blobLockKey(descriptor.digest))
  try {
    const cached = stored()
    if (cached) return cached
    const body = await readAll(await registry.fetchBlob(reference, descriptor), MAX_CONFIG_BYTES)
    const actual = `sha256:${createHash('sha256').update(body).digest('hex')}`
    if (actual !== descriptor.digest) throw digestMismatch(`config ${descriptor.digest}: content has digest ${actual}`)
    const config = parseImageConfig(body)
    await store.content.writeBlob(descriptor.digest, body, descriptor.mediaType, {holdingLock: true})
    return config
  } finally {
    await release()
  }
}

interface LayerContext extends PullOptions {
  lease: Lease
  emit: (event: PullEvent) => void
}

interface LayerOutcome {
  stored: StoredLayer
  snapshot: SnapshotInfo
}

async function storeLayers(
  store: Store,
  reference: Reference,
  manifest: ImageManifest,
  config: ImageConfig,
  context: LayerContext,
): Promise<LayerOutcome[]> {
  const diffIds = config.rootfs.diff_ids
  if (diffIds.length !== manifest.layers.length) {
    throw new MydockerError(
      'CORRUPT',
      `image config lists ${diffIds.length} diff IDs for ${manifest.layers.length} layers`,
    )
  }
  const chains = chainIds(diffIds)
  for (const layer of manifest.layers) context.emit({type: 'layer', digest: layer.digest, status: 'waiting'})

  // Each layer's promise resolves with its snapshot, so a layer that must look
  // below itself (a hard link to a lower file) can wait for exactly those.
  const outcomes: Array<Promise<LayerOutcome>> = []
  const {default: pLimit} = await import('p-limit')
  const limit = pLimit(LAYER_CONCURRENCY)
  manifest.layers.forEach((descriptor, position) => {
    const lowers = async () => {
      const below = await Promise.all(outcomes.slice(0, position))
      return below.reverse().map((outcome) => store.snapshots.directory(outcome.snapshot.id))
    }
    const task = {descriptor, diffId: diffIds[position], chainId: chains[position], parentChainId: chains[position - 1] ?? null, lowers}
    outcomes.push(limit(() => ensureLayer(store, reference, task, context)))
  })
  return settleAll(outcomes)
}

// Like Promise.all, but waits for every layer to stop before rejecting, so no
// unpack is still writing when the caller cleans up.
async function settleAll<T>(promises: Array<Promise<T>>): Promise<T[]> {
  const results = await Promise.allSettled(promises)
  const failed = results.find((result) => result.status === 'rejected')
  if (failed) throw (failed as PromiseRejectedResult).reason
  return results.map((result) => (result as PromiseFulfilledResult<T>).value)
}

interface LayerTask {
  descriptor: Descriptor
  diffId: string
  chainId: string
  parentChainId: string | null
  lowers: () => Promise<string[]>
}

async function ensureLayer(store: Store, reference: Reference, task: LayerTask, context: LayerContext): Promise<LayerOutcome> {
  const {descriptor} = task
  context.lease.hold(descriptor.digest)
  context.lease.hold(task.chainId)
  const outcome = () => ({stored: storedLayer(task), snapshot: store.snapshots.get(task.chainId)!})
  if (store.content.info(descriptor.digest) && store.snapshots.get(task.chainId)) {
    context.emit({type: 'layer', digest: descriptor.digest, status: 'exists'})
    return outcome()
  }

  const releaseBlob = await acquireLock(store.paths.locks, blobLockKey(descriptor.digest))
  const releaseSnapshot = await acquireLock(store.paths.locks, snapshotLockKey(task.chainId))
  try {
    const haveBlob = store.content.info(descriptor.digest) !== undefined
    const haveSnapshot = store.snapshots.get(task.chainId) !== undefined
    if (haveBlob && haveSnapshot) {
      context.emit({type: 'layer', digest: descriptor.digest, status: 'exists'})
    } else if (haveBlob) {
      await unpackStoredBlob(store, task, context)
    } else {
      await downloadLayer(store, reference, task, context, !haveSnapshot)
    }
    context.emit({type: 'layer', digest: descriptor.digest, status: 'complete'})
    return outcome()
  } finally {
    await releaseSnapshot()
    await releaseBlob()
  }
}

function storedLayer(task: LayerTask): StoredLayer {
  return {
    blobDigest: task.descriptor.digest,
    mediaType: task.descriptor.mediaType,
    size: task.descriptor.size,
    diffId: task.diffId,
    chainId: task.chainId,
  }
}

// Downloads a layer blob; with `unpack`, the same bytes are unpacked as they
// arrive. A resumed download (bytes already in the ingest file) is unpacked from
// the stored blob afterwards instead, since the unpacker needs the whole stream.
async function downloadLayer(
  store: Store,
  reference: Reference,
  task: LayerTask,
  context: LayerContext,
  unpack: boolean,
): Promise<void> {
  const {descriptor} = task
  const ingest = await store.content.openIngest(descriptor.digest, descriptor.size)
  const pipelined = unpack && ingest.offset === 0
  let completed = false
  let counted: Readable | undefined
  let unpacking: Unpacking | undefined
  try {
    const source = await context.registry.fetchBlob(reference, descriptor, {offset: ingest.offset})
    counted = countBytes(source, ingest.offset, (current) =>
      context.emit({type: 'layer', digest: descriptor.digest, status: 'downloading', current, total: descriptor.size}),
    )
    const download = pipeline(counted, ingest.stream)
    unpacking = pipelined ? unpackStream(store, task, counted) : undefined
    await Promise.all([download, unpacking?.built])

    context.emit({type: 'layer', digest: descriptor.digest, status: 'verifying'})
    await ingest.commit(descriptor.mediaType).catch(async (error) => {
      await unpacking?.discard()
      throw error
    })
    completed = true
    if (unpacking) await unpacking.commit()
  } catch (caught) {
    const error = asStoreError(caught, store, `storing layer ${descriptor.digest}`)
    // An unpack still reading the stream would finish and leave its directory.
    if (unpacking && counted) {
      counted.destroy(error as Error)
      await unpacking.built.catch(() => {})
      await unpacking.discard()
    }
    // Keep partial bytes for a resume unless they were proven wrong, or they
    // take space a full disk needs back.
    if (!completed) await ingest.abort(!isErrorCode(error, 'DIGEST_MISMATCH') && !isErrorCode(error, 'NO_SPACE'))
    throw error
  }
  if (unpack && !pipelined) await unpackStoredBlob(store, task, context)
}

async function unpackStoredBlob(store: Store, task: LayerTask, context: LayerContext): Promise<void> {
  context.emit({type: 'layer', digest: task.descriptor.digest, status: 'extracting'})
  const unpacking = unpackStream(store, task, createReadStream(store.content.blobPath(task.descriptor.digest)))
  await unpacking.built
  await unpacking.commit()
}

interface Unpacking {
  /** Resolves when the layer is applied and its diff ID verified. */
  built: Promise<void>
  commit(): Promise<void>
  discard(): Promise<void>
}

// Decompresses `source` into a new snapshot, hashing the tar stream for the diff
// ID. Nothing is committed until `commit`, after the caller verified the blob.
function unpackStream(store: Store, task: LayerTask, source: Readable): Unpacking {
  const prepared = store.snapshots.prepare()
  const diffHash = createHash('sha256')
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      diffHash.update(chunk)
      callback(null, chunk)
    },
  })
  const tar = new PassThrough({highWaterMark: 1 << 20})
  const decompressed = pipeline(source, createDecompressor(task.descriptor.digest), hashing, tar)
  let size = 0
  const applied = applyLayer({target: prepared.directory, tar, kind: 'overlay', lowers: task.lowers}).then((result) => {
    size = result.size
  })

  const built = Promise.all([decompressed, applied]).then(() => {
    const diffId = `sha256:${diffHash.digest('hex')}`
    if (diffId !== task.diffId) {
      throw digestMismatch(`layer ${task.descriptor.digest}: uncompressed content has diff ID ${diffId}, config says ${task.diffId}`)
    }
  })
  built.catch(() => store.snapshots.abort(prepared))
  return {
    built,
    commit: async () => {
      await store.snapshots.commit(prepared, {
        chainId: task.chainId,
        diffId: task.diffId,
        parentChainId: task.parentChainId,
        kind: 'overlay',
        size,
      })
    },
    discard: () => store.snapshots.abort(prepared),
  }
}

// A full disk shows as ENOSPC from a file write or SQLITE_FULL from the index;
// either way the user reads "no space left on STORE". Other errors pass as they are.
function asStoreError(error: unknown, store: Store, what: string): unknown {
  const code = (error as {code?: unknown} | undefined)?.code
  if (code === 'ENOSPC' || code === 'EDQUOT') return fromSystemError(error, what, store.paths.root)
  if (code !== 'SQLITE_FULL') return error
  // TODO(#7): fromSystemError could know SQLITE_FULL itself (errors.ts is not ours to edit).
  const full = Object.assign(new Error((error as Error).message, {cause: error}), {code: 'ENOSPC'})
  return fromSystemError(full, what, store.paths.root)
}

// Passes bytes through, reporting the running total now and then.
function countBytes(source: Readable, start: number, report: (current: number) => void): Readable {
  let current = start
  let reported = 0
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      current += chunk.length
      if (current - reported >= 256 * 1024) {
        reported = current
        report(current)
      }
      callback(null, chunk)
    },
    flush(callback) {
      report(current)
      callback()
    },
  })
  source.on('error', (error) => counter.destroy(error))
  return source.pipe(counter)
}

async function readAll(stream: Readable, cap: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    length += chunk.length
    if (length > cap) {
      stream.destroy()
      throw invalidArgument(`blob is larger than the ${cap} bytes allowed`)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}
