// `mydocker save` and `mydocker load`: OCI archives both ways, docker save
// archives in, each loaded into a fresh store and run from there.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {promisify} from 'node:util'
import {mydocker, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const execFileAsync = promisify(execFile)
const isRoot = process.getuid?.() === 0

describe('mydocker save and load', {skip: !isRoot && 'needs root to unpack layers and run containers'}, () => {
  let registry: RunningRegistry
  let source: string
  let work: string
  let images: {busybox: string; whiteout: string}
  const stores: string[] = []
  const freshStore = async () => {
    const store = await temporaryStore()
    stores.push(store)
    return store
  }

  before(async () => {
    registry = await startRegistry()
    images = await seedImages(registry.host, ['busybox', 'whiteout'])
    source = await freshStore()
    work = await mkdtemp(join(tmpdir(), 'mydocker-archive-'))
    for (const image of Object.values(images)) {
      const pulled = await mydocker(['pull', image], {root: source})
      assert.equal(pulled.exitCode, 0, pulled.stderr)
    }
  })

  after(async () => {
    await registry?.remove()
    for (const store of stores) await rm(store, {recursive: true, force: true})
    if (work) await rm(work, {recursive: true, force: true})
  })

  it('saves images to an OCI archive that skopeo reads by full name', async () => {
    const archive = join(work, 'saved.tar')
    const saved = await mydocker(['save', images.busybox, images.whiteout, '-o', archive], {root: source})
    assert.equal(saved.exitCode, 0, saved.stderr)

    const {stdout: listing} = await execFileAsync('tar', ['tf', archive])
    assert.ok(listing.split('\n').includes('oci-layout'))
    assert.ok(listing.split('\n').includes('index.json'))
    const {stdout} = await execFileAsync('skopeo', ['inspect', `oci-archive:${archive}:${images.whiteout}`])
    assert.equal(JSON.parse(stdout).Layers.length, 5)
  })

  it('loads a saved archive into a fresh store whose images then run', async () => {
    const archive = join(work, 'roundtrip.tar')
    assert.equal((await mydocker(['save', images.busybox, images.whiteout, '-o', archive], {root: source})).exitCode, 0)
    const target = await freshStore()

    const loaded = await mydocker(['load', '-i', archive], {root: target})
    assert.equal(loaded.exitCode, 0, loaded.stderr)
    assert.match(loaded.stdout, new RegExp(`Loaded image: ${images.busybox}`))

    const ran = await mydocker(['run', '--pull', 'never', images.busybox, 'echo', 'from the archive'], {root: target})
    assert.equal(ran.exitCode, 0, ran.stderr)
    assert.equal(ran.stdout, 'from the archive\n')
    const merged = await mydocker(['run', '--pull', 'never', images.whiteout, 'sh', '-c', 'ls /opaque; test -e /gone.txt || echo gone'], {root: target})
    assert.equal(merged.stdout, 'c\ngone\n')
  })

  it('gives the loaded image the same ID and digest as the one saved', async () => {
    const archive = join(work, 'ids.tar')
    assert.equal((await mydocker(['save', images.busybox, '-o', archive], {root: source})).exitCode, 0)
    const target = await freshStore()
    assert.equal((await mydocker(['load', '-i', archive], {root: target})).exitCode, 0)

    const [before] = JSON.parse((await mydocker(['inspect', images.busybox], {root: source})).stdout)
    const [after] = JSON.parse((await mydocker(['inspect', images.busybox], {root: target})).stdout)
    assert.equal(after.Id, before.Id)
    assert.equal(after.Mydocker.ManifestDigest, before.Mydocker.ManifestDigest)
  })

  it('loads a docker save archive written by skopeo and runs it', async () => {
    const archive = join(work, 'docker.tar')
    await execFileAsync('skopeo', ['copy', '-q', `oci:${source}:${images.whiteout}`, `docker-archive:${archive}:localhost:5000/loaded:v1`])
    const target = await freshStore()

    const loaded = await mydocker(['load', '-i', archive, '--json'], {root: target})
    assert.equal(loaded.exitCode, 0, loaded.stderr)
    const result = JSON.parse(loaded.stdout)
    assert.equal(result.format, 'docker')
    assert.deepEqual(result.images.map((image: {name: string}) => image.name), ['localhost:5000/loaded:v1'])

    const [inspected] = JSON.parse((await mydocker(['inspect', 'localhost:5000/loaded:v1'], {root: target})).stdout)
    const [original] = JSON.parse((await mydocker(['inspect', images.whiteout], {root: source})).stdout)
    assert.equal(inspected.Id, original.Id)
    assert.deepEqual(inspected.RootFS.Layers, original.RootFS.Layers)

    const ran = await mydocker(['run', '--pull', 'never', 'localhost:5000/loaded:v1', 'sh', '-c', 'ls /opaque; cat /kept.txt'], {root: target})
    assert.equal(ran.exitCode, 0, ran.stderr)
    assert.match(ran.stdout, /^c\n/)
  })

  it('loads a gzip-compressed archive from stdin', async () => {
    const archive = join(work, 'piped.tar')
    assert.equal((await mydocker(['save', images.busybox, '-o', archive], {root: source})).exitCode, 0)
    const {gzipSync} = await import('node:zlib')
    const compressed = gzipSync(await readFile(archive))
    const target = await freshStore()

    const {spawn} = await import('node:child_process')
    const {binPath} = await import('../support/cli.js')
    const child = spawn(process.execPath, [binPath, 'load'], {env: {...process.env, MYDOCKER_ROOT: target}, stdio: ['pipe', 'pipe', 'pipe']})
    child.stdin.end(compressed)
    let stdout = ''
    child.stdout.on('data', (chunk) => (stdout += chunk))
    const code = await new Promise((resolve) => child.once('close', resolve))
    assert.equal(code, 0)
    assert.equal(stdout, `Loaded image: ${images.busybox}\n`)
  })

  const badArchives: Array<{name: string; write: (path: string) => Promise<void>; message: RegExp}> = [
    {name: 'a file that is not a tar', write: (path) => writeFile(path, 'not an archive at all\n'.repeat(100)), message: /archive .* (is not a valid tar|is neither)/},
    {
      name: 'a tar with neither index.json nor manifest.json',
      write: async (path) => {
        const directory = await mkdtemp(join(work, 'empty-'))
        await writeFile(join(directory, 'hello.txt'), 'hello\n')
        await execFileAsync('tar', ['cf', path, '-C', directory, 'hello.txt'])
      },
      message: /neither an OCI archive nor a docker save archive/,
    },
    {
      name: 'an OCI archive with a damaged layer',
      write: async (path) => {
        const directory = await mkdtemp(join(work, 'damaged-'))
        const saved = join(work, 'to-damage.tar')
        assert.equal((await mydocker(['save', images.busybox, '-o', saved], {root: source})).exitCode, 0)
        await execFileAsync('tar', ['xf', saved, '-C', directory])
        const [image] = JSON.parse((await mydocker(['inspect', images.busybox], {root: source})).stdout)
        const layer = join(directory, 'blobs', 'sha256', image.Mydocker.Layers[0].Digest.slice('sha256:'.length))
        const bytes = await readFile(layer)
        bytes[bytes.length - 100] ^= 0xff
        await writeFile(layer, bytes)
        await execFileAsync('tar', ['cf', path, '-C', directory, '.'])
      },
      message: /blob sha256:[a-f0-9]{64}: content has digest/,
    },
  ]
  for (const bad of badArchives) {
    it(`refuses ${bad.name}, storing nothing`, async () => {
      const archive = join(work, `bad-${badArchives.indexOf(bad)}.tar`)
      await bad.write(archive)
      const target = await freshStore()
      const result = await mydocker(['load', '-i', archive], {root: target})
      assert.equal(result.exitCode, 125)
      assert.match(result.stderr, bad.message)
      assert.equal((await mydocker(['images', '-q'], {root: target})).stdout, '')
    })
  }
})
