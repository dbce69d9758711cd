/**
 * What `mydocker info` reports: the store (where, how big, which snapshot
 * kind), the host features mydocker depends on (cgroup version, rootless or
 * not) and versions. Reads the index and a few files under /sys and /proc;
 * changes nothing.
 */
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {lstat} from 'node:fs/promises'
import {release} from 'node:os'
import {join} from 'node:path'
import {runningRootless} from '../rootless/userns.js'
import {readSnapshotter} from '../snapshot/detect.js'
import type {SnapshotKind} from '../snapshot/kind.js'
import type {Store} from '../store/store.js'
import {isRunning, listContainerRecords} from './containers.js'
import {directorySize} from './system/leftovers.js'

/** Bytes the store's parts take. */
export interface StoreUsage {
  /** Sum of the recorded blob sizes. */
  blobs: number
  /** Sum of the recorded snapshot sizes (file content of the unpacked layers). */
  snapshots: number
  /** Bytes of regular files under containers/ (writable layers of runs). */
  containers: number
  /** The SQLite index file with its write-ahead log. */
  index: number
}

/** The cgroup hierarchy the host mounts. */
export interface CgroupInfo {
  /** 2 when /sys/fs/cgroup is the unified hierarchy, 1 otherwise. */
  version: 1 | 2
  /** v2: the controllers of the root cgroup; v1: the mounted controller hierarchies. */
  controllers: string[]
  /** v1 only: a v2 hierarchy is also mounted at /sys/fs/cgroup/unified (systemd's hybrid mode). */
  hybrid: boolean
}

/** Everything `mydocker info` prints. */
export interface SystemInfo {
  store: {root: string; usage: StoreUsage}
  /** The snapshot kinds the store holds, and the one `pull` unpacks new layers as. */
  snapshotter: {
    inUse: SnapshotKind[]
    /** The kind the store unpacks layers as: its recorded choice (src/snapshot/detect.ts), overlay before the first pull. */
    default: SnapshotKind
    /** Whether that choice was recorded yet (the probe runs at the first unpack). */
    recorded: boolean
    /** Overlay's user.overlay.* xattrs and `userxattr` mount option (rootless overlay). */
    userXattr: boolean
    /** Why flat was chosen, when it was. */
    reason?: string
  }
  images: {names: number; manifests: number}
  containers: {recorded: number; running: number}
  cgroup: CgroupInfo
  rootless: boolean
  versions: {mydocker: string; node: string; kernel: string}
}

/** Gathers the report for `store`. Never throws for a missing /sys file; the fields then read as empty. */
export async function systemInfo(store: Store): Promise<SystemInfo> {
  const count = (sql: string) => (store.db.prepare(sql).get() as {count: number}).count
  const records = listContainerRecords(store)
  return {
    store: {root: store.paths.root, usage: await storeUsage(store)},
    snapshotter: snapshotterInfo(store),
    images: {names: count('SELECT COUNT(*) AS count FROM tags'), manifests: count('SELECT COUNT(*) AS count FROM manifests')},
    containers: {recorded: records.length, running: records.filter((record) => isRunning(record)).length},
    cgroup: detectCgroup(),
    rootless: runningRootless(),
    versions: {mydocker: packageVersion(), node: process.version, kernel: release()},
  }
}

async function storeUsage(store: Store): Promise<StoreUsage> {
  const sum = (sql: string) => (store.db.prepare(sql).get() as {total: number | null}).total ?? 0
  const indexFiles = [store.paths.database, `${store.paths.database}-wal`, `${store.paths.database}-shm`]
  let index = 0
  for (const file of indexFiles) index += (await lstat(file).catch(() => undefined))?.size ?? 0
  return {
    blobs: sum('SELECT SUM(size) AS total FROM blobs'),
    snapshots: sum('SELECT SUM(size) AS total FROM snapshots'),
    containers: await directorySize(store.paths.containers),
    index,
  }
}

function snapshotterInfo(store: Store): SystemInfo['snapshotter'] {
  const choice = readSnapshotter(store.paths.root)
  const inUse = snapshotKinds(store)
  const kind = choice?.kind ?? inUse[0] ?? 'overlay'
  const info: SystemInfo['snapshotter'] = {inUse, default: kind, recorded: choice !== undefined, userXattr: choice?.userXattr ?? false}
  if (choice?.reason) info.reason = choice.reason
  return info
}

function snapshotKinds(store: Store): SnapshotKind[] {
  const rows = store.db.prepare('SELECT DISTINCT kind FROM snapshots ORDER BY kind').all() as Array<{kind: SnapshotKind}>
  return rows.map((row) => row.kind)
}

// v1 directories under /sys/fs/cgroup that are no resource controllers.
const NAMED_HIERARCHIES = new Set(['unified', 'systemd', 'elogind'])

/**
 * The host's cgroup setup, read from `cgroupRoot` (default /sys/fs/cgroup):
 * cgroup.controllers exists only at the root of a v2 (unified) hierarchy; on
 * v1 each controller hierarchy is a directory there.
 */
export function detectCgroup(cgroupRoot = '/sys/fs/cgroup'): CgroupInfo {
  const controllersFile = join(cgroupRoot, 'cgroup.controllers')
  if (existsSync(controllersFile)) {
    const controllers = readFileSync(controllersFile, 'utf8').trim().split(/\s+/).filter(Boolean)
    return {version: 2, controllers, hybrid: false}
  }

  let names: string[] = []
  try {
    names = readdirSync(cgroupRoot)
  } catch {
    names = []
  }
  const controllers = names.filter((name) => !NAMED_HIERARCHIES.has(name)).sort()
  return {version: 1, controllers, hybrid: names.includes('unified')}
}

// The version in mydocker's package.json, found by walking up from this module
// (dist/service/ when built, src/service/ under tsx).
function packageVersion(): string {
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as {name?: string; version?: string}
      if (manifest.name === 'mydocker' && manifest.version) return manifest.version
    } catch {
      // Not this one; try the next candidate.
    }
  }
  return 'unknown'
}
