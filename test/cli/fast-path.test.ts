// The bundles bin/run.js loads for `run` and `pull` (scripts/build.js) and the
// V8 code cache beside each (src/cli/load-bundle.cts), as the build left them.
import assert from 'node:assert/strict'
import {spawnSync} from 'node:child_process'
import {utimesSync} from 'node:fs'
import {copyFile, mkdir, mkdtemp, rm} from 'node:fs/promises'
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

  it('says in one line that the build did not finish when a bundle is missing', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'mydocker-unbuilt-'))
    try {
      await mkdir(join(directory, 'bin'))
      await mkdir(join(directory, 'dist', 'cli'), {recursive: true})
      for (const file of ['bin/run.js', 'bin/package.json', 'dist/cli/load-bundle.cjs']) await copyFile(join(top, file), join(directory, file))
      const result = spawnSync(process.execPath, ['--', join(directory, 'bin', 'run.js'), 'run', 'busybox', 'true'], {encoding: 'utf8'})
      assert.equal(result.status, 125)
      assert.equal(result.stdout, '')
      assert.match(result.stderr, /^mydocker: .*dist\/fast\/run\.cjs is missing: the build did not finish \(hint: run `npm run build` in .*\)\n$/)
    } finally {
      await rm(directory, {recursive: true, force: true})
    }
  })

  it('offers a cache only with the modification time of its bundle', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'mydocker-bundle-'))
    try {
      const bundle = join(directory, 'run.cjs')
      await copyFile(join(top, 'dist', 'fast', 'run.cjs'), bundle)
      await copyFile(join(top, 'dist', 'fast', 'run.cjs.cache'), `${bundle}.cache`)
      for (const file of [bundle, `${bundle}.cache`]) utimesSync(file, 1_700_000_000, 1_700_000_000)
      assert.equal(loader.compileBundle(bundle).fromCache, true)

      // An edit of the bundle since: V8 would take the cache for any source of its length.
      utimesSync(bundle, 1_700_000_001, 1_700_000_001)
      assert.equal(loader.compileBundle(bundle).fromCache, false)
      utimesSync(`${bundle}.cache`, 1_700_000_002, 1_700_000_002)
      assert.equal(loader.compileBundle(bundle).fromCache, false)
    } finally {
      await rm(directory, {recursive: true, force: true})
    }
  })
})
