// What `mydocker pull` and `run` send over the wire, counted by a Docker Hub-like
// proxy (Bearer tokens, blobs redirected to storage) in front of a real registry.
import assert from 'node:assert/strict'
import {rm} from 'node:fs/promises'
import {after, before, beforeEach, describe, it} from 'node:test'
import {mydocker, temporaryStore} from '../support/cli.js'
import {startHubProxy, type HubProxy} from '../support/hub-proxy.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

describe('pull and run traffic through a Docker Hub-like registry', {skip: process.getuid?.() !== 0 && 'needs root'}, () => {
  let registry: RunningRegistry
  let proxy: HubProxy
  let root: string
  let image: string
  let multiarch: string

  before(async () => {
    registry = await startRegistry()
    const seeded = await seedImages(registry.host, ['busybox', 'multiarch'])
    proxy = await startHubProxy(registry.host, {auth: 'bearer', anonymousTokens: true, redirectBlobs: true})
    image = seeded.busybox.replace(registry.host, proxy.host)
    multiarch = seeded.multiarch.replace(registry.host, proxy.host)
    root = await temporaryStore()
  })

  beforeEach(() => proxy.reset())

  after(async () => {
    await proxy?.stop()
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('pulls through the token flow, with blobs fetched from storage without Authorization', async () => {
    const result = await mydocker(['pull', image], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    assert.ok(proxy.count({path: '/token'}) >= 1, 'a token was fetched')
    const storage = proxy.requests.filter((request) => request.server === 'storage')
    assert.ok(storage.length >= 2, 'config and layers came from storage')
    assert.ok(storage.every((request) => !request.authorized), 'no Authorization was sent to storage')
  })

  it('makes one manifest request and no blob request for an image already stored', async () => {
    const result = await mydocker(['pull', image], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stderr, /Image is up to date/)
    // A fresh process has no token yet: the first HEAD draws the registry's
    // challenge, and the one answered request is the HEAD made with the token.
    const manifestRequests = proxy.requests.filter((request) => request.server === 'registry' && /\/manifests\//.test(request.path))
    assert.equal(manifestRequests.filter((request) => request.authorized).length, 1, JSON.stringify(proxy.requests))
    assert.ok(manifestRequests.every((request) => request.method === 'HEAD'), JSON.stringify(proxy.requests))
    assert.equal(proxy.count({path: /\/blobs\//}), 0)
  })

  it('runs a stored image without any request', async () => {
    const result = await mydocker(['run', image, 'true'], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    assert.equal(proxy.requests.length, 0, JSON.stringify(proxy.requests))
  })

  it('chooses linux/amd64 from an index and stores that manifest', async () => {
    const result = await mydocker(['pull', '-q', multiarch], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    const inspect = await mydocker(['images', '--json'], {root})
    const listed = (JSON.parse(inspect.stdout) as Array<{name: string}>).map((entry) => entry.name)
    assert.ok(listed.some((name) => name.endsWith('/multiarch:latest')), inspect.stdout)
  })

  it('pulls another platform with --platform and fails clearly for one the index lacks', async () => {
    const arm = await mydocker(['pull', '--platform', 'linux/arm64', multiarch], {root, env: {}})
    assert.equal(arm.exitCode, 0, arm.stderr)
    const missing = await mydocker(['pull', '--platform', 'linux/s390x', multiarch], {root})
    assert.equal(missing.exitCode, 125)
    assert.match(missing.stderr, /s390x/)
  })
})
