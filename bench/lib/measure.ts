// Timing and summary helpers shared by the benchmarks: run a command as a
// child process, time it from spawn to exit, and reduce rounds to medians.

/** One finished child process: how long it took and what it printed. */
export interface Timed {
  milliseconds: number
  exitCode: number
  stdout: string
  stderr: string
}

/** Options of timeCommand. */
export interface TimeOptions {
  env?: Record<string, string | undefined>
  /** Reject when the command exits with another status than 0. Default true. */
  check?: boolean
}

/**
 * Runs `command args...` with no stdin, collects stdout and stderr, and
 * resolves with the wall time from spawn to exit. The spawn itself costs the
 * same for every tool measured, so ratios are fair. Rejects naming the
 * command and its stderr when it fails and `check` is not false.
 */
export async function timeCommand(command: string, args: string[], options: TimeOptions = {}): Promise<Timed> {
  const {spawn} = await import('node:child_process')

  const started = process.hrtime.bigint()
  const child = spawn(command, args, {
    env: {...process.env, ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk) => (stdout += chunk))
  child.stderr.on('data', (chunk) => (stderr += chunk))
  const exitCode = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)))
  })
  const milliseconds = Number(process.hrtime.bigint() - started) / 1e6

  if (exitCode !== 0 && options.check !== false) {
    throw new Error(`"${command} ${args.join(' ')}" exited ${exitCode}: ${stderr.trim().slice(-2000)}`)
  }
  return {milliseconds, exitCode, stdout, stderr}
}

/** The median of a non-empty list of numbers (mean of the middle two when even). */
export function median(values: number[]): number {
  if (values.length === 0) throw new Error('median of no values')
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/**
 * The median of the per-round ratios `ours[i] / theirs[i]` of two contenders
 * of one alternating benchmark (same rounds, same order). Each round runs both
 * back to back, so a machine that speeds up or slows down between rounds (a
 * shared VM's disk can change by a factor of three within minutes) moves both
 * sides of a ratio alike, where it would skew a ratio of the two medians.
 */
export function pairedRatio(ours: number[], theirs: number[]): number {
  if (ours.length !== theirs.length) throw new Error(`paired ratio of ${ours.length} and ${theirs.length} samples`)
  return median(ours.map((value, round) => value / theirs[round]!))
}

/** A named contender in an alternating benchmark: one round runs it once. */
export interface Contender {
  name: string
  /** Runs one measured round; resolves to the figure (ms, bytes...). */
  round: () => Promise<number>
}

/**
 * Runs every contender once per round, in turn, for `rounds` rounds, so
 * drift in machine load hits all of them alike. Resolves to every sample per
 * contender name, in round order. Logs each sample to stderr as it comes.
 */
export async function alternate(contenders: Contender[], rounds: number, unit = 'ms'): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = {}
  for (const contender of contenders) samples[contender.name] = []
  for (let round = 1; round <= rounds; round++) {
    const line: string[] = []
    for (const contender of contenders) {
      const value = await contender.round()
      samples[contender.name]!.push(value)
      line.push(`${contender.name} ${formatValue(value, unit)}`)
    }
    console.error(`  round ${round}/${rounds}: ${line.join(', ')}`)
  }
  return samples
}

/** Formats a figure for humans: ms with one decimal, bytes in MiB or KiB. */
export function formatValue(value: number, unit: string): string {
  if (unit === 'ms') return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(1)} ms`
  if (unit === 'bytes') {
    const magnitude = Math.abs(value)
    if (magnitude >= 1024 * 1024) return `${(value / 1024 / 1024).toFixed(1)} MiB`
    if (magnitude >= 1024) return `${(value / 1024).toFixed(1)} KiB`
    return `${value} B`
  }
  return `${value} ${unit}`
}

/** Rounds from the environment (BENCH_ROUNDS) or the benchmark's default. */
export function roundsFromEnvironment(defaultRounds: number): number {
  const fromEnvironment = Number(process.env.BENCH_ROUNDS)
  return Number.isInteger(fromEnvironment) && fromEnvironment > 0 ? fromEnvironment : defaultRounds
}
