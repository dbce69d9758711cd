/**
 * Splitting `run`'s arguments as docker does: mydocker's flags stop at the first
 * argument that is not a flag (the image); everything after it is the command,
 * passed on untouched, even when it looks like a flag (`sh -c 'ls -l'`).
 */
import {invalidArgument} from '../errors.js'
import {ROOT_FLAG} from './flag-table.js'
import {RUN_FLAGS} from './run-flags.js'

/** Which flags exist, and which of them take a value, by long name and by char. */
export interface FlagShapes {
  valued: Set<string>
  boolean: Set<string>
}

/** An argument list split at the image. */
export interface SplitArguments {
  /** mydocker's own flags, for oclif to parse. */
  flags: string[]
  image?: string
  command: string[]
}

/** Builds FlagShapes from a flag table (flag-table.ts) or an oclif flags object. */
export function flagShapes(flags: Record<string, {type: string; char?: string}>): FlagShapes {
  const shapes: FlagShapes = {valued: new Set(), boolean: new Set()}
  for (const [name, flag] of Object.entries(flags)) {
    const kind = flag.type === 'boolean' ? shapes.boolean : shapes.valued
    kind.add(`--${name}`)
    if (flag.char) kind.add(`-${flag.char}`)
  }
  return shapes
}

/** Splits `argv` (what follows `run`) into flags, image and command. */
export function splitRunArguments(argv: string[], shapes: FlagShapes): SplitArguments {
  const flags: string[] = []
  for (let index = 0; index < argv.length; index++) {
    const token = argv[index]
    if (token === '--') return {flags, image: argv[index + 1], command: argv.slice(index + 2)}
    if (!token.startsWith('-') || token === '-') return {flags, image: token, command: argv.slice(index + 1)}

    if (!token.startsWith('--') && token.length > 2) {
      const expanded = expandBundle(token, shapes)
      flags.push(...expanded.tokens)
      if (expanded.needsValue && index + 1 < argv.length) flags.push(argv[++index])
      continue
    }
    flags.push(token)
    if (takesNextValue(token, shapes) && index + 1 < argv.length) flags.push(argv[++index])
  }
  return {flags, image: undefined, command: []}
}

// `--name value` and `-e value` take the next token; `--name=value` does not.
// An unknown flag takes nothing, so oclif reports it by name.
function takesNextValue(token: string, shapes: FlagShapes): boolean {
  if (token.startsWith('--')) return !token.includes('=') && shapes.valued.has(token)
  return shapes.valued.has(token)
}

// `-it` is `-i -t`; `-eK=V` is `-e K=V`; `-ie K=V` ends in a valued flag that
// takes the next token. Unknown chars are left for oclif to report.
function expandBundle(token: string, shapes: FlagShapes): {tokens: string[]; needsValue: boolean} {
  const tokens: string[] = []
  for (let position = 1; position < token.length; position++) {
    const flag = `-${token[position]}`
    if (shapes.valued.has(flag)) {
      const rest = token.slice(position + 1)
      tokens.push(flag)
      if (rest.length > 0) tokens.push(rest.startsWith('=') ? rest.slice(1) : rest)
      return {tokens, needsValue: rest.length === 0}
    }
    if (!shapes.boolean.has(flag)) return {tokens: [token], needsValue: false}
    tokens.push(flag)
  }
  return {tokens, needsValue: false}
}

/** The flag shapes of `mydocker run`: its own flags, --root and --help. */
export function runFlagShapes(): FlagShapes {
  return flagShapes({...RUN_FLAGS, root: ROOT_FLAG, help: {type: 'boolean'}})
}

/** `mydocker run ARGV` split into flags, image and command; throws INVALID_ARGUMENT when no image is given. */
export function splitRunCommandLine(argv: string[]): SplitArguments & {image: string} {
  const split = splitRunArguments(argv, runFlagShapes())
  if (split.image === undefined) {
    throw invalidArgument('"mydocker run" requires at least 1 argument: the image', {
      hint: 'mydocker run [OPTIONS] IMAGE [COMMAND [ARG...]]',
    })
  }
  return {...split, image: split.image}
}
