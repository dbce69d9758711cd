/**
 * Parsing and validation of the JSON documents of an image: manifests, indexes
 * (manifest lists) and image configs, OCI or Docker schema 2. Errors are CORRUPT
 * naming what is wrong (a missing field, a bad digest); Docker's schema 1 is
 * UNSUPPORTED.
 */
import {corrupt, unsupported} from '../errors.js'
import {type Descriptor, type ImageConfig, type ImageIndex, type ImageManifest, MediaType} from './types.js'

/** A parsed manifest or index with the media type it was identified by. */
export type ParsedManifest =
  | {kind: 'index'; index: ImageIndex; mediaType: string}
  | {kind: 'manifest'; manifest: ImageManifest; mediaType: string}

const INDEX_TYPES = new Set<string>([MediaType.ociIndex, MediaType.dockerManifestList])
const MANIFEST_TYPES = new Set<string>([MediaType.ociManifest, MediaType.dockerManifest])
const SCHEMA1_TYPES = new Set<string>([MediaType.dockerSchema1, MediaType.dockerSchema1Signed])
// Content types servers send when they do not know better; the body decides then.
const GENERIC_TYPES = new Set(['', 'application/json', 'text/plain', 'application/octet-stream', 'binary/octet-stream'])
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/

/** The error every schema 1 manifest gets. */
export function schema1Unsupported(what: string) {
  return unsupported(`schema 1 images are not supported: ${what} is a Docker schema 1 manifest`, {
    hint: 'push the image again with a current client, which writes schema 2 or OCI manifests',
  })
}

/**
 * The media type of a manifest or index: the response's Content-Type (parameters
 * dropped) unless missing or generic, else the body's `mediaType`, else its structure
 * (`manifests` is an index; `config` and `layers` a manifest). Throws UNSUPPORTED for
 * schema 1 and CORRUPT when the body is none of these.
 */
export function manifestMediaType(body: Buffer, contentType?: string): string {
  const declared = (contentType ?? '').split(';')[0].trim().toLowerCase()
  if (SCHEMA1_TYPES.has(declared)) throw schema1Unsupported('the manifest')
  if (!GENERIC_TYPES.has(declared)) return declared

  const document = parseJsonObject(body, 'manifest')
  if (document.schemaVersion === 1) throw schema1Unsupported('the manifest')
  if (typeof document.mediaType === 'string' && document.mediaType !== '') {
    if (SCHEMA1_TYPES.has(document.mediaType)) throw schema1Unsupported('the manifest')
    return document.mediaType
  }
  if (Array.isArray(document.manifests)) return MediaType.ociIndex
  if (document.config !== undefined && Array.isArray(document.layers)) return MediaType.ociManifest
  throw corrupt('manifest has no media type and is neither an index (manifests) nor a manifest (config and layers)')
}

/**
 * Parses and validates a manifest or index. `mediaType` is what the registry said
 * (see manifestMediaType); without it the body decides. Throws CORRUPT naming the
 * field that is wrong, UNSUPPORTED for schema 1 or an unknown media type.
 */
export function parseManifestOrIndex(body: Buffer, mediaType?: string): ParsedManifest {
  const resolved = manifestMediaType(body, mediaType)
  const document = parseJsonObject(body, 'manifest')
  if (document.schemaVersion === 1) throw schema1Unsupported('the manifest')
  if (document.schemaVersion !== 2) throw corrupt(`manifest has schemaVersion ${JSON.stringify(document.schemaVersion)}, expected 2`)

  if (INDEX_TYPES.has(resolved)) {
    return {kind: 'index', index: validateIndex(document), mediaType: resolved}
  }
  if (MANIFEST_TYPES.has(resolved)) {
    return {kind: 'manifest', manifest: validateManifest(document), mediaType: resolved}
  }
  throw unsupported(`manifest media type "${resolved}" is not supported`, {
    hint: 'mydocker pulls OCI and Docker schema 2 images and indexes',
  })
}

function validateIndex(document: Record<string, unknown>): ImageIndex {
  if (!Array.isArray(document.manifests)) throw corrupt('index has no "manifests" array')
  document.manifests.forEach((entry, position) => validateDescriptor(entry, `index manifests[${position}]`))
  return document as unknown as ImageIndex
}

function validateManifest(document: Record<string, unknown>): ImageManifest {
  if (document.config === undefined) throw corrupt('manifest has no "config" descriptor')
  validateDescriptor(document.config, 'manifest config')
  if (!Array.isArray(document.layers)) throw corrupt('manifest has no "layers" array')
  document.layers.forEach((entry, position) => validateDescriptor(entry, `manifest layers[${position}]`))
  return document as unknown as ImageManifest
}

/** Checks one descriptor's required fields; `where` names it in errors. */
export function validateDescriptor(value: unknown, where: string): Descriptor {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`${where} is not an object`)
  const descriptor = value as Record<string, unknown>
  if (typeof descriptor.mediaType !== 'string' || descriptor.mediaType === '') {
    throw corrupt(`${where} has no "mediaType"`)
  }
  if (typeof descriptor.digest !== 'string' || !DIGEST.test(descriptor.digest)) {
    throw corrupt(`${where} has an invalid digest ${JSON.stringify(descriptor.digest)}`)
  }
  if (typeof descriptor.size !== 'number' || !Number.isSafeInteger(descriptor.size) || descriptor.size < 0) {
    throw corrupt(`${where} (${descriptor.digest}) has an invalid size ${JSON.stringify(descriptor.size)}`)
  }
  if (descriptor.urls !== undefined && (!Array.isArray(descriptor.urls) || !descriptor.urls.every((url) => typeof url === 'string'))) {
    throw corrupt(`${where} (${descriptor.digest}) has "urls" that are not an array of strings`)
  }
  return descriptor as unknown as Descriptor
}

/**
 * Parses and validates an image config: architecture and os strings, rootfs of type
 * `layers` with a `diff_ids` array of digests. Throws CORRUPT naming the field.
 */
export function parseImageConfig(body: Buffer): ImageConfig {
  const document = parseJsonObject(body, 'image config')
  if (typeof document.architecture !== 'string') throw corrupt('image config has no "architecture"')
  if (typeof document.os !== 'string') throw corrupt('image config has no "os"')

  const rootfs = document.rootfs as {type?: unknown; diff_ids?: unknown} | undefined
  if (typeof rootfs !== 'object' || rootfs === null) throw corrupt('image config has no "rootfs"')
  if (rootfs.type !== 'layers') throw corrupt(`image config rootfs type is ${JSON.stringify(rootfs.type)}, expected "layers"`)
  if (!Array.isArray(rootfs.diff_ids)) throw corrupt('image config has no "rootfs.diff_ids" array')
  rootfs.diff_ids.forEach((diffId, position) => {
    if (typeof diffId !== 'string' || !DIGEST.test(diffId)) {
      throw corrupt(`image config rootfs.diff_ids[${position}] is not a digest: ${JSON.stringify(diffId)}`)
    }
  })

  const config = document.config
  if (config !== undefined && config !== null && (typeof config !== 'object' || Array.isArray(config))) {
    throw corrupt('image config "config" is not an object')
  }
  if (config) checkContainerConfig(config as Record<string, unknown>)
  return document as unknown as ImageConfig
}

// The fields a run takes from the image, in the types Docker decodes them into
// (a JSON null is Go's empty value); anything else would reach the launcher as
// nonsense, so the config is refused as damaged.
function checkContainerConfig(config: Record<string, unknown>): void {
  for (const field of ['Env', 'Entrypoint', 'Cmd']) {
    const value = config[field]
    if (value === undefined || value === null) continue
    if (!Array.isArray(value) || !value.every((item) => typeof item === 'string' && !item.includes('\0'))) {
      throw corrupt(`image config "config.${field}" is not a list of strings: ${JSON.stringify(value).slice(0, 80)}`)
    }
  }
  for (const field of ['User', 'WorkingDir', 'StopSignal']) {
    const value = config[field]
    if (value !== undefined && value !== null && typeof value !== 'string') {
      throw corrupt(`image config "config.${field}" is not a string: ${JSON.stringify(value).slice(0, 80)}`)
    }
  }
}

function parseJsonObject(body: Buffer, what: string): Record<string, unknown> {
  let value: unknown
  try {
    value = JSON.parse(body.toString('utf8'))
  } catch (error) {
    throw corrupt(`${what} is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw corrupt(`${what} is not a JSON object`)
  return value as Record<string, unknown>
}
