// Proves the fixtures every other test leans on: a real registry on
// loopback, the standard images pushed to it, and the probe binary.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {rm} from 'node:fs/promises'
import {after, before, describe, it} from 'node:test'
import {promisify} from 'node:util'

import {buildProbe, defaultPath, seedImages, type StandardImages} from './images.js'
import {startRegistry, type RunningRegistry} from './registry.js'

const run = promisify(execFile)

const ociManifest = 'application/vnd.oci.image.manifest.v1+json'
const ociIndex = 'application/vnd.oci.image.index.v1+json'

type LightImages = Pick<StandardImages, 'busybox' | 'explorer' | 'whiteout' | 'multiarch'>

interface Manifest {
  mediaType: string
  config: {digest: string}
  layers: Array<{digest: string; mediaType: string}>
  manifests: Array<{digest: string; platform: {architecture: string; os: string; variant?: string}}>
}

/** GETs a manifest by repository and tag, accepting the given media types. */
async function fetchManifest(host: string, repository: string, tag: string, accept: string[]): Promise<Response> {
  return fetch(`http://${host}/v2/${repository}/manifests/${tag}`, {headers: {accept: accept.join(', ')}})
}

async function fetchJson<T>(url: string, accept: string[] = []): Promise<T> {
  const response = await fetch(url, {headers: {accept: accept.join(', ')}})
  assert.equal(response.status, 200, `GET ${url}`)
  return (await response.json()) as T
}

/** Lists the entries of a gzip layer blob with GNU tar. */
async function layerEntries(host: string, repository: string, digest: string): Promise<string[]> {
  const response = await fetch(`http://${host}/v2/${repository}/blobs/${digest}`)
  assert.equal(response.status, 200, `GET blob ${digest}`)
  const bytes = Buffer.from(await response.arrayBuffer())
  const {spawnSync} = await import('node:child_process')
  const listing = spawnSync('tar', ['-tz'], {input: bytes})
  assert.equal(listing.status, 0, listing.stderr.toString())
  return listing.stdout.toString().split('\n').filter(Boolean)
}

describe('the loopback registry', () => {
  it('answers GET /v2/ with 200 once started, and again when restarted over the same content', async () => {
    const registry = await startRegistry()
    try {
      const response = await fetch(`http://${registry.host}/v2/`)
      assert.equal(response.status, 200)
      assert.equal(response.headers.get('docker-distribution-api-version'), 'registry/2.0')
      assert.match(registry.host, /^127\.0\.0\.1:\d+$/)
      await seedImages(registry.host, ['busybox'])
    } finally {
      await registry.stop()
    }

    await assert.rejects(fetch(`http://${registry.host}/v2/`), 'the stopped registry still answers')

    const restarted = await startRegistry({rootDirectory: registry.rootDirectory})
    try {
      const response = await fetchManifest(restarted.host, 'busybox', 'latest', [ociManifest])
      assert.equal(response.status, 200, 'the restarted registry lost busybox:latest')
    } finally {
      await restarted.stop()
      await rm(registry.rootDirectory, {recursive: true, force: true})
    }
  })
})

describe('the standard images', () => {
  let registry: RunningRegistry
  let images: LightImages

  before(async () => {
    registry = await startRegistry()
    images = await seedImages(registry.host, ['busybox', 'explorer', 'whiteout', 'multiarch'])
  })

  after(async () => {
    await registry?.remove()
  })

  it('are returned as references on the registry host', () => {
    assert.deepEqual(images, {
      busybox: `${registry.host}/busybox:latest`,
      explorer: `${registry.host}/explorer:latest`,
      whiteout: `${registry.host}/whiteout:latest`,
      multiarch: `${registry.host}/multiarch:latest`,
    })
  })

  it('are listed by GET /v2/_catalog', async () => {
    const catalog = await fetchJson<{repositories: string[]}>(`http://${registry.host}/v2/_catalog`)
    assert.deepEqual(catalog.repositories, ['busybox', 'explorer', 'multiarch', 'whiteout'])
  })

  const layerCounts = [
    {repository: 'busybox', layers: 2},
    {repository: 'explorer', layers: 3},
    {repository: 'whiteout', layers: 5},
  ]
  for (const {repository, layers} of layerCounts) {
    it(`serve ${repository}:latest as an OCI manifest of ${layers} gzip layers`, async () => {
      const response = await fetchManifest(registry.host, repository, 'latest', [ociManifest])
      assert.equal(response.status, 200)
      assert.equal(response.headers.get('content-type'), ociManifest)
      const manifest = (await response.json()) as Manifest
      assert.equal(manifest.layers.length, layers)
      for (const layer of manifest.layers) assert.equal(layer.mediaType, 'application/vnd.oci.image.layer.v1.tar+gzip')
    })
  }

  it('answer 404 for an OCI manifest when Accept does not list its type', async () => {
    const response = await fetchManifest(registry.host, 'busybox', 'latest', [
      'application/vnd.docker.distribution.manifest.v2+json',
    ])
    assert.equal(response.status, 404)
  })

  it('share the busybox layers between busybox, explorer and whiteout', async () => {
    const layersOf = async (repository: string) => {
      const response = await fetchManifest(registry.host, repository, 'latest', [ociManifest])
      return ((await response.json()) as Manifest).layers.map((layer) => layer.digest)
    }
    const busybox = await layersOf('busybox')
    assert.deepEqual((await layersOf('explorer')).slice(0, 2), busybox)
    assert.deepEqual((await layersOf('whiteout')).slice(0, 2), busybox)
  })

  it('give explorer the probe as entrypoint, FOO=bar and a working directory', async () => {
    const response = await fetchManifest(registry.host, 'explorer', 'latest', [ociManifest])
    const manifest = (await response.json()) as Manifest
    const config = await fetchJson<{config: Record<string, unknown>}>(
      `http://${registry.host}/v2/explorer/blobs/${manifest.config.digest}`,
    )
    assert.deepEqual(config.config.Entrypoint, ['/usr/local/bin/docker-explorer'])
    assert.deepEqual(config.config.Cmd, ['echo', 'default', 'cmd'])
    assert.deepEqual(config.config.Env, [`PATH=${defaultPath}`, 'FOO=bar'])
    assert.equal(config.config.WorkingDir, '/work/dir')
  })

  it('give whiteout a per-file whiteout layer and an opaque directory layer', async () => {
    const response = await fetchManifest(registry.host, 'whiteout', 'latest', [ociManifest])
    const manifest = (await response.json()) as Manifest
    const [, , added, deleted, opaque] = manifest.layers.map((layer) => layer.digest)
    assert.deepEqual((await layerEntries(registry.host, 'whiteout', added)).sort(), [
      '.', 'gone.txt', 'kept.txt', 'opaque/', 'opaque/a', 'opaque/b',
    ])
    assert.deepEqual(await layerEntries(registry.host, 'whiteout', deleted), ['.wh.gone.txt'])
    assert.deepEqual((await layerEntries(registry.host, 'whiteout', opaque)).sort(), [
      'opaque/', 'opaque/.wh..wh..opq', 'opaque/c',
    ])
  })

  it('serve multiarch:latest as an index of amd64, arm64/v8 and an unknown attestation', async () => {
    const response = await fetchManifest(registry.host, 'multiarch', 'latest', [ociIndex, ociManifest])
    assert.equal(response.status, 200)
    assert.equal(response.headers.get('content-type'), ociIndex)
    const index = (await response.json()) as Manifest
    assert.deepEqual(
      index.manifests.map((entry) => entry.platform),
      [
        {architecture: 'amd64', os: 'linux'},
        {architecture: 'arm64', os: 'linux', variant: 'v8'},
        {architecture: 'unknown', os: 'unknown'},
      ],
    )
    for (const entry of index.manifests) {
      const child = await fetchManifest(registry.host, 'multiarch', entry.digest, [ociManifest])
      assert.equal(child.status, 200, `manifest ${entry.digest} of the index is missing`)
    }
  })
})

describe('the docker-explorer probe', () => {
  it('runs on the host and echoes its arguments', async () => {
    const probe = await buildProbe()
    const {stdout} = await run(probe, ['echo', 'a', 'b'])
    assert.equal(stdout, 'a b\n')
  })

  it('reports a missing directory with exit status 2', async () => {
    const probe = await buildProbe()
    await assert.rejects(run(probe, ['ls', '/no/such/directory']), (error: {code: number; stderr: string}) => {
      assert.equal(error.code, 2)
      assert.equal(error.stderr, 'No such file or directory\n')
      return true
    })
  })

  it('is statically linked, so it runs in any image', async () => {
    const probe = await buildProbe()
    const {stdout} = await run('file', ['--brief', probe])
    assert.match(stdout, /statically linked/)
  })
})
