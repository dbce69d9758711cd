// The bundles bin/run.js loads for `run` and `pull` (scripts/build.js) and the
// V8 code cache beside each (src/cli/load-bundle.cts), as the build left them.
import assert from 'node:assert/strict'
import {utimesSync} from 'node:fs'
import {copyFile, mkdtemp, rm} from 'node:fs/promises'
import {createRequire} from 'node:module'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {describe, it} from 'node:test'

const top = fileURLToPath(new URL('../..', import.meta.url))
const loader = createRequire(import.meta.url)(join(top, 'dist', 'cli', 'load-bundle.cjs')) as typeof import('../../src/cli/load-bundle.cjs')

describe('the fast-path bundles', () => {
  for (const command of ['run', 'pull']) {
    const bundle = join(top, 'dist', 'fast', `${command}.cjs`)

    it(`compiles the ${command} bundle from a code cache this node accepts`, () => {
      assert.equal(loader.compileBundle(bundle).fromCache, true)
    })

    it(`loads the ${command} fast path from the cache`, () => {
      const entry = loader.loadBundle(bundle)
      assert.equal(typeof entry.runFast, 'function')
      assert.equal(entry.wantsHelp(command, ['--help']), true)
      assert.equal(entry.wantsHelp(command, ['busybox']), false)
    })
  }

  it('does not offer a cache older than its bundle', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'mydocker-bundle-'))
    try {
      const bundle = join(directory, 'run.cjs')
      await copyFile(join(top, 'dist', 'fast', 'run.cjs'), bundle)
      await copyFile(join(top, 'dist', 'fast', 'run.cjs.cache'), `${bundle}.cache`)
      utimesSync(`${bundle}.cache`, new Date(0), new Date(0))
      assert.equal(loader.compileBundle(bundle).fromCache, false)
    } finally {
      await rm(directory, {recursive: true, force: true})
    }
  })
})
