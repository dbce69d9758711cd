/**
 * Rootless mydocker (issue #5): an ordinary user's mydocker runs inside a user
 * namespace and a mount namespace of its own, where the user is root (uid 0)
 * and their /etc/subuid and /etc/subgid ranges are uids and gids 1..N. Images
 * whose files have other owners then unpack with those owners, and overlay
 * mounts (with the `userxattr` option) and the container's namespaces can be
 * made without privileges.
 *
 * bin/run.js calls enterUserNamespace() before anything else: root pays one
 * uid check. The user's process re-executes itself under `unshare` (which uses
 * newuidmap/newgidmap for the ranges) and passes stdio, signals and the exit
 * status through. This module imports node built-ins, the signal relay and
 * store/root.ts only: it runs before every command.
 */
import {spawn} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {userInfo} from 'node:os'
import {join} from 'node:path'
import {relaySignals} from '../runtime/signals.js'
import {USER_NAMESPACE_ENV, userStoreRoot} from '../store/root.js'

/** A block of subordinate ids from /etc/subuid or /etc/subgid. */
export interface SubordinateRange {
  start: number
  count: number
}

/** How the user's ids are mapped into the namespace. */
export interface UserNamespacePlan {
  /** The `unshare` arguments before the command. */
  unshareArguments: string[]
  /** 'ranges': the user is 0 and their subordinate ids 1..N; 'single': only the user, as 0. */
  mapping: 'ranges' | 'single'
  /** Why only the user is mapped, when so. */
  reason?: string
}

/** Signals a terminal sends to its whole foreground group, which the namespaced process is in too. */
const TERMINAL_SIGNALS = new Set<NodeJS.Signals>(['SIGINT', 'SIGQUIT'])

/**
 * The first range of `/etc/subuid`-style `text` for the user (named or by
 * number); undefined when there is none.
 */
export function subordinateRange(text: string, user: {name: string; id: number}): SubordinateRange | undefined {
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':')
    if (owner !== user.name && owner !== String(user.id)) continue
    const range = {start: Number(start), count: Number(count)}
    if (Number.isInteger(range.start) && Number.isInteger(range.count) && range.count > 0) return range
  }
  return undefined
}

function readRange(file: string, user: {name: string; id: number}): SubordinateRange | undefined {
  try {
    return subordinateRange(readFileSync(file, 'utf8'), user)
  } catch {
    return undefined
  }
}

/**
 * How to map this user: their ranges through newuidmap/newgidmap when both
 * files give one and both helpers are installed, else only the user.
 */
export function planUserNamespace(files = {subuid: '/etc/subuid', subgid: '/etc/subgid', helpers: '/usr/bin'}): UserNamespacePlan {
  const base = ['--user', '--mount', '--propagation', 'private', '--map-root-user']
  const info = userInfo()
  const uids = readRange(files.subuid, {name: info.username, id: info.uid})
  const gids = readRange(files.subgid, {name: info.username, id: info.gid})
  const helpers = ['newuidmap', 'newgidmap'].every((name) => existsSync(join(files.helpers, name)))
  if (!uids || !gids) return {unshareArguments: base, mapping: 'single', reason: `${files.subuid} or ${files.subgid} has no range for ${info.username}`}
  if (!helpers) return {unshareArguments: base, mapping: 'single', reason: 'newuidmap and newgidmap are not installed'}

  // unshare maps the user to 0 (--map-root-user) and the range to 1..N, through newuidmap/newgidmap.
  const ranges = [`--map-users=${uids.start},1,${uids.count}`, `--map-groups=${gids.start},1,${gids.count}`]
  return {unshareArguments: [...base, ...ranges], mapping: 'ranges'}
}

/**
 * True when this process runs in a user namespace that does not map the whole
 * id space (mydocker's own, or any other rootless one), read from
 * /proc/self/uid_map.
 */
export function runningRootless(): boolean {
  if (process.getuid?.() !== 0) return true
  try {
    const lines = readFileSync('/proc/self/uid_map', 'utf8').trim().split('\n')
    const [inside, outside, count] = lines[0].trim().split(/\s+/).map(Number)
    return !(lines.length === 1 && inside === 0 && outside === 0 && count === 4294967295)
  } catch {
    return false
  }
}

/**
 * Re-executes this mydocker (`argv`: the node script and its arguments) in a
 * new user and mount namespace and exits with its status; never returns.
 * stdio is inherited; SIGTERM, SIGHUP and SIGUSR1/2 are forwarded, as are
 * SIGINT and SIGQUIT unless a terminal is attached (which sends those to the
 * namespaced process itself). A namespaced process killed by a signal ends
 * this one with the same signal.
 *
 * Without subordinate ranges only the user is mapped; with `options.warn`
 * (for commands that unpack images) a warning says that files of other owners
 * will belong to the user.
 */
export async function enterUserNamespace(argv: string[], options: {warn: boolean} = {warn: false}): Promise<never> {
  const plan = planUserNamespace()
  if (plan.mapping === 'single' && options.warn) {
    process.stderr.write(
      `mydocker: warning: rootless with only your own id mapped (${plan.reason}): files of images owned by other ids will belong to you\n`,
    )
  }

  const env: NodeJS.ProcessEnv = {...process.env, [USER_NAMESPACE_ENV]: plan.mapping}
  // Chosen before entering: inside, uid 0 would select /var/lib/mydocker.
  env.MYDOCKER_ROOT ??= userStoreRoot(process.env)
  // The namespaced mydocker dies with this one (a SIGKILL cannot be forwarded).
  // setpriv sets that after unshare: entering the namespace clears it.
  const deathSignal = existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'SIGKILL'] : []
  const command = [...plan.unshareArguments, '--', ...deathSignal, process.execPath, ...process.execArgv, '--', ...argv]
  // A terminal's Ctrl-C and Ctrl-\ reach the namespaced process on their own.
  const terminal = [process.stdin, process.stdout, process.stderr].some((stream) => stream.isTTY)
  const relay = relaySignals({passOn: (signal) => !(terminal && TERMINAL_SIGNALS.has(signal))})
  const child = spawn('unshare', command, {stdio: 'inherit', env})
  relay.attach(child)

  return new Promise<never>(() => {
    child.once('error', (error) => {
      process.stderr.write(`mydocker: entering a user namespace with unshare: ${error.message}\n`)
      process.exit(125)
    })
    child.once('exit', (code, signal) => {
      if (signal) {
        process.removeAllListeners(signal)
        process.kill(process.pid, signal)
      }
      process.exit(code ?? 125)
    })
  })
}
