// Rootless mydocker (issues #5 and #4): an ordinary user, created here, pulls
// and runs images with a store under their home, once with the snapshotter
// mydocker detects (overlay with userxattr on this kernel) and once with the
// flat snapshots forced.
import assert from 'node:assert/strict'
import {spawn, spawnSync} from 'node:child_process'
import {randomBytes, randomInt} from 'node:crypto'
import {readdirSync, statSync} from 'node:fs'
import {chown, mkdtemp, readFile, rm} from 'node:fs/promises'
import {dirname, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {binPath, type CliResult} from '../support/cli.js'
import {cachedLayout, pushLayout, seedImages, standardLayout, defaultPath} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const USER = 'mydocker-rootless-test'
/** An owner no subordinate range of 65536 ids maps (1..65536 are mapped). */
const UNMAPPED_OWNER = 70000

interface TestUser {
  uid: number
  gid: number
  home: string
  subuidStart: number
}

/** Why the machine cannot run these tests, or undefined when it can. */
function cannotRun(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create the ordinary user the tests run as'
  for (const tool of ['useradd', 'usermod', 'runuser', 'unshare', 'newuidmap', 'newgidmap', 'script']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], {stdio: 'ignore'}).status !== 0) return `${tool} is not installed`
  }
  const setting = (path: string) => spawnSync('cat', [path], {encoding: 'utf8'}).stdout.trim()
  if (setting('/proc/sys/user/max_user_namespaces') === '0') return 'user namespaces are disabled (user.max_user_namespaces is 0)'
  if (setting('/proc/sys/kernel/unprivileged_userns_clone') === '0') return 'unprivileged user namespaces are disabled (kernel.unprivileged_userns_clone is 0)'
  return unreadableCheckout()
}

// The ordinary user runs this checkout's bin/ and node_modules/: every folder
// above it must let others through.
function unreadableCheckout(): string | undefined {
  for (let directory = dirname(binPath); directory !== dirname(directory); directory = dirname(directory)) {
    if ((statSync(directory).mode & 0o001) === 0) {
      return `the checkout is not reachable by an ordinary user: ${directory} is not searchable by others (chmod o+x it to run these tests)`
    }
  }
  return undefined
}

function ensureUser(): TestUser {
  if (spawnSync('id', ['-u', USER]).status !== 0) {
    const made = spawnSync('useradd', ['-m', USER], {encoding: 'utf8'})
    assert.equal(made.status, 0, made.stderr)
  }
  const number = (flag: string) => Number(spawnSync('id', [flag, USER], {encoding: 'utf8'}).stdout.trim())
  const home = spawnSync('sh', ['-c', `getent passwd ${USER} | cut -d: -f6`], {encoding: 'utf8'}).stdout.trim()
  return {uid: number('-u'), gid: number('-g'), home, subuidStart: ensureSubordinateRange()}
}

// useradd gives a range where login.defs says so; otherwise one is added.
function ensureSubordinateRange(): number {
  const find = (file: string) => {
    const line = spawnSync('grep', [`^${USER}:`, file], {encoding: 'utf8'}).stdout.split('\n')[0]
    return line ? Number(line.split(':')[1]) : undefined
  }
  if (find('/etc/subuid') === undefined || find('/etc/subgid') === undefined) {
    const added = spawnSync('usermod', ['--add-subuids', '300000-365535', '--add-subgids', '300000-365535', USER], {encoding: 'utf8'})
    assert.equal(added.status, 0, added.stderr)
  }
  return find('/etc/subuid')!
}

/** Runs `mydocker ARGS...` as the test user with only the environment given (plus HOME, PATH). */
function asUser(user: TestUser, args: string[], env: Record<string, string>, started?: (runuserPid: number) => void): Promise<CliResult> {
  const environment = [`HOME=${user.home}`, `PATH=${process.env.PATH}`, `USER=${USER}`, `LOGNAME=${USER}`]
  for (const [name, value] of Object.entries(env)) environment.push(`${name}=${value}`)
  const child = spawn('runuser', ['-u', USER, '--', 'env', '-i', ...environment, process.execPath, binPath, ...args], {
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  if (started) child.once('spawn', () => started(child.pid!))
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), 300_000)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({stdout, stderr, exitCode: code ?? 137})
    })
  })
}

/** An image on busybox's layers with /owned-far owned by an id no range maps. */
async function unmappedOwnerLayout(): Promise<string> {
  const base = await standardLayout('busybox')
  return cachedLayout('rootless-unmapped-owner', async () => ({
    base,
    layers: [
      async (rootfs: string) => {
        const {writeFile} = await import('node:fs/promises')
        await writeFile(join(rootfs, 'owned-far'), 'far\n')
        await chown(join(rootfs, 'owned-far'), UNMAPPED_OWNER, UNMAPPED_OWNER)
      },
    ],
    config: {env: [`PATH=${defaultPath}`], cmd: ['sh']},
  }))
}

/** Waits until `check` holds, polling; fails after 20 s. */
async function waitFor(what: string, check: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.fail(`timed out waiting for ${what}`)
}

function childrenOf(pid: number): number[] {
  const listed = spawnSync('pgrep', ['-P', String(pid)], {encoding: 'utf8'}).stdout
  return listed.split('\n').filter(Boolean).map(Number)
}

describe('subordinateRange reads /etc/subuid lines', () => {
  const user = {name: 'alice', id: 1234}
  const cases = [
    {name: 'a line naming the user', text: 'bob:100000:65536\nalice:165536:65536\n', expected: {start: 165536, count: 65536}},
    {name: 'a line giving the uid', text: '1234:200000:1000\n', expected: {start: 200000, count: 1000}},
    {name: 'the first of several lines', text: 'alice:300000:10\nalice:400000:20\n', expected: {start: 300000, count: 10}},
    {name: 'no line for the user', text: 'bob:100000:65536\n', expected: undefined},
    {name: 'a malformed line, then a good one', text: 'alice:x:y\nalice:5:6\n', expected: {start: 5, count: 6}},
    {name: 'an empty range', text: 'alice:100000:0\n', expected: undefined},
  ]
  for (const testCase of cases) {
    it(`finds ${testCase.expected ? 'the range' : 'nothing'} for ${testCase.name}`, async () => {
      const {subordinateRange} = await import('../../src/rootless/userns.js')
      assert.deepEqual(subordinateRange(testCase.text, user), testCase.expected)
    })
  }
})

const skip = cannotRun()
const snapshotters = [
  {name: 'the detected snapshotter (overlay with userxattr)', kind: 'overlay', env: {} as Record<string, string>},
  {name: 'flat snapshots', kind: 'flat', env: {MYDOCKER_SNAPSHOTTER: 'flat'}},
]

describe('rootless mydocker as an ordinary user', {skip}, () => {
  let registry: RunningRegistry
  let images: {busybox: string; explorer: string; whiteout: string; unmapped: string}
  let user: TestUser
  const dataHomes: string[] = []

  before(async () => {
    user = ensureUser()
    const readable = spawnSync('runuser', ['-u', USER, '--', 'test', '-r', binPath], {stdio: 'ignore'})
    assert.equal(readable.status, 0, `${USER} cannot read ${binPath}; the checkout must be world-readable`)
    registry = await startRegistry()
    const standard = await seedImages(registry.host, ['busybox', 'explorer', 'whiteout'])
    const unmapped = await pushLayout(await unmappedOwnerLayout(), 'latest', registry.host, 'unmapped:latest')
    images = {...standard, unmapped}
  })

  after(async () => {
    await registry?.remove()
    for (const directory of dataHomes) await rm(directory, {recursive: true, force: true})
  })

  for (const snapshotter of snapshotters) {
    describe(`with ${snapshotter.name}`, () => {
      let dataHome: string
      const run = (args: string[]) => asUser(user, args, {XDG_DATA_HOME: dataHome, ...snapshotter.env})

      before(async () => {
        // XDG_DATA_HOME, not MYDOCKER_ROOT: the store is found the way a user's is.
        dataHome = await mkdtemp(join(user.home, '.rootless-test-'))
        dataHomes.push(dataHome)
        await chown(dataHome, user.uid, user.gid)
      })

      it('pulls every image', async () => {
        for (const image of [images.busybox, images.explorer, images.whiteout]) {
          const pulled = await run(['pull', image])
          assert.equal(pulled.exitCode, 0, pulled.stderr)
        }
      })

      it('says in info which snapshotter the store uses and that it runs rootless', async () => {
        const result = await run(['info', '--json'])
        assert.equal(result.exitCode, 0, result.stderr)
        const info = JSON.parse(result.stdout) as {store: {root: string}; snapshotter: {default: string; inUse: string[]; userXattr: boolean}; rootless: boolean}
        assert.equal(info.store.root, join(dataHome, 'mydocker'))
        assert.equal(info.snapshotter.default, snapshotter.kind)
        assert.deepEqual(info.snapshotter.inUse, [snapshotter.kind])
        assert.equal(info.snapshotter.userXattr, true)
        assert.equal(info.rootless, true)
      })

      it('lists the pulled images', async () => {
        const result = await run(['images', '--format', '{{.Repository}}:{{.Tag}}'])
        assert.equal(result.exitCode, 0, result.stderr)
        for (const image of [images.busybox, images.explorer, images.whiteout]) assert.ok(result.stdout.includes(image), result.stdout)
      })

      it('prints exactly what echo writes to stdout, and nothing else', async () => {
        const words = [randomBytes(6).toString('hex'), randomBytes(4).toString('base64url')]
        const result = await run(['run', images.busybox, 'docker-explorer', 'echo', ...words])
        assert.equal(result.exitCode, 0, result.stderr)
        assert.equal(result.stdout, `${words.join(' ')}\n`)
        assert.equal(result.stderr, '')
      })

      for (const code of [0, 1, randomInt(2, 30)]) {
        it(`returns the command's exit status ${code}`, async () => {
          const result = await run(['run', images.busybox, 'docker-explorer', 'exit', String(code)])
          assert.equal(result.exitCode, code, result.stderr)
        })
      }

      it("takes the environment, working directory and command from the image's config", async () => {
        const environment = await run(['run', images.explorer, 'env'])
        assert.match(environment.stdout, /^FOO=bar$/m)
        const directory = await run(['run', images.explorer, 'cwd'])
        assert.equal(directory.stdout, '/work/dir\n', directory.stderr)
        const defaults = await run(['run', images.explorer])
        assert.equal(defaults.stdout, 'default cmd\n', defaults.stderr)
      })

      it('applies whiteouts: a deleted file is gone, an opaque directory holds only its own entries', async () => {
        const opaque = await run(['run', images.whiteout, 'docker-explorer', 'ls', '/opaque'])
        assert.equal(opaque.stdout, 'c\n', opaque.stderr)
        const gone = await run(['run', images.whiteout, 'docker-explorer', 'stat', '/gone.txt'])
        assert.equal(gone.exitCode, 2)
        const kept = await run(['run', images.whiteout, 'docker-explorer', 'stat', '/kept.txt'])
        assert.equal(kept.exitCode, 0, kept.stderr)
      })

      it("keeps the image's owner 1000 inside, stored on the host as the user's subordinate id", async () => {
        const result = await run(['run', images.busybox, 'docker-explorer', 'stat', '/home/app'])
        assert.match(result.stdout, /uid=1000 gid=1000 /, result.stderr)
        const snapshots = join(dataHome, 'mydocker', 'snapshots')
        const owners = readdirSync(snapshots)
          .map((name) => join(snapshots, name, 'home', 'app'))
          .flatMap((path) => (statSync(path, {throwIfNoEntry: false}) ? [statSync(path).uid] : []))
        assert.ok(owners.length > 0, 'no snapshot holds home/app')
        for (const owner of owners) assert.equal(owner, user.subuidStart + 999)
      })

      it('runs the command as the image user app (1000) with its groups', async () => {
        const result = await run(['run', '--user', 'app', images.busybox, 'docker-explorer', 'id'])
        assert.equal(result.exitCode, 0, result.stderr)
        assert.match(result.stdout, /uid=1000 gid=1000/)
      })

      it('warns of a file owned by an id outside the mapping and still pulls and runs the image', async () => {
        const pulled = await run(['pull', images.unmapped])
        assert.equal(pulled.exitCode, 0, pulled.stderr)
        assert.match(pulled.stderr, /warning: .*owned-far.*chown failed/)
        const result = await run(['run', images.unmapped, 'docker-explorer', 'cat', '/owned-far'])
        assert.equal(result.stdout, 'far\n', result.stderr)
      })

      it('ignores resource limits with a warning: no cgroup is delegated to the user', async () => {
        const result = await run(['run', '--memory', '64m', images.busybox, 'docker-explorer', 'echo', 'limited'])
        assert.equal(result.exitCode, 0, result.stderr)
        assert.equal(result.stdout, 'limited\n')
        assert.match(result.stderr, /warning: resource limits are ignored/)
      })

      it('passes a SIGTERM sent to mydocker on to the container', async () => {
        let runuserPid = 0
        const running = asUser(user, ['run', '--init', images.busybox, 'docker-explorer', 'sleep', '60'], {XDG_DATA_HOME: dataHome, ...snapshotter.env}, (pid) => {
          runuserPid = pid
        })
        // runuser, then mydocker outside the namespace, then mydocker inside, then the launcher.
        const sleeping = () => spawnSync('pgrep', ['-u', USER, '-f', '^docker-explorer sleep 60'], {stdio: 'ignore'}).status === 0
        await waitFor('the container to start', () => runuserPid > 0 && sleeping())
        const [outer] = childrenOf(runuserPid)
        process.kill(outer, 'SIGTERM')
        const result = await running
        assert.equal(result.exitCode, 143, result.stderr)
      })

      it('runs on a pseudo-terminal with -it, passing typed input and the exit status', async () => {
        // script(1) gives mydocker a terminal; -e returns the command's status.
        const inner = `${process.execPath} ${binPath} run -it ${images.busybox} sh -c 'read line; echo "got $line"; exit 5'`
        const environment = [`HOME=${user.home}`, `PATH=${process.env.PATH}`, `XDG_DATA_HOME=${dataHome}`]
        for (const [name, value] of Object.entries(snapshotter.env)) environment.push(`${name}=${value}`)
        const result = spawnSync('runuser', ['-u', USER, '--', 'env', '-i', ...environment, 'script', '-eqc', inner, '/dev/null'], {
          cwd: '/',
          input: 'typed-word\n',
          encoding: 'utf8',
          timeout: 60_000,
        })
        assert.equal(result.status, 5, result.stdout + result.stderr)
        assert.match(result.stdout, /got typed-word/)
      })

      it('leaves no container directory behind', async () => {
        const left = readdirSync(join(dataHome, 'mydocker', 'containers'))
        assert.deepEqual(left, [])
        const choice = JSON.parse(await readFile(join(dataHome, 'mydocker', 'snapshotter'), 'utf8')) as {kind: string}
        assert.equal(choice.kind, snapshotter.kind)
      })
    })
  }

  describe('inside a mydocker container, whose root is an overlay', () => {
    let outerStore: string

    before(async () => {
      outerStore = await mkdtemp(join('/tmp', 'mydocker-outer-store-'))
      dataHomes.push(outerStore)
    })

    it('falls back to flat snapshots by itself, says so in info, and runs images the same', async () => {
      // The host's node and this checkout, inside a busybox container; the inner
      // store lies on the container's overlay root, where whiteouts cannot be made.
      const inner = (args: string) => `node ${binPath} ${args} --root /tmp/inner`
      const script = [
        `${inner(`pull ${images.whiteout}`)} >/dev/null`,
        `${inner('info --json')}`,
        `node ${binPath} run --root /tmp/inner ${images.whiteout} docker-explorer ls /opaque`,
        `node ${binPath} run --root /tmp/inner ${images.whiteout} docker-explorer stat /gone.txt; echo "gone: $?"`,
      ].join(' && ')
      const {mydocker} = await import('../support/cli.js')
      // The checkout is wherever this clone is (CI uses a folder of its own).
      const checkout = dirname(dirname(binPath))
      const volumes = ['/usr', '/lib', '/lib64', checkout].flatMap((path) => ['-v', `${path}:${path}`])
      const result = await mydocker(['run', '--privileged', ...volumes, '-e', 'PATH=/usr/sbin:/usr/bin:/bin', images.busybox, 'sh', '-c', script], {root: outerStore})
      assert.equal(result.exitCode, 0, result.stderr)
      const [infoText, rest] = [result.stdout.slice(0, result.stdout.lastIndexOf('}') + 1), result.stdout.slice(result.stdout.lastIndexOf('}') + 2)]
      const info = JSON.parse(infoText) as {snapshotter: {default: string; reason?: string}}
      assert.equal(info.snapshotter.default, 'flat')
      assert.match(info.snapshotter.reason ?? '', /whiteouts cannot be made|does not mount/)
      assert.equal(rest, 'c\ngone: 2\n')
    })
  })

  describe('with no subordinate id range (only the user mapped)', () => {
    let dataHome: string
    const saved: Record<string, string> = {}
    const run = (args: string[]) => asUser(user, args, {XDG_DATA_HOME: dataHome})

    before(async () => {
      for (const file of ['/etc/subuid', '/etc/subgid']) saved[file] = await readFile(file, 'utf8')
      const removed = spawnSync('usermod', ['--del-subuids', `${user.subuidStart}-${user.subuidStart + 65535}`, '--del-subgids', `${user.subuidStart}-${user.subuidStart + 65535}`, USER], {encoding: 'utf8'})
      assert.equal(removed.status, 0, removed.stderr)
      dataHome = await mkdtemp(join(user.home, '.rootless-test-'))
      dataHomes.push(dataHome)
      await chown(dataHome, user.uid, user.gid)
    })

    after(async () => {
      const {writeFile} = await import('node:fs/promises')
      for (const [file, text] of Object.entries(saved)) await writeFile(file, text)
    })

    it('warns that files of other owners will belong to the user, and pulls', async () => {
      const pulled = await run(['pull', images.busybox])
      assert.equal(pulled.exitCode, 0, pulled.stderr)
      assert.match(pulled.stderr, /warning: rootless with only your own id mapped/)
      assert.match(pulled.stderr, /warning: kept the current owner of "home\/app".*chown failed/)
    })

    it('runs the image, its files owned by the user (root inside)', async () => {
      const echoed = await run(['run', images.busybox, 'docker-explorer', 'echo', 'single'])
      assert.equal(echoed.stdout, 'single\n', echoed.stderr)
      const owner = await run(['run', images.busybox, 'docker-explorer', 'stat', '/home/app'])
      assert.match(owner.stdout, /uid=0 gid=0 /, owner.stderr)
    })

    it('refuses an image user the namespace does not map, saying why', async () => {
      const result = await run(['run', '--user', 'app', images.busybox, 'docker-explorer', 'id'])
      assert.equal(result.exitCode, 125)
      assert.match(result.stderr, /user 1000:1000 is not mapped in this rootless user namespace/)
    })
  })
})
