/**
 * `mydocker save`: writes stored images as an OCI archive, a tar of an OCI
 * image layout (image-spec "image-layout.md"): `oci-layout`, `index.json` with
 * one manifest descriptor per name, and `blobs/<algorithm>/<hex>` for the
 * manifests, configs and layers, byte for byte as stored. A `manifest.json` in
 * `docker save`'s shape is added too, naming the same blobs, so tools that read
 * only Docker's format (`docker load` since Docker 25) read the archive as well.
 *
 * Blobs stream from the store into the archive and are hashed on the way; a
 * blob whose content no longer matches its digest fails the save, so a damaged
 * store never produces an archive that looks good.
 */
import {createHash} from 'node:crypto'
import {createReadStream, createWriteStream} from 'node:fs'
import {rename, rm} from 'node:fs/promises'
import {Transform, type Writable} from 'node:stream'
import {corrupt, fromSystemError, REPAIR_HINT} from '../errors.js'
import {parseManifestOrIndex} from '../image/parse.js'
import {MediaType, type Descriptor} from '../image/types.js'
import {familiarRepository, parseReference} from '../reference/reference.js'
import {resolveStoredNames} from '../service/images.js'
import type {Store} from '../store/store.js'
import {TarWriter} from './tar-writer.js'

/** Annotation containerd and Docker use for the full image name. */
export const CONTAINERD_NAME_ANNOTATION = 'io.containerd.image.name'
/** The image-spec annotation a layout's index uses to name a manifest. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name'

/** What a save wrote. */
export interface SaveResult {
  /** Stored names written to the archive's index. */
  names: string[]
  /** Blobs written, and their total size in bytes. */
  blobs: number
  bytes: number
}

interface SavedImage {
  name: string
  manifest: Descriptor
  config: Descriptor
  layers: Descriptor[]
}

/**
 * Writes the images `inputs` name (references or image ID prefixes) as an OCI
 * archive to `output`: a file path (written under a temporary name and renamed
 * when complete, so a failed save leaves no partial file) or a stream (ended
 * when done). Throws NOT_FOUND before writing anything when an input matches
 * no stored image, CORRUPT when a stored blob fails its digest.
 */
export async function saveImages(store: Store, inputs: string[], output: string | Writable): Promise<SaveResult> {
  const names = [...new Set(inputs.flatMap((input) => resolveStoredNames(store, input)))]
  const images = names.map((name) => describeImage(store, name))
  if (typeof output !== 'string') return writeArchive(store, images, output)

  const temporary = `${output}.tmp-${process.pid}`
  try {
    const result = await writeArchive(store, images, createWriteStream(temporary, {mode: 0o644}))
    await rename(temporary, output)
    return result
  } catch (error) {
    await rm(temporary, {force: true})
    throw fromSystemError(error, `writing archive ${output}`)
  }
}

function describeImage(store: Store, name: string): SavedImage {
  const manifestDigest = store.images.manifestOf(name)!
  const manifestBlob = store.content.info(manifestDigest)
  if (!manifestBlob) throw corrupt(`manifest ${manifestDigest} of ${name} is not in the store`)

  const parsed = parseManifestOrIndex(store.content.readBlob(manifestDigest), manifestBlob.mediaType)
  if (parsed.kind !== 'manifest') throw corrupt(`${name} points at ${manifestDigest}, which is not an image manifest`)
  const platform = store.db
    .prepare('SELECT os, architecture, variant FROM manifests WHERE digest = ?')
    .get(manifestDigest) as {os: string; architecture: string; variant: string | null}
  return {
    name,
    manifest: {
      mediaType: parsed.mediaType,
      digest: manifestDigest,
      size: manifestBlob.size,
      platform: {os: platform.os, architecture: platform.architecture, ...(platform.variant ? {variant: platform.variant} : {})},
      annotations: {[CONTAINERD_NAME_ANNOTATION]: name, [REF_NAME_ANNOTATION]: name},
    },
    config: parsed.manifest.config,
    layers: parsed.manifest.layers,
  }
}

async function writeArchive(store: Store, images: SavedImage[], output: Writable): Promise<SaveResult> {
  const failed = new Promise<never>((_resolve, reject) => output.once('error', reject))
  failed.catch(() => {})
  const work = async () => {
    const tar = await TarWriter.create(output)
    await tar.addBuffer('oci-layout', Buffer.from('{"imageLayoutVersion":"1.0.0"}\n'))
    await tar.addBuffer('index.json', Buffer.from(`${JSON.stringify(layoutIndex(images))}\n`))
    await tar.addBuffer('manifest.json', Buffer.from(`${JSON.stringify(dockerManifest(images))}\n`))

    const blobs = uniqueBlobs(images)
    await tar.addDirectory('blobs')
    for (const algorithm of new Set(blobs.map((blob) => blob.digest.split(':')[0]))) await tar.addDirectory(`blobs/${algorithm}`)
    for (const blob of blobs) await addBlob(store, tar, blob)
    await tar.finish()
    return {names: images.map((image) => image.name), blobs: blobs.length, bytes: blobs.reduce((total, blob) => total + blob.size, 0)}
  }
  return Promise.race([work(), failed])
}

function layoutIndex(images: SavedImage[]) {
  return {schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: images.map((image) => image.manifest)}
}

// docker save's manifest.json: one entry per image, RepoTags as docker names them.
function dockerManifest(images: SavedImage[]) {
  const byConfig = new Map<string, {Config: string; RepoTags: string[]; Layers: string[]}>()
  for (const image of images) {
    const entry = byConfig.get(image.config.digest) ?? {Config: blobName(image.config.digest), RepoTags: [], Layers: image.layers.map((layer) => blobName(layer.digest))}
    if (!image.name.includes('@')) entry.RepoTags.push(dockerTag(image.name))
    byConfig.set(image.config.digest, entry)
  }
  return [...byConfig.values()]
}

function dockerTag(name: string): string {
  const tag = name.slice(name.lastIndexOf(':') + 1)
  return `${familiarRepository(parseReference(name))}:${tag}`
}

function blobName(digest: string): string {
  return `blobs/${digest.replace(':', '/')}`
}

function uniqueBlobs(images: SavedImage[]): Descriptor[] {
  const blobs = new Map<string, Descriptor>()
  for (const image of images) {
    for (const blob of [image.manifest, image.config, ...image.layers]) blobs.set(blob.digest, blob)
  }
  return [...blobs.values()]
}

async function addBlob(store: Store, tar: TarWriter, blob: Descriptor): Promise<void> {
  const [algorithm] = blob.digest.split(':')
  const hash = createHash(algorithm)
  const hashing = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      callback(null, chunk)
    },
  })
  const source = createReadStream(store.content.blobPath(blob.digest), {highWaterMark: 1 << 20})
  source.once('error', (error) => hashing.destroy(error))
  await tar.addStream(blobName(blob.digest), blob.size, source.pipe(hashing))
  const actual = `${algorithm}:${hash.digest('hex')}`
  if (actual !== blob.digest) {
    throw corrupt(`blob ${blob.digest} in the store is damaged: its content has digest ${actual}`, {
      hint: REPAIR_HINT,
    })
  }
}
