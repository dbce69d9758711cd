// Authentication against the hub-proxy in front of a real registry: Docker
// Hub's Bearer token flow, tokens that expire, Basic as ECR asks, and the
// promise that secrets never reach logs or errors.
import assert from 'node:assert/strict'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, beforeEach, describe, it} from 'node:test'
import {RegistryError} from '../../src/registry/client.js'
import {fixedCredentials, manifestOf, readAll, reference, sha256, startHubProxy, testClient, type HubProxy} from '../support/hub-proxy.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

let registry: RunningRegistry
let proxy: HubProxy
const password = 'hunter2-secret-password'

before(async () => {
  registry = await startRegistry()
  await seedImages(registry.host, ['busybox'])
  proxy = await startHubProxy(registry.host, {users: {alice: password}})
})

after(async () => {
  await proxy?.stop()
  await registry?.remove()
})

beforeEach(() => {
  proxy.reset()
  Object.assign(proxy.behaviour, {
    auth: 'bearer',
    anonymousTokens: true,
    privateRepositories: [],
    tokenLifetimeSeconds: 300,
    tokenValidMilliseconds: 300_000,
    tokenField: 'both',
    redirectBlobs: false,
    storageChallenge: false,
  })
})

describe('Bearer tokens', () => {
  it('fetches an anonymous token for the scope asked and caches it per registry and scope', async () => {
    const client = testClient()
    const busybox = reference(`${proxy.host}/busybox:latest`)
    await client.getManifest(busybox)
    await client.headManifest(busybox)
    await client.getManifest(busybox)

    assert.equal(proxy.count({path: '/token'}), 1)
    // One 401 to learn the challenge, then three authorized requests.
    assert.equal(proxy.count({path: /\/manifests\//, }), 4)
    assert.equal(proxy.count({path: /\/manifests\//}) - proxy.requests.filter((request) => request.authorized && /manifests/.test(request.path)).length, 1)
  })

  it('shares one token request among concurrent requests', async () => {
    const client = testClient()
    const busybox = reference(`${proxy.host}/busybox:latest`)
    const manifest = await manifestOf(client, busybox)
    proxy.reset()
    const fresh = testClient()
    await Promise.all([manifest.config, ...manifest.layers].map(async (descriptor) => readAll(await fresh.fetchBlob(busybox, descriptor))))
    assert.equal(proxy.count({path: '/token'}), 1)
  })

  it('accepts a token sent as access_token only, and one sent as token only', async () => {
    for (const field of ['access_token', 'token'] as const) {
      proxy.behaviour.tokenField = field
      const response = await testClient().getManifest(reference(`${proxy.host}/busybox:latest`))
      assert.match(response.digest, /^sha256:/, field)
    }
  })

  it('sends the user credentials to the token realm as Basic', async () => {
    proxy.behaviour.privateRepositories = ['busybox']
    const client = testClient({credentials: fixedCredentials({[proxy.host]: {username: 'alice', password}})})
    const response = await client.getManifest(reference(`${proxy.host}/busybox:latest`))
    assert.match(response.digest, /^sha256:/)
    assert.equal(proxy.requests.find((request) => request.path === '/token')?.authorized, true)
  })

  it('honours expires_in: an expired token is replaced before it is sent', async () => {
    proxy.behaviour.tokenLifetimeSeconds = 1
    const client = testClient()
    const busybox = reference(`${proxy.host}/busybox:latest`)
    await client.getManifest(busybox)
    await sleep(1100)
    proxy.reset()
    await client.getManifest(busybox)

    assert.equal(proxy.count({path: '/token'}), 1)
    assert.equal(proxy.count({path: /\/manifests\//}), 1, 'no 401 round trip with a fresh token')
  })

  it('gets a new token and retries once when a cached token is refused early (invalid_token)', async () => {
    proxy.behaviour.tokenValidMilliseconds = 200
    const client = testClient()
    const busybox = reference(`${proxy.host}/busybox:latest`)
    const layer = (await manifestOf(client, busybox)).layers[0]
    await sleep(300)

    proxy.reset()
    const bytes = await readAll(await client.fetchBlob(busybox, layer))
    assert.equal(sha256(bytes), layer.digest)
    assert.equal(proxy.count({path: '/token'}), 1)
    assert.equal(proxy.count({path: /\/blobs\//}), 2)
  })

  it('says "authentication required for HOST" with exit code 125 for a private repository without credentials', async () => {
    proxy.behaviour.privateRepositories = ['busybox']
    await assert.rejects(testClient().getManifest(reference(`${proxy.host}/busybox:latest`)), (error: RegistryError) => {
      assert.equal(error.code, 'UNAUTHORIZED')
      assert.equal(error.message, `authentication required for ${proxy.host}`)
      assert.equal(error.exitCode, 125)
      assert.match(error.hint ?? '', /mydocker login/)
      return true
    })
  })

  it('says "authentication required" when the token server gives no anonymous tokens', async () => {
    proxy.behaviour.anonymousTokens = false
    await assert.rejects(testClient().getManifest(reference(`${proxy.host}/busybox:latest`)), {
      message: `authentication required for ${proxy.host}`,
    })
  })

  it('reads token responses with a size cap', async () => {
    proxy.inject({path: /^\/token$/, status: 200, headers: {'content-type': 'application/json'}, body: `{"token": "${'x'.repeat(2 * 1024 * 1024)}"}`})
    await assert.rejects(testClient().getManifest(reference(`${proxy.host}/busybox:latest`)), {message: /larger than/})
  })

  it('says the credentials were rejected when the token server refuses them', async () => {
    const client = testClient({credentials: fixedCredentials({[proxy.host]: {username: 'alice', password: 'wrong'}})})
    await assert.rejects(client.getManifest(reference(`${proxy.host}/busybox:latest`)), {code: 'UNAUTHORIZED', message: /rejected/})
  })
})

describe('Basic authentication', () => {
  it('sends the credentials directly, with no token request', async () => {
    proxy.behaviour.auth = 'basic'
    const client = testClient({credentials: fixedCredentials({[proxy.host]: {username: 'alice', password}})})
    const busybox = reference(`${proxy.host}/busybox:latest`)
    const layer = (await manifestOf(client, busybox)).layers[0]
    assert.equal(sha256(await readAll(await client.fetchBlob(busybox, layer))), layer.digest)
    assert.equal(proxy.count({path: '/token'}), 0)
  })

  it('says "authentication required for HOST" without credentials', async () => {
    proxy.behaviour.auth = 'basic'
    await assert.rejects(testClient().getManifest(reference(`${proxy.host}/busybox:latest`)), {
      code: 'UNAUTHORIZED',
      message: `authentication required for ${proxy.host}`,
    })
  })
})

describe('secrets', () => {
  it('never puts tokens, passwords or Authorization headers in logs or errors', async () => {
    proxy.behaviour.redirectBlobs = true
    const logLines: string[] = []
    const client = testClient({logLines, credentials: fixedCredentials({[proxy.host]: {username: 'alice', password}})})
    const busybox = reference(`${proxy.host}/busybox:latest`)
    const layer = (await manifestOf(client, busybox)).layers[0]
    await readAll(await client.fetchBlob(busybox, layer))
    proxy.behaviour.privateRepositories = ['busybox']
    const failure = await testClient({logLines}).getManifest(busybox).catch((error: Error) => error)

    const text = [...logLines, String(failure), JSON.stringify(failure)].join('\n')
    assert.ok(logLines.length > 0)
    assert.doesNotMatch(text, new RegExp(password))
    assert.doesNotMatch(text, /Bearer [a-f0-9]{8}|Basic [A-Za-z0-9+/=]{8}|X-Amz-Signature=[a-f0-9]/i)
  })
})
