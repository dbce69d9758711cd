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
import {digestMismatch, fromSystemError, invalidArgument, isErrorCode, isNoSpaceError, MydockerError, notFound, unsupported} from '../errors.js'
import {chainIds} from '../image/chain.js'
import {createDecompressor} from '../image/decompress.js'
import {parseImageConfig, parseManifestOrIndex} from '../image/parse.js'
import {hostPlatform, platformMatches, selectManifest} from '../image/platform.js'
import type {Descriptor, ImageConfig, ImageManifest, Platform} from '../image/types.js'
import {repositoryName, storedName, type Reference} from '../reference/reference.js'
import type {RegistryClient} from '../registry/client.js'
import {applyLayer} from '../snapshot/apply.js'
import {storeSnapshotter, type SnapshotterChoice} from '../snapshot/detect.js'
import type {Ingest} from '../content/store.js'
import type {SnapshotInfo} from '../snapshot/store.js'
import type {StoredLayer} from '../store/images.js'
import {Lease} from '../store/lease.js'
import {acquireLock, blobLockKey, snapshotLockKey, type Release} from '../store/locks.js'
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
  /**
   * Receives what unpacking could not do exactly and went on without (an owner
   * outside a rootless user namespace's mapping, a device node it may not
   * make); by default printed on stderr as "mydocker: warning: ...".
   */
  onWarning?: (message: string) => void
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
    const snapshotter = await storeSnapshotter(store)
    emit({type: 'resolved', name, manifestDigest: resolved.digest, layers: resolved.manifest.layers})

    // The config and the layers are fetched at once: a layer's request goes out
    // before the config arrives, and only its unpacking waits for the diff IDs.
    const configPromise = storeConfig(store, reference, resolved.manifest.config, options.registry, lease)
    const layersPromise = storeLayers(store, reference, resolved.manifest, configPromise, {...options, lease, emit, snapshotter})
    const [config, layers] = await Promise.all([configPromise, layersPromise])

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
  /** The store's snapshot kind: flat snapshots are built bottom-first, each from a copy of the one below. */
  snapshotter: SnapshotterChoice
}

interface LayerOutcome {
  stored: StoredLayer
  snapshot: SnapshotInfo
}

async function storeLayers(
  store: Store,
  reference: Reference,
  manifest: ImageManifest,
  config: Promise<ImageConfig>,
  context: LayerContext,
): Promise<LayerOutcome[]> {
  const chains = config.then((resolved) => layerChains(manifest, resolved))
  // Whoever needs the chains sees a failure; this only stops an unhandled rejection.
  chains.catch(() => {})
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
    const chain = chains.then((all) => all[position])
    outcomes.push(limit(() => ensureLayer(store, reference, {descriptor, chain, lowers}, context)))
  })
  return settleAll(outcomes)
}

/** What the config says of each layer: its diff ID and chain IDs. */
interface LayerChain {
  diffId: string
  chainId: string
  parentChainId: string | null
}

function layerChains(manifest: ImageManifest, config: ImageConfig): LayerChain[] {
  const diffIds = config.rootfs.diff_ids
  if (diffIds.length !== manifest.layers.length) {
    throw new MydockerError('CORRUPT', `image config lists ${diffIds.length} diff IDs for ${manifest.layers.length} layers`)
  }
  const chains = chainIds(diffIds)
  return diffIds.map((diffId, position) => ({diffId, chainId: chains[position], parentChainId: chains[position - 1] ?? null}))
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
  /** Resolves once the config is stored. */
  chain: Promise<LayerChain>
  lowers: () => Promise<string[]>
}

/** A layer whose diff ID and chain ID are known. */
interface ResolvedLayer extends LayerChain {
  descriptor: Descriptor
  lowers: () => Promise<string[]>
}

async function ensureLayer(store: Store, reference: Reference, task: LayerTask, context: LayerContext): Promise<LayerOutcome> {
  context.lease.hold(task.descriptor.digest)
  if (store.content.info(task.descriptor.digest)) return ensureSnapshotOfStoredBlob(store, task, context)

  const releaseBlob = await acquireLock(store.paths.locks, blobLockKey(task.descriptor.digest))
  let releaseSnapshot: Release | undefined
  try {
    // Another process may have stored the blob while this one waited.
    if (store.content.info(task.descriptor.digest)) {
      await releaseBlob()
      return ensureSnapshotOfStoredBlob(store, task, context)
    }
    // The blob's request goes out now; its bytes wait until the chain is known.
    const early = await startDownload(store, reference, task.descriptor, context)
    const layer = await resolveLayer(task, context).catch(async (error) => {
      await early.cancel()
      throw error
    })
    releaseSnapshot = await acquireLock(store.paths.locks, snapshotLockKey(layer.chainId))
    await downloadLayer(store, layer, early, context, store.snapshots.get(layer.chainId) === undefined)
    context.emit({type: 'layer', digest: layer.descriptor.digest, status: 'complete'})
    return outcome(store, layer)
  } finally {
    await releaseSnapshot?.()
    await releaseBlob().catch(() => {})
  }
}

// The blob is stored (and so not written by anyone): only the snapshot's lock
// is needed, to build it once.
async function ensureSnapshotOfStoredBlob(store: Store, task: LayerTask, context: LayerContext): Promise<LayerOutcome> {
  const layer = await resolveLayer(task, context)
  const digest = layer.descriptor.digest
  if (store.snapshots.get(layer.chainId)) {
    context.emit({type: 'layer', digest, status: 'exists'})
    return outcome(store, layer)
  }
  const release = await acquireLock(store.paths.locks, snapshotLockKey(layer.chainId))
  try {
    if (!store.snapshots.get(layer.chainId)) await unpackStoredBlob(store, layer, context)
    context.emit({type: 'layer', digest, status: 'complete'})
    return outcome(store, layer)
  } finally {
    await release()
  }
}

async function resolveLayer(task: LayerTask, context: LayerContext): Promise<ResolvedLayer> {
  const chain = await task.chain
  context.lease.hold(chain.chainId)
  return {...chain, descriptor: task.descriptor, lowers: task.lowers}
}

function outcome(store: Store, layer: ResolvedLayer): LayerOutcome {
  return {stored: storedLayer(layer), snapshot: store.snapshots.get(layer.chainId)!}
}

function storedLayer(task: ResolvedLayer): StoredLayer {
  return {
    blobDigest: task.descriptor.digest,
    mediaType: task.descriptor.mediaType,
    size: task.descriptor.size,
    diffId: task.diffId,
    chainId: task.chainId,
  }
}

/** A blob download whose request is made and whose bytes have not been read yet. */
interface StartedDownload {
  ingest: Ingest
  source: Readable
  cancel(): Promise<void>
}

// Opens the ingest file (re-hashing what a killed pull left) and makes the
// request from the first byte not yet there.
async function startDownload(
  store: Store,
  reference: Reference,
  descriptor: Descriptor,
  context: LayerContext,
): Promise<StartedDownload> {
  const ingest = await store.content.openIngest(descriptor.digest, descriptor.size)
  try {
    const source = await context.registry.fetchBlob(reference, descriptor, {offset: ingest.offset})
    const cancel = async () => {
      source.destroy()
      await ingest.abort(true)
    }
    return {ingest, source, cancel}
  } catch (error) {
    await ingest.abort(true)
    throw asStoreError(error, store, `downloading layer ${descriptor.digest}`)
  }
}

// Reads a started download into the store; with `unpack`, the same bytes are
// unpacked as they arrive. A resumed download (bytes already in the ingest file)
// is unpacked from the stored blob afterwards instead, since the unpacker needs
// the whole stream.
async function downloadLayer(
  store: Store,
  layer: ResolvedLayer,
  download: StartedDownload,
  context: LayerContext,
  unpack: boolean,
): Promise<void> {
  const {descriptor} = layer
  const {ingest, source} = download
  // A flat snapshot starts as a copy of the one below, which may not exist
  // yet: its layer is unpacked from the stored blob once that one is built,
  // so the downloads still run in parallel.
  const pipelined = unpack && ingest.offset === 0 && context.snapshotter.kind === 'overlay'
  let completed = false
  let counted: Readable | undefined
  let unpacking: Unpacking | undefined
  try {
    counted = countBytes(source, ingest.offset, (current) =>
      context.emit({type: 'layer', digest: descriptor.digest, status: 'downloading', current, total: descriptor.size}),
    )
    const written = pipeline(counted, ingest.stream)
    unpacking = pipelined ? unpackStream(store, layer, counted, context) : undefined
    await Promise.all([written, unpacking?.built])

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
  if (unpack && !pipelined) await unpackStoredBlob(store, layer, context)
}

async function unpackStoredBlob(store: Store, task: ResolvedLayer, context: LayerContext): Promise<void> {
  const {digest, size} = task.descriptor
  context.emit({type: 'layer', digest, status: 'extracting', current: 0, total: size})
  const blob = countBytes(createReadStream(store.content.blobPath(digest)), 0, (current) =>
    context.emit({type: 'layer', digest, status: 'extracting', current, total: size}),
  )
  const unpacking = unpackStream(store, task, blob, context)
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
function unpackStream(store: Store, task: ResolvedLayer, source: Readable, context: LayerContext): Unpacking {
  const prepared = store.snapshots.prepare()
  const {kind, userXattr} = context.snapshotter
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
  const onWarning = context.onWarning ?? ((message: string) => process.stderr.write(`mydocker: warning: ${message}\n`))
  const applied = startFrom(kind, task, prepared.directory)
    .then(() => applyLayer({target: prepared.directory, tar, kind, lowers: kind === 'flat' ? async () => [] : task.lowers, userXattr, onWarning}))
    .then((result) => {
      size = result.size
    })
  // A failed copy leaves the stream unread; ending it lets the download settle.
  if (kind === 'flat') applied.catch((error) => tar.destroy(error as Error))

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
        kind,
        size,
      })
    },
    discard: () => store.snapshots.abort(prepared),
  }
}

// A flat snapshot starts as a copy of its parent's (the whole tree below it):
// cp keeps owners, modes, times, extended attributes and hard links, and
// shares blocks where the file system can (reflink).
async function startFrom(kind: SnapshotterChoice['kind'], task: ResolvedLayer, target: string): Promise<void> {
  if (kind !== 'flat' || task.parentChainId === null) return
  const [parent] = await task.lowers()
  const {execFile} = await import('node:child_process')
  const {promisify} = await import('node:util')
  try {
    await promisify(execFile)('cp', ['-a', '--reflink=auto', '--', `${parent}/.`, `${target}/`])
  } catch (error) {
    const detail = ((error as {stderr?: string}).stderr ?? '').trim() || (error as Error).message
    throw new MydockerError('INTERNAL', `copying snapshot ${parent} for layer ${task.descriptor.digest}: ${detail}`, {cause: error})
  }
}

// A full disk shows as ENOSPC from a file write or SQLITE_FULL from the index;
// either way the user reads "no space left on STORE". Other errors pass as they are.
function asStoreError(error: unknown, store: Store, what: string): unknown {
  return isNoSpaceError(error) ? fromSystemError(error, what, store.paths.root) : error
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

/** The layers of an image with their snapshots, as recordImage wants them. */
export interface UnpackedLayers {
  layers: StoredLayer[]
  /** Sum of the snapshot sizes. */
  unpackedSize: number
}

/**
 * Makes sure every layer of an image whose blobs are all stored (as `load`
 * brings them) has its snapshot, unpacking the missing ones exactly as a pull
 * does. The chain IDs are held by `lease` until the caller records the image.
 * Throws CORRUPT when the diff IDs do not match the layers, DIGEST_MISMATCH when
 * a layer unpacks to another diff ID, NOT_FOUND when a blob is not stored.
 */
export async function ensureLayerSnapshots(
  store: Store,
  layers: Descriptor[],
  diffIds: string[],
  lease: Lease,
): Promise<UnpackedLayers> {
  const manifest: ImageManifest = {schemaVersion: 2, config: {mediaType: '', digest: '', size: 0}, layers}
  const config = {architecture: '', os: '', rootfs: {type: 'layers', diff_ids: diffIds}} satisfies ImageConfig
  const registry: RegistryClient = {
    headManifest: async () => undefined,
    getManifest: async () => {
      throw notFound('no registry to fetch a manifest from')
    },
    fetchBlob: async (_reference, descriptor) => {
      throw notFound(`blob ${descriptor.digest} is not in the store`)
    },
  }
  const reference = {registry: 'localhost', repository: 'load'}
  const context = {registry, lease, emit: () => {}, snapshotter: await storeSnapshotter(store)}
  const outcomes = await storeLayers(store, reference, manifest, Promise.resolve(config), context)
  return {
    layers: outcomes.map((layer) => layer.stored),
    unpackedSize: outcomes.reduce((total, layer) => total + layer.snapshot.size, 0),
  }
}
