/**
 * mydocker's own configuration file: which registries may skip TLS checks or use plain HTTP,
 * which mirrors stand in front of Docker Hub, where per-registry CA certificates live.
 *
 * Path: `$MYDOCKER_CONFIG` when set; else `/etc/mydocker/config.json` for root and
 * `$XDG_CONFIG_HOME/mydocker/config.json` (default `~/.config/mydocker/config.json`)
 * for other users. Format (every key optional):
 *
 *   {"insecureRegistries": ["myreg:5000"], "registryMirrors": ["https://mirror.example"],
 *    "certsDirectory": "/etc/mydocker/certs.d"}
 *
 * A missing file is the empty configuration; a file that is not valid JSON or has keys
 * of the wrong type is an INVALID_ARGUMENT error naming the file.
 */
import {readFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {invalidArgument} from '../errors.js'

/** Where per-registry CA certificates are looked up, as Docker's /etc/docker/certs.d. */
export const DEFAULT_CERTS_DIRECTORY = '/etc/mydocker/certs.d'

/** The registry part of mydocker's configuration. */
export interface RegistryConfig {
  /** Registries (`host[:port]`, or a bare host for every port) whose TLS is not checked and that may use plain HTTP. */
  insecureRegistries: string[]
  /** Pull-through mirrors of Docker Hub (base URLs), tried in order before Docker Hub. */
  registryMirrors: string[]
  /** Directory of `HOST[:PORT]/*.crt` CA certificates trusted for that registry. */
  certsDirectory: string
  /**
   * Base URL Docker Hub's API is reached at instead of https://registry-1.docker.io.
   * Not read from the file; tests set it to stand a loopback server in for Docker Hub.
   */
  dockerHubEndpoint?: string
}

/** The configuration used when the file is absent. */
export function defaultRegistryConfig(): RegistryConfig {
  return {insecureRegistries: [], registryMirrors: [], certsDirectory: DEFAULT_CERTS_DIRECTORY}
}

/** The path of mydocker's configuration file for this process (see the module comment). */
export function configFilePath(env: NodeJS.ProcessEnv = process.env, uid = process.getuid?.() ?? 0): string {
  if (env.MYDOCKER_CONFIG) return env.MYDOCKER_CONFIG
  if (uid === 0) return '/etc/mydocker/config.json'
  const configHome = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config')
  return join(configHome, 'mydocker', 'config.json')
}

/**
 * Reads the registry configuration from `path` (default configFilePath()).
 * Throws INVALID_ARGUMENT naming the file when it is malformed.
 */
export async function loadRegistryConfig(path = configFilePath()): Promise<RegistryConfig> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultRegistryConfig()
    throw invalidArgument(`reading mydocker configuration ${path}: ${(error as Error).message}`, {cause: error})
  }

  return parseRegistryConfig(text, path)
}

/** Parses the configuration file's text; `path` only names the file in errors. */
export function parseRegistryConfig(text: string, path: string): RegistryConfig {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw invalidArgument(`mydocker configuration ${path} is not valid JSON: ${(error as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidArgument(`mydocker configuration ${path} must be a JSON object`)
  }

  const object = value as Record<string, unknown>
  const config = defaultRegistryConfig()
  config.insecureRegistries = stringList(object, 'insecureRegistries', path)
  config.registryMirrors = stringList(object, 'registryMirrors', path)
  if (object.certsDirectory !== undefined) {
    if (typeof object.certsDirectory !== 'string') {
      throw invalidArgument(`mydocker configuration ${path}: "certsDirectory" must be a string`)
    }
    config.certsDirectory = object.certsDirectory
  }
  return config
}

function stringList(object: Record<string, unknown>, key: string, path: string): string[] {
  const value = object[key]
  if (value === undefined) return []
  if (!Array.isArray(value) || !value.every((item) => typeof item === 'string')) {
    throw invalidArgument(`mydocker configuration ${path}: "${key}" must be an array of strings`)
  }
  return value
}
