/**
 * `mydocker login` and `logout`: check credentials against a registry (GET /v2/ with
 * them, through the registry's own challenge) and keep them in Docker's config.json,
 * in the same format Docker writes, so either tool sees the other's logins.
 */
import {type RegistryConfig, loadRegistryConfig} from '../config/config.js'
import {credentialRegistryName, dockerCredentialStore, type Credentials, type WritableCredentialStore} from '../config/credentials.js'
import {invalidArgument} from '../errors.js'
import {DOCKER_HUB, DOCKER_HUB_API_HOST} from '../reference/reference.js'
import {type AuthTarget, Authenticator, credentialsRejected} from './auth.js'
import {RegistryError, summarizeErrorBody} from './errors.js'
import {Transport} from './transport.js'

/** What login needs: the registry, the credentials, and where to keep them. */
export interface LoginOptions {
  /** What the user typed: `docker.io`, `host[:port]`, `https://host/v1/`...; Docker Hub when absent. */
  registry?: string
  username: string
  password: string
  /** Where credentials are saved; Docker's config.json by default. */
  credentials?: WritableCredentialStore
  /** mydocker's configuration; read from its file by default. */
  config?: RegistryConfig
  environment?: NodeJS.ProcessEnv
  log?: (message: string) => void
}

/**
 * The registry name a login is filed under: `docker.io` for Docker Hub under any of
 * its names, else `host[:port]`. Throws INVALID_ARGUMENT for text that names no host.
 */
export function loginRegistryName(text: string | undefined): string {
  if (text === undefined || text.trim() === '') return DOCKER_HUB
  const name = credentialRegistryName(text.trim())
  if (!/^[a-z0-9.-]+(:\d+)?$|^\[[0-9a-f:.]+\](:\d+)?$/.test(name)) {
    throw invalidArgument(`invalid registry "${text}"`, {hint: 'name a registry as host[:port], for example localhost:5000 or ghcr.io'})
  }
  return name
}

/**
 * Checks the credentials against the registry, then saves them. Resolves with the
 * registry name they were saved under. Throws RegistryError UNAUTHORIZED when the
 * registry refuses them (nothing is saved then), UNAVAILABLE when it cannot be reached.
 */
export async function login(options: LoginOptions): Promise<string> {
  const name = loginRegistryName(options.registry)
  if (options.username === '') throw invalidArgument('a user name is required to log in', {hint: 'pass it with -u USER'})
  if (options.password === '') throw invalidArgument(`an empty password was given for ${name}`, {hint: 'pass it on stdin with --password-stdin'})

  const config = options.config ?? (await loadRegistryConfig())
  const credentials = {username: options.username, password: options.password}
  await verifyCredentials(name, credentials, config, options)

  const store = options.credentials ?? dockerCredentialStore()
  await store.store(name, credentials)
  return name
}

/** Forgets the credentials for a registry; false when there were none. */
export async function logout(
  registry: string | undefined,
  credentials: WritableCredentialStore = dockerCredentialStore(),
): Promise<{name: string; removed: boolean}> {
  const name = loginRegistryName(registry)
  return {name, removed: await credentials.erase(name)}
}

async function verifyCredentials(name: string, credentials: Credentials, config: RegistryConfig, options: LoginOptions): Promise<void> {
  const log = options.log ?? (() => {})
  const transport = new Transport({config, environment: options.environment ?? process.env, log})
  const authenticator = new Authenticator(transport, {get: async () => credentials}, log)
  const base = name === DOCKER_HUB ? (config.dockerHubEndpoint ?? `https://${DOCKER_HUB_API_HOST}`) : transport.baseUrl(name)
  const url = new URL(`${base}/v2/`)
  const target: AuthTarget = {host: url.host, credentialName: name}

  let response = await transport.send({method: 'GET', url})
  if (response.status === 401) {
    const authorization = await authenticator.authorize(target, response.headers['www-authenticate'])
    response = await transport.send({method: 'GET', url, headers: {authorization: authorization.header}})
    if (response.status === 401 || response.status === 403) throw credentialsRejected(name, response.status, url)
  }
  if (response.status !== 200) {
    const {codes, summary} = summarizeErrorBody(response.body)
    throw new RegistryError('UNAVAILABLE', `logging in to ${name}: GET /v2/ answered status ${response.status}${summary ? `: ${summary}` : ''}`, {
      method: 'GET',
      url,
      status: response.status,
      registryCodes: codes,
    })
  }
}
