/**
 * `mydocker system check`: verifies the store against its index.
 *
 * - The index itself: SQLite's quick_check and foreign_key_check.
 * - Every blob row has its file, and the file hashes to the digest (re-read
 *   whole, with the size checked too).
 * - Every file under blobs/ has its row.
 * - Every snapshot row has its directory, every snapshot directory its row, and
 *   no temporary directory of a dead build is left.
 *
 * With `repair`, what is broken is removed so that the next pull fetches it
 * again: a damaged or missing blob takes the images that need it with it (their
 * names are reported), a snapshot row without its directory is dropped (the
 * next pull unpacks the layer again), and files without rows are deleted.
 * Safe to run beside pulls, runs and removals: see leftovers.ts.
 */
import {createHash} from 'node:crypto'
import {createReadStream} from 'node:fs'
import {rm} from 'node:fs/promises'
import {pipeline} from 'node:stream/promises'
import {Writable} from 'node:stream'
import {isErrorCode} from '../../errors.js'
import {blobLockKey, acquireLock, snapshotLockKey} from '../../store/locks.js'
import type {Store} from '../../store/store.js'
import {findSnapshotLeftovers, findUnrecordedBlobFiles, removeSnapshotDirectory, withUnrecordedBlob, type SnapshotRow} from './leftovers.js'

/** What kind of problem a check found. */
export type ProblemKind =
  | 'index'
  | 'damaged-blob'
  | 'missing-blob'
  | 'unrecorded-blob'
  | 'missing-snapshot'
  | 'orphan-snapshot'
  | 'leftover-snapshot'

/** One problem, with what to do about it and whether --repair did it. */
export interface StoreProblem {
  kind: ProblemKind
  /** The digest, chain ID or directory the problem is about. */
  object: string
  message: string
  /** What the user (or --repair) should do. */
  action: string
  repaired: boolean
}

/** What a check looked at and found. */
export interface CheckReport {
  blobs: number
  snapshots: number
  problems: StoreProblem[]
}

export interface CheckOptions {
  /** Remove what is broken (see the module comment). */
  repair: boolean
}

/** How many blobs are re-hashed at once: reading is the cost, and the disk is shared. */
const HASH_CONCURRENCY = 2

/** Checks `store`; see the module comment. Never throws for a problem found, only reports it. */
export async function checkStore(store: Store, options: CheckOptions): Promise<CheckReport> {
  const problems: StoreProblem[] = [...checkIndex(store)]
  const blobs = store.db.prepare('SELECT digest, size FROM blobs ORDER BY digest').all() as BlobRow[]
  problems.push(...(await checkBlobs(store, blobs, options)))
  problems.push(...(await checkUnrecordedBlobs(store, options)))
  const snapshots = store.db.prepare('SELECT count(*) AS count FROM snapshots').get() as {count: number}
  problems.push(...(await checkSnapshots(store, options)))
  return {blobs: blobs.length, snapshots: snapshots.count, problems}
}

interface BlobRow {
  digest: string
  size: number
}

function checkIndex(store: Store): StoreProblem[] {
  const action = `the index ${store.paths.database} cannot be repaired in place: move the store aside and pull the images again`
  const quick = store.db.pragma('quick_check', {simple: true}) as string
  const problems: StoreProblem[] = []
  if (quick !== 'ok') {
    problems.push({kind: 'index', object: store.paths.database, message: `the store index is damaged: ${quick}`, action, repaired: false})
  }
  const dangling = store.db.pragma('foreign_key_check') as Array<{table: string; parent: string}>
  for (const row of dangling) {
    const message = `the store index has a ${row.table} row that refers to a missing ${row.parent} row`
    problems.push({kind: 'index', object: row.table, message, action, repaired: false})
  }
  return problems
}

async function checkBlobs(store: Store, blobs: BlobRow[], options: CheckOptions): Promise<StoreProblem[]> {
  const problems: StoreProblem[] = []
  const {default: pLimit} = await import('p-limit')
  const limit = pLimit(HASH_CONCURRENCY)
  await Promise.all(
    blobs.map((blob) =>
      limit(async () => {
        const finding = await verifyBlob(store, blob)
        if (finding) problems.push(await reportBlob(store, blob.digest, finding, options))
      }),
    ),
  )
  return problems.sort((left, right) => left.object.localeCompare(right.object))
}

interface BlobFinding {
  kind: 'damaged-blob' | 'missing-blob'
  message: string
}

// Hashes the file; a file that vanished is a problem only if its row is still
// there (a concurrent rm removes the row first, then the file).
async function verifyBlob(store: Store, blob: BlobRow): Promise<BlobFinding | undefined> {
  const path = store.content.blobPath(blob.digest)
  const [algorithm] = blob.digest.split(':')
  const hash = createHash(algorithm)
  let size = 0
  try {
    await pipeline(
      createReadStream(path),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          size += chunk.length
          hash.update(chunk)
          callback()
        },
      }),
    )
  } catch (error) {
    if (!store.content.info(blob.digest)) return undefined
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'its file is missing' : `its file cannot be read: ${(error as Error).message}`
    return {kind: 'missing-blob', message: `blob ${blob.digest} is recorded but ${reason} (${path})`}
  }

  const actual = `${algorithm}:${hash.digest('hex')}`
  if (size === blob.size && actual === blob.digest) return undefined
  const detail = size === blob.size ? `content has digest ${actual}` : `file has ${size} bytes, the index says ${blob.size}`
  return {kind: 'damaged-blob', message: `blob ${blob.digest} is damaged: ${detail} (${path})`}
}

async function reportBlob(store: Store, digest: string, finding: BlobFinding, options: CheckOptions): Promise<StoreProblem> {
  const names = namesNeeding(store, digest)
  const again = names.length > 0 ? `pull ${names.join(', ')} again` : 'nothing refers to it'
  const problem = {kind: finding.kind, object: digest, message: finding.message, repaired: false}
  if (!options.repair) return {...problem, action: `run \`mydocker system check --repair\` to remove it, then ${again}`}

  await forgetBlob(store, digest, names)
  return {...problem, action: `removed it${names.length > 0 ? ` and the images that need it; ${again}` : ''}`, repaired: true}
}

// The names whose image needs `digest`: as its index, manifest, config or a layer.
function namesNeeding(store: Store, digest: string): string[] {
  const rows = store.db
    .prepare(
      `SELECT name FROM tags WHERE index_digest = @digest OR manifest_digest IN (${MANIFESTS_NEEDING}) ORDER BY name`,
    )
    .all({digest}) as Array<{name: string}>
  return rows.map((row) => row.name)
}

const MANIFESTS_NEEDING = `SELECT digest FROM manifests WHERE digest = @digest OR config_digest = @digest
  UNION SELECT manifest_digest FROM layers WHERE blob_digest = @digest`

// Removes the names first (each rewrites index.json), then, under the blob's
// lock and in one transaction, the manifests that need the blob and its row;
// the file goes last. Snapshots stay: they were verified when unpacked.
async function forgetBlob(store: Store, digest: string, names: string[]): Promise<void> {
  for (const name of names) {
    try {
      store.images.removeName(name)
    } catch (error) {
      if (!isErrorCode(error, 'NOT_FOUND')) throw error
    }
  }

  const release = await acquireLock(store.paths.locks, blobLockKey(digest))
  try {
    store.db
      .transaction(() => {
        const manifests = store.db.prepare(MANIFESTS_NEEDING).all({digest}) as Array<{digest: string}>
        const dropTags = store.db.prepare('DELETE FROM tags WHERE manifest_digest = ? OR index_digest = ?')
        const dropManifest = store.db.prepare('DELETE FROM manifests WHERE digest = ?')
        for (const manifest of manifests) {
          dropTags.run(manifest.digest, digest)
          dropManifest.run(manifest.digest)
        }
        store.db.prepare('DELETE FROM tags WHERE index_digest = ?').run(digest)
        store.db.prepare('DELETE FROM blobs WHERE digest = ?').run(digest)
      })
      .immediate()
    await rm(store.content.blobPath(digest), {force: true})
  } finally {
    await release()
  }
}

async function checkUnrecordedBlobs(store: Store, options: CheckOptions): Promise<StoreProblem[]> {
  const problems: StoreProblem[] = []
  for (const digest of await findUnrecordedBlobFiles(store)) {
    const path = store.content.blobPath(digest)
    const message = `blob file ${path} has no row in the index (left by an interrupted write)`
    const found = await withUnrecordedBlob(store, digest, async () => {
      if (options.repair) await rm(path, {force: true})
    })
    if (!found) continue
    const action = options.repair ? 'removed it' : 'run `mydocker system check --repair` or `mydocker system prune` to remove it'
    problems.push({kind: 'unrecorded-blob', object: digest, message, action, repaired: options.repair})
  }
  return problems
}

async function checkSnapshots(store: Store, options: CheckOptions): Promise<StoreProblem[]> {
  const leftovers = findSnapshotLeftovers(store)
  const problems: StoreProblem[] = []
  for (const row of leftovers.missing) problems.push(await reportMissingSnapshot(store, row, options))

  const removable: Array<[ProblemKind, string, string]> = [
    ...leftovers.orphans.map((name): [ProblemKind, string, string] => ['orphan-snapshot', name, 'has no row in the index']),
    ...leftovers.temporary.map((name): [ProblemKind, string, string] => ['leftover-snapshot', name, 'is a build a killed process left']),
  ]
  for (const [kind, name, why] of removable) {
    if (options.repair) await removeSnapshotDirectory(store, name)
    problems.push({
      kind,
      object: name,
      message: `snapshot directory ${store.paths.snapshots}/${name} ${why}`,
      action: options.repair ? 'removed it' : 'run `mydocker system check --repair` or `mydocker system prune` to remove it',
      repaired: options.repair,
    })
  }
  return problems
}

// The row goes; images that use the layer stay, and the next pull of one of
// them unpacks the layer again from its stored blob.
async function reportMissingSnapshot(store: Store, row: SnapshotRow, options: CheckOptions): Promise<StoreProblem> {
  const message = `snapshot ${row.chainId} is recorded but its directory ${store.snapshots.directory(row.id)} is missing`
  const problem = {kind: 'missing-snapshot' as const, object: row.chainId, message}
  if (!options.repair) {
    return {...problem, action: 'run `mydocker system check --repair`, then pull the images that use it again', repaired: false}
  }

  const release = await acquireLock(store.paths.locks, snapshotLockKey(row.chainId))
  try {
    store.db.prepare('DELETE FROM snapshots WHERE id = ?').run(row.id)
  } finally {
    await release()
  }
  return {...problem, action: 'removed its row; pull the images that use it again to unpack it anew', repaired: true}
}
