/**
 * Which snapshot kind a store uses (issue #4): overlay where overlayfs
 * whiteouts can be made and mounted here, flat (whole trees) otherwise.
 *
 * The choice is probed once, when a store first unpacks a layer, and recorded
 * in the file `snapshotter` at the store root, so every later pull and run of
 * that store agrees with the snapshots it holds. MYDOCKER_SNAPSHOTTER=overlay
 * or =flat overrides the probe for a store that holds no snapshots yet.
 *
 * The probe, in the store's snapshots/ directory (the file system snapshots
 * live on): a 0/0 character device (a whiteout), the opaque xattr
 * (trusted.overlay.opaque as real root, user.overlay.opaque in a user
 * namespace, with overlay's `userxattr` option), and an overlay mount, made
 * in a mount namespace of its own, that must hide what they mark. A flat
 * store still mounts its one top snapshot under a per-run overlay when an
 * overlay without whiteouts mounts; else each run copies the tree.
 */
import {execFile} from 'node:child_process'
import {mkdirSync, readFileSync, renameSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {invalidArgument} from '../errors.js'
import {runningRootless} from '../rootless/userns.js'
import type {Store} from '../store/store.js'
import type {SnapshotKind} from './kind.js'

/** A store's recorded choice. */
export interface SnapshotterChoice {
  kind: SnapshotKind
  /** Opaque directories carry user.overlay.opaque and mounts take `userxattr` (rootless overlay). */
  userXattr: boolean
  /** An overlay mount (no whiteouts needed) works here: a flat run mounts its snapshot under an overlay instead of copying it. */
  overlayMount: boolean
  /** Why flat was chosen, for `mydocker info`. */
  reason?: string
}

const CHOICE_FILE = 'snapshotter'
const OVERRIDE_ENV = 'MYDOCKER_SNAPSHOTTER'

/**
 * The choice recorded for the store at `root`; undefined when none is (a store
 * that unpacked nothing yet, or one made before the choice was recorded,
 * whose snapshots are overlay ones made by root).
 */
export function readSnapshotter(root: string): SnapshotterChoice | undefined {
  try {
    return JSON.parse(readFileSync(join(root, CHOICE_FILE), 'utf8')) as SnapshotterChoice
  } catch {
    return undefined
  }
}

/**
 * The store's choice, probing and recording it first when there is none.
 * Throws INVALID_ARGUMENT when MYDOCKER_SNAPSHOTTER names another kind than
 * the snapshots the store already holds, or a kind that does not exist.
 */
export async function storeSnapshotter(store: Store, env: NodeJS.ProcessEnv = process.env): Promise<SnapshotterChoice> {
  const override = env[OVERRIDE_ENV]
  if (override !== undefined && override !== 'overlay' && override !== 'flat') {
    throw invalidArgument(`${OVERRIDE_ENV}="${override}" names no snapshotter`, {hint: 'use overlay or flat'})
  }

  const recorded = readSnapshotter(store.paths.root) ?? legacyChoice(store)
  if (recorded && (override === undefined || override === recorded.kind)) return recorded
  if (recorded && snapshotCount(store) > 0) {
    throw invalidArgument(`the store at ${store.paths.root} holds ${recorded.kind} snapshots; ${OVERRIDE_ENV}=${override} cannot apply to it`, {
      hint: `unset ${OVERRIDE_ENV}, or use another store (--root)`,
    })
  }

  const choice = await probeSnapshotter(store, override as SnapshotKind | undefined)
  // Renamed into place: a concurrent reader sees the old choice or the new, whole.
  const file = join(store.paths.root, CHOICE_FILE)
  const temporary = `${file}.${process.pid}`
  writeFileSync(temporary, `${JSON.stringify(choice)}\n`)
  renameSync(temporary, file)
  return choice
}

// Snapshots made before the choice was recorded are overlay ones, made by root.
function legacyChoice(store: Store): SnapshotterChoice | undefined {
  if (snapshotCount(store) === 0) return undefined
  return {kind: 'overlay', userXattr: false, overlayMount: true}
}

function snapshotCount(store: Store): number {
  return (store.db.prepare('SELECT COUNT(*) AS count FROM snapshots').get() as {count: number}).count
}

/** Probes this store's file system; `forced` fixes the kind but the mount checks still run. */
async function probeSnapshotter(store: Store, forced: SnapshotKind | undefined): Promise<SnapshotterChoice> {
  const userXattr = runningRootless()
  const prepared = store.snapshots.prepare()
  try {
    const whiteouts = await probeWhiteouts(prepared.directory, userXattr)
    const overlayMount = whiteouts === undefined || (await probeMount(prepared.directory, userXattr, false)) === undefined
    if (forced === 'flat') return {kind: 'flat', userXattr, overlayMount, reason: `${OVERRIDE_ENV}=flat`}
    if (forced === 'overlay' || whiteouts === undefined) return {kind: 'overlay', userXattr, overlayMount}
    return {kind: 'flat', userXattr, overlayMount, reason: whiteouts}
  } finally {
    await store.snapshots.abort(prepared)
  }
}

// Resolves with why whiteouts do not work here, or undefined when they do.
async function probeWhiteouts(directory: string, userXattr: boolean): Promise<string | undefined> {
  for (const path of ['lower/gone', 'lower/opaque/hidden', 'upper/opaque', 'work', 'merged']) mkdirSync(join(directory, path), {recursive: true})
  const {FsOpsClient} = await import('./apply/fsops-client.js')
  const fsops = new FsOpsClient()
  try {
    await fsops.mknod(directory, 'upper/gone', {type: 'c', mode: 0o600, major: 0, minor: 0})
    await fsops.setXattr(directory, 'upper/opaque', userXattr ? 'user.overlay.opaque' : 'trusted.overlay.opaque', Buffer.from('y'))
  } catch (error) {
    return `overlay whiteouts cannot be made in ${directory}: ${(error as Error).message}`
  } finally {
    await fsops.close()
  }
  return probeMount(directory, userXattr, true)
}

// Mounts lower/ (and upper/ when `whiteouts`) on merged/ in a mount namespace
// of its own and checks that the whiteouts hide what they should; resolves
// with why not, or undefined when it works.
async function probeMount(directory: string, userXattr: boolean, whiteouts: boolean): Promise<string | undefined> {
  // Without whiteouts: an upper and work of its own, free of what the whiteout probe left.
  const [upper, work] = whiteouts ? ['upper', 'work'] : ['plain-upper', 'plain-work']
  for (const path of [upper, work, 'merged']) mkdirSync(join(directory, path), {recursive: true})
  const options = [`lowerdir=${directory}/lower`, `upperdir=${directory}/${upper}`, `workdir=${directory}/${work}`]
  if (userXattr) options.push('userxattr')
  const checks = whiteouts ? 'test ! -e "$1/gone" && test -d "$1/opaque" && test ! -e "$1/opaque/hidden"' : 'test -d "$1/gone"'
  const script = `mount -t overlay overlay -o "$0" "$1" && ${checks}`
  try {
    await promisify(execFile)('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, options.join(','), `${directory}/merged`])
    return undefined
  } catch (error) {
    const detail = ((error as {stderr?: string}).stderr ?? '').trim() || (error as Error).message
    return `overlay ${whiteouts ? 'with whiteouts ' : ''}does not mount or hide what it should in ${directory}: ${detail}`
  }
}
