/**
 * Runs a container: node starts dist/native/launch (launch.c), which makes the
 * namespaces, mounts the overlay root and execs the command as the container's
 * PID 1. stdout and stderr are inherited, never piped through node.
 *
 * This module is on the warm `run` path: it imports node built-ins only (execa's
 * import alone costs ~170 ms here; see docs/runtime.md).
 */
import {spawn, type ChildProcess} from 'node:child_process'
// fs.promises rather than node:fs/promises: see content/store.ts.
import {existsSync, promises as fs} from 'node:fs'
import {constants} from 'node:os'
import {fileURLToPath} from 'node:url'
import {MydockerError, type ErrorCode} from '../errors.js'
import {environmentObject} from './env.js'
import {FORWARDED_SIGNALS, relaySignals} from './signals.js'

/** A -v HOST:CONTAINER[:ro] bind mount. */
export interface VolumeMount {
  /** Absolute host path; must exist. */
  source: string
  /** Absolute path inside the container, created there when missing. */
  target: string
  readOnly?: boolean
}

/** --memory, --memory-swap, --pids-limit, --cpus. */
export interface ResourceLimits {
  /** Memory limit in bytes. */
  memory?: number
  /** Memory plus swap in bytes; -1 = unlimited swap; unset with `memory` = twice `memory`, as Docker. */
  memorySwap?: number
  pidsLimit?: number
  /** CPUs, fractional (0.5 = half a CPU), as a CFS quota over 100 ms. */
  cpus?: number
}

/** What to run and how. Fields after `interactive` are optional; their defaults are Docker's. */
export interface LaunchSpec {
  /** Snapshot directories, top-most layer first (each is an overlayfs lower). */
  lowerDirs: string[]
  /**
   * Mount the overlay with `userxattr` (rootless: opaque directories carry
   * user.overlay.opaque, as overlayfs reads them in a user namespace).
   */
  userXattr?: boolean
  /**
   * A whole root tree made for this run (a copy of a flat snapshot, where no
   * overlay mounts), inside `containerDir`: it is bind-mounted as the root
   * instead of an overlay of `lowerDirs`, and removed with the directory.
   */
  rootTree?: string
  /** Per-run directory the caller created (empty); the runtime makes upper/, work/, rootfs/ in it and removes it, whole, after the run. */
  containerDir: string
  args: string[]
  env: string[]
  cwd: string
  /** Docker --user syntax (uid, uid:gid, name, name:group), resolved inside the image; '' = root. */
  user: string
  hostname: string
  /** Pass stdin through (-i); otherwise the command's stdin is /dev/null. */
  interactive: boolean
  /** -t: run on a pseudo-terminal (node-pty); with `interactive` the keys typed reach it. */
  tty?: boolean
  /** 'host' (default) shares the host's network; 'none' gives a namespace with only lo. */
  network?: 'host' | 'none'
  /** The host file the container's /etc/resolv.conf is copied from; /etc/resolv.conf by default. */
  resolvConfPath?: string
  /** --init: a minimal init is PID 1 and reaps orphans; the command runs as its child. */
  init?: boolean
  /** Seconds between a forwarded SIGTERM and SIGKILL of the container; 10 by default. */
  stopTimeout?: number
  /** -v mounts. */
  volumes?: VolumeMount[]
  /** --tmpfs paths inside the container. */
  tmpfs?: string[]
  /** --read-only: the root file system is read-only (volumes and tmpfs keep their own mode). */
  readOnly?: boolean
  /**
   * --cap-add / --cap-drop names (CHOWN or CAP_CHOWN, or ALL), as Docker combines
   * them: add ALL = all but the dropped; drop ALL = only the added; else Docker's
   * default set + added - dropped. An unknown name fails the launch with 125.
   */
  capAdd?: string[]
  capDrop?: string[]
  /** --privileged: every capability, no masked paths, no no_new_privs. */
  privileged?: boolean
  /** Cgroup limits (v2 when its hierarchy has controllers, else v1); the cgroup is removed after the run. */
  resources?: ResourceLimits
  /** Pass SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 received by this process to the container; true by default. */
  forwardSignals?: boolean
  /** The launch helper; dist/native/launch by default (tests may point elsewhere). */
  launcherPath?: string
}

/** How the container ended. */
export interface LaunchResult {
  /** The command's exit status; 128+N when signal N killed it. */
  exitCode: number
  /** The signal's name (SIGKILL...) when a signal killed the command. */
  signal?: string
  /** Set when the container directory could not be removed after the run. */
  cleanupError?: MydockerError
}

/** How the launcher ended, and whether it goes on to remove the container directory. */
interface LauncherEnd {
  /** The result, or the error that kept the command from starting. */
  outcome: LaunchResult | MydockerError
  launcherRemovesDir: boolean
}

/** What launch.c reported on fd 3. */
interface LauncherReport {
  error?: {exitCode: number; message: string}
  /** How the container ended, when it did. */
  ended?: {exitCode?: number; signalNumber?: number}
}

/**
 * Runs the container to completion with stdio inherited and removes
 * `containerDir`, also when the command was killed. The launcher removes it
 * after reporting the end, so the promise may settle while the removal is
 * still going on (a failure is then printed by the launcher as a warning).
 * Rejects with a MydockerError only when the command did not start: exitCode
 * 125 when the container could not be set up, 126 when the command cannot be
 * executed, 127 when it is not found (the message names the command). With
 * `tty` the launcher prints such an error on the terminal itself and the
 * promise resolves with that status instead.
 */
export async function launch(spec: LaunchSpec): Promise<LaunchResult> {
  let end: LauncherEnd
  try {
    end = await runLauncher(spec)
  } catch (error) {
    // The launcher did not start; a cleanup failure would hide why.
    await removeContainerDir(spec.containerDir)
    throw error
  }

  // launch.c removes the directory itself after reporting the end; this covers
  // a launcher that died before that (and -t, which has no report channel).
  const cleanupError = end.launcherRemovesDir ? undefined : await removeContainerDir(spec.containerDir)
  if (end.outcome instanceof MydockerError) throw end.outcome
  return cleanupError ? {...end.outcome, cleanupError} : end.outcome
}

async function removeContainerDir(containerDir: string): Promise<MydockerError | undefined> {
  if (!existsSync(containerDir)) return undefined
  try {
    await fs.rm(containerDir, {recursive: true, force: true})
    return undefined
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return new MydockerError('INTERNAL', `removing container directory ${containerDir}: ${reason}`, {cause: error})
  }
}

/** The argv of launch.c for `spec` (exported for tests and docs). */
export function launcherArguments(spec: LaunchSpec): string[] {
  const args = ['--parent-pid', String(process.pid), '--container-dir', spec.containerDir]
  if (spec.rootTree !== undefined) args.push('--root-tree', spec.rootTree)
  else for (const lower of spec.lowerDirs) args.push('--lower', lower)
  if (spec.userXattr) args.push('--userxattr')
  args.push('--hostname', spec.hostname, '--cwd', spec.cwd, '--user', spec.user)
  if (spec.network === 'none') args.push('--network', 'none')
  if (spec.resolvConfPath !== undefined) args.push('--resolv-conf', spec.resolvConfPath)
  if (spec.init) args.push('--init')
  if (spec.tty) args.push('--tty')
  if (spec.stopTimeout !== undefined) args.push('--stop-timeout', String(Math.round(spec.stopTimeout)))
  // Three options a volume: paths may hold ':' (the CLI's -v syntax is parsed before this).
  for (const volume of spec.volumes ?? []) {
    args.push('--volume-source', volume.source, '--volume-target', volume.target)
    if (volume.readOnly) args.push('--volume-read-only', 'true')
  }

  for (const path of spec.tmpfs ?? []) args.push('--tmpfs', path)
  if (spec.readOnly) args.push('--read-only')
  if (spec.privileged) args.push('--privileged')
  for (const name of spec.capAdd ?? []) args.push('--cap-add', name)
  for (const name of spec.capDrop ?? []) args.push('--cap-drop', name)
  args.push(...resourceArguments(spec.resources ?? {}))
  args.push('--', ...spec.args)
  return args
}

function resourceArguments(resources: ResourceLimits): string[] {
  const args: string[] = []
  if (resources.memory !== undefined && resources.memory > 0) args.push('--memory', String(Math.floor(resources.memory)))
  const swap = resources.memorySwap ?? (resources.memory ? resources.memory * 2 : undefined)
  if (swap !== undefined && swap > 0) args.push('--memory-swap', String(Math.floor(swap)))
  if (resources.pidsLimit !== undefined && resources.pidsLimit > 0) args.push('--pids-limit', String(Math.floor(resources.pidsLimit)))
  if (resources.cpus !== undefined && resources.cpus > 0) args.push('--cpus', String(resources.cpus))
  return args
}

/** The built native helper `name` (native/NAME.c): dist/native/NAME. */
export function nativeHelperPath(name: 'launch' | 'enter'): string {
  // src/runtime (tsx), dist/runtime and dist/fast (built) all sit two levels below the top.
  return fileURLToPath(new URL(`../../dist/native/${name}`, import.meta.url))
}

async function runLauncher(spec: LaunchSpec): Promise<LauncherEnd> {
  const launcherPath = spec.launcherPath ?? nativeHelperPath('launch')
  if (spec.tty) {
    const {runInTerminal} = await import('./terminal.js')
    const result = await runInTerminal({
      launcherPath,
      args: launcherArguments(spec),
      env: environmentObject(spec.env),
      interactive: spec.interactive,
      forwardedSignals: spec.forwardSignals === false ? [] : FORWARDED_SIGNALS,
    })
    return {outcome: result, launcherRemovesDir: false}
  }

  return runWithPipes(spec, launcherPath)
}

function runWithPipes(spec: LaunchSpec, launcherPath: string): Promise<LauncherEnd> {
  // detached: the launcher gets a session of its own, so a terminal's Ctrl-C
  // reaches the command once, through node, not also straight from the tty.
  const relay = spec.forwardSignals === false ? undefined : relaySignals()
  const stopForwarding = () => relay?.stop()
  let child: ChildProcess
  try {
    child = spawn(launcherPath, ['--report-fd', '3', ...launcherArguments(spec)], {
      env: environmentObject(spec.env),
      stdio: [spec.interactive ? 'inherit' : 'ignore', 'inherit', 'inherit', 'pipe'],
      detached: true,
    })
  } catch (error) {
    stopForwarding()
    throw error
  }
  relay?.attach(child)
  let reportText = ''
  const reportChannel = child.stdio[3]!
  reportChannel.on('data', (chunk: Buffer) => (reportText += chunk.toString('utf8')))

  return new Promise((resolve, reject) => {
    const finish = (outcome: LaunchResult | MydockerError, launcherRemovesDir: boolean) => {
      stopForwarding()
      resolve({outcome, launcherRemovesDir})
    }

    // The report ends once the container has: the launcher then removes the
    // container directory on its own, and this process need not wait for that.
    reportChannel.once('end', () => {
      const report = parseReport(reportText)
      if (report.ended === undefined) return
      child.unref()
      finish(outcomeOf(report, null, null), true)
    })
    child.once('error', (error) => {
      stopForwarding()
      reject(
        new MydockerError('INTERNAL', `starting container launcher ${launcherPath}: ${error.message}`, {
          cause: error,
          hint: 'build mydocker first (npm run build)',
        }),
      )
    })
    // Without an end report the launcher died first: its own status tells.
    child.once('close', (code, signal) => finish(outcomeOf(parseReport(reportText), code, signal), false))
  })
}

/** The launcher's report and exit turned into the run's result, or the start error. */
function outcomeOf(report: LauncherReport, code: number | null, signal: NodeJS.Signals | null): LaunchResult | MydockerError {
  if (report.error) return startError(report.error.exitCode, report.error.message)
  if (report.ended?.signalNumber !== undefined) return signalResult(report.ended.signalNumber)
  if (report.ended?.exitCode !== undefined) return {exitCode: report.ended.exitCode}
  if (signal) return signalResult(constants.signals[signal])
  return {exitCode: code ?? 125}
}

function signalResult(signalNumber: number): LaunchResult {
  return {exitCode: 128 + signalNumber, signal: signalName(signalNumber)}
}

function startError(exitCode: number, message: string): MydockerError {
  const codes: Record<number, ErrorCode> = {126: 'INVALID_ARGUMENT', 127: 'NOT_FOUND'}
  return new MydockerError(codes[exitCode] ?? 'INTERNAL', message, {exitCode})
}

/** Reads launch.c's fd 3 lines: "error CODE MESSAGE", then "exit N" or "signal N". */
function parseReport(text: string): LauncherReport {
  const report: LauncherReport = {}
  for (const line of text.split('\n')) {
    const error = /^error (\d+) (.*)$/.exec(line)
    if (error) report.error ??= {exitCode: Number(error[1]), message: error[2]}
    const ended = /^(exit|signal) (\d+)$/.exec(line)
    if (ended) report.ended = ended[1] === 'exit' ? {exitCode: Number(ended[2])} : {signalNumber: Number(ended[2])}
  }

  return report
}

function signalName(signalNumber: number): string | undefined {
  return Object.entries(constants.signals).find(([, number]) => number === signalNumber)?.[0]
}

