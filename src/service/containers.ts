/**
 * Container records: a row per run in progress, so `rm` knows which images are
 * in use and what a killed run left behind can be found and removed.
 */
import {readdirSync, readFileSync, rmSync} from 'node:fs'
import {basename, join} from 'node:path'
import {invalidArgument, notFound} from '../errors.js'
import {isProcessAlive, processStartTime} from '../store/process.js'
import type {Store} from '../store/store.js'

export interface ContainerRecord {
  id: string
  name: string | null
  image: string
  manifestDigest: string
  command: string
  pid: number | null
  pidStart: string | null
  createdAt: number
}

/** Every recorded container, whether its process still runs or not. */
export function listContainerRecords(store: Store): ContainerRecord[] {
  return store.db
    .prepare(
      `SELECT id, name, image, manifest_digest AS manifestDigest, command, pid, pid_start AS pidStart,
              created_at AS createdAt FROM containers ORDER BY created_at DESC`,
    )
    .all() as ContainerRecord[]
}

/** True while the process that runs `record` is alive. */
export function isRunning(record: ContainerRecord): boolean {
  return record.pid !== null && isProcessAlive(record.pid, record.pidStart)
}

/**
 * Removes what runs whose mydocker process died left behind: their directory
 * (upper and work layers) and their row. Mounts went with the run's mount
 * namespace. Returns the ids removed.
 */
export function reapDeadContainers(store: Store): string[] {
  const dead = listContainerRecords(store).filter((record) => !isRunning(record))
  for (const record of dead) {
    rmSync(join(store.paths.containers, record.id), {recursive: true, force: true})
    store.db.prepare('DELETE FROM containers WHERE id = ?').run(record.id)
  }
  return dead.map((record) => record.id)
}

/**
 * The record of the container `idOrName` designates: its --name, its generated
 * name (containerName), its full id, or an id prefix only one container has.
 * Dead records count too; callers that need a live container check isRunning.
 * Throws NOT_FOUND "no such container: X" (exit 1, as docker) when none does,
 * INVALID_ARGUMENT when a prefix fits several.
 */
export function findContainer(store: Store, idOrName: string): ContainerRecord {
  const records = listContainerRecords(store)
  const exact =
    records.find((record) => record.name === idOrName) ??
    records.find((record) => record.id === idOrName) ??
    records.find((record) => record.name === null && generatedName(record.id) === idOrName)
  if (exact) return exact

  const matches = /^[0-9a-f]+$/.test(idOrName) ? records.filter((record) => record.id.startsWith(idOrName)) : []
  if (matches.length === 1) return matches[0]
  if (matches.length > 1) {
    throw invalidArgument(`container id prefix "${idOrName}" is ambiguous: ${matches.length} containers have it`, {
      hint: 'give more digits of the id, or the name',
      exitCode: 1,
    })
  }
  throw notFound(`no such container: ${idOrName}`, {hint: 'see the running containers with `mydocker ps`', exitCode: 1})
}

const NAME_ADJECTIVES = [
  'brave', 'calm', 'clever', 'eager', 'fervent', 'gentle', 'happy', 'jolly',
  'keen', 'lucid', 'modest', 'nifty', 'quiet', 'sharp', 'tender', 'vivid',
]
const NAME_NOUNS = [
  'babbage', 'curie', 'darwin', 'euler', 'fermi', 'galois', 'hopper', 'johnson',
  'knuth', 'lovelace', 'noether', 'pascal', 'ritchie', 'shannon', 'turing', 'wozniak',
]

/**
 * The container's name: its --name, else one made from its id the way docker
 * makes adjective_noun names, with the id's first hex digits so two containers
 * rarely share one (the same id always gives the same name).
 */
export function containerName(record: Pick<ContainerRecord, 'id' | 'name'>): string {
  return record.name ?? generatedName(record.id)
}

function generatedName(id: string): string {
  const adjective = NAME_ADJECTIVES[Number.parseInt(id.slice(0, 1), 16)]
  const noun = NAME_NOUNS[Number.parseInt(id.slice(1, 2), 16)]
  return `${adjective}_${noun}_${id.slice(2, 6)}`
}

/** The processes of a running container, as the host sees them. */
export interface ContainerProcesses {
  /** PID of the launch supervisor (native/launch.c), a child of the mydocker run process. */
  supervisorPid: number
  /** PID of the container's PID 1, the supervisor's child, and its start time (/proc/PID/stat field 22). */
  initPid: number
  initStart: string
  /** The supervisor's options (before "--"), as launcher.ts wrote them. */
  launchOptions: string[]
  /** The container's command as it runs: entrypoint and arguments. */
  command: string[]
  /** The container's environment: the supervisor's, which launch.c gives the container unchanged. */
  environment: string[]
}

/**
 * Finds the processes of `record` by walking down from the mydocker process
 * that runs it: its child that is dist/native/launch for this container's
 * directory, then that supervisor's only child. Undefined when the container
 * is not running (or not yet started, or run by another runtime such as runc).
 * The caller checks initStart again before it signals or enters the process.
 */
export function containerProcesses(store: Store, record: ContainerRecord): ContainerProcesses | undefined {
  if (!isRunning(record)) return undefined
  const containerDir = join(store.paths.containers, record.id)
  const supervisorPid = childProcesses(record.pid!).find((pid) => {
    const argv = processArguments(pid)
    return argv !== undefined && basename(argv[0] ?? '') === 'launch' && optionValue(argv, '--container-dir') === containerDir
  })
  if (supervisorPid === undefined) return undefined

  const [initPid] = childProcesses(supervisorPid)
  const argv = processArguments(supervisorPid)
  const initStart = initPid === undefined ? undefined : processStartTime(initPid)
  if (initPid === undefined || initStart === undefined || argv === undefined) return undefined
  const separator = argv.indexOf('--')
  return {
    supervisorPid,
    initPid,
    initStart,
    launchOptions: argv.slice(1, separator === -1 ? argv.length : separator),
    command: separator === -1 ? [] : argv.slice(separator + 1),
    environment: readNulSeparated(`/proc/${supervisorPid}/environ`) ?? [],
  }
}

/** The value after `name` in a launcher argv ("--cwd /work"), or undefined. */
export function optionValue(argv: readonly string[], name: string): string | undefined {
  const separator = argv.indexOf('--')
  const options = separator === -1 ? argv : argv.slice(0, separator)
  const index = options.indexOf(name)
  return index === -1 ? undefined : options[index + 1]
}

// The kernel here lacks /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN), so
// the parent of every process is read from field 4 of /proc/PID/stat.
function childProcesses(pid: number): number[] {
  const children: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (parent === pid) children.push(Number(entry))
    } catch {
      // The process ended while the list was read.
    }
  }
  return children
}

function processArguments(pid: number): string[] | undefined {
  return readNulSeparated(`/proc/${pid}/cmdline`)
}

function readNulSeparated(path: string): string[] | undefined {
  try {
    const text = readFileSync(path, 'utf8')
    return text.split('\0').slice(0, text.endsWith('\0') ? -1 : undefined)
  } catch {
    return undefined
  }
}
