// ps lists running containers, exec runs commands inside them, stop ends them:
// each against real containers started by `mydocker run`.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {rm} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {after, before, describe, it} from 'node:test'
import {binPath, mydocker, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

interface BackgroundRun {
  /** The run's exit status once it ends. */
  exited: Promise<number | null>
  kill: () => void
}

interface ListedContainer {
  id: string
  name: string
  image: string
  command: string[]
  running: boolean
  pid: number | null
}

describe('ps, exec and stop', {skip: process.getuid?.() !== 0 && 'needs root'}, () => {
  let registry: RunningRegistry
  let root: string
  let image: string
  const runs: BackgroundRun[] = []

  before(async () => {
    registry = await startRegistry()
    ;({busybox: image} = await seedImages(registry.host, ['busybox']))
    root = await temporaryStore()
    assert.equal((await mydocker(['pull', '-q', image], {root})).exitCode, 0)
  })

  after(async () => {
    for (const run of runs) run.kill()
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  /** Starts `mydocker run ARGS...` in the background and waits until ps lists the container `name`. */
  async function startContainer(name: string, command: string[]): Promise<BackgroundRun> {
    const child = spawn(process.execPath, [binPath, 'run', '--name', name, image, ...command], {
      env: {...process.env, MYDOCKER_ROOT: root},
      stdio: 'ignore',
    })
    const run = {exited: new Promise<number | null>((resolve) => child.once('close', resolve)), kill: () => child.kill('SIGKILL')}
    runs.push(run)
    for (let attempt = 0; attempt < 100; attempt++) {
      const listed = await listContainers()
      if (listed.some((container) => container.name === name && container.pid !== null)) return run
      await sleep(100)
    }
    throw new Error(`container ${name} did not show up in mydocker ps`)
  }

  /** Runs `mydocker ARGS...` on a pseudo-terminal made by script(1); resolves with what it printed. */
  async function runUnderScript(args: string[]): Promise<string> {
    const command = [process.execPath, binPath, ...args].map((word) => `'${word.replaceAll("'", "'\\''")}'`).join(' ')
    const result = await new Promise<{code: number | null; output: string}>((resolve) => {
      const child = spawn('script', ['-qec', command, '/dev/null'], {env: {...process.env, MYDOCKER_ROOT: root}, stdio: ['ignore', 'pipe', 'inherit']})
      let output = ''
      child.stdout.on('data', (chunk) => (output += chunk))
      child.once('close', (code) => resolve({code, output}))
    })
    assert.equal(result.code, 0, result.output)
    return result.output
  }

  async function listContainers(): Promise<ListedContainer[]> {
    const result = await mydocker(['ps', '--json'], {root})
    assert.equal(result.exitCode, 0, result.stderr)
    return JSON.parse(result.stdout) as ListedContainer[]
  }

  it('lists a running container with its name and command, then runs commands inside it, and stop ends it with the status its TERM handler chose', async () => {
    const script = 'echo written-inside > /marker; trap "exit 7" TERM; while :; do sleep 0.1; done'
    const run = await startContainer('web', ['sh', '-c', script])

    const [listed] = (await listContainers()).filter((container) => container.name === 'web')
    assert.deepEqual(listed.command, ['sh', '-c', script])
    assert.equal(listed.image, `${registry.host}/busybox`)
    assert.equal(listed.running, true)
    assert.match(listed.id, /^[0-9a-f]{64}$/)

    const table = await mydocker(['ps'], {root})
    assert.match(table.stdout, /^CONTAINER ID\s+IMAGE\s+COMMAND\s+CREATED\s+STATUS\s+NAMES$/m)
    assert.match(table.stdout, new RegExp(`^${listed.id.slice(0, 12)}\\s+\\S+\\s+"sh -c echo written-…"\\s+.*\\s+Up .*\\s+web$`, 'm'))
    assert.equal((await mydocker(['ps', '-q'], {root})).stdout, `${listed.id.slice(0, 12)}\n`)

    const cases = [
      {name: 'its PID is not 1 (it joined the container PID namespace as another process)', args: ['docker-explorer', 'mypid'], check: (out: string) => assert.notEqual(out.trim(), '1')},
      {name: 'it sees the container hostname', args: ['docker-explorer', 'hostname'], check: (out: string) => assert.equal(out.trim(), listed.id.slice(0, 12))},
      {name: 'it sees a file the container wrote in its root', args: ['cat', '/marker'], check: (out: string) => assert.equal(out, 'written-inside\n')},
      {name: 'it sees the container processes', args: ['ps'], check: (out: string) => assert.match(out, /^\s+1 root\s+sh -c echo written-inside/m)},
      {name: 'it has the container capabilities (Docker default set)', args: ['docker-explorer', 'caps'], check: (out: string) => assert.equal(out.trim(), '00000000a80425fb')},
      {name: 'it has the container environment', args: ['sh', '-c', 'echo $PATH $HOSTNAME'], check: (out: string) => assert.equal(out, `/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${listed.id.slice(0, 12)}\n`)},
      {name: '-u, -w and -e apply', args: ['-u', 'app', '-w', '/tmp', '-e', 'GREETING=hi', 'sh', '-c', 'id -u; pwd; echo $GREETING $HOME; docker-explorer caps'], check: (out: string) => assert.equal(out, '1000\n/tmp\nhi /home/app\n0000000000000000\n')},
    ]
    for (const testCase of cases) {
      const flags = testCase.args[0].startsWith('-') ? testCase.args.slice(0, 6) : []
      const result = await mydocker(['exec', ...flags, 'web', ...testCase.args.slice(flags.length)], {root})
      assert.equal(result.exitCode, 0, `${testCase.name}: ${result.stderr}`)
      testCase.check(result.stdout)
    }

    const statuses = [
      {name: 'the command exit status is relayed', args: ['web', 'sh', '-c', 'exit 3'], exitCode: 3},
      {name: 'a command killed by a signal gives 128+N', args: ['web', 'sh', '-c', 'kill -9 $$'], exitCode: 137},
      {name: 'a missing command gives 127', args: ['web', 'no-such-command'], exitCode: 127},
      {name: 'an id prefix finds the container', args: [listed.id.slice(0, 6), 'true'], exitCode: 0},
    ]
    for (const status of statuses) {
      const result = await mydocker(['exec', ...status.args], {root})
      assert.equal(result.exitCode, status.exitCode, `${status.name}: ${result.stderr}`)
    }

    // A signal sent to mydocker exec reaches the command it runs.
    const trapping = spawn(process.execPath, [binPath, 'exec', 'web', 'sh', '-c', 'trap "exit 9" TERM; echo ready; while :; do sleep 0.1; done'], {
      env: {...process.env, MYDOCKER_ROOT: root},
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const trapped = new Promise<number | null>((resolve) => trapping.once('close', resolve))
    await new Promise((resolve) => trapping.stdout!.once('data', resolve))
    trapping.kill('SIGTERM')
    assert.equal(await trapped, 9, 'the exec relays the status of the TERM handler')

    // -t: the command runs on a terminal, as TERM says (script(1) gives mydocker one).
    const terminal = await runUnderScript(['exec', '-t', 'web', 'sh', '-c', '[ -t 0 ] && [ -t 1 ] && echo "on a terminal, TERM=$TERM"'])
    assert.match(terminal, /on a terminal, TERM=xterm/)

    const stopped = await mydocker(['stop', 'web'], {root})
    assert.equal(stopped.exitCode, 0, stopped.stderr)
    assert.equal(stopped.stdout, 'web\n')
    assert.equal(await run.exited, 7, 'the run exits with the status of the TERM handler')
    assert.deepEqual(await listContainers(), [], 'ps no longer lists it')
  })

  it('stop kills a container whose command ignores SIGTERM once the timeout has passed', async () => {
    // sleep as PID 1 installs no TERM handler, so the kernel drops a TERM sent from the host.
    const run = await startContainer('stubborn', ['sleep', '60'])
    const stopped = await mydocker(['stop', '-t', '1', 'stubborn'], {root})
    assert.equal(stopped.exitCode, 0, stopped.stderr)
    assert.equal(await run.exited, 137)
  })

  it('exec and stop of an unknown container fail with exit 1 and say which container', async () => {
    for (const args of [['exec', 'no-such-container', 'true'], ['stop', 'no-such-container']]) {
      const result = await mydocker(args, {root})
      assert.equal(result.exitCode, 1, args[0])
      assert.match(result.stderr, /^mydocker: no such container: no-such-container \(hint: .*\)$/m)
    }
  })
})
