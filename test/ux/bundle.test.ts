// `mydocker export-bundle`: an OCI runtime bundle that runc runs, with the
// image's layers merged as overlayfs shows them.
import assert from 'node:assert/strict'
import {execFile, spawnSync} from 'node:child_process'
import {randomBytes} from 'node:crypto'
import {lstat, mkdtemp, readFile, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {promisify} from 'node:util'
import {mydocker, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const execFileAsync = promisify(execFile)
const isRoot = process.getuid?.() === 0
const hasRunc = spawnSync('runc', ['--version']).status === 0

describe('mydocker export-bundle', {skip: (!isRoot && 'needs root to copy owners and run runc') || (!hasRunc && 'runc is not installed (apt-get install -y runc)')}, () => {
  let registry: RunningRegistry
  let root: string
  let work: string
  let images: {busybox: string; explorer: string; whiteout: string}
  const bundles: string[] = []

  const exportBundle = async (image: string, options: {flags?: string[]; command?: string[]} = {}) => {
    const dir = join(work, `bundle-${bundles.length}`)
    bundles.push(dir)
    const command = options.command ? ['--', ...options.command] : []
    const result = await mydocker(['export-bundle', ...(options.flags ?? []), image, dir, ...command], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    return dir
  }
  const runc = async (dir: string) => {
    const id = `mydocker-test-${randomBytes(4).toString('hex')}`
    try {
      return await execFileAsync('runc', ['run', '--bundle', dir, id], {cwd: dir})
    } finally {
      spawnSync('runc', ['delete', '--force', id])
    }
  }

  before(async () => {
    registry = await startRegistry()
    images = await seedImages(registry.host, ['busybox', 'explorer', 'whiteout'])
    root = await temporaryStore()
    work = await mkdtemp(join(tmpdir(), 'mydocker-bundle-'))
    for (const image of Object.values(images)) {
      const pulled = await mydocker(['pull', image], {root})
      assert.equal(pulled.exitCode, 0, pulled.stderr)
    }
  })

  after(async () => {
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
    if (work) await rm(work, {recursive: true, force: true})
  })

  it('runs the image\'s own entrypoint and command under runc', async () => {
    const dir = await exportBundle(images.explorer)
    const {stdout} = await runc(dir)
    assert.equal(stdout, 'default cmd\n')
  })

  it('runs a given command with the image\'s environment and working directory', async () => {
    const dir = await exportBundle(images.explorer, {flags: ['--entrypoint', 'sh'], command: ['-c', 'echo $FOO; pwd; id -u; hostname']})
    const {stdout} = await runc(dir)
    assert.equal(stdout, 'bar\n/work/dir\n0\nmydocker\n')
  })

  it('resolves a user name with the image\'s /etc/passwd', async () => {
    const dir = await exportBundle(images.busybox, {flags: ['-u', 'app'], command: ['sh', '-c', 'id; echo $HOME']})
    const {stdout} = await runc(dir)
    assert.match(stdout, /^uid=1000\(app\) gid=1000\(app\) groups=(1000\(app\),)?2000\(extra\)\n\/home\/app\n$/)
  })

  it('applies whiteouts and opaque directories in the merged rootfs', async () => {
    const dir = await exportBundle(images.whiteout, {command: ['sh', '-c', 'ls /opaque; test -e /gone.txt || echo gone; cat /kept.txt']})
    const {stdout} = await runc(dir)
    assert.match(stdout, /^c\ngone\n/)
    await assert.rejects(lstat(join(dir, 'rootfs', 'gone.txt')), {code: 'ENOENT'})
    await assert.rejects(lstat(join(dir, 'rootfs', 'opaque', 'a')), {code: 'ENOENT'})
  })

  it('writes a config.json with Docker\'s namespaces, capabilities, masked paths and mounts', async () => {
    const dir = await exportBundle(images.busybox)
    const spec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'))
    assert.equal(spec.root.path, 'rootfs')
    assert.deepEqual(spec.process.args, ['sh'])
    assert.equal(spec.process.cwd, '/')
    assert.deepEqual(spec.linux.namespaces.map((namespace: {type: string}) => namespace.type).sort(), ['ipc', 'mount', 'pid', 'uts'])
    assert.equal(spec.process.capabilities.bounding.length, 14)
    assert.ok(spec.process.capabilities.bounding.includes('CAP_NET_BIND_SERVICE'))
    assert.ok(!spec.process.capabilities.bounding.includes('CAP_SYS_ADMIN'))
    assert.ok(spec.linux.maskedPaths.includes('/proc/kcore'))
    assert.ok(spec.linux.readonlyPaths.includes('/proc/sys'))
    assert.deepEqual(spec.mounts.map((mount: {destination: string}) => mount.destination), ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys'])
  })

  it('makes an empty network namespace with --network none', async () => {
    const dir = await exportBundle(images.busybox, {flags: ['--network', 'none'], command: ['sh', '-c', 'ls /sys/class/net']})
    const {stdout} = await runc(dir)
    assert.equal(stdout, 'lo\n')
  })

  it('refuses a directory that is not empty', async () => {
    const dir = await exportBundle(images.busybox)
    const result = await mydocker(['export-bundle', images.busybox, dir], {root})
    assert.equal(result.exitCode, 125)
    assert.match(result.stderr, /bundle directory .* is not empty/)
  })
})
