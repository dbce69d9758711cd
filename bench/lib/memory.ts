// Peak memory of a command: GNU time's maximum resident set size of the
// process, and the peak of the resident sizes summed over its whole process
// tree (helpers included), sampled from /proc.

/** Peak memory and wall time of one run. */
export interface MemoryRun {
  /** Maximum RSS GNU time reports for the command, in bytes. */
  peakBytes: number
  /** Highest sum of VmRSS over the command and its descendants seen while sampling, in bytes. */
  treePeakBytes: number
  milliseconds: number
}

const samplingIntervalMilliseconds = 20

/**
 * Runs `command args...` under `/usr/bin/time -f %M` with `env` added to
 * this process's environment, sampling the process tree's RSS meanwhile.
 * Rejects naming the command and its stderr when it exits non-zero.
 */
export async function measureMemory(command: string, args: string[], env: Record<string, string> = {}): Promise<MemoryRun> {
  const {spawn} = await import('node:child_process')
  const {mkdtemp, readFile, rm} = await import('node:fs/promises')
  const {tmpdir} = await import('node:os')
  const {join} = await import('node:path')

  const scratch = await mkdtemp(join(tmpdir(), 'mydocker-bench-time-'))
  const report = join(scratch, 'time.txt')
  try {
    const started = process.hrtime.bigint()
    const child = spawn('/usr/bin/time', ['-f', '%M', '-o', report, command, ...args], {
      env: {...process.env, ...env},
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    let treePeakBytes = 0
    const sampler = setInterval(() => {
      if (child.pid !== undefined) void treeResidentBytes(child.pid).then((bytes) => (treePeakBytes = Math.max(treePeakBytes, bytes)))
    }, samplingIntervalMilliseconds)
    const exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject)
      child.once('close', (code) => resolve(code ?? 1))
    })
    clearInterval(sampler)
    const milliseconds = Number(process.hrtime.bigint() - started) / 1e6
    if (exitCode !== 0) throw new Error(`"${command} ${args.join(' ')}" exited ${exitCode}: ${stderr.trim().slice(-2000)}`)

    const kilobytes = Number((await readFile(report, 'utf8')).trim().split('\n').pop())
    return {peakBytes: kilobytes * 1024, treePeakBytes, milliseconds}
  } finally {
    await rm(scratch, {recursive: true, force: true})
  }
}

/**
 * Sum of VmRSS over the processes below `pid` (GNU time itself excluded: it
 * is the measuring tool); processes that vanish meanwhile count 0.
 */
async function treeResidentBytes(pid: number): Promise<number> {
  const {readFile} = await import('node:fs/promises')

  let total = 0
  const pending = await childrenOf(pid)
  while (pending.length > 0) {
    const current = pending.pop()!
    try {
      const status = await readFile(`/proc/${current}/status`, 'utf8')
      const match = /^VmRSS:\s+(\d+) kB/m.exec(status)
      if (match) total += Number(match[1]) * 1024
      pending.push(...(await childrenOf(current)))
    } catch {
      // The process exited between listing and reading: it holds no memory now.
    }
  }
  return total
}

async function childrenOf(pid: number): Promise<number[]> {
  const {readFile} = await import('node:fs/promises')
  try {
    const children = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8')
    return children.trim().split(/\s+/).filter(Boolean).map(Number)
  } catch {
    return []
  }
}
