/**
 * Registry credentials kept the way Docker keeps them, so `docker login` and
 * `mydocker login` share them: `$DOCKER_CONFIG/config.json` (default
 * `~/.docker/config.json`) with
 *
 *   "auths":       {"host[:port]" | "https://host": {"auth": base64("user:password")}},
 *   "credHelpers": {"host": "NAME"},   -> docker-credential-NAME for that host
 *   "credsStore":  "NAME"              -> docker-credential-NAME for every host
 *
 * Docker Hub is keyed `https://index.docker.io/v1/`; `docker.io`, `index.docker.io`
 * and `registry-1.docker.io` name it too. Lookup order is Docker's: the host's
 * helper, then the store, then `auths`. Secrets never appear in errors or logs.
 */
import {chmod, mkdir, readFile, rename, writeFile} from 'node:fs/promises'
import {homedir} from 'node:os'
import {dirname, join} from 'node:path'
import {invalidArgument, MydockerError} from '../errors.js'

/** The key Docker files Docker Hub's credentials under. */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/'

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io'])

/** A user name and password (or, for helpers, a secret) for one registry. */
export interface Credentials {
  username: string
  password: string
}

/** Looks credentials up by registry (`docker.io`, `host[:port]`). */
export interface CredentialStore {
  /** The credentials for `registry`, or undefined when the user has none. */
  get(registry: string): Promise<Credentials | undefined>
}

/** A CredentialStore that can also save and forget credentials, as login/logout do. */
export interface WritableCredentialStore extends CredentialStore {
  /** Saves credentials for `registry`, in the host's helper or store when configured. */
  store(registry: string, credentials: Credentials): Promise<void>
  /** Forgets `registry`'s credentials; false when there were none. */
  erase(registry: string): Promise<boolean>
}

interface DockerConfigFile {
  auths?: Record<string, {auth?: string; username?: string; password?: string; identitytoken?: string}>
  credHelpers?: Record<string, string>
  credsStore?: string
  [key: string]: unknown
}

/** `$DOCKER_CONFIG` or `~/.docker`: the directory of Docker's config.json. */
export function dockerConfigDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_CONFIG || join(env.HOME || homedir(), '.docker')
}

/**
 * The registry's canonical name for credentials: `docker.io` for Docker Hub under any
 * of its names, else `host[:port]` with any scheme and path removed.
 */
export function credentialRegistryName(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '').toLowerCase()
  return DOCKER_HUB_ALIASES.has(host) ? 'docker.io' : host
}

/** The key Docker uses for `registry` in `auths` and with helpers. */
export function authKey(registry: string): string {
  const name = credentialRegistryName(registry)
  return name === 'docker.io' ? DOCKER_HUB_AUTH_KEY : name
}

/**
 * The credential store backed by Docker's config.json in `directory`
 * (default dockerConfigDirectory()). The file is read at each call, so a login by
 * another process is seen. Throws INVALID_ARGUMENT naming the file when it is malformed,
 * UNAUTHORIZED naming the helper when a credential helper fails.
 */
export function dockerCredentialStore(directory = dockerConfigDirectory()): WritableCredentialStore {
  const path = join(directory, 'config.json')
  return {
    get: (registry) => getCredentials(path, registry),
    store: (registry, credentials) => storeCredentials(path, registry, credentials),
    erase: (registry) => eraseCredentials(path, registry),
  }
}

async function getCredentials(path: string, registry: string): Promise<Credentials | undefined> {
  const config = await readDockerConfig(path)
  const helper = helperFor(config, registry)
  if (helper !== undefined) return runHelperGet(helper, authKey(registry))

  const entry = findAuthEntry(config, registry)
  if (entry === undefined) return undefined
  return decodeAuthEntry(entry[1], entry[0], path)
}

function helperFor(config: DockerConfigFile, registry: string): string | undefined {
  const name = credentialRegistryName(registry)
  for (const [key, helper] of Object.entries(config.credHelpers ?? {})) {
    if (credentialRegistryName(key) === name) return helper
  }
  return config.credsStore || undefined
}

function findAuthEntry(config: DockerConfigFile, registry: string) {
  const name = credentialRegistryName(registry)
  // An exact key wins over one that only names the same host another way.
  const entries = Object.entries(config.auths ?? {})
  return entries.find(([key]) => key === authKey(registry)) ?? entries.find(([key]) => credentialRegistryName(key) === name)
}

function decodeAuthEntry(entry: NonNullable<DockerConfigFile['auths']>[string], key: string, path: string) {
  if (entry.username !== undefined && entry.password !== undefined) {
    return {username: entry.username, password: entry.password}
  }
  if (!entry.auth) return undefined

  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon === -1) throw invalidArgument(`the "auth" of "${key}" in ${path} is not base64 of user:password`)
  return {username: decoded.slice(0, colon), password: decoded.slice(colon + 1)}
}

async function readDockerConfig(path: string): Promise<DockerConfigFile> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {}
    throw invalidArgument(`reading Docker configuration ${path}: ${(error as Error).message}`, {cause: error})
  }

  try {
    const value = JSON.parse(text) as unknown
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as DockerConfigFile
  } catch {
    // Reported below, without echoing the file: it holds secrets.
  }
  throw invalidArgument(`Docker configuration ${path} is not a JSON object`)
}

async function storeCredentials(path: string, registry: string, credentials: Credentials): Promise<void> {
  const config = await readDockerConfig(path)
  const key = authKey(registry)
  const helper = helperFor(config, registry)
  config.auths ??= {}
  if (helper === undefined) {
    config.auths[key] = {auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}
  } else {
    await runHelper(helper, 'store', JSON.stringify({ServerURL: key, Username: credentials.username, Secret: credentials.password}))
    // Docker leaves an empty entry so the registry is listed as logged in.
    config.auths[key] = {}
  }
  await writeDockerConfig(path, config)
}

async function eraseCredentials(path: string, registry: string): Promise<boolean> {
  const config = await readDockerConfig(path)
  const helper = helperFor(config, registry)
  let erased = false
  if (helper !== undefined) {
    erased = (await runHelper(helper, 'erase', authKey(registry)).then(() => true, () => false)) || erased
  }

  const name = credentialRegistryName(registry)
  for (const key of Object.keys(config.auths ?? {})) {
    if (credentialRegistryName(key) !== name) continue
    delete config.auths![key]
    erased = true
  }
  if (erased) await writeDockerConfig(path, config)
  return erased
}

async function writeDockerConfig(path: string, config: DockerConfigFile): Promise<void> {
  await mkdir(dirname(path), {recursive: true, mode: 0o700})
  // Written aside and renamed so a reader never sees half a file; 0600 as Docker.
  const temporary = `${path}.${process.pid}.tmp`
  await writeFile(temporary, JSON.stringify(config, null, '\t') + '\n', {mode: 0o600})
  await chmod(temporary, 0o600)
  await rename(temporary, path)
}

async function runHelperGet(helper: string, serverUrl: string): Promise<Credentials | undefined> {
  let output: string
  try {
    output = await runHelper(helper, 'get', serverUrl)
  } catch (error) {
    // The helper protocol reports a missing entry as a failure with this message.
    if (error instanceof HelperError && /credentials not found/i.test(error.output)) return undefined
    throw error
  }

  const reply = JSON.parse(output) as {Username?: string; Secret?: string}
  if (!reply.Secret) return undefined
  // TODO(#3): "<token>" means the secret is an identity (refresh) token for OAuth2; we send it as a password.
  return {username: reply.Username ?? '', password: reply.Secret}
}

class HelperError extends MydockerError {
  constructor(message: string, readonly output: string) {
    super('UNAUTHORIZED', message)
  }
}

/** Runs `docker-credential-HELPER ACTION` with `input` on stdin; resolves with stdout. */
async function runHelper(helper: string, action: 'get' | 'store' | 'erase', input: string): Promise<string> {
  const program = `docker-credential-${helper}`
  const {spawn} = await import('node:child_process')
  return new Promise((resolve, reject) => {
    const child = spawn(program, [action], {stdio: ['pipe', 'pipe', 'pipe']})
    const stdout: Buffer[] = []
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk))
    child.stderr.resume()
    child.on('error', (error) =>
      reject(new HelperError(`running credential helper ${program}: ${error.message}`, '')),
    )
    child.on('close', (status) => {
      const output = Buffer.concat(stdout).toString('utf8')
      if (status === 0) return resolve(output)
      // The helper's output is its error message, never a secret, for a failed call.
      reject(new HelperError(`credential helper ${program} ${action} failed: ${output.trim().slice(0, 200)}`, output))
    })
    child.stdin.end(input)
  })
}
