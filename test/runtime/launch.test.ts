// Real containers: a busybox root built here from Debian's busybox-static plus a
// static probe compiled from the C source below, run through launch() in a
// child node process so its stdout, stderr and exit status are the CLI's.
import assert from 'node:assert/strict'
import {execFileSync, spawn} from 'node:child_process'
import {randomBytes, randomInt} from 'node:crypto'
import {existsSync, readdirSync, readFileSync} from 'node:fs'
import {chmod, copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {dirname, join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {fileURLToPath} from 'node:url'

const top = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const launcherSource = join(top, 'native', 'launch.c')
const launcherModule = join(top, 'src', 'runtime', 'launcher.ts')

const isRoot = process.getuid?.() === 0
const skipReason = isRoot ? false : 'containers need root (namespaces, overlayfs, pivot_root)'

// The probe: small jobs only a real program can do, named by its first argument.
const PROBE_SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// Climbs out of a chroot the classic way: chroot into a subdirectory while the
// working directory stays outside it, chdir("..") far up, chroot("."), and
// reports whether the host path argv[2] is then visible.
static int escape(const char *host_path) {
  mkdir("/escape-cell", 0755);
  if (chroot("/escape-cell") < 0) { perror("chroot"); return 2; }
  for (int step = 0; step < 256; step++) chdir("..");
  if (chroot(".") < 0) { perror("chroot ."); return 2; }
  chdir("/");
  puts(access(host_path, F_OK) == 0 ? "escaped" : "contained");
  return 0;
}

int main(int argc, char **argv) {
  const char *job = argc > 1 ? argv[1] : "";
  if (strcmp(job, "pid") == 0) { printf("%d\n", getpid()); return 0; }
  if (strcmp(job, "escape") == 0) return escape(argv[2]);
  if (strcmp(job, "wait") == 0) { pause(); return 0; }
  if (strcmp(job, "trap-term") == 0) {
    signal(SIGTERM, SIG_DFL);
    sigset_t set; sigemptyset(&set); sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, NULL);
    puts("ready"); fflush(stdout);
    int sig; sigwait(&set, &sig);
    return atoi(argv[2]);
  }
  if (strcmp(job, "mount") == 0) {
    if (mount("tmpfs", "/mnt", "tmpfs", 0, NULL) == 0) { puts("mounted"); return 0; }
    printf("mount failed: %s\n", strerror(errno)); return 1;
  }
  if (strcmp(job, "ids") == 0) {
    gid_t groups[64]; int count = getgroups(64, groups);
    printf("uid=%d gid=%d groups=", getuid(), getgid());
    for (int index = 0; index < count; index++) printf("%s%d", index ? "," : "", groups[index]);
    printf(" home=%s\n", getenv("HOME") ? getenv("HOME") : "(unset)");
    return 0;
  }
  if (strcmp(job, "signals") == 0) {
    // Waits for one of the signals docker run forwards, names it, exits argv[2].
    int forwarded[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
    sigset_t set; sigemptyset(&set);
    for (int index = 0; index < 6; index++) sigaddset(&set, forwarded[index]);
    sigprocmask(SIG_BLOCK, &set, NULL);
    puts("ready"); fflush(stdout);
    int sig = sigwaitinfo(&set, NULL);
    printf("got %s\n", sigabbrev_np(sig));
    return atoi(argv[2]);
  }
  if (strcmp(job, "orphan") == 0) {
    // Leaves a grandchild to its PID 1 and counts the zombies left after it exits.
    pid_t child = fork();
    if (child == 0) { if (fork() == 0) _exit(0); _exit(0); }
    waitpid(child, NULL, 0);
    usleep(300000);
    int zombies = 0;
    for (int pid = 1; pid < 100; pid++) {
      char path[64], stat[256]; snprintf(path, sizeof path, "/proc/%d/stat", pid);
      FILE *file = fopen(path, "r"); if (!file) continue;
      if (fgets(stat, sizeof stat, file) && strstr(stat, ") Z ")) zombies++;
      fclose(file);
    }
    printf("pid=%d zombies=%d\n", getpid(), zombies);
    return 0;
  }
  if (strcmp(job, "forks") == 0) {
    // Forks paused children until fork fails; prints how many it got.
    int count = 0;
    while (count < 1000) { pid_t pid = fork(); if (pid < 0) break; if (pid == 0) { pause(); _exit(0); } count++; }
    printf("forked %d\n", count);
    return 0;
  }
  if (strcmp(job, "eat-memory") == 0) {
    // Touches memory until the cgroup's OOM killer stops it.
    for (int megabytes = 0; megabytes < 4096; megabytes++) {
      char *block = malloc(1 << 20); if (!block) return 3;
      memset(block, 1, 1 << 20);
    }
    puts("survived");
    return 0;
  }
  fprintf(stderr, "probe: unknown job %s\n", job);
  return 2;
}
`

// Runs one launch() in a child node and turns its outcome into exit status
// and stderr the way the CLI does.
const RUNNER_SOURCE = `
import {launch} from ${JSON.stringify(launcherModule)}
const spec = JSON.parse(process.argv[2])
try {
  const result = await launch(spec)
  process.exitCode = result.exitCode
} catch (error) {
  process.stderr.write('mydocker: ' + error.message + '\\n')
  process.exitCode = error.exitCode ?? 125
}
`

interface Fixture {
  work: string
  launcherPath: string
  /** Top-most first. */
  layers: string[]
  runner: string
}

interface RunOutcome {
  code: number | null
  stdout: string
  stderr: string
}

let fixture: Fixture

async function buildLayers(work: string, probePath: string): Promise<string[]> {
  const bottom = join(work, 'layers', 'bottom')
  const topLayer = join(work, 'layers', 'top')
  await mkdir(join(bottom, 'bin'), {recursive: true})
  await mkdir(join(bottom, 'etc'), {recursive: true})
  await copyFile('/bin/busybox', join(bottom, 'bin', 'busybox'))
  await chmod(join(bottom, 'bin', 'busybox'), 0o755)
  execFileSync('chroot', [bottom, '/bin/busybox', '--install', '-s', '/bin'])
  await writeFile(
    join(bottom, 'etc', 'passwd'),
    'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app user:/home/app:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n',
  )
  await writeFile(join(bottom, 'etc', 'group'), 'root:x:0:\nwheel:x:10:app\naudio:x:29:app,other\napp:x:1000:\nstaff:x:50:\nnogroup:x:65534:\n')
  await writeFile(join(bottom, 'etc', 'layer'), 'bottom\n')
  await mkdir(join(bottom, 'not-executable'))
  await writeFile(join(bottom, 'bin', 'plain-file'), 'not a program\n', {mode: 0o644})
  // An image symlink to a host path: a volume target through it must stay inside the root.
  await symlink(join(work, 'volume-escape'), join(bottom, 'escape-link'))

  await mkdir(join(topLayer, 'etc'), {recursive: true})
  await mkdir(join(topLayer, 'usr', 'bin'), {recursive: true})
  await copyFile(probePath, join(topLayer, 'usr', 'bin', 'probe'))
  await writeFile(join(topLayer, 'etc', 'layer'), 'top\n')
  return [topLayer, bottom]
}

async function setUp(): Promise<Fixture> {
  const work = await mkdtemp(join(tmpdir(), 'mydocker-launch-test-'))
  const launcherPath = join(work, 'launch')
  execFileSync('gcc', ['-static', '-O2', '-Wall', '-Wextra', '-o', launcherPath, launcherSource])
  await writeFile(join(work, 'probe.c'), PROBE_SOURCE)
  execFileSync('gcc', ['-static', '-O2', '-o', join(work, 'probe'), join(work, 'probe.c')])

  const layers = await buildLayers(work, join(work, 'probe'))
  const runner = join(work, 'runner.mts')
  await writeFile(runner, RUNNER_SOURCE)
  return {work, launcherPath, layers, runner}
}

let runCount = 0

/** A spec for the fixture image; `overrides` wins. */
function specFor(args: string[], overrides: Record<string, unknown> = {}): Record<string, unknown> {
  runCount++
  return {
    lowerDirs: fixture.layers,
    containerDir: join(fixture.work, 'containers', `run-${runCount}`),
    args,
    env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=testbox'],
    cwd: '/',
    user: '',
    hostname: 'testbox',
    interactive: false,
    launcherPath: fixture.launcherPath,
    ...overrides,
  }
}

function startRunner(spec: Record<string, unknown>) {
  return spawn(process.execPath, ['--import', 'tsx', fixture.runner, JSON.stringify(spec)], {
    cwd: top,
    stdio: ['pipe', 'pipe', 'pipe'],
  })
}

interface RunningContainer {
  child: ReturnType<typeof startRunner>
  /** Resolves once the container has printed `text`. */
  printed(text: string): Promise<void>
  outcome: Promise<RunOutcome>
}

async function start(args: string[], overrides: Record<string, unknown> = {}): Promise<RunningContainer> {
  const spec = specFor(args, overrides)
  await mkdir(spec.containerDir as string, {recursive: true})
  const child = startRunner(spec)
  if (!spec.interactive) child.stdin.end()
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
  const outcome = exited.then(async (code) => {
    // The launcher removes it after reporting the end, while mydocker goes on.
    await waitFor(() => !existsSync(spec.containerDir as string), 'the container directory to be removed')
    return {code, stdout, stderr}
  })
  const printed = (text: string) => waitFor(() => stdout.includes(text), `the container to print ${text}`)
  return {child, printed, outcome}
}

async function run(args: string[], overrides: Record<string, unknown> = {}): Promise<RunOutcome> {
  return (await start(args, overrides)).outcome
}

/** Host pids whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)
      } catch {
        return false
      }
    })
    .map(Number)
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (condition()) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }

  assert.fail(`timed out waiting for ${what}`)
}

// One image for every suite: building it (gcc, busybox) is the slow part.
before(async () => {
  if (isRoot) fixture = await setUp()
})

after(async () => {
  if (fixture) await rm(fixture.work, {recursive: true, force: true})
})

describe('launch runs a command in a container', {skip: skipReason}, () => {
  it('passes the exact stdout and stderr of the command, separately', async () => {
    const out = randomBytes(12).toString('hex')
    const errorText = randomBytes(12).toString('hex')
    const outcome = await run(['sh', '-c', `printf %s ${out}; printf %s ${errorText} >&2`])
    assert.deepEqual(outcome, {code: 0, stdout: out, stderr: errorText})
  })

  const exitCases = [
    {name: 'success', command: 'exit 0', code: 0},
    {name: 'failure', command: 'exit 1', code: 1},
    {name: 'a random status', command: `exit ${randomInt(2, 30)}`, code: -1},
  ]
  for (const exitCase of exitCases) {
    it(`relays the command's exit status: ${exitCase.name}`, async () => {
      const expected = exitCase.code === -1 ? Number(exitCase.command.split(' ')[1]) : exitCase.code
      const outcome = await run(['sh', '-c', exitCase.command])
      assert.equal(outcome.code, expected)
      assert.equal(outcome.stderr, '')
    })
  }

  const startFailures = [
    {name: 'a command not in the container PATH gives 127', args: ['no-such-command'], code: 127, message: /executable file not found in \$PATH/},
    {name: 'a missing absolute path gives 127', args: ['/no/such/file'], code: 127, message: /no such file/i},
    {name: 'a directory gives 126', args: ['/not-executable'], code: 126, message: /permission denied/i},
    {name: 'a file without execute permission gives 126', args: ['/bin/plain-file'], code: 126, message: /permission denied/i},
  ]
  for (const failure of startFailures) {
    it(`reports a command that cannot start: ${failure.name}`, async () => {
      const outcome = await run(failure.args)
      assert.equal(outcome.code, failure.code)
      assert.match(outcome.stderr, /^mydocker: /)
      assert.match(outcome.stderr, failure.message)
      assert.equal(outcome.stdout, '')
    })
  }

  it('finds commands through the container PATH, not the host PATH', async () => {
    // The host has /usr/bin/gcc; the container's PATH has only /nowhere.
    const outcome = await run(['busybox'], {env: ['PATH=/nowhere']})
    assert.equal(outcome.code, 127)
  })

  it('gives 128+9 when the command is killed by SIGKILL', async () => {
    const marker = `wait-${randomBytes(6).toString('hex')}`
    const running = run(['probe', 'wait', marker])
    await waitFor(() => processesWith(marker).some((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'probe'), 'the probe to start')
    const [pid] = processesWith(marker).filter((candidate) => readFileSync(`/proc/${candidate}/comm`, 'utf8').trim() === 'probe')
    process.kill(pid, 'SIGKILL')
    const outcome = await running
    assert.equal(outcome.code, 137)
  })

  it('runs the command as PID 1', async () => {
    const outcome = await run(['probe', 'pid'])
    assert.deepEqual(outcome, {code: 0, stdout: '1\n', stderr: ''})
  })

  it('shows the image root: only its entries plus dev, proc and sys', async () => {
    const outcome = await run(['ls', '-1', '/'])
    const imageEntries = new Set([...(await readdir(fixture.layers[0])), ...(await readdir(fixture.layers[1]))])
    const expected = [...imageEntries, 'dev', 'proc', 'sys'].sort()
    assert.deepEqual(outcome.stdout.trim().split('\n').sort(), expected)
  })

  it('hides a host directory created before the run', async () => {
    const hostDir = join(fixture.work, `host-only-${randomBytes(4).toString('hex')}`)
    await mkdir(hostDir)
    const outcome = await run(['sh', '-c', `test -e ${hostDir} && echo visible || echo absent`])
    assert.equal(outcome.stdout, 'absent\n')
  })

  it('merges the layers with the top-most first', async () => {
    const outcome = await run(['cat', '/etc/layer'])
    assert.equal(outcome.stdout, 'top\n')
  })

  it('forgets writes when the run ends', async () => {
    const first = await run(['sh', '-c', 'echo changed > /etc/layer; rm /bin/ls; cat /etc/layer'])
    assert.equal(first.stdout, 'changed\n')
    const second = await run(['sh', '-c', 'cat /etc/layer; test -e /bin/ls && echo ls-present'])
    assert.equal(second.stdout, 'top\nls-present\n')
    assert.equal(readFileSync(join(fixture.layers[0], 'etc', 'layer'), 'utf8'), 'top\n')
  })

  it('keeps a root process inside the container root when it climbs out of a chroot', async () => {
    const outcome = await run(['probe', 'escape', fixture.work])
    assert.equal(outcome.stdout, 'contained\n')
  })

  it('is escaped by the same probe under a plain chroot (unshare --root), which proves the probe', async () => {
    const root = fixture.layers[0]
    const output = execFileSync('unshare', ['--root', root, '/usr/bin/probe', 'escape', fixture.work], {encoding: 'utf8'})
    await rm(join(root, 'escape-cell'), {recursive: true, force: true})
    assert.equal(output, 'escaped\n')
  })

  it('mounts a fresh /proc, a /dev with the usual devices, /dev/shm, /dev/pts and a read-only /sys', async () => {
    const script = [
      // Only this container's processes: sh (PID 1) and ls. (Piping ls into grep
      // counted grep only when it had started before ls read /proc.)
      'cat /proc/1/comm; ls /proc > /dev/shm/processes; grep -c "^[0-9]" /dev/shm/processes',
      'for device in null zero full random urandom tty; do test -c /dev/$device || echo missing $device; done',
      'echo data > /dev/shm/file && cat /dev/shm/file',
      'test -e /dev/pts/ptmx && echo pts',
      'touch /sys/probe 2>/dev/null || echo sys-read-only',
      'head -c 4 /dev/zero | wc -c',
    ].join('; ')
    const outcome = await run(['sh', '-c', script])
    assert.equal(outcome.stdout, 'sh\n2\ndata\npts\nsys-read-only\n4\n')
  })

  it('sets the hostname and binds /etc/hostname, /etc/hosts and the host resolv.conf', async () => {
    const outcome = await run(['sh', '-c', 'hostname; cat /etc/hostname; grep -c "localhost" /etc/hosts; grep -w box7 /etc/hosts; cat /etc/resolv.conf'], {
      hostname: 'box7',
    })
    const hostResolvConf = readFileSync('/etc/resolv.conf', 'utf8')
    assert.equal(outcome.stdout, `box7\nbox7\n2\n127.0.0.1\tbox7\n${hostResolvConf}`)
  })

  it('gives the command exactly the environment it was given, plus HOME from the image passwd', async () => {
    const value = randomBytes(8).toString('hex')
    const outcome = await run(['env'], {env: ['PATH=/bin', `RANDOM_VALUE=${value}`]})
    assert.deepEqual(outcome.stdout.trim().split('\n').sort(), ['HOME=/root', 'PATH=/bin', `RANDOM_VALUE=${value}`])
  })

  it('starts in the working directory, creating it when missing', async () => {
    const outcome = await run(['pwd'], {cwd: '/srv/work/here'})
    assert.equal(outcome.stdout, '/srv/work/here\n')
  })

  it('closes stdin unless interactive', async () => {
    const container = await start(['sh', '-c', 'cat; echo end'])
    assert.equal((await container.outcome).stdout, 'end\n')
  })

  it('passes stdin through when interactive', async () => {
    const container = await start(['sh', '-c', 'cat; echo end'], {interactive: true})
    container.child.stdin.end('typed input\n')
    assert.equal((await container.outcome).stdout, 'typed input\nend\n')
  })

  it('leaves no container process when node is killed with SIGKILL', async () => {
    const marker = `orphan-${randomBytes(6).toString('hex')}`
    const spec = specFor(['probe', 'wait', marker])
    await mkdir(spec.containerDir as string, {recursive: true})
    const child = startRunner(spec)
    const probeRunning = () => processesWith(marker).some((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'probe')
    await waitFor(probeRunning, 'the probe to start')

    child.kill('SIGKILL')
    await waitFor(() => processesWith(marker).length === 0, 'every container process to end')
  })
})

const DEFAULT_CAPABILITIES = '00000000a80425fb'

/** The value of one field of /proc/self/status as printed by `grep`. */
function statusField(output: string, field: string): string | undefined {
  return new RegExp(`^${field}:\\s+(\\S+)`, 'm').exec(output)?.[1]
}

describe('launch applies the run options', {skip: skipReason}, () => {
  const userCases = [
    {name: 'root by default, HOME from passwd', user: '', ids: 'uid=0 gid=0 groups= home=/root'},
    {name: 'a name takes its passwd uid, gid, home and its /etc/group groups', user: 'app', ids: 'uid=1000 gid=1000 groups=10,29 home=/home/app'},
    {name: 'a uid found in passwd reads like its name', user: '1000', ids: 'uid=1000 gid=1000 groups=10,29 home=/home/app'},
    {name: 'a uid not in passwd is used verbatim with gid 0', user: '4242', ids: 'uid=4242 gid=0 groups= home=/'},
    {name: 'name:group takes the group from /etc/group', user: 'app:staff', ids: 'uid=1000 gid=50 groups=10,29 home=/home/app'},
    {name: 'uid:gid works without any entry', user: '4242:77', ids: 'uid=4242 gid=77 groups= home=/'},
  ]
  for (const userCase of userCases) {
    it(`runs as the --user given: ${userCase.name}`, async () => {
      const outcome = await run(['probe', 'ids'], {user: userCase.user})
      assert.deepEqual(outcome, {code: 0, stdout: `${userCase.ids}\n`, stderr: ''})
    })
  }

  const unknownUsers = [
    {name: 'an unknown user name', user: 'ghost', message: 'mydocker: unable to find user ghost: no matching entries in passwd file\n'},
    {name: 'an unknown group name', user: 'app:ghosts', message: 'mydocker: unable to find group ghosts: no matching entries in group file\n'},
  ]
  for (const unknown of unknownUsers) {
    it(`refuses with 125: ${unknown.name}`, async () => {
      const outcome = await run(['probe', 'ids'], {user: unknown.user})
      assert.deepEqual(outcome, {code: 125, stdout: '', stderr: unknown.message})
    })
  }

  it('gives --network none a namespace with only lo, up', async () => {
    const outcome = await run(['sh', '-c', 'ls /sys/class/net; cat /sys/class/net/lo/flags'], {network: 'none'})
    const [interfaces, flags] = [outcome.stdout.split('\n')[0], outcome.stdout.split('\n')[1]]
    assert.equal(interfaces, 'lo')
    assert.equal(Number(flags) & 1, 1, 'IFF_UP is set')
  })

  const resolvCases = [
    {name: 'drops loopback nameservers in a network namespace of its own', network: 'none', expected: 'search example.test\nnameserver 10.1.2.3\noptions ndots:2\n'},
    {name: 'keeps them on the host network', network: 'host', expected: 'search example.test\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nnameserver ::1\noptions ndots:2\n'},
  ]
  for (const resolvCase of resolvCases) {
    it(`copies the host resolv.conf: ${resolvCase.name}`, async () => {
      const hostFile = join(fixture.work, `resolv-${resolvCase.network}.conf`)
      await writeFile(hostFile, 'search example.test\nnameserver 127.0.0.53\nnameserver 10.1.2.3\nnameserver ::1\noptions ndots:2\n')
      const outcome = await run(['cat', '/etc/resolv.conf'], {network: resolvCase.network, resolvConfPath: hostFile})
      assert.equal(outcome.stdout, resolvCase.expected)
    })
  }

  it('shares the host network by default', async () => {
    const outcome = await run(['ls', '/sys/class/net'])
    assert.deepEqual(outcome.stdout.trim().split('\n').sort(), readdirSync('/sys/class/net').sort())
  })

  it('binds a host directory read-write with -v, creating the container path', async () => {
    const hostDir = await mkdtemp(join(fixture.work, 'volume-'))
    await writeFile(join(hostDir, 'from-host'), 'host\n')
    const outcome = await run(['sh', '-c', 'cat /deep/mount/from-host; echo container > /deep/mount/from-container'], {
      volumes: [{source: hostDir, target: '/deep/mount'}],
    })
    assert.equal(outcome.stdout, 'host\n')
    assert.equal(readFileSync(join(hostDir, 'from-container'), 'utf8'), 'container\n')
  })

  it('binds read-only with :ro', async () => {
    const hostDir = await mkdtemp(join(fixture.work, 'volume-'))
    const outcome = await run(['sh', '-c', 'touch /data/x 2>/dev/null && echo wrote || echo refused'], {
      volumes: [{source: hostDir, target: '/data', readOnly: true}],
    })
    assert.equal(outcome.stdout, 'refused\n')
  })

  it('resolves a volume target inside the root even through an image symlink to a host path', async () => {
    const hostDir = await mkdtemp(join(fixture.work, 'volume-'))
    const outcome = await run(['sh', '-c', 'echo inside > /escape-link/sub/file && echo ok'], {
      volumes: [{source: hostDir, target: '/escape-link/sub'}],
    })
    assert.equal(outcome.stdout, 'ok\n')
    assert.equal(existsSync(join(fixture.work, 'volume-escape')), false, 'nothing was created on the host')
    assert.equal(readFileSync(join(hostDir, 'file'), 'utf8'), 'inside\n')
  })

  it('refuses a volume whose host path does not exist', async () => {
    const outcome = await run(['true'], {volumes: [{source: join(fixture.work, 'missing'), target: '/data'}]})
    assert.equal(outcome.code, 125)
    assert.match(outcome.stderr, /^mydocker: bind source .*missing: No such file or directory\n$/)
  })

  it('makes the root read-only with --read-only, leaving --tmpfs paths writable', async () => {
    const script = 'touch /root-file 2>/dev/null && echo root-writable; touch /scratch/file && echo scratch-writable'
    const outcome = await run(['sh', '-c', script], {readOnly: true, tmpfs: ['/scratch']})
    assert.equal(outcome.stdout, 'scratch-writable\n')
  })

  const capabilityCases = [
    {name: "Docker's default set", overrides: {}, effective: DEFAULT_CAPABILITIES},
    {name: '--cap-drop ALL', overrides: {capDrop: ['ALL']}, effective: '0000000000000000'},
    {name: '--cap-drop ALL --cap-add CHOWN', overrides: {capAdd: ['CHOWN'], capDrop: ['ALL']}, effective: '0000000000000001'},
    {name: '--cap-drop NET_RAW', overrides: {capDrop: ['NET_RAW']}, effective: '00000000a80405fb'},
  ]
  for (const capabilityCase of capabilityCases) {
    it(`limits capabilities: ${capabilityCase.name}`, async () => {
      const outcome = await run(['grep', '-E', '^(CapEff|CapBnd|NoNewPrivs)', '/proc/self/status'], capabilityCase.overrides)
      assert.equal(statusField(outcome.stdout, 'CapEff'), capabilityCase.effective)
      assert.equal(statusField(outcome.stdout, 'NoNewPrivs'), '1')
    })
  }

  it('refuses mount to a root process with the default capabilities', async () => {
    const outcome = await run(['sh', '-c', 'mkdir -p /mnt; probe mount'])
    assert.equal(outcome.stdout, 'mount failed: Operation not permitted\n')
  })

  it('allows mount under --privileged', async () => {
    const outcome = await run(['sh', '-c', 'mkdir -p /mnt; probe mount'], {privileged: true})
    assert.equal(outcome.stdout, 'mounted\n')
  })

  it('masks /proc paths and makes /proc/sys read-only as Docker does', async () => {
    const script = [
      'wc -c < /proc/timer_list',
      'ls /sys/firmware | wc -l',
      'echo x > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-read-only',
      'echo h > /proc/sysrq-trigger 2>/dev/null && echo sysrq-writable || echo sysrq-read-only',
    ].join('; ')
    const outcome = await run(['sh', '-c', script])
    assert.equal(outcome.stdout, '0\n0\nsys-read-only\nsysrq-read-only\n')
  })

  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
    it(`passes ${signal} sent to mydocker on to the command`, async () => {
      const code = randomInt(2, 30)
      const container = await start(['probe', 'signals', String(code)])
      await container.printed('ready\n')
      container.child.kill(signal)
      const outcome = await container.outcome
      assert.deepEqual(outcome, {code, stdout: `ready\ngot ${signal.slice(3)}\n`, stderr: ''})
    })
  }

  it('kills a command that ignores SIGTERM once the stop timeout is over', async () => {
    // PID 1 without a handler does not die of SIGTERM, as in Docker.
    const container = await start(['sh', '-c', 'echo ready; sleep 60'], {stopTimeout: 1})
    await container.printed('ready\n')
    container.child.kill('SIGTERM')
    assert.equal((await container.outcome).code, 137)
  })

  it('gives the exit status of a command that traps SIGTERM', async () => {
    const container = await start(['sh', '-c', 'trap "exit 7" TERM; echo ready; while true; do sleep 0.1; done'])
    await container.printed('ready\n')
    container.child.kill('SIGTERM')
    assert.equal((await container.outcome).code, 7)
  })

  it('reaps orphans with --init, which the command as PID 1 does not', async () => {
    const withInit = await run(['probe', 'orphan'], {init: true})
    assert.equal(withInit.stdout, 'pid=2 zombies=0\n')
    const withoutInit = await run(['probe', 'orphan'])
    assert.equal(withoutInit.stdout, 'pid=1 zombies=1\n')
  })

  it('relays the exit status through --init', async () => {
    const outcome = await run(['sh', '-c', 'exit 23'], {init: true})
    assert.equal(outcome.code, 23)
  })

  it('limits processes with --pids-limit', async () => {
    const outcome = await run(['probe', 'forks'], {resources: {pidsLimit: 6}})
    assert.equal(outcome.stdout, 'forked 5\n')
  })

  it('kills a command over --memory with 137', async () => {
    const outcome = await run(['probe', 'eat-memory'], {resources: {memory: 32 * 1024 * 1024, memorySwap: 32 * 1024 * 1024}})
    assert.equal(outcome.code, 137)
    assert.equal(outcome.stdout, '')
  })

  it('sets a CFS quota for --cpus and removes the cgroup after the run', async () => {
    const marker = `cpus-${randomBytes(6).toString('hex')}`
    const container = await start(['probe', 'wait', marker], {resources: {cpus: 0.5}})
    await waitFor(() => processesWith(marker).some((pid) => readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'probe'), 'the probe to start')
    const [pid] = processesWith(marker).filter((candidate) => readFileSync(`/proc/${candidate}/comm`, 'utf8').trim() === 'probe')
    const cgroupLine = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((line) => /:cpu(,|:)/.test(line) || /,cpu(,|:)/.test(line))
    const cgroupPath = join('/sys/fs/cgroup/cpu', cgroupLine!.split(':')[2])
    assert.match(cgroupPath, /mydocker-\d+$/)
    assert.equal(readFileSync(join(cgroupPath, 'cpu.cfs_quota_us'), 'utf8').trim(), '50000')

    process.kill(pid, 'SIGKILL')
    assert.equal((await container.outcome).code, 137)
    assert.equal(existsSync(cgroupPath), false, 'the cgroup is removed')
  })
})

describe('launch with -t runs the command on a pseudo-terminal', {skip: skipReason}, () => {
  it('gives the command a terminal as stdin and stdout, 80x24 when mydocker has none', async () => {
    const outcome = await run(['sh', '-c', 'test -t 0 && test -t 1 && echo on-a-tty; stty size'], {tty: true})
    assert.deepEqual(outcome, {code: 0, stdout: 'on-a-tty\r\n24 80\r\n', stderr: ''})
  })

  for (const init of [false, true]) {
    it(`turns a typed Ctrl-C into SIGINT of the command${init ? ' under --init' : ''}`, async () => {
      const container = await start(['probe', 'signals', '3'], {tty: true, interactive: true, init})
      await container.printed('ready')
      container.child.stdin.write('\x03')
      const outcome = await container.outcome
      container.child.stdin.end()
      assert.equal(outcome.code, 3)
      assert.match(outcome.stdout, /got INT/)
    })
  }

  it("sizes the terminal like mydocker's and follows its size changes", async () => {
    // mydocker itself on a terminal, as a user would run it.
    const pty = await import('node-pty')
    const spec = specFor(['sh', '-c', 'trap "stty size" WINCH; trap "exit 5" INT; stty size; echo ready; while :; do sleep 0.1; done'], {
      tty: true,
      interactive: true,
    })
    await mkdir(spec.containerDir as string, {recursive: true})
    const terminal = pty.spawn(process.execPath, ['--import', 'tsx', fixture.runner, JSON.stringify(spec)], {cols: 100, rows: 30, cwd: top})
    let output = ''
    terminal.onData((data) => (output += data))
    const exited = new Promise<number>((resolve) => terminal.onExit(({exitCode}) => resolve(exitCode)))

    await waitFor(() => output.includes('ready'), 'the container to start')
    terminal.resize(120, 40)
    await waitFor(() => output.includes('40 120'), 'the new size inside the container')
    terminal.write('\x03')
    assert.equal(await exited, 5)
    assert.match(output, /30 100\r+\nready/)
  })

  it('prints a start error on the terminal and relays its status', async () => {
    const outcome = await run(['no-such-command'], {tty: true})
    assert.equal(outcome.code, 127)
    assert.match(outcome.stdout, /^mydocker: exec "no-such-command": executable file not found in \$PATH/)
  })
})
