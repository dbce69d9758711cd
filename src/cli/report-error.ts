/**
 * The one way errors reach the user: a single line on stderr,
 * `mydocker: <message> (hint: <what to do>)`, and Docker's exit status
 * (125 unless the error says otherwise). A stack trace only with MYDOCKER_DEBUG=1.
 * Free of oclif, so the fast `run` path can use it too.
 */
import {MydockerError} from '../errors.js'

/** An error as oclif or mydocker raise it. */
export type CommandError = Error & {exitCode?: number; oclif?: {exit?: number}}

/** Where an error happened, for its line. */
export interface ErrorContext {
  /** The command's id (`system df`), named in the help hint. */
  command?: string
  /** What the error is about when the message may not say (one of several references). */
  subject?: string
}

/** Prints `error` as mydocker does and sets process.exitCode; never throws. */
export function reportError(error: CommandError, stream: NodeJS.WritableStream = process.stderr, context: ErrorContext = {}): void {
  const debug = process.env.MYDOCKER_DEBUG === '1'
  const prefix = context.subject ? `mydocker: ${context.subject}: ` : 'mydocker: '
  // A reader that went away (`mydocker save busybox | head`) is not an error to
  // report; exit as a program killed by SIGPIPE would.
  if ((error as NodeJS.ErrnoException).code === 'EPIPE') {
    process.exitCode = 141
    return
  }
  if (error instanceof MydockerError) {
    // One line: what was wrong, then what to do.
    stream.write(`${prefix}${error.message}${error.hint ? ` (hint: ${error.hint})` : ''}\n`)
    if (debug) stream.write(`${error.stack}\n`)
    process.exitCode = error.exitCode
    return
  }
  // An oclif exit (this.exit) carries its status and no message to print.
  if (error.oclif?.exit !== undefined && error.message.startsWith('EEXIT')) {
    process.exitCode = error.oclif.exit
    return
  }
  // Anything else is an input error (unknown flag, missing argument) or a bug;
  // either way mydocker failed, which Docker reports as 125.
  const command = context.command?.replaceAll(':', ' ') ?? process.argv[2] ?? ''
  const hint = error.oclif ? ` (hint: see 'mydocker ${command} --help')` : ''
  stream.write(`${prefix}${firstSentence(error.message)}${hint}\n`)
  if (debug) stream.write(`${error.stack}\n`)
  process.exitCode = 125
}

// oclif's messages run over several lines ("Missing 1 required arg:\nimage  ...\n
// See more help with --help"); keep the first, with its continuation if it ends in ':'.
function firstSentence(message: string): string {
  const lines = message
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0 && !line.startsWith('See more help'))
  const [first = message, second] = lines
  if (!first.endsWith(':') || !second) return first.replace(/^Error: /, '')
  const [name, ...description] = second.split(/\s{2,}/)
  const continuation = description.length > 0 ? `${name} (${description.join(' ')})` : name
  return `${first} ${continuation}`.replace(/^Error: /, '')
}
