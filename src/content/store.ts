/**
 * The content-addressable blob store: files under blobs/<algorithm>/<hex>, each
 * recorded in the `blobs` table only once it is complete and verified.
 *
 * Writing a blob: stream it into an ingest file while hashing, check the size and
 * then the digest, fsync, rename into blobs/, and only then insert its row. A
 * crash at any point leaves at most an ingest file (resumed or discarded by the
 * next writer) or an unrecorded file under blobs/ (removed by `system prune`),
 * never a row that claims a blob that is not there.
 *
 * Concurrency: writers of one digest serialise on its lock (see locks.ts); the
 * caller holds it around `openIngest` .. `commit`, and garbage collection takes
 * it before unlinking.
 */
import type {Hash} from 'node:crypto'
// fs.promises rather than node:fs/promises: in the bundle of `run`, which never
// writes a blob, that module (and what it loads) is then not loaded at all.
import {createReadStream, mkdirSync, promises as fs, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {dirname, join} from 'node:path'
import {Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {corrupt, digestMismatch, fromSystemError, invalidArgument, REPAIR_HINT} from '../errors.js'
import type {Database} from '../store/database.js'
import {acquireLock, blobLockKey} from '../store/locks.js'
import type {StorePaths} from '../store/root.js'

/** What the index knows of a stored blob. */
export interface BlobInfo {
  digest: string
  size: number
  mediaType: string
}

/** A download in progress: bytes written go to the ingest file and the hash. */
export interface Ingest {
  readonly digest: string
  /** Bytes already in the ingest file (and hashed) before this writer started. */
  readonly offset: number
  /** Accepts the blob's bytes from `offset` on. */
  readonly stream: Writable
  /** Verifies size and digest, syncs, moves the file into blobs/ and records it. */
  commit(mediaType: string): Promise<void>
  /** Stops writing; `keep` leaves the ingest file for a later resume. */
  abort(keep: boolean): Promise<void>
}

const DIGEST = /^(sha256|sha512):([a-f0-9]+)$/

export class ContentStore {
  private readonly selectBlob
  private readonly insertBlob

  constructor(
    private readonly paths: StorePaths,
    private readonly db: Database,
  ) {
    this.selectBlob = db.prepare('SELECT digest, size, media_type AS mediaType FROM blobs WHERE digest = ?')
    this.insertBlob = db.prepare(
      'INSERT OR IGNORE INTO blobs (digest, size, media_type, created_at) VALUES (?, ?, ?, ?)',
    )
  }

  /** The file a blob is (or will be) stored in. */
  blobPath(digest: string): string {
    const [, algorithm, hex] = parseDigest(digest)
    return join(this.paths.blobs, algorithm, hex)
  }

  /** The recorded blob, or undefined when the store does not have it complete. */
  info(digest: string): BlobInfo | undefined {
    return this.selectBlob.get(digest) as BlobInfo | undefined
  }

  /**
   * Reads a recorded blob whole, checking only its size against the index: for
   * `run`, where loading node's crypto would cost more than the read. Its digest
   * was verified when it was written; `system check` verifies it again.
   */
  readRecordedBlob(digest: string): Buffer {
    const body = readFileSync(this.blobPath(digest))
    if (body.length !== this.info(digest)?.size) {
      throw corrupt(`blob ${digest} in the store is damaged: it is not the size the index records`, {
        hint: REPAIR_HINT,
      })
    }
    return body
  }

  /** Reads a small recorded blob (manifest, config) whole, checking its digest. */
  readBlob(digest: string): Buffer {
    const body = readFileSync(this.blobPath(digest))
    if (hashOf(digest, body) !== digest) {
      throw corrupt(`blob ${digest} in the store is damaged`, {
        hint: REPAIR_HINT,
      })
    }
    return body
  }

  /**
   * Stores a small blob given whole. The caller has verified `body` against
   * `digest` or computed the digest from it; it is checked once more here.
   * Takes the blob's lock, unless `holdingLock` says the caller has it.
   */
  async writeBlob(digest: string, body: Buffer, mediaType: string, options: {holdingLock?: boolean} = {}): Promise<void> {
    if (this.info(digest)) return
    // Concurrent pulls of one image write the same manifest: without the lock
    // one writer truncates the ingest file another is about to commit.
    const release = options.holdingLock ? async () => {} : await acquireLock(this.paths.locks, blobLockKey(digest))
    try {
      if (this.info(digest)) return
      const ingest = await this.openIngest(digest, body.length, {resume: false})
      ingest.stream.end(body)
      await ingest.commit(mediaType).catch(async (error) => {
        // A blob given whole is never resumed; a full disk wants its bytes back.
        await ingest.abort(false)
        throw fromSystemError(error, `storing blob ${digest}`, this.paths.root)
      })
    } finally {
      await release()
    }
  }

  /**
   * Opens the ingest file of `digest`. With `resume` (the default), bytes a killed
   * earlier download left there are re-hashed and kept, and `offset` says how many;
   * they are verified with the rest at commit, never trusted on their own.
   */
  async openIngest(digest: string, size: number, options: {resume?: boolean} = {}): Promise<Ingest> {
    const [, algorithm] = parseDigest(digest)
    const file = join(this.paths.ingest, digest.replace(':', '-'))
    mkdirSync(this.paths.ingest, {recursive: true})

    const hash = createHash(algorithm)
    let offset = 0
    if (options.resume !== false) offset = await rehash(file, size, hash)
    const handle = await fs.open(file, offset > 0 ? 'a' : 'w')
    const stream = hashingWriter(handle, hash)

    return {
      digest,
      offset,
      stream,
      commit: async (mediaType) => {
        await finished(stream)
        const written = (await handle.stat()).size
        await handle.sync()
        await handle.close()
        if (written !== size) {
          await fs.rm(file, {force: true})
          throw digestMismatch(`blob ${digest}: expected ${size} bytes, got ${written}`)
        }
        const actual = `${algorithm}:${hash.digest('hex')}`
        if (actual !== digest) {
          await fs.rm(file, {force: true})
          throw digestMismatch(`blob ${digest}: content has digest ${actual}`, {
            hint: 'the registry served different content than its manifest names; try again',
          })
        }
        await this.publish(file, digest, size, mediaType)
      },
      abort: async (keep) => {
        stream.destroy()
        await handle.close().catch(() => {})
        if (!keep) await fs.rm(file, {force: true})
      },
    }
  }

  /** Removes a blob's row and file; the caller holds the blob's lock. */
  async deleteBlob(digest: string): Promise<void> {
    this.db.prepare('DELETE FROM blobs WHERE digest = ?').run(digest)
    await fs.rm(this.blobPath(digest), {force: true})
  }

  private async publish(file: string, digest: string, size: number, mediaType: string): Promise<void> {
    const target = this.blobPath(digest)
    try {
      mkdirSync(dirname(target), {recursive: true})
      await fs.rename(file, target)
      await syncDirectory(dirname(target))
    } catch (error) {
      throw fromSystemError(error, `storing blob ${digest}`, this.paths.root)
    }
    this.insertBlob.run(digest, size, mediaType, Date.now())
  }
}

// node:crypto costs a warm run a few milliseconds to load and `run` hashes
// nothing, so it is required on the first hash, not imported.
let crypto: typeof import('node:crypto') | undefined
function createHash(algorithm: string): Hash {
  crypto ??= createRequire(import.meta.url)('node:crypto') as typeof import('node:crypto')
  return crypto.createHash(algorithm)
}

/** The digest of `body` computed with the algorithm `like` names. */
export function hashOf(like: string, body: Buffer): string {
  const [, algorithm] = parseDigest(like)
  return `${algorithm}:${createHash(algorithm).update(body).digest('hex')}`
}

/** Splits and validates `algorithm:hex`. */
export function parseDigest(digest: string): [string, string, string] {
  const match = DIGEST.exec(digest)
  const hexLength = match?.[1] === 'sha256' ? 64 : 128
  if (!match || match[2].length !== hexLength) throw invalidArgument(`invalid digest "${digest}"`)
  return [digest, match[1], match[2]]
}

// Feeds the bytes already in a partial ingest file to `hash` and returns how many
// there are; a file longer than the blob cannot be a prefix of it and starts over.
async function rehash(file: string, size: number, hash: Hash): Promise<number> {
  const existing = await fs.stat(file).catch(() => undefined)
  if (!existing || existing.size === 0) return 0
  if (existing.size > size) {
    await fs.rm(file, {force: true})
    return 0
  }
  await pipeline(createReadStream(file), new Writable({
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      callback()
    },
  }))
  return existing.size
}

// Writes through the FileHandle itself, so the handle stays open for the fsync
// and size check at commit.
function hashingWriter(handle: import('node:fs/promises').FileHandle, hash: Hash): Writable {
  return new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk)
      writeFully(handle, chunk).then(() => callback(), callback)
    },
  })
}

async function writeFully(handle: import('node:fs/promises').FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0
  while (offset < chunk.length) {
    const {bytesWritten} = await handle.write(chunk, offset, chunk.length - offset)
    offset += bytesWritten
  }
}

function finished(stream: Writable): Promise<void> {
  if (stream.writableFinished) return Promise.resolve()
  return new Promise((resolve, reject) => {
    stream.once('finish', resolve)
    stream.once('error', reject)
  })
}

async function syncDirectory(path: string): Promise<void> {
  const handle = await fs.open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}
