/**
 * The fast path of `mydocker run`, taken by bin/run.js before oclif loads.
 *
 * oclif's start-up (its module graph, config and plugin loading) costs several
 * times a bare node start, and a warm run must stay close to that. So `run` is
 * dispatched here and parsed with node's util.parseArgs from the same flag
 * table the oclif command is built from; help (`run --help`) still goes
 * through oclif. See docs/performance.md.
 */
import {parseArgs} from 'node:util'
import {invalidArgument} from '../errors.js'
import type {RunFlags} from '../service/run.js'
import {reportError} from './report-error.js'
import {splitRunArguments, type FlagShapes} from './run-argv.js'
import {RUN_FLAGS, type FlagSpec} from './run-flags.js'

/** True when `argv` (after `run`) asks for help, which oclif renders. */
export function wantsHelp(argv: string[]): boolean {
  return splitRunArguments(argv, shapes()).flags.includes('--help')
}

/** Runs `mydocker run ARGV...`; sets process.exitCode. */
export async function runFromArgv(argv: string[]): Promise<void> {
  try {
    const split = splitRunArguments(argv, shapes())
    const flags = parseRunFlags(split.flags)
    if (split.image === undefined) {
      throw invalidArgument('"mydocker run" requires at least 1 argument: the image', {
        hint: 'mydocker run [OPTIONS] IMAGE [COMMAND [ARG...]]',
      })
    }

    const [{runContainer}, {openStore}, {resolveStoreRoot}] = await Promise.all([
      import('../service/run.js'),
      import('../store/store.js'),
      import('../store/root.js'),
    ])
    const store = openStore(resolveStoreRoot(flags.root))
    try {
      process.exitCode = await runContainer(store, {image: split.image, command: split.command, flags})
    } finally {
      store.close()
    }
  } catch (error) {
    reportError(error as Error)
  }
}

function shapes(): FlagShapes {
  const result: FlagShapes = {valued: new Set(), boolean: new Set(['--help'])}
  for (const [name, spec] of Object.entries(RUN_FLAGS) as Array<[string, FlagSpec]>) {
    const kind = spec.type === 'boolean' ? result.boolean : result.valued
    kind.add(`--${name}`)
    if (spec.char) kind.add(`-${spec.char}`)
  }
  return result
}

/** Parses run's flags strictly; errors read as oclif's do for the same input. */
export function parseRunFlags(tokens: string[]): RunFlags & {root?: string} {
  const options: Record<string, {type: 'string' | 'boolean'; short?: string; multiple?: boolean}> = {}
  for (const [name, spec] of Object.entries(RUN_FLAGS) as Array<[string, FlagSpec]>) {
    options[name] = {type: spec.type === 'boolean' ? 'boolean' : 'string', multiple: spec.multiple ?? false}
    if (spec.char) options[name].short = spec.char
  }

  let values: Record<string, string | boolean | string[] | undefined>
  try {
    values = parseArgs({args: joinValues(tokens), options, strict: true, allowPositionals: false}).values as typeof values
  } catch (error) {
    throw invalidArgument(describeParseError(error as Error & {code?: string}), {hint: "see 'mydocker run --help'"})
  }

  const flags: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(RUN_FLAGS) as Array<[string, FlagSpec]>) {
    flags[name] = checkValue(name, spec, values[name])
  }
  return flags as unknown as RunFlags & {root?: string}
}

// `--memory-swap -1` and `-e -X`: a value that starts with a dash is still the
// flag's value, as docker reads it; parseArgs only takes that as `--name=value`.
function joinValues(tokens: string[]): string[] {
  const longNames = new Map<string, string>()
  for (const [name, spec] of Object.entries(RUN_FLAGS) as Array<[string, FlagSpec]>) {
    if (spec.type === 'boolean') continue
    longNames.set(`--${name}`, name)
    if (spec.char) longNames.set(`-${spec.char}`, name)
  }
  const joined: string[] = []
  for (let index = 0; index < tokens.length; index++) {
    const name = longNames.get(tokens[index])
    if (name !== undefined && index + 1 < tokens.length) joined.push(`--${name}=${tokens[++index]}`)
    else joined.push(tokens[index])
  }
  return joined
}

function checkValue(name: string, spec: FlagSpec, value: string | boolean | string[] | undefined): unknown {
  if (value === undefined) return spec.type === 'boolean' ? false : spec.default
  if (spec.options && !spec.options.includes(value as string)) {
    throw invalidArgument(`Expected --${name}=${value} to be one of: ${spec.options.join(', ')}`, {
      hint: "see 'mydocker run --help'",
    })
  }
  if (spec.type !== 'integer') return value
  if (!/^-?\d+$/.test(value as string)) {
    throw invalidArgument(`Parsing --${name} \n\tExpected an integer but received: ${value}`.replace(/\s+/g, ' '), {
      hint: "see 'mydocker run --help'",
    })
  }
  return Number(value)
}

function describeParseError(error: Error & {code?: string}): string {
  const unknown = /Unknown option '([^']+)'/.exec(error.message)
  if (unknown) return `Nonexistent flag: ${unknown[1]}`
  return error.message.split('\n')[0]
}
