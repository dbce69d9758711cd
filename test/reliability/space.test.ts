// A store on a small tmpfs that fills up during a pull: a clear "no space
// left on STORE" error with 125, nothing half-recorded, and the store keeps
// working for what fits.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {mydocker} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const isRoot = process.getuid?.() === 0
/** Smaller than the debian image's 49 MB of compressed layers, larger than busybox whole. */
const TMPFS_SIZE = '20m'

describe('a store on a disk that fills up', {skip: !isRoot && 'needs root to mount a tmpfs'}, () => {
  let registry: RunningRegistry
  let images: {busybox: string; debian: string}
  let mountPoint: string
  let root: string
  const run = (args: string[]) => mydocker(args, {root})

  before(async () => {
    registry = await startRegistry()
    images = await seedImages(registry.host, ['busybox', 'debian'])
    mountPoint = await mkdtemp(join(tmpdir(), 'mydocker-full-'))
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE}`, 'tmpfs', mountPoint])
    root = join(mountPoint, 'store')
  })

  after(async () => {
    if (mountPoint) {
      execFileSync('umount', ['-l', mountPoint])
      await rm(mountPoint, {recursive: true, force: true})
    }
    await registry?.remove()
  })

  it('fails a pull that does not fit with 125 and "no space left on" naming the store', async () => {
    const result = await run(['pull', images.debian])
    assert.equal(result.exitCode, 125, result.stderr)
    assert.match(result.stderr, new RegExp(`no space left on ${root}`))
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })

  it('leaves nothing half-recorded: system check finds no problem and no image is listed', async () => {
    const check = await run(['system', 'check'])
    assert.equal(check.exitCode, 0, check.stdout + check.stderr)
    const listed = JSON.parse((await run(['images', '--json'])).stdout) as unknown[]
    assert.deepEqual(listed, [])
  })

  it('gives the space of the failed pull back, leaving no partial download or snapshot', async () => {
    assert.deepEqual(await readdir(join(root, 'ingest')), [])
    assert.deepEqual((await readdir(join(root, 'snapshots'))).filter((name) => name.startsWith('tmp-')), [])
  })

  it('still pulls and runs an image that fits', async () => {
    const pulled = await run(['pull', images.busybox])
    assert.equal(pulled.exitCode, 0, pulled.stderr)
    const ran = await run(['run', images.busybox, 'docker-explorer', 'echo', 'fits'])
    assert.equal(ran.exitCode, 0, ran.stderr)
    assert.equal(ran.stdout, 'fits\n')
    const check = await run(['system', 'check'])
    assert.equal(check.exitCode, 0, check.stdout + check.stderr)
  })
})
