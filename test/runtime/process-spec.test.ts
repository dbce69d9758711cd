import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {MydockerError} from '../../src/errors.js'
import type {ContainerConfig} from '../../src/image/types.js'
import {DEFAULT_PATH, buildProcessSpec, type ProcessOptions} from '../../src/runtime/process-spec.js'

const base: ProcessOptions = {args: [], hostname: 'box'}

describe('buildProcessSpec combines the image config with the run options as Docker does', () => {
  const commandCases: Array<{name: string; config?: ContainerConfig; options: Partial<ProcessOptions>; args: string[]}> = [
    {name: 'Cmd alone runs', config: {Cmd: ['sh']}, options: {}, args: ['sh']},
    {name: 'Entrypoint and Cmd are joined', config: {Entrypoint: ['/entry', '-x'], Cmd: ['serve']}, options: {}, args: ['/entry', '-x', 'serve']},
    {name: 'given args replace Cmd', config: {Entrypoint: ['/entry'], Cmd: ['serve']}, options: {args: ['once']}, args: ['/entry', 'once']},
    {name: 'given args run without an Entrypoint', config: {Cmd: ['sh']}, options: {args: ['ls', '-l']}, args: ['ls', '-l']},
    {name: '--entrypoint replaces Entrypoint and drops Cmd', config: {Entrypoint: ['/entry'], Cmd: ['serve']}, options: {entrypoint: '/other'}, args: ['/other']},
    {name: '--entrypoint with args keeps the args', config: {Entrypoint: ['/entry'], Cmd: ['serve']}, options: {entrypoint: '/other', args: ['a']}, args: ['/other', 'a']},
    {name: 'an empty --entrypoint clears it, args run alone', config: {Entrypoint: ['/entry'], Cmd: ['serve']}, options: {entrypoint: '', args: ['ls']}, args: ['ls']},
    {name: 'null Entrypoint and Cmd count as none', config: {Entrypoint: null, Cmd: ['x']}, options: {}, args: ['x']},
    {name: 'no config at all runs the args', config: undefined, options: {args: ['true']}, args: ['true']},
  ]
  for (const testCase of commandCases) {
    it(`builds the command line: ${testCase.name}`, () => {
      assert.deepEqual(buildProcessSpec(testCase.config, {...base, ...testCase.options}).args, testCase.args)
    })
  }

  const noCommandCases: Array<{name: string; config?: ContainerConfig; options: Partial<ProcessOptions>}> = [
    {name: 'an image with neither Entrypoint nor Cmd', config: {}, options: {}},
    {name: 'an empty --entrypoint and no args', config: {Entrypoint: ['/entry'], Cmd: ['serve']}, options: {entrypoint: ''}},
    {name: 'no config and no args', options: {}},
  ]
  for (const testCase of noCommandCases) {
    it(`refuses with "no command specified" and exit 125: ${testCase.name}`, () => {
      assert.throws(
        () => buildProcessSpec(testCase.config, {...base, ...testCase.options}),
        (error: unknown) => error instanceof MydockerError && error.message === 'no command specified' && error.exitCode === 125,
      )
    })
  }

  const environmentCases: Array<{name: string; config?: ContainerConfig; options: Partial<ProcessOptions>; env: string[]}> = [
    {name: 'Docker default PATH and HOSTNAME when the image has no Env', config: {Cmd: ['x']}, options: {}, env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=box']},
    {name: 'the image PATH replaces the default in place', config: {Cmd: ['x'], Env: ['PATH=/opt/bin', 'LANG=C']}, options: {}, env: ['PATH=/opt/bin', 'HOSTNAME=box', 'LANG=C']},
    {name: '-e overrides the image and appends new names', config: {Cmd: ['x'], Env: ['LANG=C']}, options: {env: ['LANG=en', 'NEW=1']}, env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=box', 'LANG=en', 'NEW=1']},
    {name: '-t adds TERM=xterm', config: {Cmd: ['x']}, options: {tty: true}, env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=box', 'TERM=xterm']},
    {name: 'an image HOSTNAME wins over the default', config: {Cmd: ['x'], Env: ['HOSTNAME=fixed']}, options: {}, env: [`PATH=${DEFAULT_PATH}`, 'HOSTNAME=fixed']},
  ]
  for (const testCase of environmentCases) {
    it(`builds the environment without the host's: ${testCase.name}`, () => {
      assert.deepEqual(buildProcessSpec(testCase.config, {...base, ...testCase.options}).env, testCase.env)
    })
  }

  const placeCases: Array<{name: string; config?: ContainerConfig; options: Partial<ProcessOptions>; cwd: string; user: string}> = [
    {name: 'defaults are / and root', config: {Cmd: ['x']}, options: {}, cwd: '/', user: ''},
    {name: 'the image WorkingDir and User apply', config: {Cmd: ['x'], WorkingDir: '/app', User: 'app'}, options: {}, cwd: '/app', user: 'app'},
    {name: '-w and -u win over the image', config: {Cmd: ['x'], WorkingDir: '/app', User: 'app'}, options: {workdir: '/tmp', user: '1000:50'}, cwd: '/tmp', user: '1000:50'},
    {name: 'a relative image WorkingDir is read from the root', config: {Cmd: ['x'], WorkingDir: 'app'}, options: {}, cwd: '/app', user: ''},
  ]
  for (const testCase of placeCases) {
    it(`chooses the working directory and user: ${testCase.name}`, () => {
      const spec = buildProcessSpec(testCase.config, {...base, ...testCase.options})
      assert.deepEqual({cwd: spec.cwd, user: spec.user}, {cwd: testCase.cwd, user: testCase.user})
    })
  }

  it('refuses a relative -w', () => {
    assert.throws(() => buildProcessSpec({Cmd: ['x']}, {...base, workdir: 'relative'}), /needs to be an absolute path/)
  })
})
