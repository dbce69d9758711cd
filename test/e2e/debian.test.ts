// A real distribution: Debian bookworm from debootstrap, two layers, the second
// deleting files with whiteouts.
import assert from 'node:assert/strict'
import {rm} from 'node:fs/promises'
import {after, before, describe, it} from 'node:test'
import {mydocker, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

describe('a Debian bookworm image built with debootstrap', {skip: process.getuid?.() !== 0 && 'needs root'}, () => {
  let registry: RunningRegistry
  let root: string
  let debian: string

  before(async () => {
    registry = await startRegistry()
    ;({debian} = await seedImages(registry.host, ['debian']))
    root = await temporaryStore()
    const pulled = await mydocker(['pull', debian], {root})
    assert.equal(pulled.exitCode, 0, pulled.stderr)
  })

  after(async () => {
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('runs cat /etc/os-release', async () => {
    const result = await mydocker(['run', debian, 'cat', '/etc/os-release'], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stdout, /^PRETTY_NAME="Debian GNU\/Linux 12 \(bookworm\)"$/m)
    assert.equal(result.stderr, '')
  })

  it('runs apt-get --version', async () => {
    const result = await mydocker(['run', debian, 'apt-get', '--version'], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    assert.match(result.stdout, /^apt \d+\.\d+/)
  })

  it('applies the second layer\'s whiteouts', async () => {
    const result = await mydocker(['run', debian, 'sh', '-c', 'ls /etc/motd /usr/share/doc/apt 2>&1; ls -d /usr/share/doc/dpkg'], {root})
    assert.match(result.stdout, /\/etc\/motd.*No such file/)
    assert.match(result.stdout, /\/usr\/share\/doc\/apt.*No such file/)
    assert.match(result.stdout, /^\/usr\/share\/doc\/dpkg$/m)
  })

  it('runs as PID 1 with the image\'s own bash', async () => {
    const result = await mydocker(['run', debian, 'bash', '-c', 'echo $$; readlink /proc/1/exe; true'], {root})
    assert.equal(result.stdout, '1\n/usr/bin/bash\n')
  })
})
