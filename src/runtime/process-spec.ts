/**
 * What the container runs: an image's config and the `run` options combined into
 * the final argv, environment, working directory and user, the way Docker does.
 * Pure functions; the host environment never leaks in.
 */
import {MydockerError, invalidArgument} from '../errors.js'
import type {ContainerConfig} from '../image/types.js'
import {mergeEnvironment} from './env.js'

/** Docker's PATH for a container whose image sets none. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/** The `run` options that shape the process. */
export interface ProcessOptions {
  /** Arguments after the image reference; they replace the image's Cmd. */
  args: readonly string[]
  /** --entrypoint: replaces the image's Entrypoint and drops its Cmd; '' clears it. */
  entrypoint?: string
  /** -e / --env-file entries, already resolved to KEY=VALUE (see env.ts). */
  env?: readonly string[]
  /** -w: absolute path, created when missing. */
  workdir?: string
  /** -u: Docker --user syntax. */
  user?: string
  /** The container's hostname, exported as HOSTNAME. */
  hostname: string
  /** -t: exports TERM=xterm as Docker does. */
  tty?: boolean
}

/** The process the runtime starts. HOME is added by the runtime from the image's /etc/passwd. */
export interface ProcessSpec {
  args: string[]
  env: string[]
  cwd: string
  user: string
}

/**
 * Combines `config` (the image's, possibly absent) with `options`. Throws a
 * MydockerError (exit 125) when no command results or -w is relative.
 */
export function buildProcessSpec(config: ContainerConfig | undefined, options: ProcessOptions): ProcessSpec {
  return {
    args: commandLine(config, options),
    env: environment(config, options),
    cwd: workingDirectory(config, options),
    user: options.user ?? config?.User ?? '',
  }
}

/** Entrypoint + (args given ? args : Cmd), with --entrypoint's overrides. */
export function commandLine(config: ContainerConfig | undefined, options: ProcessOptions): string[] {
  const replacing = options.entrypoint !== undefined
  const entrypoint = replacing ? splitEntrypointOption(options.entrypoint!) : config?.Entrypoint ?? []
  const defaultCommand = replacing ? [] : config?.Cmd ?? []
  const args = [...entrypoint, ...(options.args.length > 0 ? options.args : defaultCommand)]
  if (args.length === 0) {
    throw new MydockerError('INVALID_ARGUMENT', 'no command specified', {
      hint: 'give a command after the image name, or use an image that has Entrypoint or Cmd',
    })
  }

  return args
}

// `--entrypoint X` names one program, as Docker's CLI takes it; '' means none.
function splitEntrypointOption(entrypoint: string): string[] {
  return entrypoint === '' ? [] : [entrypoint]
}

/** Docker's order: PATH (when the image has none), HOSTNAME, TERM for -t, the image's Env, then -e. */
export function environment(config: ContainerConfig | undefined, options: ProcessOptions): string[] {
  const defaults = [`PATH=${DEFAULT_PATH}`, `HOSTNAME=${options.hostname}`]
  if (options.tty) defaults.push('TERM=xterm')
  const withImage = mergeEnvironment(defaults, config?.Env ?? [])
  return mergeEnvironment(withImage, options.env ?? [])
}

/** -w, else the image's WorkingDir, else '/'. */
export function workingDirectory(config: ContainerConfig | undefined, options: ProcessOptions): string {
  if (options.workdir !== undefined && options.workdir !== '') {
    if (!options.workdir.startsWith('/')) {
      throw invalidArgument(`the working directory "${options.workdir}" is invalid: it needs to be an absolute path`)
    }

    return options.workdir
  }

  const imageDirectory = config?.WorkingDir ?? ''
  if (imageDirectory === '') return '/'
  // Old builders wrote relative WorkingDir values; Docker reads them from the root.
  return imageDirectory.startsWith('/') ? imageDirectory : `/${imageDirectory}`
}
