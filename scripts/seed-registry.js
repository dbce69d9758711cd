#!/usr/bin/env node
// Gives the demo a registry with one image in it, with no network beyond
// loopback: starts Debian's docker-registry on 127.0.0.1:PORT in the
// background (or reuses one already answering there), builds a busybox image
// from busybox-static with umoci, pushes it with skopeo and prints its
// reference on stdout.
//
// Usage: node scripts/seed-registry.js [--port N] [--dir DIR]
//   --port  registry port on 127.0.0.1 (default 5055)
//   --dir   registry state: storage, config and log (default $TMPDIR/mydocker-demo-registry-PORT)
//
// Plain Node, no imports from src/ or test/: it runs before anything is built.
// test/support/images.ts has the full recipes; this duplicates the minimum.
import {execFileSync, spawn} from 'node:child_process'
import {chmodSync, copyFileSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {parseArgs} from 'node:util'

const defaultPath = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

function parseOptions() {
  const {values} = parseArgs({options: {port: {type: 'string', default: '5055'}, dir: {type: 'string'}}})
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`invalid port "${values.port}"`)
  return {port, directory: values.dir ?? join(tmpdir(), `mydocker-demo-registry-${port}`)}
}

async function answers(host) {
  try {
    const response = await fetch(`http://${host}/v2/`, {signal: AbortSignal.timeout(1000)})
    return response.status === 200
  } catch {
    return false
  }
}

/** Starts a detached registry that outlives this script; its log goes to DIR/registry.log. */
async function startRegistry(host, directory) {
  mkdirSync(join(directory, 'storage'), {recursive: true})
  const configPath = join(directory, 'config.yml')
  const config = {
    version: 0.1,
    log: {level: 'warn', accesslog: {disabled: true}},
    storage: {filesystem: {rootdirectory: join(directory, 'storage')}, delete: {enabled: true}},
    http: {addr: host},
  }
  writeFileSync(configPath, JSON.stringify(config, null, 2) + '\n')

  const log = openSync(join(directory, 'registry.log'), 'a')
  const child = spawn('docker-registry', ['serve', configPath], {detached: true, stdio: ['ignore', log, log]})
  child.unref()
  writeFileSync(join(directory, 'registry.pid'), `${child.pid}\n`)

  for (let waited = 0; waited < 15_000; waited += 100) {
    if (await answers(host)) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`registry on ${host} did not answer GET /v2/; see ${join(directory, 'registry.log')}`)
}

/** One layer: static busybox with its applet links, root and app users, /tmp. */
function fillRootfs(rootfs) {
  for (const directory of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'root', 'tmp']) {
    mkdirSync(join(rootfs, directory), {recursive: true})
  }
  chmodSync(join(rootfs, 'tmp'), 0o1777)
  copyFileSync('/bin/busybox', join(rootfs, 'bin/busybox'))
  chmodSync(join(rootfs, 'bin/busybox'), 0o755)
  execFileSync('chroot', [rootfs, '/bin/busybox', '--install', '-s'])
  writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n')
  writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\n')
}

function buildAndPush(host) {
  const scratch = mkdtempSync(join(tmpdir(), 'mydocker-demo-image-'))
  try {
    const layout = join(scratch, 'layout')
    const image = `${layout}:latest`
    const bundle = join(scratch, 'bundle')
    execFileSync('umoci', ['init', '--layout', layout])
    execFileSync('umoci', ['new', '--image', image])
    execFileSync('umoci', ['unpack', '--image', image, bundle])
    fillRootfs(join(bundle, 'rootfs'))
    execFileSync('umoci', ['repack', '--image', image, bundle])
    execFileSync('umoci', ['config', '--image', image, '--config.env', `PATH=${defaultPath}`, '--config.cmd', 'sh'])

    const reference = `${host}/busybox:latest`
    execFileSync('skopeo', [
      'copy', '--quiet', '--insecure-policy', '--dest-tls-verify=false', `oci:${image}`, `docker://${reference}`,
    ])
    return reference
  } finally {
    rmSync(scratch, {recursive: true, force: true})
  }
}

async function main() {
  const {port, directory} = parseOptions()
  const host = `127.0.0.1:${port}`
  if (!(await answers(host))) await startRegistry(host, directory)
  console.log(buildAndPush(host))
}

main().catch((error) => {
  console.error(`seed-registry: ${error.message}`)
  process.exit(1)
})
