#!/usr/bin/env node
// Makes a fresh clone ready: the Debian packages mydocker's demo and tests use
// (when root and they are missing), node_modules (npm ci), and the build.
// Plain Node with no dependencies, since it runs before anything is installed.
import {execFileSync, spawnSync} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

const top = join(dirname(fileURLToPath(import.meta.url)), '..')

/** Debian packages and a command each provides, to tell whether it is there. */
const PACKAGES = [
  ['docker-registry', 'docker-registry'],
  ['skopeo', 'skopeo'],
  ['umoci', 'umoci'],
  ['busybox-static', 'busybox'],
  ['debootstrap', 'debootstrap'],
  ['zstd', 'zstd'],
  ['gcc', 'gcc'],
  ['runc', 'runc'],
  ['uidmap', 'newuidmap'],
]

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'}).status === 0
}

export function setup() {
  const missing = PACKAGES.filter(([, command]) => !has(command)).map(([name]) => name)
  if (missing.length > 0) {
    if (process.getuid?.() !== 0) {
      console.error(`mydocker setup: missing Debian packages: ${missing.join(' ')}; install them with apt-get as root`)
      process.exit(1)
    }
    console.error(`mydocker setup: installing ${missing.join(' ')}`)
    execFileSync('apt-get', ['update', '-qq'], {stdio: 'inherit'})
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing, 'libc6-dev'], {
      stdio: 'inherit',
      env: {...process.env, DEBIAN_FRONTEND: 'noninteractive'},
    })
  }
  if (!existsSync(join(top, 'node_modules', '.package-lock.json'))) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], {cwd: top, stdio: 'inherit'})
  }
  execFileSync(process.execPath, [join(top, 'scripts', 'build.js')], {cwd: top, stdio: 'inherit'})
}

if (import.meta.url === `file://${process.argv[1]}`) setup()
