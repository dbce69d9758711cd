/**
 * Flags declared as plain data, so a command's oclif class (help, manifest) and
 * its fast path (fast-entry.ts, node's util.parseArgs) are built from one
 * table and never disagree. This module imports only node:util: it is on the
 * start-up path of `run` and `pull`.
 */
import {parseArgs} from 'node:util'
import {invalidArgument} from '../errors.js'

export interface FlagSpec {
  type: 'string' | 'boolean' | 'integer'
  char?: string
  multiple?: boolean
  description: string
  /** Allowed values of a string flag. */
  options?: readonly string[]
  default?: string | number
}

export type FlagTable = Record<string, FlagSpec>

/** The global --root flag every command takes. */
export const ROOT_FLAG: FlagSpec = {type: 'string', description: 'store directory (env MYDOCKER_ROOT)'}

/** Parsed flags and the positional arguments among them. */
export interface ParsedFlags {
  flags: Record<string, unknown>
  positionals: string[]
}

/**
 * Parses `tokens` strictly against `table` (plus --root). Errors read as
 * oclif's do for the same input, with a hint naming `command`'s help.
 */
export function parseFlagTable(table: FlagTable, tokens: string[], command: string): ParsedFlags {
  const full: FlagTable = {...table, root: ROOT_FLAG}
  const options: Record<string, {type: 'string' | 'boolean'; short?: string; multiple: boolean}> = {}
  for (const [name, spec] of Object.entries(full)) {
    options[name] = {type: spec.type === 'boolean' ? 'boolean' : 'string', multiple: spec.multiple ?? false}
    if (spec.char) options[name].short = spec.char
  }

  const hint = `see 'mydocker ${command} --help'`
  let parsed: {values: Record<string, string | boolean | string[] | undefined>; positionals: string[]}
  try {
    parsed = parseArgs({args: joinValues(full, tokens), options, strict: true, allowPositionals: true}) as typeof parsed
  } catch (error) {
    throw invalidArgument(describeParseError(error as Error), {hint})
  }

  const flags: Record<string, unknown> = {}
  for (const [name, spec] of Object.entries(full)) flags[name] = checkValue(name, spec, parsed.values[name], hint)
  return {flags, positionals: parsed.positionals}
}

// `--memory-swap -1` and `-e -X`: a value that starts with a dash is still the
// flag's value, as docker reads it; parseArgs only takes that as `--name=value`.
function joinValues(table: FlagTable, tokens: string[]): string[] {
  const longNames = new Map<string, string>()
  for (const [name, spec] of Object.entries(table)) {
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

function checkValue(name: string, spec: FlagSpec, value: string | boolean | string[] | undefined, hint: string): unknown {
  if (value === undefined) return spec.type === 'boolean' ? false : spec.default
  if (spec.options && !spec.options.includes(value as string)) {
    throw invalidArgument(`Expected --${name}=${value} to be one of: ${spec.options.join(', ')}`, {hint})
  }
  if (spec.type !== 'integer') return value
  if (!/^-?\d+$/.test(value as string)) {
    throw invalidArgument(`Parsing --${name} Expected an integer but received: ${value}`, {hint})
  }
  return Number(value)
}

function describeParseError(error: Error): string {
  const unknown = /Unknown option '([^']+)'/.exec(error.message)
  if (unknown) return `Nonexistent flag: ${unknown[1]}`
  return error.message.split('\n')[0]
}
