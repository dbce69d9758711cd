/**
 * Reading an image archive (OCI archive or `docker save` archive) in one pass,
 * in whatever order its entries come.
 *
 * - `blobs/<algorithm>/<hex>` entries stream straight into the content store's
 *   ingest files under their digest's lock; they are committed (size and
 *   digest verified) later, once the archive's index says which media type
 *   each has, or discarded when nothing refers to them.
 * - Any other regular file (index.json, manifest.json, a docker archive's
 *   config and `layer.tar` files) is hashed as it streams: kept in memory
 *   when small, else in a staging file under ingest/.
 * - Symbolic links are remembered (skopeo's docker archives link
 *   `<id>/layer.tar` to `<diff-id>.tar`); other entry types are ignored.
 *
 * Nothing read here is trusted before verification: ingests are verified at
 * commit, staged files carry the digest computed while they were read.
 */
import {createHash, randomUUID} from 'node:crypto'
import {once} from 'node:events'
import {createWriteStream, mkdirSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {join, posix} from 'node:path'
import type {Readable, Writable} from 'node:stream'
import type {ReadEntry} from 'tar'
import {corrupt} from '../errors.js'
import type {Ingest} from '../content/store.js'
import {acquireLock, blobLockKey, type Release} from '../store/locks.js'
import type {Store} from '../store/store.js'

/** Files up to this size are kept in memory (index, manifests, configs). */
const IN_MEMORY_BYTES = 4 << 20

const BLOB_PATH = /^blobs\/(sha256|sha512)\/([a-f0-9]{64}|[a-f0-9]{128})$/

/** A regular file of the archive, as read. */
export interface ArchiveFile {
  size: number
  /** The digest computed while reading, or named by its blobs/ path. */
  digest: string
  /** The first bytes, to tell compressed layers from plain tar. */
  head: Buffer
  /** The whole content, for files of at most 4 MiB. */
  body?: Buffer
  /** A blob path's ingest, waiting for commit; absent when the store had the blob. */
  ingest?: Ingest
  /** Where a large non-blob file was staged. */
  stagedPath?: string
}

/** What one pass over an archive found; `close` releases its locks and staging files. */
export interface ArchiveContents {
  files: Map<string, ArchiveFile>
  symlinks: Map<string, string>
  /** Follows symbolic links (relative to the link's directory) to a regular file's path. */
  resolve(path: string): string
  /** Aborts every ingest not committed, removes staged files, releases locks. */
  close(): Promise<void>
}

/**
 * Reads the tar stream `source` (already decompressed) of the archive called
 * `archiveName` in messages. Rejects with CORRUPT for an invalid tar.
 */
export async function readArchive(store: Store, source: Readable, archiveName: string): Promise<ArchiveContents> {
  const staging = join(store.paths.ingest, `load-${randomUUID()}`)
  const contents = new Contents(staging)
  const {Parser} = await import('tar')
  const parser = new Parser({strict: false})
  let failure: unknown
  let work = Promise.resolve()
  parser.on('warn', (code: string, message: string) => {
    if (code === 'TAR_ENTRY_INVALID' || code === 'TAR_BAD_ARCHIVE' || code === 'TAR_ABORT') {
      failure ??= corrupt(`archive ${archiveName} is not a valid tar: ${message}`)
    }
  })
  parser.on('entry', (entry: ReadEntry) => {
    work = work.then(async () => {
      try {
        if (failure === undefined) await takeEntry(store, contents, entry)
      } catch (error) {
        failure ??= error
      } finally {
        entry.resume()
      }
    })
  })

  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      if (failure !== undefined) break
      if (!parser.write(chunk)) await drained(parser)
    }
    parser.end()
    await work
    if (failure !== undefined) throw failure
  } catch (error) {
    await work
    await contents.close()
    throw error
  }
  return contents
}

// The parser says 'drain' when it can take more; 'close' or 'abort' when it never will.
function drained(parser: import('tar').Parser): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      for (const event of ['drain', 'close', 'abort']) parser.off(event, done)
      resolve()
    }
    for (const event of ['drain', 'close', 'abort']) parser.on(event, done)
  })
}

class Contents implements ArchiveContents {
  readonly files = new Map<string, ArchiveFile>()
  readonly symlinks = new Map<string, string>()
  readonly releases: Release[] = []

  constructor(readonly staging: string) {}

  resolve(path: string): string {
    let current = normalise(path)
    for (let hops = 0; hops < 40 && this.symlinks.has(current); hops++) {
      const target = this.symlinks.get(current)!
      current = normalise(target.startsWith('/') ? target : posix.join(posix.dirname(current), target))
    }
    return current
  }

  async close(): Promise<void> {
    for (const file of this.files.values()) await file.ingest?.abort(false)
    await rm(this.staging, {recursive: true, force: true})
    for (const release of this.releases.splice(0)) await release().catch(() => {})
  }
}

function normalise(path: string): string {
  return posix.normalize(path).replace(/^(\.\/|\/)+/, '').replace(/\/$/, '')
}

async function takeEntry(store: Store, contents: Contents, entry: ReadEntry): Promise<void> {
  const path = normalise(entry.path)
  if (entry.type === 'SymbolicLink' && entry.linkpath) {
    contents.symlinks.set(path, entry.linkpath)
    return
  }
  if (entry.type !== 'File' && entry.type !== 'OldFile' && entry.type !== 'ContiguousFile') return

  const size = entry.size ?? 0
  const blob = BLOB_PATH.exec(path)
  if (blob) contents.files.set(path, await takeBlob(store, contents, entry, `${blob[1]}:${blob[2]}`, size))
  else contents.files.set(path, await takeOther(contents, entry, size))
}

async function takeBlob(store: Store, contents: Contents, entry: ReadEntry, digest: string, size: number): Promise<ArchiveFile> {
  const keep = size <= IN_MEMORY_BYTES
  if (store.content.info(digest)) {
    const {body, head} = await consume(entry, {keep})
    return {size, digest, head, body}
  }

  contents.releases.push(await acquireLock(store.paths.locks, blobLockKey(digest)))
  const ingest = await store.content.openIngest(digest, size, {resume: false})
  const {body, head} = await consume(entry, {keep, output: ingest.stream})
  return {size, digest, head, body, ingest}
}

async function takeOther(contents: Contents, entry: ReadEntry, size: number): Promise<ArchiveFile> {
  const hash = createHash('sha256')
  if (size <= IN_MEMORY_BYTES) {
    const {body, head} = await consume(entry, {keep: true, hash})
    return {size, digest: `sha256:${hash.digest('hex')}`, head, body}
  }

  mkdirSync(contents.staging, {recursive: true})
  const stagedPath = join(contents.staging, String(contents.files.size))
  const {head} = await consume(entry, {keep: false, hash, output: createWriteStream(stagedPath)})
  return {size, digest: `sha256:${hash.digest('hex')}`, head, stagedPath}
}

/** How consume() treats an entry's bytes besides reading them. */
interface Consumption {
  /** Keep the bytes and return them as `body`. */
  keep: boolean
  hash?: ReturnType<typeof createHash>
  /** Write them here too, with backpressure, and end it. */
  output?: Writable
}

// Reads the entry to its end; returns its first 8 bytes (for the format's magic) and, with `keep`, all of it.
async function consume(entry: ReadEntry, {keep, hash, output}: Consumption) {
  const chunks: Buffer[] = []
  let head = Buffer.alloc(0)
  for await (const chunk of entry as AsyncIterable<Buffer>) {
    if (head.length < 8) head = Buffer.concat([head, chunk]).subarray(0, 8)
    hash?.update(chunk)
    if (keep) chunks.push(chunk)
    if (output && !output.write(chunk)) await once(output, 'drain')
  }
  if (output) {
    output.end()
    if (!output.writableFinished) await once(output, 'finish')
  }
  return {body: keep ? Buffer.concat(chunks) : undefined, head}
}
