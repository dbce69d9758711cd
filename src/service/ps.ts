/**
 * `mydocker ps`: the containers the store records, in the terms docker prints.
 */
import {familiarRepository, parseReference} from '../reference/reference.js'
import type {Store} from '../store/store.js'
import {containerName, containerProcesses, isRunning, listContainerRecords, type ContainerRecord} from './containers.js'

/** One container as `mydocker ps` shows it. */
export interface ContainerListing {
  /** 64 hex digits. */
  id: string
  name: string
  /** The image as users write it (`busybox`, `127.0.0.1:5000/app:1`). */
  image: string
  /** The stored image name (`docker.io/library/busybox:latest`). */
  imageName: string
  manifestDigest: string
  /** What runs: entrypoint and arguments when the container is up, else the arguments given to run. */
  command: string[]
  /** ISO 8601. */
  created: string
  running: boolean
  /** Host PID of the container's PID 1, when it runs. */
  pid: number | null
}

/**
 * Lists the containers newest first: the running ones, or with `all` also the
 * records whose run died without removing them (until a run or prune reaps them).
 */
export function listContainers(store: Store, options: {all?: boolean} = {}): ContainerListing[] {
  return listContainerRecords(store)
    .map((record) => listing(store, record))
    .filter((container) => options.all || container.running)
}

function listing(store: Store, record: ContainerRecord): ContainerListing {
  const running = isRunning(record)
  const processes = running ? containerProcesses(store, record) : undefined
  return {
    id: record.id,
    name: containerName(record),
    image: familiarImage(record.image),
    imageName: record.image,
    manifestDigest: record.manifestDigest,
    command: processes?.command ?? parseCommand(record.command),
    created: new Date(record.createdAt).toISOString(),
    running,
    pid: processes?.initPid ?? null,
  }
}

// Hub images without docker.io/library/, and without the default :latest, as typed.
function familiarImage(name: string): string {
  const reference = parseReference(name)
  const repository = familiarRepository(reference)
  if (reference.digest !== undefined) return `${repository}@${reference.digest}`
  return reference.tag === undefined || reference.tag === 'latest' ? repository : `${repository}:${reference.tag}`
}

function parseCommand(json: string): string[] {
  try {
    const parsed: unknown = JSON.parse(json)
    return Array.isArray(parsed) ? parsed.map(String) : []
  } catch {
    return []
  }
}
