/**
 * `mydocker exec`: runs a command in a running container. dist/native/enter
 * (native/enter.c) joins the namespaces and cgroups of the container's PID 1,
 * takes its root, capability bounding set and no_new_privs, and execs the
 * command; this process only relays stdio (inherited) and signals.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {constants} from 'node:os'
import {conflict, invalidArgument, MydockerError} from '../errors.js'
import {environmentObject, mergeEnvironment, parseEnvironmentOption, readEnvironmentFile} from '../runtime/env.js'
import {nativeHelperPath} from '../runtime/launcher.js'
import {FORWARDED_SIGNALS, relaySignals} from '../runtime/signals.js'
import type {Store} from '../store/store.js'
import {containerProcesses, findContainer, isRunning, optionValue, type ContainerProcesses} from './containers.js'

/** What `mydocker exec` was asked to do. */
export interface ExecRequest {
  /** Container name, id or id prefix. */
  container: string
  command: string[]
  /** -i: pass stdin through; otherwise the command reads /dev/null. */
  interactive: boolean
  /** -t: run on a pseudo-terminal. */
  tty: boolean
  /** -u: docker's user syntax; the container's user when unset. */
  user?: string
  /** -w: the working directory; the container's when unset. */
  workdir?: string
  /** -e KEY=VALUE or KEY (from this process's environment). */
  env?: string[]
  envFile?: string[]
  /** The helper; dist/native/enter by default (tests may point elsewhere). */
  enterPath?: string
}

/**
 * Runs the request to completion and resolves with the command's exit status
 * (128+N for signal N; 126 when it cannot be set up or executed, 127 when not
 * found, 125 when the container cannot be entered; enter.c prints why).
 * Throws NOT_FOUND (exit 1) for an unknown container and CONFLICT (exit 1)
 * when it is not running.
 */
export async function execInContainer(store: Store, request: ExecRequest): Promise<number> {
  if (request.command.length === 0) {
    throw invalidArgument('"mydocker exec" requires a command to run', {hint: 'mydocker exec [OPTIONS] CONTAINER COMMAND [ARG...]'})
  }
  const processes = runningProcesses(store, request.container)
  const args = enterArguments(processes, request)
  const env = await execEnvironment(processes, request)
  const enterPath = request.enterPath ?? nativeHelperPath('enter')

  if (request.tty) {
    const {runInTerminal} = await import('../runtime/terminal.js')
    // runInTerminal runs any helper on a pty; here the helper is enter, not launch.
    const terminalRun = {launcherPath: enterPath, args, env, interactive: request.interactive, forwardedSignals: FORWARDED_SIGNALS}
    return (await runInTerminal(terminalRun)).exitCode
  }
  return runEnter(enterPath, args, env, request.interactive)
}

/** The processes of the running container `idOrName`; throws NOT_FOUND or CONFLICT (exit 1, as docker). */
export function runningProcesses(store: Store, idOrName: string): ContainerProcesses {
  const record = findContainer(store, idOrName)
  const processes = isRunning(record) ? containerProcesses(store, record) : undefined
  if (processes === undefined) {
    // TODO(#5): containers run with --runtime runc have no launch supervisor to find.
    throw conflict(`container ${idOrName} is not running`, {hint: 'see the running containers with `mydocker ps`', exitCode: 1})
  }
  return processes
}

// The container's user and working directory are those launch.c was given
// (docker exec's defaults are the container's), unless -u or -w say otherwise.
function enterArguments(processes: ContainerProcesses, request: ExecRequest): string[] {
  const user = request.user ?? optionValue(processes.launchOptions, '--user') ?? ''
  const cwd = request.workdir ?? optionValue(processes.launchOptions, '--cwd') ?? '/'
  if (!cwd.startsWith('/')) throw invalidArgument(`the working directory "${cwd}" is invalid: it needs to be an absolute path`)
  const args = ['--pid', String(processes.initPid), '--start', processes.initStart, '--user', user, '--cwd', cwd]
  if (request.tty) args.push('--tty')
  return [...args, '--', ...request.command]
}

// docker exec: the container's environment, TERM=xterm with -t, then --env-file and -e.
async function execEnvironment(processes: ContainerProcesses, request: ExecRequest): Promise<Record<string, string>> {
  const overrides: string[] = request.tty ? ['TERM=xterm'] : []
  for (const file of request.envFile ?? []) overrides.push(...(await readEnvironmentFile(file, process.env)))
  for (const value of request.env ?? []) {
    const entry = parseEnvironmentOption(value, process.env)
    if (entry !== undefined) overrides.push(entry)
  }

  return environmentObject(mergeEnvironment(processes.environment, overrides))
}

function runEnter(enterPath: string, args: string[], env: Record<string, string>, interactive: boolean): Promise<number> {
  // detached: a session of its own, so a terminal's Ctrl-C reaches the command
  // once, through this process, as `run` does.
  const relay = relaySignals()
  const stopForwarding = () => relay.stop()
  let child: ChildProcess
  try {
    child = spawn(enterPath, args, {env, stdio: [interactive ? 'inherit' : 'ignore', 'inherit', 'inherit'], detached: true})
  } catch (error) {
    stopForwarding()
    throw error
  }
  relay.attach(child)

  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      stopForwarding()
      reject(new MydockerError('INTERNAL', `starting exec helper ${enterPath}: ${error.message}`, {cause: error, hint: 'build mydocker first (npm run build)'}))
    })
    child.once('close', (code, signal) => {
      stopForwarding()
      resolve(signal ? 128 + constants.signals[signal] : (code ?? 125))
    })
  })
}
