// The store root is an OCI image layout that independent tools read: skopeo's
// oci: transport addresses an image by the full stored name (colons and all,
// since skopeo splits the path from the reference at the first colon), and
// umoci lists the names.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {promisify} from 'node:util'
import {mydocker, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const execFileAsync = promisify(execFile)
const isRoot = process.getuid?.() === 0

describe('the store as an OCI image layout', {skip: !isRoot && 'needs root to unpack layers with their owners'}, () => {
  let registry: RunningRegistry
  let root: string
  let busybox: string
  let manifestDigest: string

  before(async () => {
    registry = await startRegistry()
    ;({busybox} = await seedImages(registry.host, ['busybox']))
    root = await temporaryStore()
    const pulled = await mydocker(['pull', busybox], {root})
    assert.equal(pulled.exitCode, 0, pulled.stderr)
    const [image] = JSON.parse((await mydocker(['inspect', busybox], {root})).stdout)
    manifestDigest = image.Mydocker.ManifestDigest
  })

  after(async () => {
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('names the image in index.json with its full stored name', async () => {
    const index = JSON.parse(await readFile(join(root, 'index.json'), 'utf8'))
    const entry = index.manifests.find((manifest: {digest: string}) => manifest.digest === manifestDigest)
    assert.equal(entry.annotations['org.opencontainers.image.ref.name'], busybox)
    assert.deepEqual(JSON.parse(await readFile(join(root, 'oci-layout'), 'utf8')), {imageLayoutVersion: '1.0.0'})
  })

  it('is read by skopeo inspect oci:STORE:FULL-NAME', async () => {
    const {stdout} = await execFileAsync('skopeo', ['inspect', `oci:${root}:${busybox}`])
    const inspected = JSON.parse(stdout)
    assert.equal(inspected.Digest, manifestDigest)
    assert.equal(inspected.Layers.length, 2)
  })

  it('is listed by umoci ls', async () => {
    const {stdout} = await execFileAsync('umoci', ['ls', '--layout', root])
    assert.deepEqual(stdout.trim().split('\n'), [busybox])
  })

  it('is copied out by skopeo with every blob verified', async () => {
    const copy = join(root, '..', `skopeo-copy-${process.pid}`)
    try {
      await execFileAsync('skopeo', ['copy', '-q', `oci:${root}:${busybox}`, `oci:${copy}:copied`])
      const {stdout} = await execFileAsync('umoci', ['ls', '--layout', copy])
      assert.equal(stdout.trim(), 'copied')
    } finally {
      await rm(copy, {recursive: true, force: true})
    }
  })
})
