// The figures a benchmark produces, printed as it finishes and saved as JSON
// under bench/results/ for bench/report.ts to turn into docs/performance.md.
import {median, pairedRatio} from './measure.js'

/** One measured figure with its goal. */
export interface Figure {
  /** Stable key, e.g. "run-warm.busybox". */
  id: string
  /** What was measured, in words, e.g. "warm run of busybox true". */
  title: string
  /** "ms" or "bytes". */
  unit: string
  /** mydocker's median. */
  mydocker: number
  /** The comparison's median (podman, or the reference the goal names). */
  reference?: number
  /** Who `reference` is, e.g. "podman" or "mydocker busybox". */
  referenceName?: string
  /** mydocker / reference, when there is a reference. */
  ratio?: number
  /** The goal in words, e.g. "≤ 0.6 × podman". */
  goal: string
  /** Whether the goal is met; null when it could not be measured. */
  pass: boolean | null
  /** Fastest samples (mydocker, reference): on a loaded machine the floor each can reach. */
  best?: {mydocker: number; reference?: number}
  /** Every sample, by contender name. */
  samples?: Record<string, number[]>
  /** Anything the reader needs to weigh the figure. */
  note?: string
}

/**
 * The measured part of a timed figure: two contenders' samples of one
 * alternating run (same rounds, same order), their medians and fastest
 * samples, and the paired ratio (see pairedRatio) judged against `goalRatio`.
 */
export function comparison(ours: number[], theirs: number[], goalRatio: number): Pick<Figure, 'mydocker' | 'reference' | 'ratio' | 'pass' | 'best'> {
  const ratio = pairedRatio(ours, theirs)
  return {
    mydocker: median(ours),
    reference: median(theirs),
    ratio,
    pass: ratio <= goalRatio,
    best: {mydocker: Math.min(...ours), reference: Math.min(...theirs)},
  }
}

/** What one benchmark script saved. */
export interface BenchResult {
  bench: string
  finishedAt: string
  rounds: number
  figures: Figure[]
}

/** bench/results/, where each benchmark writes NAME.json. */
export async function resultsDirectory(): Promise<string> {
  const {fileURLToPath} = await import('node:url')
  return fileURLToPath(new URL('../results/', import.meta.url))
}

/**
 * Prints each figure (median, reference, ratio, PASS/MISS) to stdout and
 * writes them to bench/results/BENCH.json, replacing an earlier run's.
 */
export async function saveResult(result: BenchResult): Promise<void> {
  const {mkdir, writeFile} = await import('node:fs/promises')
  const {join} = await import('node:path')
  const {formatValue} = await import('./measure.js')

  for (const figure of result.figures) {
    const verdict = figure.pass === null ? 'N/A ' : figure.pass ? 'PASS' : 'MISS'
    const reference = figure.reference === undefined ? '' : `, ${figure.referenceName} ${formatValue(figure.reference, figure.unit)}`
    const ratio = figure.ratio === undefined ? '' : `, ratio ${figure.ratio.toFixed(2)}`
    console.log(`${verdict} ${figure.title}: mydocker ${formatValue(figure.mydocker, figure.unit)}${reference}${ratio} (goal ${figure.goal})`)
    if (figure.note) console.log(`     ${figure.note}`)
  }

  const directory = await resultsDirectory()
  await mkdir(directory, {recursive: true})
  await writeFile(join(directory, `${result.bench}.json`), JSON.stringify(result, null, 2) + '\n')
}

/** Reads every saved result, in file-name order; missing directory gives none. */
export async function loadResults(): Promise<BenchResult[]> {
  const {readdir, readFile} = await import('node:fs/promises')
  const {join} = await import('node:path')

  const directory = await resultsDirectory()
  let names: string[]
  try {
    names = (await readdir(directory)).filter((name) => name.endsWith('.json')).sort()
  } catch {
    return []
  }
  const results: BenchResult[] = []
  for (const name of names) results.push(JSON.parse(await readFile(join(directory, name), 'utf8')) as BenchResult)
  return results
}
