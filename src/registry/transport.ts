/**
 * HTTP for the registry client, over got: which scheme a host is reached with, its CA
 * certificates, the proxy from the environment, retries of requests whose whole body
 * is read, and streams for blobs. Redirects are never followed here: the client
 * follows them itself so the Authorization header stays on the host it belongs to.
 */
import {readdir, readFile} from 'node:fs/promises'
import type {IncomingHttpHeaders} from 'node:http'
import {createRequire} from 'node:module'
import {join} from 'node:path'
import type {Readable} from 'node:stream'
import type {Agents, Got, OptionsInit, RequestError} from 'got'
import type {RegistryConfig} from '../config/config.js'
import {isLoopbackRegistry} from '../reference/reference.js'
import {MAX_RETRY_AFTER, redactUrl, RegistryError} from './errors.js'

/** Longest body read into memory unless a request says otherwise. */
const DEFAULT_MAX_BODY = 4 * 1024 * 1024
const CONNECT_TIMEOUT = 30_000
// Idle time on a socket after which a request (or a blob stream) counts as cut.
const SOCKET_TIMEOUT = 60_000

/** One request to send: method, URL, headers, and the largest body accepted. */
export interface HttpRequest {
  method: 'GET' | 'HEAD'
  url: URL
  headers?: Record<string, string>
  /** Bodies longer than this fail with an error naming the URL. */
  maxBodySize?: number
  signal?: AbortSignal
}

/** A response whose body has been read. */
export interface HttpResponse {
  status: number
  headers: IncomingHttpHeaders
  url: URL
  body: Buffer
}

/** A response whose body is still to be read; destroy it when not needed. */
export interface HttpStreamResponse {
  status: number
  headers: IncomingHttpHeaders
  url: URL
  body: Readable
}

/** How a Transport is set up. */
export interface TransportOptions {
  config: RegistryConfig
  environment: NodeJS.ProcessEnv
  log: (message: string) => void
  /** Retries of a request after network failures, 5xx and 429. */
  retryLimit?: number
}

/** One client's HTTP machinery; agents and CA bundles are cached per instance. */
export class Transport {
  private gotPromise?: Promise<Got>
  private readonly certificateAuthorities = new Map<string, Promise<string[] | undefined>>()
  private readonly proxyAgents = new Map<string, Agents>()
  // What insecure registries turned out to speak: found by trying HTTPS first.
  private readonly plainHttpHosts = new Set<string>()
  private readonly httpsHosts = new Set<string>()

  constructor(private readonly options: TransportOptions) {}

  /**
   * The base URL of a registry host: plain HTTP for loopback, HTTPS otherwise. A host
   * in insecureRegistries starts with HTTPS without certificate checks and falls back
   * to plain HTTP when that fails, as Docker does.
   */
  baseUrl(host: string): string {
    if (isLoopbackRegistry(host) || this.plainHttpHosts.has(host)) return `http://${host}`
    return `https://${host}`
  }

  private isListedInsecure(host: string): boolean {
    const hostname = host.replace(/:\d+$/, '')
    // TODO(#3): Docker also accepts CIDR ranges in insecure-registries.
    return this.options.config.insecureRegistries.some((entry) => entry === host || entry === hostname)
  }

  /** True while an insecure host's HTTPS is untried: one attempt, then plain HTTP. */
  private isProbing(url: URL): boolean {
    return url.protocol === 'https:' && this.isListedInsecure(url.host) && !this.httpsHosts.has(url.host)
  }

  /**
   * Runs `attempt` for the request and, when HTTPS to an insecure registry fails
   * to connect, once more over plain HTTP (remembered for the host).
   */
  private async withPlainHttpFallback<T>(request: HttpRequest, attempt: (request: HttpRequest) => Promise<T>): Promise<T> {
    try {
      return await attempt(request)
    } catch (error) {
      if (!this.isProbing(request.url) || !(error instanceof RegistryError) || error.status !== undefined) throw error
      this.options.log(`HTTPS to insecure registry ${request.url.host} failed (${error.message}); using plain HTTP`)
      this.plainHttpHosts.add(request.url.host)
      const url = new URL(request.url)
      url.protocol = 'http:'
      return attempt({...request, url})
    }
  }

  private noteHttps(url: URL): void {
    if (url.protocol === 'https:' && this.isListedInsecure(url.host)) this.httpsHosts.add(url.host)
  }

  /**
   * Sends a request and reads its body (at most maxBodySize bytes). Network failures,
   * 5xx and 429 are retried by got with backoff, waiting for Retry-After; the last
   * response is returned whatever its status. Throws RegistryError UNAVAILABLE when
   * the host cannot be reached.
   */
  send(request: HttpRequest): Promise<HttpResponse> {
    return this.withPlainHttpFallback(request, (attempt) => this.sendOnce(attempt))
  }

  private async sendOnce(request: HttpRequest): Promise<HttpResponse> {
    const got = await this.got()
    const maxBodySize = request.maxBodySize ?? DEFAULT_MAX_BODY
    let tooLarge = false
    const pending = got(request.url, {
      ...(await this.requestOptions(request)),
      responseType: 'buffer',
      throwHttpErrors: true,
      retry: this.isProbing(request.url) ? {limit: 0} : this.retryOptions(),
    })
    pending.on('downloadProgress', ({transferred}) => {
      if (transferred <= maxBodySize) return
      tooLarge = true
      pending.cancel()
    })

    try {
      const response = await pending
      this.noteHttps(request.url)
      this.options.log(`${request.method} ${redactUrl(request.url)} ${response.statusCode}`)
      return {status: response.statusCode, headers: response.headers, url: request.url, body: response.body}
    } catch (error) {
      if (tooLarge) throw this.tooLargeError(request, maxBodySize)
      const response = (error as RequestError).response
      // got throws to retry; once retries are spent the error response is ours to judge.
      if ((error as Error).name === 'HTTPError' && response !== undefined) {
        this.noteHttps(request.url)
        this.options.log(`${request.method} ${redactUrl(request.url)} ${response.statusCode}`)
        return {status: response.statusCode, headers: response.headers, url: request.url, body: (response.rawBody as Buffer | undefined) ?? Buffer.alloc(0)}
      }
      throw networkError(error, request)
    }
  }

  /**
   * Opens a streamed GET and resolves once the response head has arrived, whatever its
   * status. No retries: blob streams resume with Range, which got cannot do for us.
   */
  open(request: HttpRequest): Promise<HttpStreamResponse> {
    return this.withPlainHttpFallback(request, (attempt) => this.openOnce(attempt))
  }

  private async openOnce(request: HttpRequest): Promise<HttpStreamResponse> {
    const got = await this.got()
    const options = await this.requestOptions(request)
    const stream = got.stream(request.url, {...options, throwHttpErrors: false, retry: {limit: 0}, decompress: false})
    return new Promise((resolve, reject) => {
      stream.once('response', (response: {statusCode: number; headers: IncomingHttpHeaders}) => {
        this.noteHttps(request.url)
        this.options.log(`${request.method} ${redactUrl(request.url)} ${response.statusCode} (stream)`)
        resolve({status: response.statusCode, headers: response.headers, url: request.url, body: stream})
      })
      stream.once('error', (error) => reject(networkError(error, request)))
    })
  }

  private got(): Promise<Got> {
    // got is ESM and heavy to load; only a pull needs it.
    this.gotPromise ??= import('got').then((module) => module.default)
    return this.gotPromise
  }

  private retryOptions(): OptionsInit['retry'] {
    return {
      limit: this.options.retryLimit ?? 4,
      methods: ['GET', 'HEAD'],
      statusCodes: [408, 429, 500, 502, 503, 504, 521, 522, 524],
      maxRetryAfter: MAX_RETRY_AFTER,
      backoffLimit: 8_000,
    }
  }

  private async requestOptions(request: HttpRequest): Promise<Omit<OptionsInit, 'isStream' | 'responseType' | 'resolveBodyOnly'>> {
    const https = request.url.protocol === 'https:' ? await this.tlsOptions(request.url.host) : undefined
    return {
      method: request.method,
      headers: {'user-agent': 'mydocker/0.1', ...request.headers},
      followRedirect: false,
      timeout: {connect: CONNECT_TIMEOUT, secureConnect: CONNECT_TIMEOUT, socket: SOCKET_TIMEOUT},
      agent: this.proxyAgentFor(request.url),
      https,
      signal: request.signal,
      hooks: {
        beforeRetry: [
          (error: RequestError, retryCount: number) => {
            const reason = error.response?.statusCode ?? error.code ?? error.message
            this.options.log(`retrying ${request.method} ${request.url.host}${request.url.pathname} (attempt ${retryCount + 1}): ${reason}`)
          },
        ],
      },
    }
  }

  /** CA certificates from certs.d; no verification at all for an insecure registry. */
  private async tlsOptions(host: string): Promise<OptionsInit['https']> {
    if (this.isListedInsecure(host)) return {rejectUnauthorized: false}
    const certificateAuthority = await this.certificateAuthority(host)
    return certificateAuthority === undefined ? undefined : {certificateAuthority}
  }

  private tooLargeError(request: HttpRequest, maxBodySize: number): RegistryError {
    return new RegistryError('CORRUPT', `response of ${request.url.host}${request.url.pathname} is larger than ${maxBodySize} bytes`, {
      method: request.method,
      url: request.url,
    })
  }

  /**
   * The CA bundle for a registry host: the system roots plus every *.crt in
   * certsDirectory/HOST[:PORT]/, as Docker's certs.d; undefined when there are none.
   */
  private certificateAuthority(host: string): Promise<string[] | undefined> {
    let pending = this.certificateAuthorities.get(host)
    if (pending === undefined) {
      pending = readCertificates(join(this.options.config.certsDirectory, host))
      this.certificateAuthorities.set(host, pending)
    }
    return pending
  }

  private proxyAgentFor(url: URL): Agents | undefined {
    const proxy = proxyFor(url, this.options.environment)
    if (proxy === undefined) return undefined

    let agents = this.proxyAgents.get(proxy)
    if (agents === undefined) {
      agents = createProxyAgents(proxy)
      this.proxyAgents.set(proxy, agents)
    }
    return agents
  }
}

async function readCertificates(directory: string): Promise<string[] | undefined> {
  let names: string[]
  try {
    names = await readdir(directory)
  } catch {
    return undefined
  }

  const files = names.filter((name) => name.endsWith('.crt')).sort()
  if (files.length === 0) return undefined
  const certificates = await Promise.all(files.map((name) => readFile(join(directory, name), 'utf8')))
  // Node's `ca` replaces the default roots; Docker adds to them.
  const {rootCertificates} = await import('node:tls')
  return [...rootCertificates, ...certificates]
}

function createProxyAgents(proxy: string): Agents {
  // hpagent is small and CommonJS; loaded only when a proxy is configured.
  const require = createRequire(import.meta.url)
  const {HttpProxyAgent, HttpsProxyAgent} = require('hpagent') as typeof import('hpagent')
  return {
    http: new HttpProxyAgent({proxy, keepAlive: true}),
    https: new HttpsProxyAgent({proxy, keepAlive: true}),
  }
}

/**
 * The proxy URL for a request from HTTPS_PROXY / HTTP_PROXY (either case), or undefined
 * when NO_PROXY covers the host. Loopback is never proxied, as Go's ProxyFromEnvironment
 * that Docker uses.
 */
export function proxyFor(url: URL, environment: NodeJS.ProcessEnv): string | undefined {
  if (isLoopbackRegistry(url.host)) return undefined
  const proxy =
    url.protocol === 'https:' ? environment.HTTPS_PROXY || environment.https_proxy : environment.HTTP_PROXY || environment.http_proxy
  if (!proxy) return undefined
  if (isExcludedFromProxy(url, environment.NO_PROXY ?? environment.no_proxy ?? '')) return undefined
  return proxy.includes('://') ? proxy : `http://${proxy}`
}

function isExcludedFromProxy(url: URL, noProxy: string): boolean {
  const hostname = url.hostname.toLowerCase()
  const port = url.port || (url.protocol === 'https:' ? '443' : '80')
  return noProxy
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter(Boolean)
    .some((entry) => {
      if (entry === '*') return true
      // TODO(#3): CIDR entries in NO_PROXY are not matched.
      const [entryHost, entryPort] = entry.replace(/^\*/, '').split(/:(?=\d+$)/)
      if (entryPort !== undefined && entryPort !== port) return false
      const domain = entryHost.replace(/^\./, '')
      return hostname === domain || hostname.endsWith(`.${domain}`)
    })
}

const TLS_ERROR = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS|ERR_SSL|EPROTO)/

/** A RegistryError UNAVAILABLE for a request that got no HTTP response. */
export function networkError(error: unknown, request: HttpRequest): RegistryError {
  if (error instanceof RegistryError) return error
  const code = (error as {code?: string}).code ?? ''
  const host = request.url.host
  const details = {method: request.method, url: request.url, cause: error, temporary: true}
  if (code === 'ECONNREFUSED') {
    return new RegistryError('UNAVAILABLE', `cannot connect to ${host}: connection refused`, {
      ...details,
      hint: `check that the registry at ${host} is up and reachable`,
    })
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new RegistryError('UNAVAILABLE', `cannot resolve registry host ${request.url.hostname}`, {
      ...details,
      hint: 'check the registry name and the network (DNS, HTTPS_PROXY)',
    })
  }
  if (TLS_ERROR.test(code)) {
    return new RegistryError('UNAVAILABLE', `TLS connection to ${host} failed: ${(error as Error).message}`, {
      ...details,
      temporary: false,
      hint: `put the registry's CA certificate in /etc/mydocker/certs.d/${host}/ca.crt, or list ${host} in insecureRegistries`,
    })
  }
  const message = (error as Error).message ?? String(error)
  return new RegistryError('UNAVAILABLE', `${request.method} ${host}${request.url.pathname} failed: ${message}`, details)
}
