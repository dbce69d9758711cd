import assert from 'node:assert/strict'
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {describe, it} from 'node:test'

import {isErrorCode} from '../../src/errors.js'
import {mergeEnvironment, parseEnvironmentFile, parseEnvironmentOption, readEnvironmentFile} from '../../src/runtime/env.js'

const host = {FROM_HOST: 'host value', EMPTY: ''}

describe('environment options follow Docker', () => {
  const optionCases = [
    {name: 'KEY=VALUE is kept verbatim', value: 'A=b=c ', entry: 'A=b=c '},
    {name: 'an empty value is kept', value: 'A=', entry: 'A='},
    {name: 'a bare name takes the host value', value: 'FROM_HOST', entry: 'FROM_HOST=host value'},
    {name: 'a bare name set empty on the host stays empty', value: 'EMPTY', entry: 'EMPTY='},
    {name: 'a bare name unset on the host is dropped', value: 'UNSET_ON_HOST', entry: undefined},
  ]
  for (const testCase of optionCases) {
    it(`reads -e: ${testCase.name}`, () => {
      assert.equal(parseEnvironmentOption(testCase.value, host), testCase.entry)
    })
  }

  const badOptions = [
    {name: 'no name', value: '=value'},
    {name: 'an empty option', value: ''},
    {name: 'whitespace in the name', value: 'A B=c'},
  ]
  for (const testCase of badOptions) {
    it(`refuses -e with ${testCase.name}`, () => {
      assert.throws(() => parseEnvironmentOption(testCase.value, host), (error: unknown) => isErrorCode(error, 'INVALID_ARGUMENT'))
    })
  }

  it('reads an env file: comments and blank lines skipped, values verbatim, bare names from the host', () => {
    const text = '# a comment\n\n  A=1\nQUOTED="kept quotes"\nFROM_HOST\nUNSET_ON_HOST\r\nLAST=x y \n'
    assert.deepEqual(parseEnvironmentFile(text, 'list.env', host), ['A=1', 'QUOTED="kept quotes"', 'FROM_HOST=host value', 'LAST=x y '])
  })

  it('names the file and line of a bad env file entry', () => {
    assert.throws(() => parseEnvironmentFile('A=1\nbad name=2\n', 'list.env', host), /list\.env line 2/)
  })

  it('reads an env file from disk and names a missing one', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mydocker-env-'))
    await writeFile(join(dir, 'list.env'), 'A=1\n')
    assert.deepEqual(await readEnvironmentFile(join(dir, 'list.env'), host), ['A=1'])
    await assert.rejects(readEnvironmentFile(join(dir, 'missing.env'), host), /missing\.env: ENOENT/)
    await rm(dir, {recursive: true})
  })

  it('merges overrides in place and appends new names', () => {
    assert.deepEqual(mergeEnvironment(['A=1', 'B=2'], ['B=3', 'C=4', 'A=5']), ['A=5', 'B=3', 'C=4'])
  })
})
