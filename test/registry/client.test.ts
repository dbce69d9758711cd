// The registry client against a real docker-registry, directly and through the
// hub-proxy: manifests, blobs, errors.
import assert from 'node:assert/strict'
import {after, before, describe, it} from 'node:test'
import {MediaType} from '../../src/image/types.js'
import {RegistryError} from '../../src/registry/client.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'
import {copyImage, manifestOf, readAll, reference, sha256, startHubProxy, testClient, type HubProxy} from '../support/hub-proxy.js'

let registry: RunningRegistry
let proxy: HubProxy

before(async () => {
  registry = await startRegistry()
  await seedImages(registry.host, ['busybox', 'multiarch'])
  proxy = await startHubProxy(registry.host)
})

after(async () => {
  await proxy?.stop()
  await registry?.remove()
})

describe('manifests', () => {
  it('gets a manifest by tag with its digest and media type, and HEAD agrees', async () => {
    const client = testClient()
    const busybox = reference(`${registry.host}/busybox:latest`)
    const response = await client.getManifest(busybox)
    assert.equal(response.mediaType, MediaType.ociManifest)
    assert.equal(response.digest, sha256(response.body))

    const head = await client.headManifest(busybox)
    assert.equal(head?.digest, response.digest)
    assert.equal(head?.mediaType, MediaType.ociManifest)
    assert.equal(head?.size, response.body.length)
  })

  it('gets an OCI index, which the registry serves only when Accept lists it', async () => {
    const response = await testClient().getManifest(reference(`${registry.host}/multiarch:latest`))
    assert.equal(response.mediaType, MediaType.ociIndex)
  })

  it('gets a Docker schema 2 manifest with its Docker media type', async () => {
    await copyImage(registry.host, 'busybox:latest', 'busybox-docker:latest', {format: 'v2s2'})
    const response = await testClient().getManifest(reference(`${registry.host}/busybox-docker:latest`))
    assert.equal(response.mediaType, MediaType.dockerManifest)
    assert.equal(JSON.parse(response.body.toString()).config.mediaType, MediaType.dockerConfig)
  })

  it('pulls by digest and verifies the bytes against it', async () => {
    const client = testClient()
    const byTag = await client.getManifest(reference(`${registry.host}/busybox:latest`))
    const byDigest = await client.getManifest(reference(`${registry.host}/busybox@${byTag.digest}`))
    assert.deepEqual(byDigest.body, byTag.body)

    const other = `sha256:${'0'.repeat(64)}`
    proxy.inject({path: /\/manifests\//, status: 200, headers: {'content-type': MediaType.ociManifest}, body: byTag.body.toString()})
    await assert.rejects(testClient().getManifest(reference(`${proxy.host}/busybox@${other}`)), {code: 'DIGEST_MISMATCH'})
  })

  it('takes the media type from the body when Content-Type is generic, and from the structure when both are missing', async () => {
    const {body} = await testClient().getManifest(reference(`${registry.host}/multiarch:latest`))
    const withoutMediaType = JSON.parse(body.toString()) as Record<string, unknown>
    delete withoutMediaType.mediaType

    const cases = [
      {name: 'generic type, body mediaType', contentType: 'application/json', body: body.toString(), expected: MediaType.ociIndex},
      {name: 'no type, structure', contentType: '', body: JSON.stringify(withoutMediaType), expected: MediaType.ociIndex},
    ]
    for (const testCase of cases) {
      proxy.inject({path: /\/manifests\//, status: 200, headers: {'content-type': testCase.contentType}, body: testCase.body})
      const response = await testClient().getManifest(reference(`${proxy.host}/multiarch:latest`))
      assert.equal(response.mediaType, testCase.expected, testCase.name)
    }
  })

  it('accepts a HEAD without Content-Type', async () => {
    proxy.behaviour.dropHeadContentType = true
    try {
      const head = await testClient().headManifest(reference(`${proxy.host}/busybox:latest`))
      assert.match(head?.digest ?? '', /^sha256:/)
      assert.equal(head?.mediaType, undefined)
    } finally {
      proxy.behaviour.dropHeadContentType = false
    }
  })

  it('says "manifest unknown" naming the reference for a missing tag', async () => {
    await assert.rejects(testClient().getManifest(reference(`${registry.host}/busybox:nope`)), (error: RegistryError) => {
      assert.ok(error instanceof RegistryError)
      assert.equal(error.code, 'NOT_FOUND')
      assert.equal(error.status, 404)
      assert.deepEqual(error.registryCodes, ['MANIFEST_UNKNOWN'])
      assert.equal(error.message, `manifest unknown: ${registry.host}/busybox:nope`)
      return true
    })
  })

  it('rejects schema 1 manifests with a clear error', async () => {
    const body = JSON.stringify({schemaVersion: 1, name: 'busybox', tag: 'latest', fsLayers: [], history: []})
    for (const contentType of [MediaType.dockerSchema1Signed, 'application/json']) {
      proxy.inject({path: /\/manifests\//, status: 200, headers: {'content-type': contentType}, body})
      await assert.rejects(testClient().getManifest(reference(`${proxy.host}/busybox:old`)), {
        code: 'UNSUPPORTED',
        message: /schema 1 images are not supported/,
      })
    }
  })

  it('reads manifests with a size cap', async () => {
    proxy.inject({path: /\/manifests\//, status: 200, headers: {'content-type': MediaType.ociManifest}, body: ' '.repeat(5 * 1024 * 1024)})
    await assert.rejects(testClient().getManifest(reference(`${proxy.host}/busybox:huge`)), {message: /larger than/})
  })
})

describe('blobs', () => {
  it('streams a blob whose bytes hash to its digest', async () => {
    const client = testClient()
    const busybox = reference(`${registry.host}/busybox:latest`)
    const manifest = await manifestOf(client, busybox)
    for (const descriptor of [manifest.config, ...manifest.layers]) {
      const bytes = await readAll(await client.fetchBlob(busybox, descriptor))
      assert.equal(sha256(bytes), descriptor.digest)
    }
  })

  it('streams from an offset', async () => {
    const client = testClient()
    const busybox = reference(`${registry.host}/busybox:latest`)
    const layer = (await manifestOf(client, busybox)).layers[0]
    const whole = await readAll(await client.fetchBlob(busybox, layer))
    const tail = await readAll(await client.fetchBlob(busybox, layer, {offset: 1000}))
    assert.deepEqual(tail, whole.subarray(1000))
  })

  it('streams nothing, without a request, from an offset at the end', async () => {
    const client = testClient()
    const busybox = reference(`${proxy.host}/busybox:latest`)
    const layer = (await manifestOf(client, busybox)).layers[0]
    proxy.reset()
    assert.equal((await readAll(await client.fetchBlob(busybox, layer, {offset: layer.size}))).length, 0)
    assert.equal(proxy.count(), 0)
  })

  it('says "blob unknown" for a missing blob', async () => {
    const descriptor = {mediaType: MediaType.ociLayerGzip, digest: `sha256:${'1'.repeat(64)}`, size: 10}
    await assert.rejects(testClient().fetchBlob(reference(`${registry.host}/busybox:latest`), descriptor), {code: 'NOT_FOUND', message: /blob unknown/})
  })
})

describe('errors', () => {
  it('names the host and hints to check it is up when the connection is refused', async () => {
    const closed = await freePort()
    await assert.rejects(testClient({retryLimit: 0}).getManifest(reference(`127.0.0.1:${closed}/busybox`)), (error: RegistryError) => {
      assert.equal(error.code, 'UNAVAILABLE')
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${closed}`))
      assert.match(error.hint ?? '', /up/)
      assert.equal(error.temporary, true)
      return true
    })
  })

  it('reports status and an excerpt of text, XML and JSON error bodies', async () => {
    const cases = [
      {name: 'text', type: 'text/plain', body: 'the backend is on fire', expected: /status 500: the backend is on fire/},
      {name: 'XML', type: 'application/xml', body: '<Error><Code>InternalError</Code></Error>', expected: /<Error><Code>InternalError/},
      {name: 'JSON', type: 'application/json', body: '{"errors":[{"code":"UNKNOWN","message":"boom"}]}', expected: /UNKNOWN: boom/},
      {name: 'truncated JSON', type: 'application/json', body: '{"errors":[', expected: /status 500: \{"errors":\[/},
    ]
    for (const testCase of cases) {
      proxy.inject({path: /\/manifests\//, status: 500, headers: {'content-type': testCase.type}, body: testCase.body})
      await assert.rejects(testClient({retryLimit: 0}).getManifest(reference(`${proxy.host}/busybox:latest`)), (error: RegistryError) => {
        assert.equal(error.status, 500, testCase.name)
        assert.equal(error.temporary, true)
        assert.match(error.message, testCase.expected, testCase.name)
        return true
      })
    }
  })
})

async function freePort(): Promise<number> {
  const {createServer} = await import('node:net')
  return new Promise((resolve) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const {port} = server.address() as {port: number}
      server.close(() => resolve(port))
    })
  })
}
