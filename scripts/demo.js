#!/usr/bin/env node
// The demo: set everything up, start a loopback registry seeded with an image
// built from Debian's busybox-static, pull it into a demo store and run a
// command in it. Uses only Node built-ins until setup has installed the rest.
import {execFileSync} from 'node:child_process'
import {mkdtempSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {setup} from './setup.js'

const top = join(dirname(fileURLToPath(import.meta.url)), '..')
if (process.getuid?.() !== 0) {
  console.error('mydocker demo: run it as root (namespaces and overlay mounts need it)')
  process.exit(1)
}

setup()
const reference = execFileSync(process.execPath, [join(top, 'scripts', 'seed-registry.js')], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim()
const root = mkdtempSync(join(tmpdir(), 'mydocker-demo-store-'))
const mydocker = (...args) => {
  const quoted = args.map((arg) => (/^[\w./:@=-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`))
  console.log(`\n$ mydocker ${quoted.join(' ')}`)
  // `--`: node 20 would otherwise take `run --env-file F` as its own flag.
  execFileSync(process.execPath, ['--', join(top, 'bin', 'run.js'), ...args], {
    stdio: 'inherit',
    env: {...process.env, MYDOCKER_ROOT: root},
  })
}

mydocker('pull', reference)
mydocker('images')
mydocker('run', reference, 'sh', '-c', 'echo "hello from $(hostname), PID $$, in: $(ls /)"')
mydocker('run', reference, 'sh', '-c', 'busybox | head -n 1')
console.log(`\nThe demo store is ${root}; the registry keeps running on ${reference.split('/')[0]}.`)
