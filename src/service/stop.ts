/**
 * `mydocker stop`: ends running containers as docker does. The stop signal
 * (the image's StopSignal, SIGTERM by default) goes to the container's PID 1;
 * after the timeout SIGKILL does, which ends every process of the container
 * (the kernel kills a PID namespace with its init). The `mydocker run` that
 * runs the container then exits with the command's status and cleans up.
 */
import {constants} from 'node:os'
import {setTimeout as sleep} from 'node:timers/promises'
import {invalidArgument} from '../errors.js'
import type {ImageConfig} from '../image/types.js'
import {isProcessAlive} from '../store/process.js'
import type {Store} from '../store/store.js'
import {containerProcesses, findContainer, isRunning, optionValue, type ContainerProcesses, type ContainerRecord} from './containers.js'

/** How to stop. */
export interface StopOptions {
  /** Seconds between the stop signal and SIGKILL (negative: no SIGKILL, wait); the run's --stop-timeout (10 by default) when unset. */
  timeoutSeconds?: number
  /** Overrides the image's StopSignal (`SIGTERM`, `TERM` or `15`). */
  signal?: string
}

/** How one container ended. */
export interface StopResult {
  id: string
  /** True when the stop signal was not enough and SIGKILL was sent. */
  killed: boolean
  /** False when the container was not running at all (docker stop succeeds then too). */
  wasRunning: boolean
}

const POLL_MILLISECONDS = 50
// After its PID 1 is gone, the `mydocker run` process has this long to remove its record.
const RUN_EXIT_MILLISECONDS = 5000

/**
 * Stops the container `idOrName` and resolves once its PID 1 has ended (and
 * the run that ran it has exited, for up to 5 s more). Throws NOT_FOUND (exit
 * 1) for an unknown container; one that is not running is left as it is.
 */
export async function stopContainer(store: Store, idOrName: string, options: StopOptions = {}): Promise<StopResult> {
  const record = findContainer(store, idOrName)
  const processes = isRunning(record) ? containerProcesses(store, record) : undefined
  if (processes === undefined) return {id: record.id, killed: false, wasRunning: false}

  const signal = signalNumber(options.signal ?? stopSignal(store, record) ?? 'SIGTERM')
  const timeout = options.timeoutSeconds ?? Number(optionValue(processes.launchOptions, '--stop-timeout') ?? 10)
  const killed = await signalThenKill(processes, signal, timeout)
  await waitFor(() => !isRunning(record), RUN_EXIT_MILLISECONDS)
  return {id: record.id, killed, wasRunning: true}
}

// A signal sent from the host to a PID namespace's init is delivered only when
// the init handles it (pid_namespaces(7)): a command that does not trap TERM
// waits for the SIGKILL, as under docker.
async function signalThenKill(processes: ContainerProcesses, signal: number, timeoutSeconds: number): Promise<boolean> {
  const alive = () => isProcessAlive(processes.initPid, processes.initStart)
  if (!sendSignal(processes, signal, alive)) return false
  // As docker, a negative timeout waits for the container however long it takes.
  if (await waitFor(() => !alive(), timeoutSeconds < 0 ? Infinity : timeoutSeconds * 1000)) return false

  sendSignal(processes, constants.signals.SIGKILL, alive)
  await waitFor(() => !alive(), 10_000)
  return true
}

// The start time is checked right before the kill so a reused PID is never hit.
function sendSignal(processes: ContainerProcesses, signal: number, alive: () => boolean): boolean {
  if (!alive()) return false
  try {
    process.kill(processes.initPid, signal)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

async function waitFor(done: () => boolean, milliseconds: number): Promise<boolean> {
  const deadline = Date.now() + milliseconds
  while (!done()) {
    if (Date.now() >= deadline) return false
    await sleep(POLL_MILLISECONDS)
  }
  return true
}

// The StopSignal of the image's config, when the config says one.
function stopSignal(store: Store, record: ContainerRecord): string | undefined {
  try {
    const row = store.db.prepare('SELECT config_digest AS configDigest FROM manifests WHERE digest = ?').get(record.manifestDigest) as
      | {configDigest: string}
      | undefined
    if (row === undefined) return undefined
    const config = JSON.parse(store.content.readBlob(row.configDigest).toString('utf8')) as ImageConfig
    return config.config?.StopSignal || undefined
  } catch {
    // An image removed with rm -f while running: docker's default then.
    return undefined
  }
}

/** `SIGTERM`, `TERM`, `sigterm` or `15` as a signal number; throws INVALID_ARGUMENT otherwise. */
export function signalNumber(name: string): number {
  if (/^\d+$/.test(name) && Number(name) > 0 && Number(name) < 65) return Number(name)
  const upper = name.toUpperCase()
  const key = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as keyof typeof constants.signals
  const number = constants.signals[key]
  if (number === undefined) throw invalidArgument(`invalid signal "${name}"`, {hint: 'use a name such as SIGTERM or a number such as 15'})
  return number
}
