// Transport behaviour through the hub-proxy: redirects to blob storage, 429
// with Retry-After, downloads cut half way (with and without Range support),
// foreign layers, Docker Hub mirrors.
import assert from 'node:assert/strict'
import {createServer} from 'node:http'
import type {AddressInfo} from 'node:net'
import {after, before, beforeEach, describe, it} from 'node:test'
import {MediaType} from '../../src/image/types.js'
import {copyImage, manifestOf, readAll, reference, sha256, startHubProxy, testClient, type HubProxy} from '../support/hub-proxy.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

let registry: RunningRegistry
let proxy: HubProxy

before(async () => {
  registry = await startRegistry()
  await seedImages(registry.host, ['busybox'])
  await copyImage(registry.host, 'busybox:latest', 'library/busybox:latest')
  proxy = await startHubProxy(registry.host)
})

after(async () => {
  await proxy?.stop()
  await registry?.remove()
})

beforeEach(() => {
  proxy.reset()
  Object.assign(proxy.behaviour, {auth: 'bearer', redirectBlobs: false, storageChallenge: false, ignoreRange: false})
})

async function busyboxLayer(client = testClient()) {
  const busybox = reference(`${proxy.host}/busybox:latest`)
  const manifest = await manifestOf(client, busybox)
  // The largest layer, so that half of it is many chunks.
  const layer = [...manifest.layers].sort((left, right) => right.size - left.size)[0]
  return {client, busybox, layer}
}

describe('redirects to blob storage', () => {
  it('follows a 307 to another host without the Authorization header', async () => {
    proxy.behaviour.redirectBlobs = true
    const {client, busybox, layer} = await busyboxLayer()
    const bytes = await readAll(await client.fetchBlob(busybox, layer))

    assert.equal(sha256(bytes), layer.digest)
    assert.equal(proxy.count({server: 'storage'}), 1)
    assert.equal(proxy.requests.find((request) => request.server === 'storage')?.authorized, false)
  })

  it("authenticates at a storage host that challenges on its own, with its own token", async () => {
    Object.assign(proxy.behaviour, {redirectBlobs: true, storageChallenge: true})
    const {client, busybox, layer} = await busyboxLayer()
    const bytes = await readAll(await client.fetchBlob(busybox, layer))

    assert.equal(sha256(bytes), layer.digest)
    assert.equal(proxy.count({server: 'storage', path: '/token'}), 1)
    // The first storage request carries nothing; the second the storage token (the proxy answers 400 to any other).
    assert.deepEqual(proxy.requests.filter((request) => request.server === 'storage' && request.path !== '/token').map((request) => request.authorized), [false, true])
  })
})

describe('retries', () => {
  it('waits for Retry-After on 429 with a text body, then succeeds', async () => {
    const {client, busybox} = await busyboxLayer()
    proxy.reset()
    proxy.inject({path: /\/manifests\//, status: 429, headers: {'retry-after': '1'}, body: 'slow down, please'})
    const logLines: string[] = []
    const response = await testClient({logLines}).getManifest(busybox)
    void client

    assert.match(response.digest, /^sha256:/)
    assert.ok(logLines.some((line) => /retrying GET .* 429/.test(line)), logLines.join('\n'))
  })

  it('waits for Retry-After on 429 when opening a blob', async () => {
    const {client, busybox, layer} = await busyboxLayer()
    proxy.reset()
    proxy.inject({path: /\/blobs\//, status: 429, headers: {'retry-after': '1'}, body: 'too many downloads'})
    const bytes = await readAll(await client.fetchBlob(busybox, layer))
    assert.equal(sha256(bytes), layer.digest)
    assert.equal(proxy.count({path: /\/blobs\//}), 2)
  })

  it('retries a request whose connection was reset', async () => {
    proxy.inject({path: /\/manifests\//, reset: true})
    const response = await testClient().getManifest(reference(`${proxy.host}/busybox:latest`))
    assert.match(response.digest, /^sha256:/)
    assert.equal(proxy.count({path: /\/manifests\//, method: 'GET'}), 3, 'the reset, the 401, the answer')
  })

  it('retries 5xx with backoff and gives up after the bound, reporting the last status', async () => {
    const busybox = reference(`${proxy.host}/busybox:latest`)
    proxy.inject({path: /\/manifests\//, status: 503, body: 'unavailable', times: 10})
    await assert.rejects(testClient({retryLimit: 1}).getManifest(busybox), {code: 'UNAVAILABLE', status: 503, temporary: true})
    // The first try plus one retry.
    assert.equal(proxy.count({path: /\/manifests\//}), 2)
  })
})

describe('cut downloads', () => {
  it('resumes a blob cut half way with a Range request from the bytes delivered', async () => {
    const {client, busybox, layer} = await busyboxLayer()
    proxy.reset()
    proxy.inject({path: /\/blobs\//, method: 'GET', cutHalfway: true})
    const bytes = await readAll(await client.fetchBlob(busybox, layer))

    assert.equal(bytes.length, layer.size)
    assert.equal(sha256(bytes), layer.digest)
    const ranges = proxy.requests.filter((request) => /\/blobs\//.test(request.path)).map((request) => request.range)
    assert.equal(ranges.length, 2)
    assert.equal(ranges[0], undefined)
    assert.match(ranges[1] ?? '', /^bytes=\d+-$/)
    assert.ok(Number(/\d+/.exec(ranges[1]!)![0]) > 0)
  })

  it('restarts and skips what was delivered when the server ignores Range', async () => {
    proxy.behaviour.ignoreRange = true
    const {client, busybox, layer} = await busyboxLayer()
    proxy.reset()
    proxy.inject({path: /\/blobs\//, method: 'GET', cutHalfway: true})
    const bytes = await readAll(await client.fetchBlob(busybox, layer))

    assert.equal(bytes.length, layer.size)
    assert.equal(sha256(bytes), layer.digest)
  })

  it('resumes a cut download from blob storage too', async () => {
    proxy.behaviour.redirectBlobs = true
    const {client, busybox, layer} = await busyboxLayer()
    proxy.reset()
    proxy.inject({server: 'storage', cutHalfway: true})
    const bytes = await readAll(await client.fetchBlob(busybox, layer))
    assert.equal(sha256(bytes), layer.digest)
    assert.equal(proxy.count({server: 'storage'}), 2)
  })
})

describe('foreign layers', () => {
  it('fetches a non-distributable layer from its URLs', async () => {
    const {client, busybox, layer} = await busyboxLayer()
    const bytes = await readAll(await client.fetchBlob(busybox, layer))
    const server = await serveBytes(bytes)
    try {
      const foreign = {...layer, mediaType: MediaType.dockerForeignLayerGzip, urls: [`http://127.0.0.1:${server.port}/missing`, `http://127.0.0.1:${server.port}/layer`]}
      const fetched = await readAll(await client.fetchBlob(reference(`${proxy.host}/nothing-here:latest`), foreign))
      assert.equal(sha256(fetched), layer.digest)
    } finally {
      await server.close()
    }
  })

  it('gives a clear error when no URL and not the registry has it', async () => {
    const foreign = {mediaType: MediaType.dockerForeignLayerGzip, digest: `sha256:${'2'.repeat(64)}`, size: 3, urls: ['http://127.0.0.1:1/layer']}
    await assert.rejects(testClient({retryLimit: 0}).fetchBlob(reference(`${proxy.host}/busybox:latest`), foreign), {
      message: new RegExp(`foreign layer sha256:2{64} could not be fetched from its URLs`),
    })
  })
})

describe('Docker Hub mirrors', () => {
  it('pulls docker.io images through the configured mirror first', async () => {
    const hub = await startHubProxy(registry.host)
    try {
      const client = testClient({configPatch: {registryMirrors: [`http://${proxy.host}`], dockerHubEndpoint: `http://${hub.host}`}})
      const busybox = reference('busybox')
      const layer = (await manifestOf(client, busybox)).layers[0]
      assert.equal(sha256(await readAll(await client.fetchBlob(busybox, layer))), layer.digest)
      assert.equal(proxy.count({path: '/v2/library/busybox/manifests/latest'}), 2)
      assert.equal(hub.count(), 0)
    } finally {
      await hub.stop()
    }
  })

  it('falls back to Docker Hub when the mirror fails', async () => {
    const hub = await startHubProxy(registry.host, {auth: 'bearer'})
    try {
      const logLines: string[] = []
      const client = testClient({logLines, retryLimit: 0, configPatch: {registryMirrors: ['http://127.0.0.1:1'], dockerHubEndpoint: `http://${hub.host}`}})
      const response = await client.getManifest(reference('docker.io/library/busybox:latest'))
      assert.match(response.digest, /^sha256:/)
      assert.ok(hub.count({path: '/v2/library/busybox/manifests/latest'}) >= 1)
      assert.ok(logLines.some((line) => /mirror 127\.0\.0\.1:1 failed/.test(line)))
    } finally {
      await hub.stop()
    }
  })
})

async function serveBytes(bytes: Buffer): Promise<{port: number; close: () => Promise<void>}> {
  const server = createServer((request, response) => {
    if (request.url !== '/layer' || request.headers.authorization !== undefined) {
      response.writeHead(404)
      return void response.end('not here')
    }
    response.writeHead(200, {'content-length': String(bytes.length)})
    response.end(bytes)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  }
}
