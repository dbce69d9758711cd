/**
 * The OCI distribution client mydocker pulls with: manifests (HEAD and GET) and blob
 * streams, with Bearer and Basic authentication, Docker Hub mirrors, redirects to blob
 * storage, retries, and resumption of cut downloads.
 *
 * Importing this module is cheap: got is loaded at the first request. One client
 * holds one token cache; share it across the requests of a pull. Safe to use from
 * concurrent requests.
 */
import {createHash} from 'node:crypto'
import {Readable} from 'node:stream'
import {type RegistryConfig, loadRegistryConfig} from '../config/config.js'
import {type CredentialStore, dockerCredentialStore} from '../config/credentials.js'
import {digestMismatch, invalidArgument} from '../errors.js'
import {manifestMediaType} from '../image/parse.js'
import {type Descriptor, MANIFEST_ACCEPT} from '../image/types.js'
import {DOCKER_HUB, DOCKER_HUB_API_HOST, formatReference, type Reference, repositoryName} from '../reference/reference.js'
import {type AuthTarget, Authenticator, type Authorization, authenticationRequired, credentialsRejected, displayName} from './auth.js'
import {type BlobSource, openResumableBlob} from './blob-stream.js'
import {codeForStatus, isTemporaryStatus, parseRetryAfter, RegistryError, summarizeErrorBody} from './errors.js'
import {type HttpResponse, type HttpStreamResponse, Transport} from './transport.js'

/** Re-exported so callers branch on registry failures from one import. */
export {RegistryError} from './errors.js'

/** Largest manifest or index read, as containerd's limit. */
const MAX_MANIFEST_SIZE = 4 * 1024 * 1024
const MAX_REDIRECTS = 5
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308])
const DIGEST = /^(sha256|sha512):[a-f0-9]+$/

/** How a client is set up; every field has a default. */
export interface RegistryClientOptions {
  /** Extra configuration: insecure registries, mirrors, CA dirs; default read from mydocker's config file. */
  config?: RegistryConfig
  /** Credentials lookup; default reads ~/.docker/config.json ($DOCKER_CONFIG). */
  credentials?: CredentialStore
  /** Debug log sink (never receives tokens or Authorization headers). */
  log?: (message: string) => void
  /** Environment the proxy variables are read from; process.env by default. */
  environment?: NodeJS.ProcessEnv
  /** Retries of one request after network failures, 5xx and 429 (default 4). */
  retryLimit?: number
}

/** A manifest or index as fetched: its verified digest, media type and bytes. */
export interface ManifestResponse {
  digest: string
  mediaType: string
  body: Buffer
}

/** What a manifest HEAD tells: the digest, and the type and size when sent. */
export interface ManifestHead {
  digest: string
  mediaType?: string
  size?: number
}

/** Read access to one or more registries, sharing a token cache. */
export interface RegistryClient {
  /** HEAD the manifest a reference (tag or digest) names; undefined when the registry does not give a digest. */
  headManifest(reference: Reference): Promise<ManifestHead | undefined>
  /** GET a manifest or index by the reference's digest if any, else its tag, with the Accept list src/image/types.ts MANIFEST_ACCEPT. Verifies the bytes against the digest when pulling by digest; digest = sha256 of the body otherwise (checked against Docker-Content-Digest when sent). Size-capped. Media type from Content-Type, else body mediaType, else structure. Schema 1: clear "schema 1 images are not supported" error. */
  getManifest(reference: Reference, digest?: string): Promise<ManifestResponse>
  /** Streams a blob's bytes from `offset` (0 by default) in order, exactly once each: reconnects with Range from the bytes already delivered when the connection is cut (if the server ignores Range, re-downloads and skips what was delivered), follows redirects to blob storage without the Authorization header, uses descriptor.urls for foreign layers. The caller hashes and verifies. */
  fetchBlob(reference: Reference, descriptor: Descriptor, options?: {offset?: number; signal?: AbortSignal}): Promise<Readable>
}

/**
 * A registry client. Errors are RegistryError (UNAVAILABLE, NOT_FOUND, UNAUTHORIZED
 * with exit code 125), DIGEST_MISMATCH for manifest bytes that do not match, and
 * UNSUPPORTED for schema 1 manifests.
 */
export function createRegistryClient(options: RegistryClientOptions = {}): RegistryClient {
  return new DistributionClient(options)
}

/** A registry base URL tried for a reference: a mirror or the registry itself. */
interface Endpoint {
  base: string
  host: string
  credentialName: string
  mirror: boolean
}

interface Context {
  config: RegistryConfig
  transport: Transport
  authenticator: Authenticator
}

class DistributionClient implements RegistryClient {
  private contextPromise?: Promise<Context>
  private readonly log: (message: string) => void

  constructor(private readonly options: RegistryClientOptions) {
    this.log = options.log ?? (() => {})
  }

  async headManifest(reference: Reference): Promise<ManifestHead | undefined> {
    const response = await this.requestManifest(reference, 'HEAD')
    const digest = headerValue(response.headers['docker-content-digest'])
    if (digest === undefined || !DIGEST.test(digest)) return undefined

    const contentType = headerValue(response.headers['content-type'])?.split(';')[0].trim()
    const length = Number(headerValue(response.headers['content-length']))
    return {
      digest,
      mediaType: contentType && contentType !== 'application/json' ? contentType : undefined,
      size: Number.isSafeInteger(length) && length > 0 ? length : undefined,
    }
  }

  async getManifest(reference: Reference, digest?: string): Promise<ManifestResponse> {
    const wanted = digest ?? reference.digest
    if (wanted !== undefined && !DIGEST.test(wanted)) throw invalidArgument(`invalid manifest digest "${wanted}"`)
    const response = await this.requestManifest(reference, 'GET', wanted)
    const mediaType = manifestMediaType(response.body, headerValue(response.headers['content-type']))

    const algorithm = wanted?.split(':')[0] ?? 'sha256'
    const actual = `${algorithm}:${createHash(algorithm).update(response.body).digest('hex')}`
    const name = describeManifest(reference, wanted)
    if (wanted !== undefined && actual !== wanted) {
      throw digestMismatch(`manifest ${name} has digest ${actual}, expected ${wanted}`)
    }
    const declared = headerValue(response.headers['docker-content-digest'])
    if (declared !== undefined && declared.startsWith(`${algorithm}:`) && declared !== actual) {
      throw digestMismatch(`manifest ${name} has digest ${actual} but the registry says ${declared}`)
    }
    return {digest: actual, mediaType, body: response.body}
  }

  async fetchBlob(reference: Reference, descriptor: Descriptor, options: {offset?: number; signal?: AbortSignal} = {}): Promise<Readable> {
    // Everything was delivered already (an ingest complete but not committed): a Range
    // from the end would only get a 416.
    if ((options.offset ?? 0) >= descriptor.size && descriptor.size > 0) return Readable.from([])
    return openResumableBlob({
      digest: descriptor.digest,
      url: `https://${reference.registry}/v2/${reference.repository}/blobs/${descriptor.digest}`,
      size: descriptor.size,
      offset: options.offset ?? 0,
      signal: options.signal,
      log: this.log,
      open: (offset, signal) => this.openBlob(reference, descriptor, offset, signal),
    })
  }

  private context(): Promise<Context> {
    this.contextPromise ??= (async () => {
      const config = this.options.config ?? (await loadRegistryConfig())
      const transport = new Transport({
        config,
        environment: this.options.environment ?? process.env,
        log: this.log,
        retryLimit: this.options.retryLimit,
      })
      const credentials = this.options.credentials ?? dockerCredentialStore()
      return {config, transport, authenticator: new Authenticator(transport, credentials, this.log)}
    })()
    return this.contextPromise
  }

  /** Mirrors first for Docker Hub, then the registry itself. */
  private endpoints(reference: Reference, context: Context): Endpoint[] {
    if (reference.registry !== DOCKER_HUB) {
      const base = context.transport.baseUrl(reference.registry)
      return [{base, host: reference.registry, credentialName: reference.registry, mirror: false}]
    }

    const mirrors = context.config.registryMirrors.map((mirror) => {
      const url = new URL(mirror)
      return {base: `${url.origin}${url.pathname.replace(/\/+$/, '')}`, host: url.host, credentialName: url.host, mirror: true}
    })
    const hub = new URL(context.config.dockerHubEndpoint ?? `https://${DOCKER_HUB_API_HOST}`)
    return [...mirrors, {base: hub.origin, host: hub.host, credentialName: DOCKER_HUB, mirror: false}]
  }

  /** Runs `operation` against each endpoint in turn until one succeeds; the last error otherwise. */
  private async withEndpoints<T>(reference: Reference, operation: (endpoint: Endpoint, context: Context) => Promise<T>): Promise<T> {
    const context = await this.context()
    const endpoints = this.endpoints(reference, context)
    for (const [position, endpoint] of endpoints.entries()) {
      try {
        return await operation(endpoint, context)
      } catch (error) {
        if (position === endpoints.length - 1) throw error
        this.log(`mirror ${endpoint.host} failed (${(error as Error).message}); trying the next`)
      }
    }
    throw new Error('unreachable: no endpoints')
  }

  private requestManifest(reference: Reference, method: 'GET' | 'HEAD', digest?: string): Promise<HttpResponse> {
    const name = digest ?? reference.digest ?? reference.tag ?? 'latest'
    return this.withEndpoints(reference, async (endpoint, context) => {
      const url = new URL(`${endpoint.base}/v2/${reference.repository}/manifests/${name}`)
      const response = await this.exchange(context, registryTarget(endpoint, reference), (authorization) =>
        context.transport.send({
          method,
          url,
          headers: {accept: MANIFEST_ACCEPT.join(', '), ...authorizationHeader(authorization)},
          maxBodySize: MAX_MANIFEST_SIZE,
        }),
      )
      const final = await this.followManifestRedirects(context, response, method)
      if (final.status === 200) return final
      throw responseError(final, method, `manifest ${describeManifest(reference, digest)}`, {notFound: 'manifest unknown'})
    })
  }

  /** Manifests are rarely redirected, but may be; the new host gets no Authorization of ours. */
  private async followManifestRedirects(context: Context, response: HttpResponse, method: 'GET' | 'HEAD'): Promise<HttpResponse> {
    let current = response
    for (let hops = 0; REDIRECT_STATUSES.has(current.status); hops++) {
      const location = headerValue(current.headers.location)
      if (location === undefined || hops === MAX_REDIRECTS) return current
      const url = new URL(location, current.url)
      current = await this.exchange(context, {host: url.host, credentialName: url.host}, (authorization) =>
        context.transport.send({
          method,
          url,
          headers: {accept: MANIFEST_ACCEPT.join(', '), ...authorizationHeader(authorization)},
          maxBodySize: MAX_MANIFEST_SIZE,
        }),
      )
    }
    return current
  }

  /**
   * Sends a request with the cached Authorization; on 401 authenticates from the
   * challenge and sends it once more (also when a cached token was refused early).
   */
  private async exchange<R extends {status: number; headers: HttpResponse['headers']; url: URL}>(
    context: Context,
    target: AuthTarget,
    perform: (authorization?: Authorization) => Promise<R>,
    discard: (response: R) => void = () => {},
  ): Promise<R> {
    const cached = await context.authenticator.prepare(target)
    const first = await perform(cached)
    if (first.status !== 401) return first

    discard(first)
    const authorization = await context.authenticator.authorize(target, first.headers['www-authenticate'], cached)
    const second = await perform(authorization)
    if (second.status !== 401) return second

    discard(second)
    if (!authorization.withCredentials) throw authenticationRequired(displayName(target))
    throw credentialsRejected(displayName(target), 401, second.url)
  }

  private async openBlob(reference: Reference, descriptor: Descriptor, offset: number, signal?: AbortSignal): Promise<BlobSource> {
    if (descriptor.urls !== undefined && descriptor.urls.length > 0) return this.openForeignBlob(reference, descriptor, offset, signal)
    return this.openRegistryBlob(reference, descriptor, offset, signal)
  }

  private openRegistryBlob(reference: Reference, descriptor: Descriptor, offset: number, signal?: AbortSignal): Promise<BlobSource> {
    return this.withEndpoints(reference, async (endpoint, context) => {
      const url = new URL(`${endpoint.base}/v2/${reference.repository}/blobs/${descriptor.digest}`)
      const response = await this.exchange(
        context,
        registryTarget(endpoint, reference),
        (authorization) => openRange(context, url, offset, authorization, signal),
        (discarded) => discarded.body.destroy(),
      )
      const final = await this.followRedirects(context, response, offset, signal)
      return blobSource(final, offset, `blob ${descriptor.digest} of ${repositoryName(reference)}`)
    })
  }

  /**
   * Follows redirects to blob storage without the registry's Authorization; a storage
   * host that challenges gets its own token, looked up under its own name.
   */
  private async followRedirects(context: Context, response: HttpStreamResponse, offset: number, signal?: AbortSignal): Promise<HttpStreamResponse> {
    let current = response
    for (let hops = 0; REDIRECT_STATUSES.has(current.status); hops++) {
      const location = headerValue(current.headers.location)
      current.body.destroy()
      if (location === undefined || hops === MAX_REDIRECTS) {
        throw new RegistryError('UNAVAILABLE', `too many or broken redirects fetching ${current.url.host}${current.url.pathname}`, {
          method: 'GET',
          url: current.url,
          status: current.status,
        })
      }

      const url = new URL(location, current.url)
      const target: AuthTarget = {host: url.host, credentialName: url.host}
      current = await this.exchange(
        context,
        target,
        (authorization) => openRange(context, url, offset, authorization, signal),
        (discarded) => discarded.body.destroy(),
      )
    }
    return current
  }

  /** A foreign layer from its descriptor's URLs in order, then from the registry. */
  private async openForeignBlob(reference: Reference, descriptor: Descriptor, offset: number, signal?: AbortSignal): Promise<BlobSource> {
    const context = await this.context()
    const failures: string[] = []
    for (const text of descriptor.urls ?? []) {
      try {
        const url = new URL(text)
        if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`unsupported URL scheme ${url.protocol}`)
        const response = await context.transport.open({method: 'GET', url, headers: rangeHeader(offset), signal})
        const final = await this.followRedirects(context, response, offset, signal)
        return await blobSource(final, offset, `foreign layer ${descriptor.digest}`)
      } catch (error) {
        failures.push((error as Error).message)
        this.log(`foreign layer ${descriptor.digest}: URL failed: ${(error as Error).message}`)
      }
    }

    try {
      return await this.openRegistryBlob(reference, descriptor, offset, signal)
    } catch (error) {
      const message = `foreign layer ${descriptor.digest} could not be fetched from its URLs (${failures.join('; ')}) nor from ${reference.registry}`
      throw new RegistryError('NOT_FOUND', message, {
        method: 'GET',
        url: descriptor.urls?.[0] ?? 'https://invalid/',
        cause: error,
        temporary: failures.length > 0 && (error as RegistryError).temporary === true,
      })
    }
  }
}

/** Turns an opened blob response into a source, or throws the error it reports. */
async function blobSource(response: HttpStreamResponse, offset: number, what: string): Promise<BlobSource> {
  if (response.status === 200) return {body: response.body, start: 0}
  if (response.status === 206) {
    const start = Number(/^bytes (\d+)-/.exec(headerValue(response.headers['content-range']) ?? '')?.[1])
    if (Number.isSafeInteger(start) && start <= offset) return {body: response.body, start}
    response.body.destroy()
    throw new RegistryError('CORRUPT', `${what}: the registry answered Range ${offset}- with a bad Content-Range`, {
      method: 'GET',
      url: response.url,
      status: 206,
    })
  }

  const body = await readExcerpt(response.body)
  throw responseError({...response, body}, 'GET', what, {notFound: 'blob unknown'})
}

/** Up to 4 KiB of an error body; the rest is dropped. */
async function readExcerpt(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  let length = 0
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      chunks.push(chunk)
      length += chunk.length
      if (length >= 4096) break
    }
  } catch {
    // An error body cut short still says enough.
  } finally {
    body.destroy()
  }
  return Buffer.concat(chunks).subarray(0, 4096)
}

/**
 * The RegistryError for an unexpected status: NOT_FOUND "<notFound>: <what>" for 404,
 * else naming the object, the status and what the body says.
 */
function responseError(response: HttpResponse, method: string, what: string, words: {notFound: string}): RegistryError {
  const {codes, summary} = summarizeErrorBody(response.body)
  const details = {
    method,
    url: response.url,
    status: response.status,
    registryCodes: codes,
    temporary: isTemporaryStatus(response.status),
    retryAfter: parseRetryAfter(response.headers['retry-after']),
  }
  if (response.status === 404) {
    const subject = what.replace(/^(manifest|blob) /, '')
    return new RegistryError('NOT_FOUND', `${words.notFound}: ${subject}`, details)
  }
  if (response.status === 403) {
    return new RegistryError('UNAUTHORIZED', `access to ${what} denied by ${response.url.host} (status 403)${summary ? `: ${summary}` : ''}`, details)
  }
  const suffix = summary ? `: ${summary}` : ''
  const message = `fetching ${what} from ${response.url.host} failed with status ${response.status}${suffix}`
  return new RegistryError(codeForStatus(response.status), message, details)
}

/** Opens a GET of `url` from byte `offset`, with the Authorization when given. */
function openRange(context: Context, url: URL, offset: number, authorization: Authorization | undefined, signal?: AbortSignal) {
  const headers = {...rangeHeader(offset), ...authorizationHeader(authorization)}
  return context.transport.open({method: 'GET', url, headers, signal})
}

function registryTarget(endpoint: Endpoint, reference: Reference): AuthTarget {
  return {host: endpoint.host, credentialName: endpoint.credentialName, scope: `repository:${reference.repository}:pull`}
}

function describeManifest(reference: Reference, digest?: string): string {
  if (digest === undefined || digest === reference.digest) return formatReference(reference)
  return `${repositoryName(reference)}@${digest}`
}

function authorizationHeader(authorization?: Authorization): Record<string, string> {
  return authorization === undefined ? {} : {authorization: authorization.header}
}

function rangeHeader(offset: number): Record<string, string> {
  return offset > 0 ? {range: `bytes=${offset}-`} : {}
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}
