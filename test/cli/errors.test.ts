// Bad input gets one clear line on stderr, no stack trace, Docker's exit status,
// and nothing written to the store.
import assert from 'node:assert/strict'
import {existsSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {mydocker, temporaryStore} from '../support/cli.js'

const cases: Array<{name: string; args: string[]; exitCode: number; message: RegExp}> = [
  {name: 'an unknown run flag', args: ['run', '--bogus', 'busybox'], exitCode: 125, message: /Nonexistent flag: --bogus/},
  {name: 'run without an image', args: ['run'], exitCode: 125, message: /requires at least 1 argument/},
  {name: 'a bad --network value', args: ['run', '--network', 'bridge0', 'busybox'], exitCode: 125, message: /--network/},
  {name: 'a non-numeric --pids-limit', args: ['run', '--pids-limit', 'lots', 'busybox'], exitCode: 125, message: /pids-limit/},
  {name: 'an uppercase repository', args: ['pull', 'Busybox'], exitCode: 125, message: /repository name must be lowercase/},
  {name: 'a malformed digest', args: ['pull', 'busybox@sha256:abc'], exitCode: 125, message: /invalid reference format/},
  {name: 'pull without a reference', args: ['pull'], exitCode: 125, message: /at least one image reference/},
  {name: 'a missing reference file', args: ['pull', '-f', '/nonexistent/list.txt'], exitCode: 125, message: /cannot read reference file/},
  {name: 'rm of an image that is not stored', args: ['rm', 'nothing-here'], exitCode: 125, message: /no such image: nothing-here/},
  {name: 'run --pull never of an image that is not stored', args: ['run', '--pull', 'never', 'busybox'], exitCode: 125, message: /not in the store/},
  {name: 'a bad volume', args: ['run', '-v', 'relative:/x', '--pull', 'never', 'busybox'], exitCode: 125, message: /not in the store|invalid volume/},
  {name: 'an unknown command', args: ['imagez'], exitCode: 127, message: /not a mydocker command/},
]

describe('bad input', () => {
  let root: string
  before(async () => {
    root = await temporaryStore()
  })
  after(async () => {
    await rm(root, {recursive: true, force: true})
  })

  for (const testCase of cases) {
    it(`reports ${testCase.name} in one line with exit status ${testCase.exitCode}`, async () => {
      const result = await mydocker(testCase.args, {root})
      assert.equal(result.exitCode, testCase.exitCode, result.stderr)
      assert.match(result.stderr, testCase.message)
      assert.equal(result.stdout, '')
      assert.doesNotMatch(result.stderr, /^\s+at /m, 'no stack trace')
      const errorLines = result.stderr.split('\n').filter((line) => /^(mydocker:| ›)/.test(line))
      assert.ok(errorLines.length <= 2, result.stderr)
    })
  }

  it('writes nothing to the store when a reference is malformed', async () => {
    const fresh = join(root, 'untouched')
    await mydocker(['pull', 'UPPER'], {root: fresh})
    assert.equal(existsSync(join(fresh, 'blobs', 'sha256')), false)
  })

  it('prints a stack trace only when MYDOCKER_DEBUG=1 asks for it', async () => {
    const result = await mydocker(['pull', 'UPPER'], {root, env: {MYDOCKER_DEBUG: '1'}})
    assert.match(result.stderr, /^\s+at /m)
  })
})
