/**
 * Running a container from a stored image.
 *
 * The warm path (image already stored) looks the image up with one prepared
 * join, records the container, reads one small blob, and loads no HTTP or tar
 * code: the pull service is imported only when the image is missing or
 * `--pull always` asks for it.
 */
import {closeSync, mkdirSync, openSync, readSync} from 'node:fs'
import {join} from 'node:path'
import {corrupt, fromSystemError, invalidArgument, MydockerError, notFound, REPAIR_HINT} from '../errors.js'
import {parseImageConfig} from '../image/parse.js'
import type {ImageConfig} from '../image/types.js'
import {parseReference, storedName, type Reference} from '../reference/reference.js'
import {parseEnvironmentOption, readEnvironmentFile} from '../runtime/env.js'
import type {LaunchSpec, ResourceLimits, VolumeMount} from '../runtime/launcher.js'
import {buildProcessSpec} from '../runtime/process-spec.js'
import type {RunnableImage} from '../store/images.js'
import {ownIdentity} from '../store/process.js'
import type {Store} from '../store/store.js'
import {reapDeadContainers} from './containers.js'

/** The `run` flags, as the command parsed them. */
export interface RunFlags {
  env?: string[]
  'env-file'?: string[]
  workdir?: string
  entrypoint?: string
  hostname?: string
  user?: string
  interactive: boolean
  tty: boolean
  volume?: string[]
  tmpfs?: string[]
  'read-only': boolean
  network: string
  memory?: string
  'memory-swap'?: string
  'pids-limit'?: number
  cpus?: string
  name?: string
  pull: string
  platform?: string
  init: boolean
  'cap-add'?: string[]
  'cap-drop'?: string[]
  privileged: boolean
  'stop-timeout': number
  runtime: string
}

export interface RunRequest {
  image: string
  command: string[]
  flags: RunFlags
}

/** Runs the request to completion; resolves with the exit status to return. */
export async function runContainer(store: Store, request: RunRequest): Promise<number> {
  if (request.flags.tty && request.flags.interactive && !process.stdin.isTTY) {
    throw invalidArgument('the input device is not a TTY', {hint: 'drop -t when stdin is a pipe or a file: mydocker run -i ...'})
  }
  const name = request.flags.name
  if (name !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(name)) {
    throw invalidArgument(`invalid container name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`)
  }
  const found = storedById(store, request.image) ?? (await findOrPull(store, parseReference(request.image), request.flags))

  const id = newContainerId()
  const hostname = request.flags.hostname ?? id.slice(0, 12)
  reapDeadContainers(store)
  const image = claimImage(store, found.name, {id, request})
  try {
    const config = readConfig(store, image)
    const spec = await launchSpec(store, image, config, {id, hostname, request})
    if (request.flags.runtime === 'runc') {
      const {runWithRunc} = await import('./run-runc.js')
      return await runWithRunc(store, {id, image: image.name, spec, tty: request.flags.tty})
    }
    const {launch} = await import('../runtime/launcher.js')
    const result = await launch(spec)
    if (result.cleanupError) process.stderr.write(`mydocker: warning: ${result.cleanupError.message}\n`)
    return result.exitCode
  } finally {
    store.db.prepare('DELETE FROM containers WHERE id = ?').run(id)
  }
}

// `mydocker run 3f2a9c41d2e0`: an image ID (prefix) of a stored image, as docker
// accepts; a name that is also a valid reference is looked up as a name first.
function storedById(store: Store, input: string): RunnableImage | undefined {
  const prefix = input.replace(/^sha256:/, '')
  if (!/^[a-f0-9]{12,64}$/.test(prefix)) return undefined
  const names = store.images.namesMatching(undefined, prefix)
  if (names.length === 0) return undefined
  const image = store.images.runnable(names[0])
  return image?.snapshotIds.every((id) => id !== null) ? image : undefined
}

async function findOrPull(store: Store, reference: Reference, flags: RunFlags): Promise<RunnableImage> {
  const name = storedName(reference)
  const stored = store.images.runnable(name)
  const complete = stored !== undefined && stored.snapshotIds.every((id) => id !== null)
  if (complete && flags.pull !== 'always') return stored
  if (flags.pull === 'never') {
    throw notFound(`image ${name} is not in the store`, {hint: `pull it first: mydocker pull ${name}`})
  }

  // Only now are the HTTP and tar stacks loaded.
  const {pullImage} = await import('./pull.js')
  const {createRegistryClient} = await import('../registry/client.js')
  const {createPullProgress} = await import('../cli/pull-progress.js')
  const {parsePlatform} = await import('../image/platform.js')
  if (!stored) process.stderr.write(`Unable to find image '${name}' locally\n`)
  const progress = await createPullProgress(process.stderr, name)
  try {
    await pullImage(store, reference, {
      registry: createRegistryClient(),
      platform: flags.platform ? parsePlatform(flags.platform) : undefined,
      onEvent: (event) => progress.onEvent(event),
    })
  } finally {
    progress.stop()
  }
  const pulled = store.images.runnable(name)
  if (!pulled) throw new MydockerError('INTERNAL', `image ${name} was pulled but is not in the store`)
  return pulled
}

// 64 hex digits from the kernel's random source, as docker's ids; read here
// rather than through node:crypto, which a warm run would load for this alone.
function newContainerId(): string {
  const bytes = Buffer.alloc(32)
  const fd = openSync('/dev/urandom', 'r')
  try {
    readSync(fd, bytes)
  } finally {
    closeSync(fd)
  }
  return bytes.toString('hex')
}

// The config as pull checked it (parseImageConfig): a blob changed on disk since
// reads as damaged, not as whatever the launcher would make of it.
function readConfig(store: Store, image: RunnableImage): ImageConfig {
  let body: Buffer
  try {
    body = store.content.readRecordedBlob(image.configDigest)
  } catch (error) {
    if (error instanceof MydockerError) throw error
    throw corrupt(`config ${image.configDigest} of ${image.name} cannot be read: ${(error as Error).message}`, {
      hint: REPAIR_HINT,
    })
  }
  try {
    return parseImageConfig(body)
  } catch (error) {
    throw corrupt(`config ${image.configDigest} of ${image.name} is damaged: ${(error as Error).message}`, {
      hint: REPAIR_HINT,
    })
  }
}

interface SpecContext {
  id: string
  hostname: string
  request: RunRequest
}

async function launchSpec(store: Store, image: RunnableImage, config: ImageConfig, context: SpecContext): Promise<LaunchSpec> {
  const {flags, command} = context.request
  const processSpec = buildProcessSpec(config.config, {
    args: command,
    entrypoint: flags.entrypoint,
    env: await environmentOptions(flags),
    workdir: flags.workdir,
    user: flags.user,
    hostname: context.hostname,
    tty: flags.tty,
  })

  // Every flag is checked before anything is written for the run.
  const volumes = (flags.volume ?? []).map(parseVolume)
  const resources = resourceLimits(flags)
  for (const path of flags.tmpfs ?? []) {
    if (!path.split(':')[0].startsWith('/')) throw invalidArgument(`invalid --tmpfs "${path}": the path must be absolute`)
  }

  const containerDir = join(store.paths.containers, context.id)
  try {
    mkdirSync(containerDir, {recursive: true})
  } catch (error) {
    throw fromSystemError(error, `creating container directory ${containerDir}`, store.paths.root)
  }
  // runc gets a root of its own, merged by writeBundle (run-runc.ts).
  const root = flags.runtime === 'runc' ? {lowerDirs: []} : await rootSpec(store, image, containerDir)
  return {
    ...root,
    containerDir,
    ...processSpec,
    hostname: context.hostname,
    interactive: flags.interactive,
    tty: flags.tty,
    resources,
    network: flags.network === 'none' ? 'none' : 'host',
    init: flags.init,
    stopTimeout: flags['stop-timeout'],
    volumes,
    tmpfs: flags.tmpfs,
    readOnly: flags['read-only'],
    capAdd: flags['cap-add'],
    capDrop: flags['cap-drop'],
    privileged: flags.privileged,
  }
}

// Overlay snapshots are all lowers, top-most first (the index lists the bottom
// first); a flat one holds the whole tree, so only the top one is. Where no
// overlay mounts, a flat run gets a copy of that tree (slow, but correct).
async function rootSpec(store: Store, image: RunnableImage, containerDir: string): Promise<Pick<LaunchSpec, 'lowerDirs' | 'userXattr' | 'rootTree'>> {
  const ids = image.snapshotIds as number[]
  const top = ids[ids.length - 1]
  const {readSnapshotter} = await import('../snapshot/detect.js')
  const choice = readSnapshotter(store.paths.root)
  const userXattr = choice?.userXattr ?? false
  if (image.topSnapshotKind !== 'flat') return {lowerDirs: ids.map((id) => store.snapshots.directory(id)).reverse(), userXattr}

  const lowerDirs = [store.snapshots.directory(top)]
  if (choice?.overlayMount !== false) return {lowerDirs, userXattr}
  const rootTree = join(containerDir, 'tree')
  const {execFile} = await import('node:child_process')
  const {promisify} = await import('node:util')
  try {
    await promisify(execFile)('cp', ['-a', '--reflink=auto', '--', lowerDirs[0], rootTree])
  } catch (error) {
    const detail = ((error as {stderr?: string}).stderr ?? '').trim() || (error as Error).message
    const {rm} = await import('node:fs/promises')
    await rm(containerDir, {recursive: true, force: true})
    // TODO(#4): cp's "No space left on device" should read as NO_SPACE naming the store.
    throw new MydockerError('INTERNAL', `copying snapshot ${lowerDirs[0]} for the container's root: ${detail}`, {cause: error})
  }
  return {lowerDirs, userXattr, rootTree}
}

async function environmentOptions(flags: RunFlags): Promise<string[]> {
  const fromFiles = []
  for (const file of flags['env-file'] ?? []) fromFiles.push(...(await readEnvironmentFile(file, process.env)))
  const fromFlags = (flags.env ?? []).flatMap((value) => parseEnvironmentOption(value, process.env) ?? [])
  return [...fromFiles, ...fromFlags]
}

/** --memory, --memory-swap, --pids-limit and --cpus as the runtime takes them. */
export function resourceLimits(flags: Pick<RunFlags, 'memory' | 'memory-swap' | 'pids-limit' | 'cpus'>): ResourceLimits {
  const limits: ResourceLimits = {}
  if (flags.memory !== undefined) limits.memory = parseBytes(flags.memory, '--memory')
  if (flags['memory-swap'] !== undefined) {
    limits.memorySwap = flags['memory-swap'] === '-1' ? -1 : parseBytes(flags['memory-swap'], '--memory-swap')
  }
  if (flags['pids-limit'] !== undefined) limits.pidsLimit = flags['pids-limit']
  if (flags.cpus !== undefined) {
    const cpus = Number(flags.cpus)
    if (!Number.isFinite(cpus) || cpus <= 0) throw invalidArgument(`invalid --cpus "${flags.cpus}": expected a positive number such as 0.5`)
    limits.cpus = cpus
  }
  return limits
}

const BYTE_UNITS: Record<string, number> = {'': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4}

// Docker's RAMInBytes: a number with an optional k, m, g or t (binary units).
function parseBytes(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?$/i.exec(text.trim())
  if (!match) throw invalidArgument(`invalid ${flag} "${text}": expected a size such as 64m or 1g`)
  const bytes = Math.floor(Number(match[1]) * BYTE_UNITS[match[2].toLowerCase()])
  if (flag === '--memory' && bytes < 6 * 1024 * 1024) {
    throw invalidArgument(`invalid ${flag} "${text}": the minimum memory limit is 6m`)
  }
  return bytes
}

/** Parses `-v HOST:CONTAINER[:ro|rw]`. */
export function parseVolume(value: string): VolumeMount {
  const parts = value.split(':')
  const [source, target, mode] = parts
  const bad = (why: string) =>
    invalidArgument(`invalid volume "${value}": ${why}`, {hint: 'use -v /host/path:/container/path[:ro]'})
  if (parts.length < 2 || parts.length > 3 || !source || !target) throw bad('expected HOST:CONTAINER[:ro]')
  if (!source.startsWith('/')) throw bad(`the host path "${source}" must be absolute`)
  if (!target.startsWith('/')) throw bad(`the container path "${target}" must be absolute`)
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw bad(`unknown mode "${mode}"`)
  return {source, target, readOnly: mode === 'ro'}
}

// Looks the image up again and records the container in one write transaction:
// garbage collection (also one write transaction) then either sees the
// container and keeps the image's content, or has already removed the name.
function claimImage(store: Store, name: string, context: {id: string; request: RunRequest}): RunnableImage {
  const {pid, start} = ownIdentity()
  const {id, request} = context
  const insert = store.db.prepare(
    `INSERT INTO containers (id, name, image, manifest_digest, command, pid, pid_start, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  )
  try {
    return store.db
      .transaction(() => {
        const image = store.images.runnable(name)
        if (!image || image.snapshotIds.some((snapshot) => snapshot === null)) {
          throw notFound(`image ${name} was removed while the container was starting`, {hint: 'run it again'})
        }
        const command = JSON.stringify(request.command)
        insert.run(id, request.flags.name ?? null, image.name, image.manifestDigest, command, pid, start ?? null, Date.now())
        return image
      })
      .immediate()
  } catch (error) {
    if ((error as {code?: string}).code === 'SQLITE_CONSTRAINT_UNIQUE') {
      throw invalidArgument(`the container name "${request.flags.name}" is already in use`, {
        hint: 'choose another --name, or stop the container that has it',
      })
    }
    throw fromSystemError(error, 'recording the container', store.paths.root)
  }
}
