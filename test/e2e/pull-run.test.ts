// The whole path as a user walks it: pull from a real registry, list, run, rm.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes, randomInt} from 'node:crypto'
import {mkdtemp, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {binPath, diskUsage, mydocker, pullImages, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const isRoot = process.getuid?.() === 0

function hasRunc(): boolean {
  return spawnSync('sh', ['-c', 'command -v runc'], {stdio: 'ignore'}).status === 0
}

// Bytes of content (blobs and snapshots); the index's own file grows and shrinks on its own.
async function contentUsage(root: string): Promise<number> {
  return (await diskUsage(join(root, 'blobs'))) + (await diskUsage(join(root, 'snapshots')))
}

describe('mydocker pull, images, run and rm against a real registry', {skip: !isRoot && 'needs root for namespaces and overlay mounts'}, () => {
  let registry: RunningRegistry
  let root: string
  let images: {busybox: string; explorer: string; whiteout: string}
  const run = (args: string[], options: {env?: Record<string, string>} = {}) => mydocker(args, {root, ...options})

  before(async () => {
    registry = await startRegistry()
    images = await seedImages(registry.host, ['busybox', 'explorer', 'whiteout'])
    root = await temporaryStore()
    await pullImages(Object.values(images), root)
  })

  after(async () => {
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('prints exactly what echo writes to stdout, and nothing else', async () => {
    const words = [randomBytes(6).toString('hex'), randomBytes(4).toString('base64url')]
    const result = await run(['run', images.busybox, 'docker-explorer', 'echo', ...words])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.equal(result.stdout, `${words.join(' ')}\n`)
    assert.equal(result.stderr, '')
  })

  it('passes stderr through separately', async () => {
    const word = randomBytes(8).toString('hex')
    const result = await run(['run', images.busybox, 'docker-explorer', 'echo_stderr', word])
    assert.equal(result.stdout, '')
    assert.equal(result.stderr, `${word}\n`)
  })

  for (const code of [0, 1, randomInt(2, 30)]) {
    it(`returns the command's exit status ${code}`, async () => {
      const result = await run(['run', images.busybox, 'docker-explorer', 'exit', String(code)])
      assert.equal(result.exitCode, code)
    })
  }

  it('does not show a directory created on the host', async () => {
    const hostDirectory = await mkdtemp(join('/', 'mydocker-host-only-'))
    try {
      const result = await run(['run', images.busybox, 'docker-explorer', 'ls', hostDirectory])
      assert.equal(result.exitCode, 2)
      assert.match(result.stderr, /No such file or directory/)
    } finally {
      await rm(hostDirectory, {recursive: true, force: true})
    }
  })

  it('passes none of the caller\'s other open descriptors to the command', async () => {
    // fd 5 is open in mydocker's process, as a shell may leave one open.
    const child = spawn(process.execPath, [binPath, 'run', images.busybox, 'ls', '/proc/self/fd'], {
      env: {...process.env, MYDOCKER_ROOT: root},
      stdio: ['ignore', 'pipe', 'pipe', 'ignore', 'ignore', 'pipe'],
    })
    let stdout = ''
    child.stdout!.on('data', (chunk) => (stdout += chunk))
    const code = await new Promise((resolve) => child.once('close', resolve))
    assert.equal(code, 0)
    // 0-2 are stdio; 3 is the directory ls itself is reading.
    assert.deepEqual(stdout.trim().split('\n'), ['0', '1', '2', '3'])
  })

  it('runs the command as PID 1', async () => {
    const result = await run(['run', images.busybox, 'docker-explorer', 'mypid'])
    assert.equal(result.stdout.trim(), '1')
  })

  it('shows the image\'s top-level entries and only the dev, proc and sys mount points beyond them', async () => {
    const result = await run(['run', images.busybox, 'sh', '-c', '/bin/ls /'])
    assert.equal(result.exitCode, 0, result.stderr)
    const entries = result.stdout.split(/\s+/).filter(Boolean).sort()
    const expected = ['bin', 'dev', 'etc', 'home', 'linuxrc', 'proc', 'root', 'sbin', 'sys', 'tmp', 'usr'].sort()
    assert.deepEqual(entries.filter((entry) => !expected.includes(entry)), [])
    for (const entry of ['bin', 'dev', 'proc', 'sys', 'etc', 'usr']) assert.ok(entries.includes(entry), entry)
  })

  it('applies whiteouts: deleted files are gone and opaque directories hold only the new entries', async () => {
    const gone = await run(['run', images.whiteout, 'docker-explorer', 'ls', '/gone.txt'])
    assert.equal(gone.exitCode, 2)
    const opaque = await run(['run', images.whiteout, 'docker-explorer', 'ls', '/opaque'])
    assert.equal(opaque.exitCode, 0, opaque.stderr)
    assert.equal(opaque.stdout, 'c\n')
    const listing = await run(['run', images.whiteout, 'docker-explorer', 'ls', '/'])
    assert.doesNotMatch(listing.stdout, /\.wh\./)
  })

  it('applies the image config: Entrypoint, Cmd, Env and WorkingDir (created when missing)', async () => {
    const defaults = await run(['run', images.explorer])
    assert.equal(defaults.stdout, 'default cmd\n')
    const env = await run(['run', images.explorer, 'env'])
    const lines = env.stdout.split('\n')
    assert.ok(lines.includes('FOO=bar'), env.stdout)
    assert.ok(lines.some((line) => line.startsWith('PATH=')), env.stdout)
    assert.ok(lines.some((line) => line.startsWith('HOSTNAME=')), env.stdout)
    assert.ok(lines.some((line) => line.startsWith('HOME=')), env.stdout)
    assert.ok(!lines.some((line) => line.startsWith('MYDOCKER_ROOT=')), 'host environment leaked in')
    const cwd = await run(['run', images.explorer, 'cwd'])
    assert.equal(cwd.stdout, '/work/dir\n')
  })

  it('discards what a run writes', async () => {
    const write = await run(['run', images.busybox, 'docker-explorer', 'touch', '/written-by-run'])
    assert.equal(write.exitCode, 0, write.stderr)
    const look = await run(['run', images.busybox, 'docker-explorer', 'ls', '/written-by-run'])
    assert.equal(look.exitCode, 2)
  })

  it('lists what was pulled in images, also as JSON and as IDs', async () => {
    const table = await run(['images'])
    assert.equal(table.exitCode, 0, table.stderr)
    assert.match(table.stdout, /^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE/)
    for (const name of ['busybox', 'explorer', 'whiteout']) assert.match(table.stdout, new RegExp(`/${name}\\s+latest\\s+[0-9a-f]{12}\\s`))
    const json = JSON.parse((await run(['images', '--json'])).stdout) as Array<{repository: string}>
    assert.equal(json.length, 3)
    const ids = (await run(['images', '-q'])).stdout.trim().split('\n')
    for (const id of ids) assert.match(id, /^[0-9a-f]{12}$/)
  })

  it('runs the same image through runc with --runtime runc', {skip: !hasRunc() && 'runc is not installed'}, async () => {
    const result = await run(['run', '--runtime', 'runc', images.explorer])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.equal(result.stdout, 'default cmd\n')
    const failing = await run(['run', '--runtime', 'runc', images.busybox, 'docker-explorer', 'exit', '7'])
    assert.equal(failing.exitCode, 7)
  })

  it('takes --env-file as run\'s own flag when started as the mydocker executable', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'mydocker-env-'))
    const file = join(directory, 'vars.env')
    await writeFile(file, '# a comment\nGREETING=hello from a file\n')
    const result = spawnSync(binPath, ['run', '--env-file', file, images.busybox, 'sh', '-c', 'echo $GREETING'], {
      env: {...process.env, MYDOCKER_ROOT: root},
      encoding: 'utf8',
    })
    await rm(directory, {recursive: true, force: true})
    assert.equal(result.status, 0, result.stderr)
    assert.equal(result.stdout, 'hello from a file\n')
  })

  it('runs a stored image by its image ID, as docker does', async () => {
    const [id] = (await run(['images', '-q', images.busybox])).stdout.trim().split('\n')
    const result = await run(['run', id, 'docker-explorer', 'echo', 'by id'])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.equal(result.stdout, 'by id\n')
  })

  it('runs a stored image without loading an HTTP client, tar or oclif', async () => {
    const directory = await mkdtemp(join(tmpdir(), 'mydocker-modules-'))
    const recorder = join(directory, 'record.cjs')
    const record = join(directory, 'loaded.json')
    await writeFile(recorder, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(record)},
      JSON.stringify({builtins: process.moduleLoadList, files: Object.keys(require.cache)})))`)
    try {
      const result = spawnSync(process.execPath, ['--require', recorder, '--', binPath, 'run', images.busybox, 'true'], {
        env: {...process.env, MYDOCKER_ROOT: root},
        encoding: 'utf8',
      })
      assert.equal(result.status, 0, result.stderr)
      const loaded = JSON.parse(await readFile(record, 'utf8')) as {builtins: string[]; files: string[]}
      for (const builtin of ['http', 'https', 'tls', 'zlib']) {
        assert.ok(!loaded.builtins.includes(`NativeModule ${builtin}`), `node:${builtin} was loaded`)
      }
      assert.deepEqual(loaded.files.filter((file) => /node_modules\/(got|tar|@oclif)\//.test(file)), [])
      assert.ok(loaded.files.some((file) => file.endsWith('/dist/cli/load-bundle.cjs')), 'the recorder saw the fast path')
    } finally {
      await rm(directory, {recursive: true, force: true})
    }
  })

  it('refuses -it when stdin is not a terminal, as docker does', async () => {
    const result = await mydocker(['run', '-it', images.busybox, 'cat'], {root, input: 'hi\n'})
    assert.equal(result.exitCode, 125)
    assert.match(result.stderr, /the input device is not a TTY/)
  })

  it('rejects a malformed reference with one line and 125', async () => {
    const result = await run(['run', 'UPPER/Case', 'true'])
    assert.equal(result.exitCode, 125)
    assert.equal(result.stderr.split('\n').filter((line) => line.startsWith('mydocker:')).length, 1)
    assert.match(result.stderr, /invalid reference format/)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })

  it('fails with 125 for an image the registry does not have', async () => {
    const result = await run(['run', `${registry.host}/no-such-image:latest`, 'true'])
    assert.equal(result.exitCode, 125)
    assert.match(result.stderr, /no-such-image/)
    assert.doesNotMatch(result.stderr, /\n\s+at /)
  })

  it('fails with 127 for a command the image does not have, even if the host has it', async () => {
    const result = await run(['run', images.busybox, 'node', '--version'])
    assert.equal(result.exitCode, 127)
    assert.match(result.stderr, /node/)
  })

  it('runs a stored image with the registry stopped', async () => {
    await registry.stop()
    try {
      const result = await run(['run', images.busybox, 'docker-explorer', 'echo', 'offline'])
      assert.equal(result.exitCode, 0, result.stderr)
      assert.equal(result.stdout, 'offline\n')
      assert.equal(result.stderr, '')
    } finally {
      registry = await startRegistry({rootDirectory: registry.rootDirectory, port: registry.port})
    }
  })

  it('rm gives the disk space back while an image sharing its layers keeps working', async () => {
    const before = await contentUsage(root)
    const removed = await run(['rm', images.whiteout])
    assert.equal(removed.exitCode, 0, removed.stderr)
    assert.match(removed.stdout, /Untagged: /)
    const afterRm = await contentUsage(root)
    assert.ok(afterRm < before, `store did not shrink: ${before} -> ${afterRm}`)

    const shared = await run(['run', images.busybox, 'docker-explorer', 'echo', 'still here'])
    assert.equal(shared.stdout, 'still here\n')

    // Pulling it again and removing it again returns to the same size.
    assert.equal((await run(['pull', '-q', images.whiteout])).exitCode, 0)
    assert.equal((await run(['rm', images.whiteout])).exitCode, 0)
    assert.equal(await contentUsage(root), afterRm)
    const names = await readdir(join(root, 'snapshots'))
    assert.ok(!names.some((name) => name.startsWith('tmp-')), `leftover snapshot directories: ${names}`)
  })

  it('rejects rm of an image it does not have with 125', async () => {
    const result = await run(['rm', 'not-stored-anywhere'])
    assert.equal(result.exitCode, 125)
    assert.match(result.stderr, /no such image/)
  })
})
