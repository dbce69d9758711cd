/**
 * `mydocker load`: stores the images of an archive, as if they had been pulled.
 *
 * Two formats are read, told apart by their files:
 * - an OCI archive (oci-layout, index.json, blobs/...), as `mydocker save`,
 *   `skopeo copy ... oci-archive:` and Docker 25+ `docker save` write. Each
 *   index entry is stored under the name in its io.containerd.image.name or
 *   org.opencontainers.image.ref.name annotation; an entry that is an image
 *   index is resolved to the host platform's manifest.
 * - a `docker save` archive (manifest.json, a config file, one uncompressed
 *   tar per layer), as Docker before 25 and `skopeo copy ... docker-archive:`
 *   write. It has no manifest, so an OCI manifest is made for it: the config
 *   and each layer tar become blobs under their own sha256 digests, and the
 *   layers' media types follow their compression. Each RepoTags entry becomes
 *   a stored name.
 *
 * Every blob is written through the content store's ingest and verified
 * against its digest before it is recorded; layers are unpacked into
 * snapshots and checked against the config's diff IDs; only then is each name
 * recorded. A lease holds the new content until then.
 */
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import type {Readable} from 'node:stream'
import {PassThrough} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {corrupt, fromSystemError, invalidArgument, MydockerError} from '../errors.js'
import {createDecompressor, detectCompression} from '../image/decompress.js'
import {parseImageConfig, parseManifestOrIndex} from '../image/parse.js'
import {hostPlatform, selectManifest} from '../image/platform.js'
import {MediaType, type Descriptor, type ImageConfig, type ImageManifest} from '../image/types.js'
import {parseReference, repositoryName, storedName} from '../reference/reference.js'
import {Lease} from '../store/lease.js'
import type {Store} from '../store/store.js'
import {readArchive, type ArchiveContents, type ArchiveFile} from './read-archive.js'
import {CONTAINERD_NAME_ANNOTATION, REF_NAME_ANNOTATION} from './save.js'
import {ensureLayerSnapshots} from '../service/pull.js'

/** One image a load stored. */
export interface LoadedImage {
  /** The stored name, `registry/repository:tag`. */
  name: string
  manifestDigest: string
  /** Config digest, the image ID. */
  id: string
}

/** What a load did. */
export interface LoadResult {
  format: 'oci' | 'docker'
  images: LoadedImage[]
  /** Image IDs of archive entries that carried no name and were not stored. */
  unnamed: string[]
}

/**
 * Loads the archive at `input` (a path), or read from `input` (a stream),
 * plain or gzip/zstd-compressed. Throws INVALID_ARGUMENT for an archive of
 * neither format, CORRUPT for a missing or damaged blob, DIGEST_MISMATCH when
 * a layer's content differs from its config.
 */
export async function loadArchive(store: Store, input: string | Readable): Promise<LoadResult> {
  const archiveName = typeof input === 'string' ? input : 'from stdin'
  const source = typeof input === 'string' ? createReadStream(input) : input
  const tar = new PassThrough({highWaterMark: 1 << 20})
  const decompressing = pipeline(source, createDecompressor(`archive ${archiveName}`), tar).catch((error: unknown) => {
    tar.destroy(error as Error)
    throw error
  })
  decompressing.catch(() => {})

  let contents: ArchiveContents
  try {
    contents = await readArchive(store, tar, archiveName)
    await decompressing
  } catch (error) {
    throw fromSystemError(error, `reading archive ${archiveName}`, store.paths.root)
  }

  const lease = Lease.create(store.db)
  try {
    const loader = new Loader(store, contents, lease, archiveName)
    return await loader.load()
  } finally {
    lease.release()
    await contents.close()
  }
}

class Loader {
  constructor(
    private readonly store: Store,
    private readonly contents: ArchiveContents,
    private readonly lease: Lease,
    private readonly archiveName: string,
  ) {}

  async load(): Promise<LoadResult> {
    const index = this.jsonFile<{manifests?: Descriptor[]}>('index.json')
    const named = (index?.manifests ?? []).filter((entry) => entryName(entry) !== undefined)
    if (index && (named.length > 0 || !this.contents.files.has('manifest.json'))) return this.loadOci(index.manifests ?? [])
    const dockerManifest = this.jsonFile<DockerArchiveEntry[]>('manifest.json')
    if (dockerManifest) return this.loadDocker(dockerManifest)
    throw invalidArgument(`archive ${this.archiveName} is neither an OCI archive nor a docker save archive`, {
      hint: 'it has no index.json or manifest.json at its top',
    })
  }

  private async loadOci(entries: Descriptor[]): Promise<LoadResult> {
    const result: LoadResult = {format: 'oci', images: [], unnamed: []}
    for (const entry of entries) {
      const name = entryName(entry)
      const resolved = await this.resolveManifest(entry)
      if (name === undefined) {
        result.unnamed.push(resolved.manifest.config.digest)
        continue
      }
      result.images.push(await this.recordImage(name, resolved))
    }
    return result
  }

  private async resolveManifest(entry: Descriptor): Promise<ResolvedManifest> {
    const body = await this.commitBlob(entry)
    const parsed = parseManifestOrIndex(body, entry.mediaType)
    if (parsed.kind === 'manifest') return {digest: entry.digest, mediaType: parsed.mediaType, manifest: parsed.manifest}

    const chosen = selectManifest(parsed.index, hostPlatform())
    const child = parseManifestOrIndex(await this.commitBlob(chosen), chosen.mediaType)
    if (child.kind !== 'manifest') throw corrupt(`index ${entry.digest} in ${this.archiveName} points at another index ${chosen.digest}`)
    return {digest: chosen.digest, mediaType: child.mediaType, manifest: child.manifest, indexDigest: entry.digest}
  }

  private async loadDocker(entries: DockerArchiveEntry[]): Promise<LoadResult> {
    const result: LoadResult = {format: 'docker', images: [], unnamed: []}
    for (const entry of entries) {
      const resolved = await this.manifestForDockerEntry(entry)
      const tags = entry.RepoTags ?? []
      if (tags.length === 0) result.unnamed.push(resolved.manifest.config.digest)
      for (const tag of tags) result.images.push(await this.recordImage(storedName(parseReference(tag)), resolved))
    }
    return result
  }

  // A docker archive has no manifest: make one naming the config and layer
  // files by their digests, and store it like any other blob.
  private async manifestForDockerEntry(entry: DockerArchiveEntry): Promise<ResolvedManifest> {
    if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) {
      throw corrupt(`manifest.json of ${this.archiveName} has an entry without Config or Layers`)
    }
    const config = this.fileDescriptor(entry.Config, MediaType.ociConfig)
    const layers = entry.Layers.map((path) => {
      const file = this.file(path)
      return this.fileDescriptor(path, layerMediaType(file))
    })
    const manifest: ImageManifest = {schemaVersion: 2, mediaType: MediaType.ociManifest, config, layers}
    const body = Buffer.from(JSON.stringify(manifest))
    const digest = `sha256:${createHash('sha256').update(body).digest('hex')}`
    this.lease.hold(digest)
    await this.store.content.writeBlob(digest, body, MediaType.ociManifest)
    return {digest, mediaType: MediaType.ociManifest, manifest}
  }

  private fileDescriptor(path: string, mediaType: string): Descriptor {
    const file = this.file(path)
    return {mediaType, digest: file.digest, size: file.size}
  }

  private async recordImage(name: string, resolved: ResolvedManifest): Promise<LoadedImage> {
    const reference = parseReference(name)
    const {manifest} = resolved
    const config = parseImageConfig(await this.commitBlob(manifest.config))
    for (const layer of manifest.layers) await this.commitBlob(layer)
    const unpacked = await ensureLayerSnapshots(this.store, manifest.layers, config.rootfs.diff_ids, this.lease)

    const stored = storedName(reference)
    this.store.images.recordImage({
      name: stored,
      repository: repositoryName(reference),
      tag: reference.digest ? undefined : reference.tag,
      manifestDigest: resolved.digest,
      manifestMediaType: resolved.mediaType,
      indexDigest: resolved.indexDigest,
      configDigest: manifest.config.digest,
      platform: platformOf(config),
      created: config.created,
      layers: unpacked.layers,
      unpackedSize: unpacked.unpackedSize,
    })
    return {name: stored, manifestDigest: resolved.digest, id: manifest.config.digest}
  }

  /**
   * Makes sure the blob `descriptor` names is stored (committing its ingest, or
   * ingesting a staged file) and returns its content when it is small. The
   * blob is held by the lease from here on.
   */
  private async commitBlob(descriptor: Descriptor): Promise<Buffer> {
    const {digest} = descriptor
    this.lease.hold(digest)
    const file = this.findBlob(digest)
    if (!this.store.content.info(digest)) {
      if (!file) throw corrupt(`archive ${this.archiveName} lacks blob ${digest}`)
      await this.storeFile(file, descriptor)
    }
    return file?.body ?? (descriptor.size <= 4 << 20 ? this.store.content.readBlob(digest) : Buffer.alloc(0))
  }

  private async storeFile(file: ArchiveFile, descriptor: Descriptor): Promise<void> {
    if (file.size !== descriptor.size) {
      throw corrupt(`blob ${descriptor.digest} in ${this.archiveName} has ${file.size} bytes; its descriptor says ${descriptor.size}`)
    }
    if (file.ingest) {
      const ingest = file.ingest
      file.ingest = undefined
      await ingest.commit(descriptor.mediaType)
      return
    }
    if (file.body) {
      await this.store.content.writeBlob(descriptor.digest, file.body, descriptor.mediaType)
      return
    }

    const ingest = await this.store.content.openIngest(descriptor.digest, file.size, {resume: false})
    try {
      await pipeline(createReadStream(file.stagedPath!), ingest.stream)
    } catch (error) {
      await ingest.abort(false)
      throw error
    }
    await ingest.commit(descriptor.mediaType)
  }

  private findBlob(digest: string): ArchiveFile | undefined {
    const byPath = this.contents.files.get(`blobs/${digest.replace(':', '/')}`)
    if (byPath) return byPath
    for (const file of this.contents.files.values()) if (file.digest === digest) return file
    return undefined
  }

  private file(path: string): ArchiveFile {
    const file = this.contents.files.get(this.contents.resolve(path))
    if (!file) throw corrupt(`archive ${this.archiveName} lacks ${path}, which its manifest.json names`)
    return file
  }

  private jsonFile<T>(path: string): T | undefined {
    const file = this.contents.files.get(path)
    if (!file) return undefined
    if (!file.body) throw invalidArgument(`${path} in archive ${this.archiveName} is too large`)
    try {
      return JSON.parse(file.body.toString('utf8')) as T
    } catch (error) {
      throw corrupt(`${path} in archive ${this.archiveName} is not valid JSON: ${(error as Error).message}`)
    }
  }
}

interface ResolvedManifest {
  digest: string
  mediaType: string
  manifest: ImageManifest
  indexDigest?: string
}

/** An entry of a docker archive's manifest.json. */
interface DockerArchiveEntry {
  Config: string
  RepoTags?: string[] | null
  Layers: string[]
}

/**
 * The stored name of an OCI archive entry: io.containerd.image.name, else a
 * ref.name that is a whole reference (a bare tag such as "latest", as umoci
 * and skopeo write into their own layouts, names no repository).
 */
function entryName(entry: Descriptor): string | undefined {
  const candidates = [entry.annotations?.[CONTAINERD_NAME_ANNOTATION], entry.annotations?.[REF_NAME_ANNOTATION]]
  for (const candidate of candidates) {
    if (candidate === undefined || !/[/:]/.test(candidate)) continue
    try {
      return storedName(parseReference(candidate))
    } catch (error) {
      if (!(error instanceof MydockerError)) throw error
    }
  }
  return undefined
}

function layerMediaType(file: ArchiveFile): string {
  const compression = detectCompression(file.head)
  if (compression === 'gzip') return MediaType.ociLayerGzip
  if (compression === 'zstd') return MediaType.ociLayerZstd
  return MediaType.ociLayer
}

function platformOf(config: ImageConfig) {
  return {os: config.os, architecture: config.architecture, ...(config.variant ? {variant: config.variant} : {})}
}
