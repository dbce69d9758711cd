// rm refuses an image that a running container uses, unless -f, and even then
// keeps the content the container runs on until it ends.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {rm} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, it} from 'node:test'
import {binPath, mydocker, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

describe('rm of an image in use', {skip: process.getuid?.() !== 0 && 'needs root'}, () => {
  let registry: RunningRegistry
  let root: string
  let image: string

  before(async () => {
    registry = await startRegistry()
    ;({explorer: image} = await seedImages(registry.host, ['explorer']))
    root = await temporaryStore()
    assert.equal((await mydocker(['pull', '-q', image], {root})).exitCode, 0)
  })

  after(async () => {
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('is refused while the container runs, forced with -f, and the container keeps working', async () => {
    const container = spawn(process.execPath, [binPath, 'run', image, 'sleep', '3'], {
      env: {...process.env, MYDOCKER_ROOT: root},
      stdio: 'ignore',
    })
    const exited = new Promise<number | null>((resolve) => container.once('close', resolve))
    try {
      // Wait until the run is recorded.
      for (let attempt = 0; attempt < 50; attempt++) {
        const refused = await mydocker(['rm', image], {root})
        if (refused.exitCode !== 0) {
          assert.equal(refused.exitCode, 125)
          assert.match(refused.stderr, /in use by running container/)
          break
        }
        // It was not running yet and got removed: pull it back and try again.
        assert.equal((await mydocker(['pull', '-q', image], {root})).exitCode, 0)
        await sleep(100)
      }

      const forced = await mydocker(['rm', '-f', image], {root})
      assert.equal(forced.exitCode, 0, forced.stderr)
      assert.match(forced.stdout, /Untagged: /)
      assert.equal(await exited, 0, 'the container ran to its end')
    } finally {
      container.kill('SIGKILL')
    }
  })
})
