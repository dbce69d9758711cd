/**
 * Registry authentication (distribution spec "token authentication" and Basic).
 *
 * A 401 carries WWW-Authenticate. For Bearer a token is fetched from the realm for
 * the service and scope asked (with the user's Basic credentials when there are any),
 * cached per host and scope until `expires_in`. For Basic (as ECR asks) the
 * credentials are sent as they are. The Authorization values live only in this
 * object: they are never logged nor put in errors.
 */
import type {CredentialStore, Credentials} from '../config/credentials.js'
import {type Challenge, parseChallenges} from './challenge.js'
import {RegistryError, summarizeErrorBody} from './errors.js'
import type {Transport} from './transport.js'

/** Longest token response read. */
const MAX_TOKEN_BODY = 1024 * 1024
// The token spec's default lifetime when the response does not give one.
const DEFAULT_TOKEN_LIFETIME_SECONDS = 60

/** Who a request is for: the host, the credentials' registry name and the scope wanted. */
export interface AuthTarget {
  /** `host[:port]` the request goes to. */
  host: string
  /** Name credentials are looked up by (`docker.io` for Docker Hub), or undefined for none. */
  credentialName?: string
  /** Token scope, `repository:NAME:pull`. */
  scope?: string
}

/** An Authorization header value and how it was made. */
export interface Authorization {
  header: string
  /** Whether the user's credentials went into it (decides how a refusal is reported). */
  withCredentials: boolean
}

interface CachedAuthorization extends Authorization {
  /** Epoch milliseconds after which it is not used; Infinity for Basic. */
  expiresAt: number
}

/** The per-client token cache and challenge handler. */
export class Authenticator {
  private readonly cache = new Map<string, CachedAuthorization>()
  // The last challenge of each host, so a new scope or an expired token gets a token
  // before the request rather than after a 401.
  private readonly challenges = new Map<string, string | string[]>()
  private readonly pending = new Map<string, Promise<Authorization>>()

  constructor(
    private readonly transport: Transport,
    private readonly credentials: CredentialStore,
    private readonly log: (message: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** The cached Authorization for the target, if any and not expired. */
  cached(target: AuthTarget): Authorization | undefined {
    const entry = this.cache.get(cacheKey(target)) ?? this.cache.get(cacheKey({host: target.host}))
    if (entry === undefined) return undefined
    if (entry.expiresAt <= this.now()) {
      this.cache.delete(cacheKey(target))
      return undefined
    }
    return entry
  }

  /**
   * The Authorization to send: the cached one, else a new one when the host has
   * challenged before (a Bearer token for this scope), else undefined.
   */
  async prepare(target: AuthTarget): Promise<Authorization | undefined> {
    const cached = this.cached(target)
    if (cached !== undefined) return cached
    const challenge = this.challenges.get(target.host)
    if (challenge === undefined) return undefined
    return this.authorize(target, challenge)
  }

  /**
   * Answers a 401: builds a new Authorization from the challenges in `wwwAuthenticate`
   * (a cached one that was refused is dropped first) and caches it. Throws
   * RegistryError UNAUTHORIZED "authentication required for HOST" when the registry
   * wants credentials the user does not have, or when it offers no usable scheme.
   */
  async authorize(target: AuthTarget, wwwAuthenticate: string | string[] | undefined, refused?: Authorization): Promise<Authorization> {
    for (const key of [cacheKey(target), cacheKey({host: target.host})]) {
      // Only the refused value goes: another request may have cached a newer one since.
      if (refused !== undefined && this.cache.get(key)?.header === refused.header) this.cache.delete(key)
    }
    const fresh = this.cached(target)
    if (fresh !== undefined && fresh.header !== refused?.header) return fresh

    // Concurrent requests of one pull (its layers) share one token request.
    const key = cacheKey(target)
    let pending = this.pending.get(key)
    if (pending === undefined) {
      pending = this.authorizeFromChallenge(target, wwwAuthenticate).finally(() => this.pending.delete(key))
      this.pending.set(key, pending)
    }
    return pending
  }

  private async authorizeFromChallenge(target: AuthTarget, wwwAuthenticate: string | string[] | undefined): Promise<Authorization> {
    const challenges = parseChallenges(wwwAuthenticate)
    if (wwwAuthenticate !== undefined && challenges.length > 0) this.challenges.set(target.host, wwwAuthenticate)
    const bearer = challenges.find((challenge) => challenge.scheme === 'bearer')
    const basic = challenges.find((challenge) => challenge.scheme === 'basic')
    const credentials = target.credentialName === undefined ? undefined : await this.credentials.get(target.credentialName)

    if (bearer !== undefined) return this.bearer(target, bearer, credentials)
    if (basic !== undefined) return this.basic(target, credentials)
    throw new RegistryError('UNAUTHORIZED', `registry ${target.host} asked for authentication without a Bearer or Basic challenge`, {
      method: 'GET',
      url: `https://${target.host}/`,
      status: 401,
    })
  }

  private basic(target: AuthTarget, credentials: Credentials | undefined): Authorization {
    if (credentials === undefined) throw authenticationRequired(displayName(target))
    const entry = {header: basicHeader(credentials), withCredentials: true, expiresAt: Infinity}
    // Basic credentials are good for every scope of the host.
    this.cache.set(cacheKey({host: target.host}), entry)
    return entry
  }

  private async bearer(target: AuthTarget, challenge: Challenge, credentials: Credentials | undefined): Promise<Authorization> {
    const realm = challenge.parameters.realm
    if (!realm) {
      throw new RegistryError('UNAUTHORIZED', `registry ${target.host} sent a Bearer challenge without a realm`, {
        method: 'GET',
        url: `https://${target.host}/`,
        status: 401,
      })
    }

    const scope = target.scope ?? challenge.parameters.scope
    const token = await this.fetchToken({realm, service: challenge.parameters.service, scope, credentials, host: displayName(target)})
    const entry = {header: `Bearer ${token.token}`, withCredentials: credentials !== undefined, expiresAt: token.expiresAt}
    this.cache.set(cacheKey(target), entry)
    return entry
  }

  private async fetchToken(request: {realm: string; service?: string; scope?: string; credentials?: Credentials; host: string}) {
    const url = tokenUrl(request.realm, request.service, request.scope, request.host)
    const headers: Record<string, string> = {accept: 'application/json'}
    if (request.credentials !== undefined) headers.authorization = basicHeader(request.credentials)
    this.log(`fetching a token from ${url.host}${url.pathname} for ${request.scope ?? 'no scope'}${request.credentials ? ' with credentials' : ''}`)

    const started = this.now()
    const response = await this.transport.send({method: 'GET', url, headers, maxBodySize: MAX_TOKEN_BODY})
    if (response.status === 401 || response.status === 403) {
      if (request.credentials === undefined) throw authenticationRequired(request.host)
      throw credentialsRejected(request.host, response.status, url)
    }
    if (response.status !== 200) {
      const {codes, summary} = summarizeErrorBody(response.body)
      throw new RegistryError('UNAUTHORIZED', `token request for ${request.host} failed with status ${response.status}${summary ? `: ${summary}` : ''}`, {
        method: 'GET',
        url,
        status: response.status,
        registryCodes: codes,
        temporary: response.status >= 500 || response.status === 429,
      })
    }
    return parseTokenResponse(response.body, request.host, started)
  }
}

function parseTokenResponse(body: Buffer, host: string, requestedAt: number): {token: string; expiresAt: number} {
  let reply: {token?: unknown; access_token?: unknown; expires_in?: unknown; issued_at?: unknown}
  try {
    reply = JSON.parse(body.toString('utf8'))
  } catch {
    reply = {}
  }

  // Docker's token server sends both `token` and `access_token`; OAuth2 servers only the second.
  const token = typeof reply.token === 'string' && reply.token ? reply.token : reply.access_token
  if (typeof token !== 'string' || token === '') {
    throw new RegistryError('UNAUTHORIZED', `token server for ${host} answered without a token`, {method: 'GET', url: `https://${host}/`})
  }

  const lifetime = typeof reply.expires_in === 'number' && reply.expires_in > 0 ? reply.expires_in : DEFAULT_TOKEN_LIFETIME_SECONDS
  // Counted from when we asked rather than issued_at: clocks of token servers drift.
  const margin = Math.min(10, lifetime / 10)
  return {token, expiresAt: requestedAt + (lifetime - margin) * 1000}
}

function tokenUrl(realm: string, service: string | undefined, scope: string | undefined, host: string): URL {
  let url: URL
  try {
    url = new URL(realm)
  } catch {
    throw new RegistryError('UNAUTHORIZED', `registry ${host} sent an invalid token realm`, {method: 'GET', url: `https://${host}/`})
  }
  if (service) url.searchParams.set('service', service)
  // Several scopes are sent as several parameters, as Docker does.
  for (const part of (scope ?? '').split(' ').filter(Boolean)) url.searchParams.append('scope', part)
  return url
}

function basicHeader(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
}

/** The registry as users name it: `docker.io` rather than registry-1.docker.io. */
export function displayName(target: AuthTarget): string {
  return target.credentialName ?? target.host
}

function cacheKey(target: AuthTarget): string {
  return `${target.host} ${target.scope ?? '*'}`
}

/** The error for a registry that wants credentials the user has not given. */
export function authenticationRequired(host: string): RegistryError {
  return new RegistryError('UNAUTHORIZED', `authentication required for ${host}`, {
    method: 'GET',
    url: `https://${host}/`,
    status: 401,
    // Registries such as Docker Hub answer so for repositories that do not exist, too.
    hint: `log in with: mydocker login ${host} (and check the repository name)`,
  })
}

/** The error for credentials a registry refused. */
export function credentialsRejected(host: string, status: number, url: URL | string): RegistryError {
  return new RegistryError('UNAUTHORIZED', `the credentials for ${host} were rejected (status ${status})`, {
    method: 'GET',
    url,
    status,
    hint: `check the user name and password, then log in again with: mydocker login ${host}`,
  })
}
