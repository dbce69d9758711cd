/**
 * OCI runtime bundles (runtime-spec "bundle.md"): a directory with config.json
 * and the root file system it names, which runc, crun or any OCI runtime can
 * run with `runc run --bundle DIR ID`.
 *
 * writeBundle makes one from a stored image: rootfs/ is a merged copy of the
 * image's snapshots (rootfs.ts), config.json the image's process (or the one
 * given) with Docker's defaults (spec.ts). The bundle is built under a
 * temporary name beside DIR and renamed into place when complete.
 */
import {existsSync, lstatSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {basename, dirname, join, posix, resolve} from 'node:path'
import {corrupt, fromSystemError, invalidArgument, notFound} from '../errors.js'
import type {ImageConfig} from '../image/types.js'
import {buildProcessSpec, type ProcessOptions, type ProcessSpec} from '../runtime/process-spec.js'
import {resolveStoredNames} from '../service/images.js'
import type {Store} from '../store/store.js'
import {mergeSnapshots} from './rootfs.js'
import {runtimeSpec, type RuntimeSpec} from './spec.js'
import {resolveUser} from './user.js'

/** The host name of a bundle's container unless one is given. */
export const DEFAULT_HOSTNAME = 'mydocker'

/** What writeBundle needs; only store, image and dir are required. */
export interface BundleOptions {
  store: Store
  /** The image: a stored name, a reference as typed (`busybox`), or an image ID prefix. */
  image: string
  /** The bundle directory; must not exist, or be empty. */
  dir: string
  /**
   * The process to run; each field left out comes from the image config as
   * `mydocker run` computes it (Entrypoint + Cmd, Env with PATH and HOSTNAME,
   * WorkingDir or /, User or root). `user` uses Docker's --user syntax and is
   * resolved with the image's /etc/passwd and /etc/group.
   */
  process?: Partial<ProcessSpec>
  /** Container host name; 'mydocker' by default. */
  hostname?: string
  /** host (default) shares the host's network namespace; none makes an empty one. */
  network?: 'host' | 'none'
  readOnly?: boolean
  /** Allocate a terminal (process.terminal); the caller then provides a console socket to runc. */
  terminal?: boolean
}

/** What writeBundle made. */
export interface Bundle {
  dir: string
  configPath: string
  rootfs: string
  spec: RuntimeSpec
  /** The stored name the image was found under. */
  image: string
}

/**
 * Writes an OCI runtime bundle for `options.image` into `options.dir`.
 * Throws NOT_FOUND for an unknown image, INVALID_ARGUMENT for a non-empty
 * DIR or a user the image does not know, CORRUPT when a snapshot is missing.
 * Works as root (owners and device nodes are copied as they are).
 */
export async function writeBundle(options: BundleOptions): Promise<Bundle> {
  const {store} = options
  const dir = resolve(options.dir)
  refuseNonEmpty(dir)
  const [name] = resolveStoredNames(store, options.image)
  const layers = snapshotDirectories(store, name)
  const config = readConfig(store, name)

  const building = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`)
  rmSync(building, {recursive: true, force: true})
  try {
    const rootfs = join(building, 'rootfs')
    mkdirSync(rootfs, {recursive: true, mode: 0o755})
    await mergeSnapshots(layers, rootfs)

    const spec = runtimeSpec({
      process: bundleProcess(config, rootfs, options),
      hostname: options.hostname ?? DEFAULT_HOSTNAME,
      network: options.network ?? 'host',
      readOnly: options.readOnly ?? false,
    })
    writeFileSync(join(building, 'config.json'), `${JSON.stringify(spec, null, 2)}\n`)
    if (existsSync(dir)) rmSync(dir, {recursive: true})
    renameSync(building, dir)
    return {dir, configPath: join(dir, 'config.json'), rootfs: join(dir, 'rootfs'), spec, image: name}
  } catch (error) {
    rmSync(building, {recursive: true, force: true})
    throw fromSystemError(error, `writing bundle ${dir}`)
  }
}

function refuseNonEmpty(dir: string): void {
  if (!existsSync(dir)) return
  if (readdirSync(dir).length > 0) {
    throw invalidArgument(`bundle directory ${dir} is not empty`, {hint: 'name a new directory, or empty this one'})
  }
}

// Snapshot directories bottom first; a flat top snapshot already holds the whole tree.
function snapshotDirectories(store: Store, name: string): string[] {
  const rows = store.db
    .prepare(
      `SELECT l.chain_id AS chainId, s.id, s.kind FROM tags t
       JOIN layers l ON l.manifest_digest = t.manifest_digest
       LEFT JOIN snapshots s ON s.chain_id = l.chain_id
       WHERE t.name = ? ORDER BY l.position`,
    )
    .all(name) as Array<{chainId: string; id: number | null; kind: string | null}>
  const missing = rows.find((row) => row.id === null)
  if (missing) {
    throw corrupt(`snapshot ${missing.chainId} of ${name} is missing`, {hint: `pull the image again: mydocker pull ${name}`})
  }
  const top = rows.at(-1)
  if (top?.kind === 'flat') return [store.snapshots.directory(top.id!)]
  return rows.map((row) => store.snapshots.directory(row.id!))
}

/**
 * The process `mydocker run IMAGE ARGS...` would start, from the image's config
 * and the given run options (see buildProcessSpec), for callers of writeBundle
 * that take run-style options. Throws NOT_FOUND for an unknown image.
 */
export function imageProcessSpec(store: Store, image: string, options: Omit<ProcessOptions, 'hostname'> & {hostname?: string}): ProcessSpec {
  const [name] = resolveStoredNames(store, image)
  return buildProcessSpec(readConfig(store, name).config, {...options, hostname: options.hostname ?? DEFAULT_HOSTNAME})
}

function readConfig(store: Store, name: string): ImageConfig {
  const image = store.images.runnable(name)
  if (!image) throw notFound(`no such image: ${name}`)
  try {
    return JSON.parse(store.content.readBlob(image.configDigest).toString('utf8')) as ImageConfig
  } catch (error) {
    throw corrupt(`config ${image.configDigest} of ${name} cannot be read: ${(error as Error).message}`, {cause: error})
  }
}

function bundleProcess(config: ImageConfig, rootfs: string, options: BundleOptions) {
  const hostname = options.hostname ?? DEFAULT_HOSTNAME
  const given = options.process ?? {}
  const fromImage = given.args && given.env && given.cwd !== undefined && given.user !== undefined
    ? undefined
    : buildProcessSpec(config.config, {args: [], hostname, tty: options.terminal})
  const args = given.args ?? fromImage!.args
  const env = given.env ?? fromImage!.env
  const cwd = given.cwd ?? fromImage!.cwd
  const user = resolveUser(rootfs, given.user ?? fromImage!.user)

  makeWorkingDirectory(rootfs, cwd)
  const withHome = env.some((entry) => entry.startsWith('HOME=')) ? env : [...env, `HOME=${user.home}`]
  return {args, env: withHome, cwd, uid: user.uid, gid: user.gid, additionalGids: user.additionalGids, terminal: options.terminal ?? false}
}

// The runtime does not create the working directory; Docker does. Components
// are made one at a time and creation stops at a symlink: the runtime resolves
// that inside the container, while following it here could reach the host.
function makeWorkingDirectory(rootfs: string, cwd: string): void {
  let current = rootfs
  for (const component of posix.normalize(cwd).split('/').filter(Boolean)) {
    current = join(current, component)
    const stats = lstatSync(current, {throwIfNoEntry: false})
    if (stats?.isDirectory()) continue
    if (stats) return
    mkdirSync(current, {mode: 0o755})
  }
}
