// Reaching registries that are not on loopback: through HTTP_PROXY and
// HTTPS_PROXY (a small CONNECT proxy here, which alone can resolve the
// made-up host registry.test), NO_PROXY, insecure registries over plain HTTP,
// and HTTPS with a per-registry CA from certs.d.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {createServer as createHttpServer, request as httpRequest, type Server} from 'node:http'
import {createServer as createHttpsServer} from 'node:https'
import {connect, type AddressInfo} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {promisify} from 'node:util'
import {after, before, describe, it} from 'node:test'
import {configFilePath, loadRegistryConfig, parseRegistryConfig} from '../../src/config/config.js'
import type {RegistryError} from '../../src/registry/client.js'
import {proxyFor} from '../../src/registry/transport.js'
import {manifestOf, readAll, reference, sha256, testClient} from '../support/hub-proxy.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

let registry: RunningRegistry
let directory: string
let proxy: {port: number; connects: string[]; server: Server}
let tls: {port: number; server: Server}

before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'mydocker-network-'))
  registry = await startRegistry()
  await seedImages(registry.host, ['busybox'])
  proxy = await startConnectProxy()
  tls = await startTlsFront(registry.port, await makeCertificates(directory))
})

after(async () => {
  proxy?.server.close()
  tls?.server.close()
  await registry?.remove()
  await rm(directory, {recursive: true, force: true})
})

describe('proxies', () => {
  it('reaches an insecure registry through HTTP_PROXY with a CONNECT tunnel', async () => {
    const host = `registry.test:${registry.port}`
    const client = testClient({configPatch: {insecureRegistries: [host]}, environment: {HTTP_PROXY: `http://127.0.0.1:${proxy.port}`}})
    const busybox = reference(`${host}/busybox:latest`)
    const layer = (await manifestOf(client, busybox)).layers[0]
    assert.equal(sha256(await readAll(await client.fetchBlob(busybox, layer))), layer.digest)
    assert.ok(proxy.connects.includes(host), proxy.connects.join(', '))
  })

  it('goes direct for hosts in NO_PROXY (and registry.test cannot be resolved without the proxy)', async () => {
    const host = `registry.test:${registry.port}`
    const client = testClient({retryLimit: 0, configPatch: {insecureRegistries: ['registry.test']}, environment: {http_proxy: `127.0.0.1:${proxy.port}`, NO_PROXY: 'localhost,.test'}})
    await assert.rejects(client.getManifest(reference(`${host}/busybox:latest`)), {code: 'UNAVAILABLE', message: /cannot resolve registry host registry\.test/})
  })

  it('chooses the proxy by scheme and never proxies loopback', () => {
    const environment = {HTTPS_PROXY: 'http://secure:1', HTTP_PROXY: 'http://plain:2', NO_PROXY: 'skip.example:443,*.corp'}
    const cases = [
      {url: 'https://ghcr.io/v2/', expected: 'http://secure:1'},
      {url: 'http://insecure.example/v2/', expected: 'http://plain:2'},
      {url: 'https://skip.example/v2/', expected: undefined},
      {url: 'https://skip.example:8443/v2/', expected: 'http://secure:1'},
      {url: 'https://a.b.corp/v2/', expected: undefined},
      {url: 'http://127.0.0.1:5000/v2/', expected: undefined},
      {url: 'http://localhost:5000/v2/', expected: undefined},
    ]
    for (const testCase of cases) assert.equal(proxyFor(new URL(testCase.url), environment), testCase.expected, testCase.url)
  })
})

describe('HTTPS with a registry CA', () => {
  it('trusts the CA in certs.d/HOST:PORT/ca.crt, through HTTPS_PROXY', async () => {
    const host = `registry.test:${tls.port}`
    const certsDirectory = join(directory, 'certs.d')
    await mkdir(join(certsDirectory, host), {recursive: true})
    await writeFile(join(certsDirectory, host, 'ca.crt'), await readFile(join(directory, 'ca.crt')))

    const client = testClient({configPatch: {certsDirectory}, environment: {HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`}})
    const busybox = reference(`${host}/busybox:latest`)
    const layer = (await manifestOf(client, busybox)).layers[0]
    assert.equal(sha256(await readAll(await client.fetchBlob(busybox, layer))), layer.digest)
  })

  it('speaks HTTPS without checking the certificate to an insecure registry that has HTTPS', async () => {
    const host = `registry.test:${tls.port}`
    const logLines: string[] = []
    const client = testClient({logLines, configPatch: {insecureRegistries: [host]}, environment: {HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`}})
    const response = await client.getManifest(reference(`${host}/busybox:latest`))
    assert.match(response.digest, /^sha256:/)
    assert.ok(!logLines.some((line) => /plain HTTP/.test(line)), logLines.join('\n'))
  })

  it('falls back to plain HTTP for an insecure registry without HTTPS, and remembers it', async () => {
    const host = `registry.test:${registry.port}`
    const logLines: string[] = []
    const environment = {HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`, HTTP_PROXY: `http://127.0.0.1:${proxy.port}`}
    const client = testClient({logLines, configPatch: {insecureRegistries: ['registry.test']}, environment})
    await client.getManifest(reference(`${host}/busybox:latest`))
    await client.getManifest(reference(`${host}/busybox:latest`))
    assert.equal(logLines.filter((line) => /using plain HTTP/.test(line)).length, 1, logLines.join('\n'))
  })

  it('refuses a certificate it cannot verify, hinting at certs.d', async () => {
    const host = `registry.test:${tls.port}`
    const client = testClient({environment: {HTTPS_PROXY: `http://127.0.0.1:${proxy.port}`}})
    await assert.rejects(client.getManifest(reference(`${host}/busybox:latest`)), (error: RegistryError) => {
      assert.equal(error.code, 'UNAVAILABLE')
      assert.match(error.message, /TLS connection to registry\.test/)
      assert.match(error.hint ?? '', /certs\.d/)
      return true
    })
  })
})

describe('the configuration file', () => {
  it('is found at MYDOCKER_CONFIG, /etc/mydocker for root, XDG_CONFIG_HOME otherwise', () => {
    assert.equal(configFilePath({MYDOCKER_CONFIG: '/x.json'}, 1000), '/x.json')
    assert.equal(configFilePath({}, 0), '/etc/mydocker/config.json')
    assert.equal(configFilePath({XDG_CONFIG_HOME: '/home/a/.cfg'}, 1000), '/home/a/.cfg/mydocker/config.json')
    assert.equal(configFilePath({HOME: '/home/a'}, 1000), '/home/a/.config/mydocker/config.json')
  })

  it('reads insecureRegistries and registryMirrors, and a missing file as empty', async () => {
    const path = join(directory, 'config.json')
    await writeFile(path, JSON.stringify({insecureRegistries: ['myreg:5000'], registryMirrors: ['https://mirror.example'], other: 1}))
    const config = await loadRegistryConfig(path)
    assert.deepEqual(config.insecureRegistries, ['myreg:5000'])
    assert.deepEqual(config.registryMirrors, ['https://mirror.example'])
    assert.deepEqual((await loadRegistryConfig(join(directory, 'absent.json'))).insecureRegistries, [])
  })

  it('names the file and the key when the file is malformed', () => {
    assert.throws(() => parseRegistryConfig('{', '/etc/mydocker/config.json'), {code: 'INVALID_ARGUMENT', message: /\/etc\/mydocker\/config\.json is not valid JSON/})
    assert.throws(() => parseRegistryConfig('{"insecureRegistries": "a"}', '/c.json'), {message: /"insecureRegistries" must be an array of strings/})
  })
})

/** A CONNECT proxy that resolves registry.test to 127.0.0.1 and records each tunnel. */
async function startConnectProxy(): Promise<{port: number; connects: string[]; server: Server}> {
  const connects: string[] = []
  const server = createHttpServer((_request, response) => {
    response.writeHead(405)
    response.end('CONNECT only')
  })
  server.on('connect', (request, client, head) => {
    const target = request.url ?? ''
    connects.push(target)
    const [hostname, port] = target.split(':')
    const upstream = connect(Number(port), hostname === 'registry.test' ? '127.0.0.1' : hostname, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n')
      upstream.write(head)
      upstream.pipe(client)
      client.pipe(upstream)
    })
    upstream.on('error', () => client.destroy())
    client.on('error', () => upstream.destroy())
  })
  const port = await listen(server)
  return {port, connects, server}
}

/** An HTTPS server for registry.test that passes requests on to the registry. */
async function startTlsFront(registryPort: number, certificates: {key: string; cert: string}): Promise<{port: number; server: Server}> {
  const server = createHttpsServer(certificates, (request, response) => {
    const upstream = httpRequest({host: '127.0.0.1', port: registryPort, method: request.method, path: request.url, headers: request.headers}, (reply) => {
      response.writeHead(reply.statusCode ?? 502, reply.headers)
      reply.pipe(response)
    })
    request.pipe(upstream)
  })
  return {port: await listen(server as unknown as Server), server: server as unknown as Server}
}

async function makeCertificates(into: string): Promise<{key: string; cert: string}> {
  const run = promisify(execFile)
  const file = (name: string) => join(into, name)
  const curve = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await run('openssl', ['req', '-x509', ...curve, '-keyout', file('ca.key'), '-out', file('ca.crt'), '-days', '2', '-subj', '/CN=mydocker test CA'])
  await run('openssl', ['req', ...curve, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=registry.test'])
  await writeFile(file('server.ext'), 'subjectAltName=DNS:registry.test\n')
  await run('openssl', ['x509', '-req', '-in', file('server.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('server.crt'), '-days', '2', '-extfile', file('server.ext')])
  return {key: await readFile(file('server.key'), 'utf8'), cert: await readFile(file('server.crt'), 'utf8')}
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)))
}
