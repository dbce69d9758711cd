/**
 * What `mydocker inspect` and `mydocker history` show: a stored image in the
 * shape `docker image inspect` prints (plus a `Mydocker` section with what the
 * store knows beyond Docker's fields), a container record, and an image's
 * build history from its config.
 */
import {corrupt, isErrorCode, notFound} from '../errors.js'
import type {ContainerConfig, HistoryEntry, ImageConfig} from '../image/types.js'
import {familiarRepository, parseReference} from '../reference/reference.js'
import type {Store} from '../store/store.js'
import {isRunning, listContainerRecords, type ContainerRecord} from './containers.js'
import {resolveStoredNames} from './images.js'

/** One layer as the store holds it: blob, diff ID, chain ID and snapshot. */
export interface InspectedLayer {
  Digest: string
  MediaType: string
  /** Compressed size of the blob, in bytes. */
  Size: number
  DiffID: string
  ChainID: string
  /** The snapshot directory's id under snapshots/, null when it is missing. */
  SnapshotID: number | null
  /** Bytes of the unpacked snapshot, null when it is missing. */
  SnapshotSize: number | null
}

/** An image in `docker image inspect`'s shape, with mydocker's own fields under `Mydocker`. */
export interface ImageInspect {
  Id: string
  RepoTags: string[]
  RepoDigests: string[]
  Parent: string
  Comment: string
  Created: string | null
  Author: string
  Config: ContainerConfigInspect
  Architecture: string
  Os: string
  Variant?: string
  /** Bytes of the unpacked layers, as Docker's Size. */
  Size: number
  RootFS: {Type: string; Layers: string[]}
  Mydocker: {
    Kind: 'image'
    /** Stored names (`registry/repository:tag`) pointing at this image. */
    Names: string[]
    ManifestDigest: string
    ManifestMediaType: string
    IndexDigest: string | null
    ConfigDigest: string
    /** Sum of the compressed layer sizes. */
    CompressedSize: number
    Layers: InspectedLayer[]
  }
}

/** The runtime part of the config, with Docker's nulls where the image sets nothing. */
export interface ContainerConfigInspect {
  User: string
  Env: string[] | null
  Cmd: string[] | null
  Entrypoint: string[] | null
  WorkingDir: string
  Labels: Record<string, string> | null
  ExposedPorts: Record<string, object> | null
  Volumes: Record<string, object> | null
  StopSignal?: string
}

/** A container record (a run in progress, or one a killed run left). */
export interface ContainerInspect {
  Id: string
  Name: string
  Created: string
  Image: string
  ImageManifest: string
  Args: string[]
  State: {Status: 'running' | 'dead'; Running: boolean; Pid: number}
  Mydocker: {Kind: 'container'}
}

/**
 * Inspects each input: a container (id prefix of at least 4 hex digits, or
 * name) first, then an image (reference or image ID prefix). An input that
 * names several stored names of one image yields that image once. Throws
 * NOT_FOUND (exit status 1, as Docker) naming the first input that matches
 * nothing; nothing is returned then, so a script gets all or nothing.
 */
export function inspectObjects(store: Store, inputs: string[]): Array<ImageInspect | ContainerInspect> {
  const containers = listContainerRecords(store)
  const results: Array<ImageInspect | ContainerInspect> = []
  const seenImages = new Set<string>()
  for (const input of inputs) {
    const container = findContainer(containers, input)
    if (container) {
      results.push(inspectContainer(container))
      continue
    }
    for (const manifestDigest of manifestsOf(store, input)) {
      if (seenImages.has(manifestDigest)) continue
      seenImages.add(manifestDigest)
      results.push(inspectImage(store, manifestDigest))
    }
  }
  return results
}

function findContainer(records: ContainerRecord[], input: string): ContainerRecord | undefined {
  const byName = records.find((record) => record.name !== null && record.name === input)
  if (byName) return byName
  if (!/^[a-f0-9]{4,64}$/.test(input)) return undefined
  return records.find((record) => record.id.startsWith(input))
}

// Docker answers an unknown object with exit status 1, not 125.
function manifestsOf(store: Store, input: string): string[] {
  let names: string[]
  try {
    names = resolveStoredNames(store, input)
  } catch (error) {
    if (!isErrorCode(error, 'NOT_FOUND')) throw error
    throw notFound(`no such object: ${input}`, {hint: 'run `mydocker images` to see what the store holds', exitCode: 1})
  }
  return [...new Set(names.map((name) => store.images.manifestOf(name)!))]
}

function inspectContainer(record: ContainerRecord): ContainerInspect {
  const running = isRunning(record)
  return {
    Id: record.id,
    Name: record.name ?? '',
    Created: new Date(record.createdAt).toISOString(),
    Image: record.image,
    ImageManifest: record.manifestDigest,
    Args: parseCommand(record.command),
    State: {Status: running ? 'running' : 'dead', Running: running, Pid: running ? record.pid! : 0},
    Mydocker: {Kind: 'container'},
  }
}

function parseCommand(text: string): string[] {
  try {
    const value = JSON.parse(text) as unknown
    return Array.isArray(value) ? value.map(String) : [text]
  } catch {
    return [text]
  }
}

interface ManifestRow {
  digest: string
  mediaType: string
  configDigest: string
  size: number
  unpackedSize: number
}

/** The inspect record of the stored manifest `manifestDigest`. Throws NOT_FOUND when not stored. */
export function inspectImage(store: Store, manifestDigest: string): ImageInspect {
  const manifest = store.db
    .prepare(
      `SELECT digest, media_type AS mediaType, config_digest AS configDigest, size, unpacked_size AS unpackedSize
       FROM manifests WHERE digest = ?`,
    )
    .get(manifestDigest) as ManifestRow | undefined
  if (!manifest) throw notFound(`no such image manifest: ${manifestDigest}`)

  const config = readImageConfig(store, manifest.configDigest)
  const tags = store.db
    .prepare('SELECT name, index_digest AS indexDigest FROM tags WHERE manifest_digest = ? ORDER BY name')
    .all(manifestDigest) as Array<{name: string; indexDigest: string | null}>
  return {
    Id: manifest.configDigest,
    RepoTags: tags.filter((tag) => !tag.name.includes('@')).map((tag) => familiarName(tag.name)),
    RepoDigests: [...new Set(tags.map((tag) => `${familiarName(tag.name).replace(/[:@][^/]*$/, '')}@${tag.indexDigest ?? manifestDigest}`))],
    Parent: '',
    Comment: lastComment(config.history),
    Created: config.created ?? null,
    Author: config.author ?? '',
    Config: containerConfig(config.config),
    Architecture: config.architecture,
    Os: config.os,
    ...(config.variant ? {Variant: config.variant} : {}),
    Size: manifest.unpackedSize,
    RootFS: {Type: config.rootfs?.type ?? 'layers', Layers: config.rootfs?.diff_ids ?? []},
    Mydocker: {
      Kind: 'image',
      Names: tags.map((tag) => tag.name),
      ManifestDigest: manifest.digest,
      ManifestMediaType: manifest.mediaType,
      IndexDigest: tags.find((tag) => tag.indexDigest !== null)?.indexDigest ?? null,
      ConfigDigest: manifest.configDigest,
      CompressedSize: manifest.size,
      Layers: storedLayers(store, manifestDigest),
    },
  }
}

// Docker prints Hub images without docker.io/library/, others in full.
function familiarName(name: string): string {
  const suffix = /[:@][^/]*$/.exec(name)?.[0] ?? ''
  return `${familiarRepository(parseReference(name))}${suffix}`
}

function lastComment(history: HistoryEntry[] | undefined): string {
  return history?.at(-1)?.comment ?? ''
}

function containerConfig(config: ContainerConfig | undefined): ContainerConfigInspect {
  return {
    User: config?.User ?? '',
    Env: config?.Env ?? null,
    Cmd: config?.Cmd ?? null,
    Entrypoint: config?.Entrypoint ?? null,
    WorkingDir: config?.WorkingDir ?? '',
    Labels: config?.Labels ?? null,
    ExposedPorts: config?.ExposedPorts ?? null,
    Volumes: config?.Volumes ?? null,
    ...(config?.StopSignal ? {StopSignal: config.StopSignal} : {}),
  }
}

function storedLayers(store: Store, manifestDigest: string): InspectedLayer[] {
  return store.db
    .prepare(
      `SELECT l.blob_digest AS Digest, b.media_type AS MediaType, b.size AS Size, l.diff_id AS DiffID,
              l.chain_id AS ChainID, s.id AS SnapshotID, s.size AS SnapshotSize
       FROM layers l JOIN blobs b ON b.digest = l.blob_digest
       LEFT JOIN snapshots s ON s.chain_id = l.chain_id
       WHERE l.manifest_digest = ? ORDER BY l.position`,
    )
    .all(manifestDigest) as InspectedLayer[]
}

/** Reads and parses a stored image config; CORRUPT when it is not valid JSON. */
export function readImageConfig(store: Store, configDigest: string): ImageConfig {
  const body = store.content.readBlob(configDigest)
  try {
    return JSON.parse(body.toString('utf8')) as ImageConfig
  } catch (error) {
    throw corrupt(`config ${configDigest} is not valid JSON: ${(error as Error).message}`, {cause: error})
  }
}

/** One row of `mydocker history`, newest first as docker prints them. */
export interface HistoryRow {
  created: string | null
  createdBy: string
  /** Unpacked bytes of the layer this step made; 0 for a step that made none. */
  size: number
  comment: string
  emptyLayer: boolean
  /** The layer's diff ID, null for an empty step. */
  diffId: string | null
}

/**
 * The build history of the image `input` names, newest step first. A config
 * without history yields one row per layer with no command, as Docker shows
 * `<missing>` steps. Throws NOT_FOUND for an unknown image.
 */
export function imageHistory(store: Store, input: string): HistoryRow[] {
  const [manifestDigest] = manifestsOf(store, input)
  const image = inspectImage(store, manifestDigest)
  const config = readImageConfig(store, image.Id)
  const layers = image.Mydocker.Layers
  const history = config.history && config.history.length > 0 ? config.history : layers.map(() => ({}) as HistoryEntry)

  let position = 0
  const rows = history.map((entry): HistoryRow => {
    const empty = entry.empty_layer === true
    const layer = empty ? undefined : layers[position++]
    return {
      created: entry.created ?? null,
      createdBy: entry.created_by ?? '',
      size: layer?.SnapshotSize ?? 0,
      comment: entry.comment ?? '',
      emptyLayer: empty,
      diffId: layer?.DiffID ?? null,
    }
  })
  return rows.reverse()
}
