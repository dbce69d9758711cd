// A loopback stand-in for Docker Hub and friends, in front of a real
// docker-registry: it challenges (Bearer with short-lived tokens, or Basic),
// redirects blob downloads to a "storage" server on a second loopback address
// that refuses requests carrying Authorization (as S3 does), and injects faults
// (429 with Retry-After, 5xx, blobs cut half way, Range ignored, HEAD without
// Content-Type). Every request is recorded so tests can count traffic.
// Below it, small helpers the registry tests share (testClient, readAll...).
import {createHash, randomBytes} from 'node:crypto'
import {createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse} from 'node:http'
import type {AddressInfo} from 'node:net'
import type {Readable} from 'node:stream'
import {defaultRegistryConfig, type RegistryConfig} from '../../src/config/config.js'
import type {CredentialStore, Credentials} from '../../src/config/credentials.js'
import {parseManifestOrIndex} from '../../src/image/parse.js'
import type {ImageManifest} from '../../src/image/types.js'
import {parseReference, type Reference} from '../../src/reference/reference.js'
import {createRegistryClient, type RegistryClient, type RegistryClientOptions} from '../../src/registry/client.js'

/** How the proxy behaves; every field may be changed on `proxy.behaviour` at run time. */
export interface HubProxyBehaviour {
  /** `bearer`: token flow with a /token realm; `basic`: credentials on each request; `none` (default). */
  auth: 'none' | 'bearer' | 'basic'
  /** user -> password accepted by the token endpoint (Basic) or by Basic auth. */
  users: Record<string, string>
  /** Bearer: whether the token endpoint gives tokens without credentials (Docker Hub does for public images). */
  anonymousTokens: boolean
  /** Repositories that need a logged-in user even with Bearer (private ones). */
  privateRepositories: string[]
  /** `expires_in` sent with tokens, in seconds. */
  tokenLifetimeSeconds: number
  /** How long tokens are really accepted, in milliseconds (shorter than advertised: "expired early"). */
  tokenValidMilliseconds: number
  /** Field the token is sent in. */
  tokenField: 'token' | 'access_token' | 'both'
  /** Blob GETs answer 307 to the storage server (on 127.0.0.2). */
  redirectBlobs: boolean
  /** The storage server asks for its own Bearer token (realm on the storage host). */
  storageChallenge: boolean
  /** Forward requests without their Range header, as a server that ignores Range. */
  ignoreRange: boolean
  /** HEAD of manifests answers without Content-Type. */
  dropHeadContentType: boolean
  /** Content-Type put on manifest GET responses instead of the registry's (e.g. 'application/json', '' to drop). */
  manifestContentType?: string
}

/** A fault answered instead of forwarding, to the next `times` matching requests. */
export interface Fault {
  method?: string
  /** Matched against the path (no query). */
  path?: RegExp
  /** Which server: the registry front (default) or the storage server. */
  server?: 'registry' | 'storage'
  /** How many matching requests get it (default 1). */
  times?: number
  /** Answer with this status, headers and body... */
  status?: number
  headers?: Record<string, string>
  body?: string
  /** ...or forward, but cut the body off after half its bytes (blob downloads)... */
  cutHalfway?: boolean
  /** ...or close the connection without an answer (a connection reset). */
  reset?: boolean
}

/** One request the proxy saw. */
export interface RecordedRequest {
  server: 'registry' | 'storage'
  method: string
  /** Path without query. */
  path: string
  /** Whether it carried an Authorization header (its value is not kept). */
  authorized: boolean
  range?: string
}

export interface HubProxy {
  /** `127.0.0.1:PORT`: put it in references, or in config as a mirror (`http://HOST`). */
  host: string
  /** `127.0.0.2:PORT` of the storage server blob redirects point to. */
  storageHost: string
  behaviour: HubProxyBehaviour
  /** Every request so far, oldest first. */
  requests: RecordedRequest[]
  /** Requests matching a filter: method, path (RegExp or exact string), server. */
  count(filter?: {method?: string; path?: RegExp | string; server?: 'registry' | 'storage'}): number
  /** Answers the next matching request(s) with a fault. */
  inject(fault: Fault): void
  /** Forgets recorded requests and pending faults. */
  reset(): void
  stop(): Promise<void>
}

const SERVICE = 'hub-proxy'

/**
 * Starts the proxy in front of `upstream` (`127.0.0.1:PORT` of a docker-registry).
 * Rejects when 127.0.0.2 cannot be bound.
 */
export async function startHubProxy(upstream: string, behaviour: Partial<HubProxyBehaviour> = {}): Promise<HubProxy> {
  const state = new ProxyState(upstream, {
    auth: 'none',
    users: {},
    anonymousTokens: true,
    privateRepositories: [],
    tokenLifetimeSeconds: 300,
    tokenValidMilliseconds: 300_000,
    tokenField: 'both',
    redirectBlobs: false,
    storageChallenge: false,
    ignoreRange: false,
    dropHeadContentType: false,
    ...behaviour,
  })
  const registryServer = createServer((request, response) => void state.handleRegistry(request, response))
  const storageServer = createServer((request, response) => void state.handleStorage(request, response))
  state.host = await listen(registryServer, '127.0.0.1')
  state.storageHost = await listen(storageServer, '127.0.0.2')

  return {
    host: state.host,
    storageHost: state.storageHost,
    behaviour: state.behaviour,
    requests: state.requests,
    count: (filter = {}) => state.requests.filter((request) => matches(request, filter)).length,
    inject: (fault) => state.faults.push({times: 1, ...fault}),
    reset: () => {
      state.requests.length = 0
      state.faults.length = 0
    },
    stop: async () => {
      await Promise.all([close(registryServer), close(storageServer)])
    },
  }
}

function matches(request: RecordedRequest, filter: {method?: string; path?: RegExp | string; server?: string}): boolean {
  if (filter.method !== undefined && request.method !== filter.method) return false
  if (filter.server !== undefined && request.server !== filter.server) return false
  if (typeof filter.path === 'string' && request.path !== filter.path) return false
  if (filter.path instanceof RegExp && !filter.path.test(request.path)) return false
  return true
}

class ProxyState {
  host = ''
  storageHost = ''
  readonly requests: RecordedRequest[] = []
  readonly faults: Fault[] = []
  // token -> {expiry, scope}; registry and storage tokens are kept apart.
  private readonly tokens = new Map<string, {expiresAt: number; server: 'registry' | 'storage'; user?: string}>()

  constructor(
    private readonly upstream: string,
    readonly behaviour: HubProxyBehaviour,
  ) {}

  async handleRegistry(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', `http://${this.host}`)
    this.record('registry', request, url)
    const fault = this.takeFault('registry', request, url)
    if (fault !== undefined && !fault.cutHalfway) return answerFault(response, fault)
    if (url.pathname === '/token') return this.issueToken(request, response, url, 'registry')
    if (!this.authorizeRegistry(request, response, url)) return

    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[a-f0-9]{64})$/.exec(url.pathname)
    if (blob !== null && request.method === 'GET' && this.behaviour.redirectBlobs) {
      // A presigned-looking URL: its query must never show up in logs or errors.
      const location = `http://${this.storageHost}/storage/${blob[1]}/${blob[2]}?X-Amz-Signature=${randomBytes(8).toString('hex')}`
      response.writeHead(307, {location, 'content-length': '0'})
      return void response.end()
    }
    this.forward(request, response, url.pathname + url.search, {cutHalfway: fault?.cutHalfway === true, manifest: /\/manifests\//.test(url.pathname)})
  }

  async handleStorage(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = new URL(request.url ?? '/', `http://${this.storageHost}`)
    this.record('storage', request, url)
    if (url.pathname === '/token') return this.issueToken(request, response, url, 'storage')
    const fault = this.takeFault('storage', request, url)
    if (fault !== undefined && !fault.cutHalfway) return answerFault(response, fault)

    const header = request.headers.authorization
    const token = header?.startsWith('Bearer ') ? this.tokens.get(header.slice(7)) : undefined
    if (header !== undefined && !(this.behaviour.storageChallenge && token?.server === 'storage')) {
      // As S3 answers a presigned URL that also carries an Authorization header.
      response.writeHead(400, {'content-type': 'application/xml'})
      return void response.end('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed</Message></Error>')
    }
    if (this.behaviour.storageChallenge && (token === undefined || token.expiresAt < Date.now())) {
      response.writeHead(401, {'www-authenticate': `Bearer realm="http://${this.storageHost}/token",service="storage"`, 'content-type': 'text/plain'})
      return void response.end('storage wants its own token')
    }

    const blob = /^\/storage\/(.+)\/(sha256:[a-f0-9]{64})$/.exec(url.pathname)
    if (blob === null) {
      response.writeHead(404, {'content-type': 'text/plain'})
      return void response.end('no such object')
    }
    this.forward(request, response, `/v2/${blob[1]}/blobs/${blob[2]}`, {cutHalfway: fault?.cutHalfway === true, manifest: false})
  }

  private record(server: 'registry' | 'storage', request: IncomingMessage, url: URL): void {
    this.requests.push({
      server,
      method: request.method ?? 'GET',
      path: url.pathname,
      authorized: request.headers.authorization !== undefined,
      range: request.headers.range,
    })
  }

  private takeFault(server: 'registry' | 'storage', request: IncomingMessage, url: URL): Fault | undefined {
    const position = this.faults.findIndex(
      (fault) =>
        (fault.server ?? 'registry') === server &&
        (fault.method === undefined || fault.method === request.method) &&
        (fault.path === undefined || fault.path.test(url.pathname)),
    )
    if (position === -1) return undefined
    const fault = this.faults[position]
    fault.times = (fault.times ?? 1) - 1
    if (fault.times <= 0) this.faults.splice(position, 1)
    return fault
  }

  /** True when the request may go on; otherwise the 401 has been sent. */
  private authorizeRegistry(request: IncomingMessage, response: ServerResponse, url: URL): boolean {
    const repository = /^\/v2\/(.+)\/(?:manifests|blobs|tags)\//.exec(url.pathname)?.[1]
    const header = request.headers.authorization
    if (this.behaviour.auth === 'none') return true

    if (this.behaviour.auth === 'basic') {
      const user = header?.startsWith('Basic ') ? this.checkBasic(header) : undefined
      if (user !== undefined) return true
      response.writeHead(401, {'www-authenticate': `Basic realm="${SERVICE}"`, 'content-type': 'application/json'})
      response.end(JSON.stringify({errors: [{code: 'UNAUTHORIZED', message: 'authentication required'}]}))
      return false
    }

    const token = header?.startsWith('Bearer ') ? this.tokens.get(header.slice(7)) : undefined
    const valid = token !== undefined && token.server === 'registry' && token.expiresAt >= Date.now()
    const allowed = valid && (repository === undefined || !this.behaviour.privateRepositories.includes(repository) || token.user !== undefined)
    if (allowed) return true

    const scope = repository === undefined ? '' : `,scope="repository:${repository}:pull"`
    const error = header === undefined ? '' : valid ? ',error="insufficient_scope"' : ',error="invalid_token"'
    response.writeHead(401, {
      'www-authenticate': `Bearer realm="http://${this.host}/token",service="${SERVICE}"${scope}${error}`,
      'content-type': 'application/json',
    })
    response.end(JSON.stringify({errors: [{code: 'UNAUTHORIZED', message: 'authentication required'}]}))
    return false
  }

  private checkBasic(header: string): string | undefined {
    const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8')
    const colon = decoded.indexOf(':')
    const user = decoded.slice(0, colon)
    return colon !== -1 && this.behaviour.users[user] === decoded.slice(colon + 1) ? user : undefined
  }

  private issueToken(request: IncomingMessage, response: ServerResponse, url: URL, server: 'registry' | 'storage'): void {
    const header = request.headers.authorization
    const user = header?.startsWith('Basic ') ? this.checkBasic(header) : undefined
    if ((header !== undefined && user === undefined) || (server === 'registry' && user === undefined && !this.behaviour.anonymousTokens)) {
      response.writeHead(401, {'content-type': 'application/json'})
      return void response.end(JSON.stringify({details: 'incorrect username or password'}))
    }

    const token = randomBytes(16).toString('hex')
    this.tokens.set(token, {expiresAt: Date.now() + this.behaviour.tokenValidMilliseconds, server, user})
    const body: Record<string, unknown> = {expires_in: this.behaviour.tokenLifetimeSeconds, issued_at: new Date().toISOString()}
    if (this.behaviour.tokenField !== 'access_token') body.token = token
    if (this.behaviour.tokenField !== 'token') body.access_token = token
    void url
    response.writeHead(200, {'content-type': 'application/json'})
    response.end(JSON.stringify(body))
  }

  private forward(request: IncomingMessage, response: ServerResponse, path: string, options: {cutHalfway: boolean; manifest: boolean}): void {
    const headers = {...request.headers, host: this.upstream}
    delete headers.authorization
    if (this.behaviour.ignoreRange) delete headers.range

    const upstream = httpRequest({host: this.upstream.split(':')[0], port: Number(this.upstream.split(':')[1]), method: request.method, path, headers}, (reply) => {
      const replyHeaders = {...reply.headers}
      if (options.manifest && request.method === 'HEAD' && this.behaviour.dropHeadContentType) delete replyHeaders['content-type']
      if (options.manifest && request.method === 'GET' && this.behaviour.manifestContentType !== undefined) {
        if (this.behaviour.manifestContentType === '') delete replyHeaders['content-type']
        else replyHeaders['content-type'] = this.behaviour.manifestContentType
      }
      response.writeHead(reply.statusCode ?? 502, replyHeaders)
      if (options.cutHalfway) return cutHalfway(reply, response)
      reply.pipe(response)
    })
    upstream.on('error', (error) => {
      response.writeHead(502, {'content-type': 'text/plain'})
      response.end(`upstream failed: ${error.message}`)
    })
    request.pipe(upstream)
  }
}

function cutHalfway(reply: IncomingMessage, response: ServerResponse): void {
  const length = Number(reply.headers['content-length'])
  let remaining = Math.floor(length / 2)
  reply.on('data', (chunk: Buffer) => {
    if (remaining <= 0) return
    const part = chunk.subarray(0, remaining)
    remaining -= part.length
    response.write(part)
    if (remaining <= 0) {
      reply.destroy()
      // Give the written half time to leave before the connection is torn down.
      setTimeout(() => response.socket?.destroy(), 50)
    }
  })
}

function answerFault(response: ServerResponse, fault: Fault): void {
  if (fault.reset) return void response.socket?.resetAndDestroy()
  response.writeHead(fault.status ?? 500, {'content-type': 'text/plain', ...fault.headers})
  response.end(fault.body ?? '')
}

function listen(server: Server, address: string): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, address, () => resolve(`${address}:${(server.address() as AddressInfo).port}`))
  })
}

function close(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve) => server.close(() => resolve()))
}

// Helpers of the registry tests: clients that log into an array, readers.

/** A store holding fixed credentials by registry name. */
export function fixedCredentials(entries: Record<string, Credentials> = {}): CredentialStore {
  return {get: async (registry) => entries[registry]}
}

/** A client with no credentials and no config file unless given, logging into `log`. */
export function testClient(options: RegistryClientOptions & {logLines?: string[]; configPatch?: Partial<RegistryConfig>} = {}): RegistryClient {
  const config = {...defaultRegistryConfig(), certsDirectory: '/nonexistent', ...options.configPatch}
  return createRegistryClient({
    config,
    credentials: fixedCredentials(),
    environment: {},
    log: (line) => options.logLines?.push(line),
    ...options,
  })
}

/** All of a stream's bytes. */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

export function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`
}

/** The image manifest a single-platform reference names. */
export async function manifestOf(client: RegistryClient, reference: Reference): Promise<ImageManifest> {
  const response = await client.getManifest(reference)
  const parsed = parseManifestOrIndex(response.body, response.mediaType)
  if (parsed.kind !== 'manifest') throw new Error(`${reference.repository} is an index`)
  return parsed.manifest
}

/** Copies an image inside a registry under another name, with skopeo; `v2s2` writes Docker schema 2. */
export async function copyImage(host: string, from: string, to: string, options: {all?: boolean; format?: 'v2s2' | 'oci'} = {}): Promise<void> {
  const {execa} = await import('execa')
  await execa('skopeo', [
    'copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', '--dest-tls-verify=false',
    ...(options.all ? ['--all'] : []), ...(options.format ? ['--format', options.format] : []),
    `docker://${host}/${from}`, `docker://${host}/${to}`,
  ])
}

export function reference(text: string): Reference {
  return parseReference(text)
}
