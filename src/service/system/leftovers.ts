/**
 * Finding and removing what interrupted work leaves in a store: snapshot
 * directories without a row (and rows without a directory), temporary snapshot
 * directories of dead processes, blob files without a row, ingest files nobody
 * is writing, lock directories of dead holders, and cgroups of dead runs.
 *
 * Everything here tells work in progress from a leftover before touching it:
 * a snapshot commit renames its directory inside its write transaction, so the
 * snapshot listing is taken inside one too; blob files and ingest files are
 * examined under the blob's lock; temporary directories carry their maker's PID
 * and start time.
 */
import {existsSync, readdirSync, rmdirSync} from 'node:fs'
import {lstat, readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {blobLockKey, lockKeyOf, tryAcquireLock} from '../../store/locks.js'
import {isProcessAlive} from '../../store/process.js'
import type {Store} from '../../store/store.js'
import {temporaryOwner} from '../../snapshot/store.js'

/** A snapshot row as the checks need it. */
export interface SnapshotRow {
  id: number
  chainId: string
}

/** How the snapshots directory and the snapshots table disagree. */
export interface SnapshotLeftovers {
  /** Rows whose directory is gone. */
  missing: SnapshotRow[]
  /** Directory names that look like snapshot ids but have no row. */
  orphans: string[]
  /** tmp-* directories whose maker is no longer running. */
  temporary: string[]
}

/**
 * Compares snapshots/ with the snapshots table. Both are read inside one write
 * transaction, so no commit is half done (row written, rename done, not yet
 * committed) while they are compared.
 */
export function findSnapshotLeftovers(store: Store): SnapshotLeftovers {
  const rows = store.db.prepare('SELECT id, chain_id AS chainId FROM snapshots')
  return store.db
    .transaction(() => {
      const names = existsSync(store.paths.snapshots) ? readdirSync(store.paths.snapshots) : []
      const present = new Set(names)
      const recorded = rows.all() as SnapshotRow[]
      const ids = new Set(recorded.map((row) => String(row.id)))
      return {
        missing: recorded.filter((row) => !present.has(String(row.id))),
        orphans: names.filter((name) => /^\d+$/.test(name) && !ids.has(name)),
        temporary: names.filter((name) => name.startsWith('tmp-') && !isBuildInProgress(name)),
      }
    })
    .immediate()
}

// A name in the old form (no maker recorded) is taken for a leftover.
function isBuildInProgress(name: string): boolean {
  const owner = temporaryOwner(name)
  return owner !== undefined && isProcessAlive(owner.pid, owner.start)
}

/** Removes a directory under snapshots/ by name. */
export async function removeSnapshotDirectory(store: Store, name: string): Promise<void> {
  await rm(join(store.paths.snapshots, name), {recursive: true, force: true})
}

/** Digests of the files under blobs/ that have no row, in the order found. */
export async function findUnrecordedBlobFiles(store: Store): Promise<string[]> {
  const found: string[] = []
  const recorded = store.db.prepare('SELECT 1 FROM blobs WHERE digest = ?')
  for (const algorithm of await readdir(store.paths.blobs).catch(() => [] as string[])) {
    for (const hex of await readdir(join(store.paths.blobs, algorithm)).catch(() => [] as string[])) {
      const digest = `${algorithm}:${hex}`
      if (!recorded.get(digest)) found.push(digest)
    }
  }
  return found
}

/**
 * Runs `action` on a blob file that still has no row, under the blob's lock (a
 * writer renames the file in before inserting the row, holding that lock).
 * Resolves false, doing nothing, when the blob is being written or was recorded.
 */
export async function withUnrecordedBlob(store: Store, digest: string, action: () => Promise<void>): Promise<boolean> {
  const release = await tryAcquireLock(store.paths.locks, blobLockKey(digest))
  if (!release) return false
  try {
    if (store.content.info(digest)) return false
    await action()
    return true
  } finally {
    await release()
  }
}

/** An ingest file nobody is writing, with its size. */
export interface StaleIngest {
  file: string
  size: number
}

/**
 * Removes the ingest files no live process is writing (their writer holds the
 * blob's lock) and resolves with what was removed. Such files are what a killed
 * pull left to resume; the next pull then starts those blobs over.
 */
export async function removeStaleIngests(store: Store): Promise<StaleIngest[]> {
  const removed: StaleIngest[] = []
  for (const name of await readdir(store.paths.ingest).catch(() => [] as string[])) {
    const file = join(store.paths.ingest, name)
    const digest = name.replace('-', ':')
    const release = await tryAcquireLock(store.paths.locks, blobLockKey(digest))
    if (!release) continue
    try {
      const size = (await lstat(file).catch(() => undefined))?.size
      if (size === undefined) continue
      await rm(file, {force: true})
      removed.push({file, size})
    } finally {
      await release()
    }
  }
  return removed
}

/**
 * Removes lock directories whose holder died, and owner records left without
 * their lock, by taking each lock and letting it go; locks held by live
 * processes stay. Resolves with how many locks were taken.
 */
export async function removeDeadLocks(store: Store): Promise<number> {
  let removed = 0
  const names = await readdir(store.paths.locks).catch(() => [] as string[])
  const keys = new Set(names.map(lockKeyOf).filter((key): key is string => key !== undefined))
  for (const key of keys) {
    const release = await tryAcquireLock(store.paths.locks, key)
    if (!release) continue
    await release()
    removed++
  }
  return removed
}

const CGROUP_ROOT = '/sys/fs/cgroup'
/** The launcher names a run's cgroup `mydocker-<supervisor PID>` (native/launch.c). */
const RUN_CGROUP = /^mydocker-(\d+)$/
const CGROUP_DEPTH = 8

/**
 * Removes the cgroups of runs whose supervisor is gone, in every hierarchy
 * under /sys/fs/cgroup, and resolves with their paths. A cgroup that still has
 * processes cannot be removed (the kernel refuses) and is left.
 */
export function removeDeadRunCgroups(cgroupRoot = CGROUP_ROOT): string[] {
  const removed: string[] = []
  const visit = (directory: string, depth: number) => {
    for (const name of childDirectories(directory)) {
      const path = join(directory, name)
      const match = RUN_CGROUP.exec(name)
      if (match && !isProcessAlive(Number(match[1]), null)) {
        if (removeCgroup(path)) removed.push(path)
        continue
      }
      if (depth < CGROUP_DEPTH) visit(path, depth + 1)
    }
  }
  visit(cgroupRoot, 0)
  return removed
}

function childDirectories(directory: string): string[] {
  try {
    return readdirSync(directory, {withFileTypes: true})
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
  } catch {
    return []
  }
}

// Child cgroups first: a cgroup with children cannot be removed.
function removeCgroup(path: string): boolean {
  for (const name of childDirectories(path)) removeCgroup(join(path, name))
  try {
    rmdirSync(path)
    return true
  } catch {
    return false
  }
}

/** Bytes of the regular files under `path` (hard links counted once); 0 when it is missing. */
export async function directorySize(path: string): Promise<number> {
  const seen = new Set<number>()
  let total = 0
  const walk = async (directory: string): Promise<void> => {
    for (const entry of await readdir(directory, {withFileTypes: true}).catch(() => [])) {
      const child = join(directory, entry.name)
      if (entry.isDirectory()) {
        await walk(child)
        continue
      }
      const stat = await lstat(child).catch(() => undefined)
      if (!stat?.isFile() || seen.has(stat.ino)) continue
      seen.add(stat.ino)
      total += stat.size
    }
  }
  await walk(path)
  return total
}
