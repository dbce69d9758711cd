// Commands killed with SIGKILL at awkward moments: a pull mid-blob (and so
// mid-unpack, which runs on the same bytes), a pull mid-unpack of a stored
// blob, and a run. The next command must recover by itself, quickly, and
// `system prune` must leave no process, mount, cgroup or directory behind.
import assert from 'node:assert/strict'
import {spawn, spawnSync, type ChildProcess} from 'node:child_process'
import {existsSync, readFileSync} from 'node:fs'
import {mkdir, readdir, rm, stat} from 'node:fs/promises'
import {createServer, request as httpRequest, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {Transform} from 'node:stream'
import {after, before, describe, it} from 'node:test'
import {binPath, mydocker, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const isRoot = process.getuid?.() === 0

/** A forwarding proxy that can slow blob bodies down, and records each request's Range. */
interface SlowProxy {
  host: string
  /** Bytes per second for blob bodies; 0 = full speed. */
  bytesPerSecond: number
  requests: Array<{method: string; path: string; range?: string}>
  stop(): Promise<void>
}

async function startSlowProxy(upstream: string): Promise<SlowProxy> {
  const [upstreamHost, upstreamPort] = upstream.split(':')
  const proxy: SlowProxy = {host: '', bytesPerSecond: 0, requests: [], stop: async () => {}}
  const server: Server = createServer((request, response) => {
    const path = request.url ?? '/'
    proxy.requests.push({method: request.method ?? 'GET', path, range: request.headers.range})
    const forward = httpRequest(
      {host: upstreamHost, port: Number(upstreamPort), method: request.method, path, headers: request.headers},
      (answer) => {
        response.writeHead(answer.statusCode ?? 502, answer.headers)
        const slow = /\/blobs\/sha256:/.test(path) && proxy.bytesPerSecond > 0
        if (slow) answer.pipe(throttle(proxy.bytesPerSecond)).pipe(response)
        else answer.pipe(response)
      },
    )
    forward.once('error', () => response.destroy())
    response.once('close', () => forward.destroy())
    request.pipe(forward)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  proxy.host = `127.0.0.1:${(server.address() as AddressInfo).port}`
  proxy.stop = () =>
    new Promise((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
    })
  return proxy
}

// Passes 16 KiB pieces at the given rate.
function throttle(bytesPerSecond: number): Transform {
  const piece = 16 * 1024
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const pieces: Buffer[] = []
      for (let offset = 0; offset < chunk.length; offset += piece) pieces.push(chunk.subarray(offset, offset + piece))
      const next = () => {
        const part = pieces.shift()
        if (!part) return callback()
        this.push(part)
        setTimeout(next, (part.length / bytesPerSecond) * 1000)
      }
      next()
    },
  })
}

function startCli(args: string[], root: string): ChildProcess & {output: () => string} {
  const child = spawn(process.execPath, [binPath, ...args], {
    env: {...process.env, MYDOCKER_ROOT: root},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.on('data', (chunk) => (output += chunk))
  child.stderr!.on('data', (chunk) => (output += chunk))
  return Object.assign(child, {output: () => output})
}

async function killAndWait(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGKILL')
  await exited
}

/** Polls `condition` every 20 ms until it holds; rejects when `child` exits first or on timeout. */
async function waitFor(what: string, child: ChildProcess | undefined, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await condition()) return
    if (child !== undefined && child.exitCode !== null) throw new Error(`the command exited (${child.exitCode}) before ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`timed out waiting for ${what}`)
}

async function ingestBytes(root: string): Promise<number> {
  let total = 0
  for (const name of await readdir(join(root, 'ingest')).catch(() => [] as string[])) {
    total += (await stat(join(root, 'ingest', name)).catch(() => undefined))?.size ?? 0
  }
  return total
}

async function temporarySnapshotEntries(root: string): Promise<number> {
  let total = 0
  for (const name of await readdir(join(root, 'snapshots')).catch(() => [] as string[])) {
    if (name.startsWith('tmp-')) total += (await readdir(join(root, 'snapshots', name)).catch(() => [])).length
  }
  return total
}

async function temporarySnapshots(root: string): Promise<string[]> {
  return (await readdir(join(root, 'snapshots'))).filter((name) => name.startsWith('tmp-'))
}

describe('commands killed with SIGKILL, and what comes after', {skip: !isRoot && 'needs root to run containers'}, () => {
  let registry: RunningRegistry
  let proxy: SlowProxy
  let images: {busybox: string; debian: string}
  let root: string
  const run = (args: string[]) => mydocker(args, {root})

  before(async () => {
    registry = await startRegistry()
    const seeded = await seedImages(registry.host, ['busybox', 'debian'])
    proxy = await startSlowProxy(registry.host)
    images = {busybox: seeded.busybox.replace(registry.host, proxy.host), debian: seeded.debian.replace(registry.host, proxy.host)}
    root = await temporaryStore()
  })

  after(async () => {
    await proxy?.stop()
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('resumes a pull killed mid-blob and mid-unpack from the verified partial download', async (t) => {
    proxy.bytesPerSecond = 4 << 20
    const pull = startCli(['pull', images.debian], root)
    await waitFor('4 MB were downloaded and unpacking began', pull, async () => (await ingestBytes(root)) > 4 << 20 && (await temporarySnapshotEntries(root)) > 0)
    await killAndWait(pull)
    const partial = await ingestBytes(root)
    assert.ok(partial > 0, 'the partial download is kept')
    assert.ok((await temporarySnapshots(root)).length > 0, 'the killed unpack left its temporary directory')
    assert.ok((await readdir(join(root, 'locks'))).some((name) => name.endsWith('.lock')), 'the killed pull left its lock')

    proxy.bytesPerSecond = 0
    proxy.requests.length = 0
    const started = Date.now()
    const again = await run(['pull', '-q', images.debian])
    const seconds = (Date.now() - started) / 1000
    assert.equal(again.exitCode, 0, again.stderr)
    t.diagnostic(`pull after SIGKILL took ${seconds.toFixed(1)} s, resuming from ${partial} bytes`)

    const ranges = proxy.requests.filter((request) => request.range !== undefined).map((request) => request.range)
    assert.ok(ranges.some((range) => /^bytes=[1-9]\d*-/.test(range!)), `no Range request resumed the download: ${JSON.stringify(proxy.requests)}`)
    assert.deepEqual(await temporarySnapshots(root), [], 'the killed unpack is cleaned up and never used')
    assert.deepEqual(await readdir(join(root, 'ingest')), [])
    const locks = (await readdir(join(root, 'locks'))).filter((name) => name.endsWith('.lock'))
    assert.deepEqual(locks, [], 'the dead pull\'s lock was taken over and released')
    const check = await run(['system', 'check'])
    assert.equal(check.exitCode, 0, check.stdout)
    const ran = await run(['run', images.debian, 'cat', '/etc/debian_version'])
    assert.equal(ran.exitCode, 0, ran.stderr)
    assert.match(ran.stdout, /^12\./)
  })

  it('starts over a partial download whose bytes are not a prefix of the blob', async () => {
    const scratch = await temporaryStore()
    try {
      proxy.bytesPerSecond = 4 << 20
      const pull = startCli(['pull', images.debian], scratch)
      await waitFor('2 MB were downloaded', pull, async () => (await ingestBytes(scratch)) > 2 << 20)
      await killAndWait(pull)
      proxy.bytesPerSecond = 0
      // Damage the partial file: a resume that trusted it would store a bad blob.
      const [name] = await readdir(join(scratch, 'ingest'))
      const {open} = await import('node:fs/promises')
      const handle = await open(join(scratch, 'ingest', name), 'r+')
      await handle.write(Buffer.from('not the blob'), 0, 12, 1000)
      await handle.close()

      const first = await mydocker(['pull', '-q', images.debian], {root: scratch})
      const second = first.exitCode === 0 ? first : await mydocker(['pull', '-q', images.debian], {root: scratch})
      assert.equal(second.exitCode, 0, `${first.stderr}\n${second.stderr}`)
      if (first.exitCode !== 0) assert.match(first.stderr, /digest/, 'a failed resume says the digest did not match')
      const check = await mydocker(['system', 'check'], {root: scratch})
      assert.equal(check.exitCode, 0, check.stdout)
    } finally {
      await rm(scratch, {recursive: true, force: true})
    }
  })

  it('rebuilds a snapshot whose unpack from the stored blob was killed', async () => {
    // Take the big layer's snapshot away, so the next pull unpacks the stored blob.
    const snapshots = (await readdir(join(root, 'snapshots'))).filter((name) => /^\d+$/.test(name))
    const sizes = await Promise.all(snapshots.map(async (name) => (await readdir(join(root, 'snapshots', name))).length))
    const biggest = snapshots[sizes.indexOf(Math.max(...sizes))]
    await rm(join(root, 'snapshots', biggest), {recursive: true})
    assert.equal((await run(['system', 'check', '--repair'])).exitCode, 0)

    const pull = startCli(['pull', images.debian], root)
    await waitFor('the unpack began', pull, async () => (await temporarySnapshotEntries(root)) > 3)
    await killAndWait(pull)
    assert.ok((await temporarySnapshots(root)).length > 0)

    proxy.requests.length = 0
    const again = await run(['pull', '-q', images.debian])
    assert.equal(again.exitCode, 0, again.stderr)
    const blobGets = proxy.requests.filter((request) => request.method === 'GET' && request.path.includes('/blobs/'))
    assert.deepEqual(blobGets, [], 'the stored blob is unpacked again, not downloaded')
    assert.deepEqual(await temporarySnapshots(root), [])
    assert.equal((await run(['system', 'check'])).exitCode, 0)
    const ran = await run(['run', images.debian, 'cat', '/etc/debian_version'])
    assert.match(ran.stdout, /^12\./, ran.stderr)
  })

  it('ends the container with a run killed by SIGKILL, and prune removes its mounts, cgroup and directory', async () => {
    assert.equal((await run(['pull', '-q', images.busybox])).exitCode, 0)
    const marker = String(4000 + Math.floor(Math.random() * 1000))
    const container = startCli(['run', images.busybox, 'sh', '-c', `echo started; exec sleep ${marker}`], root)
    await waitFor('the container started', container, async () => container.output().includes('started'))
    const sleeper = processesRunning(['sleep', marker])
    assert.equal(sleeper.length, 1, 'the container process is found')
    const containerDirectories = await readdir(join(root, 'containers'))
    assert.equal(containerDirectories.length, 1)

    // A cgroup as the launcher names it (mydocker-<supervisor PID>), left by a dead supervisor.
    const deadSupervisor = spawnSync('true').pid!
    const cgroup = `/sys/fs/cgroup/pids/mydocker-${deadSupervisor}`
    const canMakeCgroup = existsSync('/sys/fs/cgroup/pids')
    if (canMakeCgroup) await mkdir(cgroup)

    await killAndWait(container)
    await waitFor('the container process to end with its mydocker process', undefined, async () => processesRunning(['sleep', marker]).length === 0, 10_000)

    const prune = await run(['system', 'prune'])
    assert.equal(prune.exitCode, 0, prune.stderr)
    assert.match(prune.stdout, new RegExp(`Removed container: ${containerDirectories[0].slice(0, 12)}`))
    assert.deepEqual(await readdir(join(root, 'containers')), [])
    assert.deepEqual(mountsUnder(root), [])
    if (canMakeCgroup) assert.equal(existsSync(cgroup), false, `${cgroup} is still there`)
    const df = JSON.parse((await run(['system', 'df', '--json'])).stdout) as {rows: Array<{type: string; total: number}>}
    assert.equal(df.rows.find((row) => row.type === 'containers')?.total, 0)
    const ran = await run(['run', images.busybox, 'docker-explorer', 'echo', 'after prune'])
    assert.equal(ran.stdout, 'after prune\n', ran.stderr)
  })

  // mydocker exits as soon as the launcher has reported the exit status; the
  // launcher must have let go of its parent-death signal by then, or that exit
  // kills it before it removes the run's directory. strace slows every prctl
  // down (the signal is set and cleared with prctl) to widen the window.
  it('removes the run\'s directory although mydocker exits the moment it has the exit status', {skip: !hasStrace() && 'strace is not installed'}, async () => {
    assert.equal((await run(['pull', '-q', images.busybox])).exitCode, 0)
    for (let attempt = 0; attempt < 2; attempt++) {
      const traced = spawnSync(
        'strace',
        ['-f', '-qq', '-o', '/dev/null', '-e', 'trace=prctl', '-e', 'inject=prctl:delay_enter=50000:when=2+', process.execPath, '--', binPath, 'run', images.busybox, 'true'],
        {env: {...process.env, MYDOCKER_ROOT: root}, encoding: 'utf8'},
      )
      assert.equal(traced.status, 0, traced.stderr)
      await waitFor('the launcher to remove the run\'s directory', undefined, async () => (await readdir(join(root, 'containers'))).length === 0, 10_000)
    }
  })
})

function hasStrace(): boolean {
  return spawnSync('sh', ['-c', 'command -v strace'], {stdio: 'ignore'}).status === 0
}

// PIDs whose command line is exactly `argv`.
function processesRunning(argv: string[]): number[] {
  const wanted = argv.join('\0')
  const pids: number[] = []
  for (const name of spawnSync('ls', ['/proc']).stdout.toString().split('\n')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const commandLine = readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0$/, '')
      if (commandLine === wanted) pids.push(Number(name))
    } catch {
      // Gone meanwhile.
    }
  }
  return pids
}

function mountsUnder(directory: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point) => point !== undefined && point.startsWith(directory))
}
