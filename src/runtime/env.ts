/**
 * Environment options of `run`: -e KEY=VALUE, -e KEY (taken from mydocker's own
 * environment) and --env-file, with Docker's rules. Pure functions; nothing here
 * reads the host environment unless it is passed in.
 */
import {invalidArgument} from '../errors.js'

/** The host environment a bare `-e KEY` reads from. */
export type HostEnvironment = Readonly<Record<string, string | undefined>>

/** The name part of a KEY=VALUE entry (the whole entry when it has no '='). */
export function environmentKey(entry: string): string {
  const equals = entry.indexOf('=')
  return equals === -1 ? entry : entry.slice(0, equals)
}

/**
 * One -e value as Docker reads it: `KEY=VALUE` is kept verbatim; a bare `KEY`
 * takes the host's value and is dropped (undefined) when the host has none.
 * Throws INVALID_ARGUMENT for an empty name or a name with whitespace.
 */
export function parseEnvironmentOption(value: string, host: HostEnvironment): string | undefined {
  const key = environmentKey(value)
  if (key === '') throw invalidArgument(`invalid environment variable "${value}": no variable name`)
  if (/\s/.test(key)) throw invalidArgument(`invalid environment variable "${value}": the name contains whitespace`)
  if (value.includes('=')) return value

  const hostValue = host[key]
  return hostValue === undefined ? undefined : `${key}=${hostValue}`
}

/**
 * The entries of an --env-file, in order. As Docker: one entry per line, leading
 * whitespace ignored, blank lines and lines starting with '#' skipped, values
 * verbatim (no quote removal), a line with only a name reads the host's value.
 * `source` names the file in error messages.
 */
export function parseEnvironmentFile(text: string, source: string, host: HostEnvironment): string[] {
  const entries: string[] = []
  const lines = text.split(/\r?\n/)
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trimStart()
    if (line === '' || line.startsWith('#')) continue

    try {
      const entry = parseEnvironmentOption(line, host)
      if (entry !== undefined) entries.push(entry)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      throw invalidArgument(`${source} line ${index + 1}: ${reason}`)
    }
  }

  return entries
}

/** Reads and parses an --env-file; a missing file is INVALID_ARGUMENT naming it. */
export async function readEnvironmentFile(path: string, host: HostEnvironment): Promise<string[]> {
  const {readFile} = await import('node:fs/promises')
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? String(error)
    throw invalidArgument(`reading env file ${path}: ${reason}`, {cause: error})
  }

  return parseEnvironmentFile(text, path, host)
}

/** KEY=VALUE entries as an environment object for a child process: later entries win, entries without a key are dropped. */
export function environmentObject(env: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {}
  for (const entry of env) {
    const equals = entry.indexOf('=')
    if (equals > 0) result[entry.slice(0, equals)] = entry.slice(equals + 1)
  }
  return result
}

/**
 * `base` with each of `overrides` replacing the entry of the same name in place,
 * or appended when the name is new: the order Docker gives the variables.
 */
export function mergeEnvironment(base: readonly string[], overrides: readonly string[]): string[] {
  const merged = [...base]
  const positions = new Map(merged.map((entry, index) => [environmentKey(entry), index]))
  for (const entry of overrides) {
    const key = environmentKey(entry)
    const position = positions.get(key)
    if (position === undefined) {
      positions.set(key, merged.length)
      merged.push(entry)
    } else {
      merged[position] = entry
    }
  }

  return merged
}
