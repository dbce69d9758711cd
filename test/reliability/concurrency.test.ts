// Many mydocker processes on one store at once, against a real registry behind
// a counting proxy: pulls of one image download each blob once, overlapping
// images share what they have in common, pull and rm race without damage, and
// twenty runs start together. No "database is locked" ever reaches the user.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {readdir, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {binPath, mydocker, temporaryStore, type CliResult} from '../support/cli.js'
import {startHubProxy, type HubProxy} from '../support/hub-proxy.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const isRoot = process.getuid?.() === 0

type ImageName = 'busybox' | 'explorer' | 'whiteout' | 'debian'

// Blob GETs per digest since the proxy was last reset.
function blobGetsByDigest(proxy: HubProxy): Map<string, number> {
  const counts = new Map<string, number>()
  for (const request of proxy.requests) {
    const match = /\/blobs\/(sha256:[a-f0-9]{64})$/.exec(request.path)
    if (request.method === 'GET' && match) counts.set(match[1], (counts.get(match[1]) ?? 0) + 1)
  }
  return counts
}

function assertNoLockErrors(results: CliResult[]): void {
  for (const result of results) assert.doesNotMatch(result.stderr, /database is locked|SQLITE_BUSY/i)
}

describe('many mydocker processes on one store at once', {skip: !isRoot && 'needs root to run containers'}, () => {
  let registry: RunningRegistry
  let proxy: HubProxy
  let images: Record<ImageName, string>
  const roots: string[] = []

  const freshStore = async () => {
    const root = await temporaryStore()
    roots.push(root)
    return root
  }

  const assertCheckClean = async (root: string) => {
    const check = await mydocker(['system', 'check'], {root})
    assert.equal(check.exitCode, 0, check.stdout + check.stderr)
  }

  before(async () => {
    registry = await startRegistry()
    const seeded = await seedImages(registry.host, ['busybox', 'explorer', 'whiteout', 'debian'])
    proxy = await startHubProxy(registry.host)
    images = Object.fromEntries(
      Object.entries(seeded).map(([name, reference]) => [name, reference.replace(registry.host, proxy.host)]),
    ) as Record<ImageName, string>
  })

  after(async () => {
    await proxy?.stop()
    await registry?.remove()
    for (const root of roots) await rm(root, {recursive: true, force: true})
  })

  it('downloads each blob once when eight processes pull one image into an empty store', async (t) => {
    const root = await freshStore()
    proxy.reset()
    const results = await Promise.all(Array.from({length: 8}, () => mydocker(['pull', '-q', images.debian], {root})))
    for (const result of results) assert.equal(result.exitCode, 0, result.stderr)
    assertNoLockErrors(results)
    assert.equal(new Set(results.map((result) => result.stdout)).size, 1, 'all pulls report the same digest')

    const gets = blobGetsByDigest(proxy)
    t.diagnostic(`blob GETs for 8 pulls: ${[...gets.values()].join(', ')} (${gets.size} blobs)`)
    assert.ok(gets.size >= 3, `expected the config and two layers, got ${[...gets.keys()]}`)
    for (const [digest, count] of gets) assert.equal(count, 1, `blob ${digest} was downloaded ${count} times`)
    const snapshots = (await readdir(join(root, 'snapshots'))).filter((name) => /^\d+$/.test(name))
    assert.equal(snapshots.length, 2, `one snapshot per layer, got ${snapshots}`)
    await assertCheckClean(root)
  })

  it('shares the common layers when overlapping images are pulled at once, also by one pull -f FILE --json', async () => {
    const root = await freshStore()
    const list = join(root, '..', `${root.split('/').pop()}-images.txt`)
    await writeFile(list, `# the three small images\n${images.busybox}\n\n${images.whiteout}  # with whiteouts\n${images.explorer}\n`)
    proxy.reset()
    const results = await Promise.all([
      mydocker(['pull', '-q', images.busybox], {root}),
      mydocker(['pull', '-q', images.explorer], {root}),
      mydocker(['pull', '-q', images.whiteout], {root}),
      mydocker(['pull', '-f', list, '--json'], {root}),
    ])
    await rm(list, {force: true})
    for (const result of results) assert.equal(result.exitCode, 0, result.stderr)
    assertNoLockErrors(results)

    const lines = results[3].stdout.trim().split('\n').map((line) => JSON.parse(line) as {reference: string; digest: string})
    assert.deepEqual(lines.map((line) => line.reference).sort(), [images.busybox, images.explorer, images.whiteout].sort())
    for (const [digest, count] of blobGetsByDigest(proxy)) assert.equal(count, 1, `blob ${digest} was downloaded ${count} times`)
    await assertCheckClean(root)
  })

  it('lets system prune and system check run beside a pull without taking anything from it', async () => {
    const root = await freshStore()
    const pull = mydocker(['pull', '-q', images.debian], {root})
    const others: CliResult[] = []
    for (let round = 0; round < 3; round++) {
      await new Promise((resolve) => setTimeout(resolve, 700))
      others.push(await mydocker(['system', 'prune'], {root}), await mydocker(['system', 'df'], {root}))
    }
    const pulled = await pull
    assert.equal(pulled.exitCode, 0, pulled.stderr)
    for (const result of others) assert.equal(result.exitCode, 0, result.stderr)
    assertNoLockErrors([pulled, ...others])
    await assertCheckClean(root)
    const ran = await mydocker(['run', images.debian, 'cat', '/etc/debian_version'], {root})
    assert.match(ran.stdout, /^12\./, ran.stderr)
  })

  it('names the failed references and exits non-zero when some of many pulls fail', async () => {
    const root = await freshStore()
    const missing = `${proxy.host}/no-such-image:latest`
    const result = await mydocker(['pull', '--json', images.busybox, missing], {root})
    assert.notEqual(result.exitCode, 0)
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as {reference: string; error?: string})
    assert.equal(lines.find((line) => line.reference === images.busybox)?.error, undefined)
    assert.match(lines.find((line) => line.reference === missing)?.error ?? '', /no-such-image/)
    assert.match(result.stderr, new RegExp(`1 of 2 pulls failed: ${missing.replace(/[.]/g, '\\.')}`))
  })

  it('keeps the store whole when pull and rm of the same image race', async () => {
    const root = await freshStore()
    for (let round = 0; round < 4; round++) {
      const pull = mydocker(['pull', '-q', images.explorer], {root})
      await new Promise((resolve) => setTimeout(resolve, 150 * round))
      const remove = mydocker(['rm', images.explorer], {root})
      const [pulled, removed] = await Promise.all([pull, remove])
      assertNoLockErrors([pulled, removed])
      assert.equal(pulled.exitCode, 0, `round ${round}: ${pulled.stderr}`)
      // rm either found the name (and removed it) or came before the pull recorded it.
      if (removed.exitCode !== 0) assert.match(removed.stderr, /no such image/, `round ${round}: ${removed.stderr}`)
      await assertCheckClean(root)
    }
    const pulled = await mydocker(['pull', '-q', images.explorer], {root})
    assert.equal(pulled.exitCode, 0, pulled.stderr)
    const ran = await mydocker(['run', images.explorer, 'cat', '/data/hello.txt'], {root})
    assert.equal(ran.stdout, 'hello from explorer\n', ran.stderr)
  })

  it('keeps what a running container uses when its image is removed with rm -f', async () => {
    const root = await freshStore()
    assert.equal((await mydocker(['pull', '-q', images.explorer], {root})).exitCode, 0)
    const container = spawn(process.execPath, [binPath, 'run', '--entrypoint', 'sh', images.explorer, '-c', 'echo started; sleep 2; cat /data/hello.txt'], {
      env: {...process.env, MYDOCKER_ROOT: root},
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let output = ''
    const ended = new Promise<void>((resolve) => container.once('close', () => resolve()))
    await new Promise<void>((resolve) => {
      container.once('close', () => resolve())
      container.stdout!.on('data', (chunk) => {
        output += chunk
        if (output.startsWith('started\n')) resolve()
      })
    })
    assert.equal(output, 'started\n', 'the container started')
    const removed = await mydocker(['rm', '-f', images.explorer], {root})
    assert.equal(removed.exitCode, 0, removed.stderr)
    await ended
    assert.equal(output, 'started\nhello from explorer\n')
    await assertCheckClean(root)
    const prune = await mydocker(['system', 'prune', '--json'], {root})
    const pruned = JSON.parse(prune.stdout) as {snapshots: string[]}
    assert.equal(pruned.snapshots.length, 3, 'the snapshots go once the container has ended')
  })

  it('runs twenty containers at once from one image, each with its own output, leaving nothing behind', async () => {
    const root = await freshStore()
    assert.equal((await mydocker(['pull', '-q', images.busybox], {root})).exitCode, 0)
    const results = await Promise.all(
      Array.from({length: 20}, (_, index) => mydocker(['run', images.busybox, 'docker-explorer', 'echo', `run-${index}`], {root})),
    )
    results.forEach((result, index) => {
      assert.equal(result.exitCode, 0, result.stderr)
      assert.equal(result.stdout, `run-${index}\n`)
    })
    assertNoLockErrors(results)
    assert.deepEqual(await readdir(join(root, 'containers')), [])
    const df = JSON.parse((await mydocker(['system', 'df', '--json'], {root})).stdout) as {rows: Array<{type: string; total: number}>}
    assert.equal(df.rows.find((row) => row.type === 'containers')?.total, 0)
  })
})
