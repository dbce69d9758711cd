/**
 * The base of every mydocker command: the global flags, the store, and the one
 * way errors reach the user — a single line on stderr, `mydocker: <message>`,
 * an optional hint, and Docker's exit status (125 unless the error says
 * otherwise). A stack trace is printed only with MYDOCKER_DEBUG=1.
 */
import {Command, Flags} from '@oclif/core'
import {MydockerError} from '../errors.js'
import {resolveStoreRoot} from '../store/root.js'
import type {Store} from '../store/store.js'

export abstract class BaseCommand extends Command {
  static override baseFlags = {
    root: Flags.string({
      description: 'store directory (default: /var/lib/mydocker as root, ~/.local/share/mydocker otherwise; env MYDOCKER_ROOT)',
      helpGroup: 'GLOBAL',
    }),
  }

  private openedStore?: Store

  /** Opens the store named by --root / MYDOCKER_ROOT / the default, once per command. */
  protected async store(root: string | undefined): Promise<Store> {
    if (this.openedStore) return this.openedStore
    const {openStore} = await import('../store/store.js')
    this.openedStore = openStore(resolveStoreRoot(root))
    return this.openedStore
  }

  protected override async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<void> {
    reportError(error)
  }

  protected override async finally(error: Error | undefined): Promise<void> {
    this.openedStore?.close()
    await super.finally(error)
  }
}

/** Prints `error` as mydocker does and sets the exit status; never throws. */
export function reportError(error: Error & {exitCode?: number; oclif?: {exit?: number}}): void {
  const debug = process.env.MYDOCKER_DEBUG === '1'
  if (error instanceof MydockerError) {
    process.stderr.write(`mydocker: ${error.message}\n`)
    if (error.hint) process.stderr.write(`hint: ${error.hint}\n`)
    if (debug) process.stderr.write(`${error.stack}\n`)
    process.exitCode = error.exitCode
    return
  }
  // An oclif exit (this.exit) carries its status and no message to print.
  if (error.oclif?.exit !== undefined && error.message.startsWith('EEXIT')) {
    process.exitCode = error.oclif.exit
    return
  }
  // oclif's own errors (unknown flag, missing argument) are input errors: 125 as Docker.
  process.stderr.write(`mydocker: ${firstSentence(error.message)}\n`)
  if (error.oclif) process.stderr.write(`hint: see 'mydocker ${process.argv[2] ?? ''} --help'\n`)
  if (debug) process.stderr.write(`${error.stack}\n`)
  process.exitCode = 125
}

// oclif's messages run over several lines ("Missing 1 required arg:\nimage  ...\n
// See more help with --help"); keep the first, with its continuation if it ends in ':'.
function firstSentence(message: string): string {
  const lines = message.split('\n').map((line) => line.trim()).filter((line) => line.length > 0 && !line.startsWith('See more help'))
  const [first = message, second] = lines
  const text = first.endsWith(':') && second ? `${first} ${second.replace(/\s{2,}/g, ' (')}${second.includes('  ') ? ')' : ''}` : first
  return text.replace(/^Error: /, '')
}
