/**
 * `mydocker system prune`: removes what killed commands left and what no image
 * needs, in this order:
 *
 * 1. runs whose mydocker process died: mounts still under their directory (the
 *    run's mount namespace normally took them along), the directory, the row;
 * 2. cgroups of dead runs;
 * 3. leases of dead processes, temporary snapshot directories of dead builds,
 *    snapshot directories and blob files without rows, ingest files nobody is
 *    writing (partial downloads: the next pull starts them over);
 * 4. manifests, blobs and snapshots that no name, running container or pull in
 *    progress reaches (garbage collection, as `rm` runs it);
 * 5. lock directories of dead holders.
 *
 * Safe to run beside other mydocker commands: each step leaves alone what a
 * live process is using (see leftovers.ts and gc.ts).
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {listContainerRecords, isRunning, reapDeadContainers} from '../containers.js'
import {collectGarbage} from '../../store/gc.js'
import {liveLeasedResources} from '../../store/lease.js'
import type {Store} from '../../store/store.js'
import {
  directorySize,
  findSnapshotLeftovers,
  findUnrecordedBlobFiles,
  removeDeadLocks,
  removeDeadRunCgroups,
  removeSnapshotDirectory,
  removeStaleIngests,
  withUnrecordedBlob,
} from './leftovers.js'

/** What a prune removed. */
export interface PruneResult {
  /** Ids of the dead runs cleaned up. */
  containers: string[]
  /** Mount points unmounted under dead runs' directories. */
  mounts: string[]
  /** Cgroup directories of dead runs removed. */
  cgroups: string[]
  /** Ingest files (partial downloads) removed. */
  ingests: string[]
  /** Snapshot directories removed: temporary ones and ones without a row. */
  snapshotDirectories: string[]
  /** Blob files without a row removed. */
  unrecordedBlobs: string[]
  /** Digests of unreferenced blobs removed. */
  blobs: string[]
  /** Chain IDs of unreferenced snapshots removed. */
  snapshots: string[]
  /** Lock directories of dead holders removed. */
  locks: number
  /** Bytes given back, counted from the index sizes and the files removed. */
  reclaimed: number
}

/** Prunes `store`; see the module comment. */
export async function pruneStore(store: Store): Promise<PruneResult> {
  const result: PruneResult = {
    containers: [], mounts: [], cgroups: [], ingests: [], snapshotDirectories: [],
    unrecordedBlobs: [], blobs: [], snapshots: [], locks: 0, reclaimed: 0,
  }
  await removeDeadRuns(store, result)
  result.cgroups = removeDeadRunCgroups()

  liveLeasedResources(store.db)
  await removeSnapshotLeftovers(store, result)
  await removeUnrecordedBlobs(store, result)
  for (const ingest of await removeStaleIngests(store)) {
    result.ingests.push(ingest.file)
    result.reclaimed += ingest.size
  }

  const collected = await collectGarbage(store)
  result.blobs = collected.blobs
  result.snapshots = collected.snapshots
  result.reclaimed += collected.reclaimed
  result.locks = await removeDeadLocks(store)
  return result
}

// A mount left under a dead run's directory (only if it leaked out of the run's
// mount namespace) is detached before the directory goes, so removing the
// directory never reaches into a volume's host directory.
async function removeDeadRuns(store: Store, result: PruneResult): Promise<void> {
  const dead = listContainerRecords(store).filter((record) => !isRunning(record))
  for (const record of dead) {
    const directory = join(store.paths.containers, record.id)
    result.reclaimed += await directorySize(directory)
    result.mounts.push(...(await unmountUnder(directory)))
  }
  result.containers = reapDeadContainers(store)
  await removeUnrecordedRunDirectories(store, result)
}

// A run records its row before it makes its directory, so a directory listed
// before the rows are read and without a row is a leftover (a launcher that
// could not remove it after the run).
async function removeUnrecordedRunDirectories(store: Store, result: PruneResult): Promise<void> {
  const {readdir, rm} = await import('node:fs/promises')
  const names = await readdir(store.paths.containers).catch(() => [] as string[])
  const recorded = new Set(listContainerRecords(store).map((record) => record.id))
  for (const name of names.filter((entry) => !recorded.has(entry))) {
    const directory = join(store.paths.containers, name)
    result.reclaimed += await directorySize(directory)
    result.mounts.push(...(await unmountUnder(directory)))
    await rm(directory, {recursive: true, force: true})
    result.containers.push(name)
  }
}

/** Mount points at or below `directory`, deepest first, from /proc/self/mountinfo. */
function mountsUnder(directory: string): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8')
  const points = text
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((point) => point.replace(/\\([0-7]{3})/g, (_match, octal: string) => String.fromCharCode(parseInt(octal, 8))))
    .filter((point) => point === directory || point.startsWith(`${directory}/`))
  return [...new Set(points)].sort((left, right) => right.length - left.length)
}

async function unmountUnder(directory: string): Promise<string[]> {
  const points = mountsUnder(directory)
  if (points.length === 0) return []
  const {execFileSync} = await import('node:child_process')
  for (const point of points) {
    // Lazy: a process that still has it open keeps it, nothing else sees it.
    execFileSync('umount', ['-l', point], {stdio: 'ignore'})
  }
  return points
}

async function removeSnapshotLeftovers(store: Store, result: PruneResult): Promise<void> {
  const leftovers = findSnapshotLeftovers(store)
  for (const name of [...leftovers.temporary, ...leftovers.orphans]) {
    result.reclaimed += await directorySize(join(store.paths.snapshots, name))
    await removeSnapshotDirectory(store, name)
    result.snapshotDirectories.push(name)
  }
}

async function removeUnrecordedBlobs(store: Store, result: PruneResult): Promise<void> {
  const {rm, lstat} = await import('node:fs/promises')
  for (const digest of await findUnrecordedBlobFiles(store)) {
    const path = store.content.blobPath(digest)
    const removed = await withUnrecordedBlob(store, digest, async () => {
      result.reclaimed += (await lstat(path).catch(() => undefined))?.size ?? 0
      await rm(path, {force: true})
    })
    if (removed) result.unrecordedBlobs.push(digest)
  }
}
