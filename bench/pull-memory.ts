// Memory of a pull: peak RSS while pulling an image whose single layer is
// 1 GiB of incompressible data (the download paces the pull), and one whose
// layer is 1 GiB of zeros (gzip about 1 MiB: decompression outruns the disk),
// mydocker against podman, each into an empty store.
// Usage: node --import tsx bench/pull-memory.ts
// BENCH_BIG_LAYER_BYTES overrides the layer size (for a quick try).
import {median, roundsFromEnvironment} from './lib/measure.js'
import {measureMemory, type MemoryRun} from './lib/memory.js'
import {saveResult, type Figure} from './lib/results.js'
import {mydocker, podman, temporaryRoot, type Tool} from './lib/tools.js'
import {pushBigLayerImage, type BigLayerContent} from './lib/images.js'

/** Issue #6: a pull stays under 150 MB of RSS whatever the layer size. */
const peakGoalBytes = 150 * 1000 * 1000

async function main(): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const {startRegistry} = await import('../test/support/registry.js')

  const rounds = roundsFromEnvironment(2)
  const layerBytes = Number(process.env.BENCH_BIG_LAYER_BYTES) || 1024 ** 3
  const registry = await startRegistry()
  const mydockerRoot = await temporaryRoot('pull-memory-mydocker')
  const podmanRoot = await temporaryRoot('pull-memory-podman')
  const ours = mydocker(mydockerRoot)
  const theirs = podman(podmanRoot)

  try {
    const figuresOfAll: Figure[] = []
    for (const content of ['random', 'zeros'] as BigLayerContent[]) {
      console.error(`pull-memory: building or reusing a ${(layerBytes / 1024 ** 2).toFixed(0)} MiB layer of ${content}`)
      const image = await pushBigLayerImage(registry.host, layerBytes, content)
      const runs: Record<string, MemoryRun[]> = {mydocker: [], podman: []}
      for (let round = 1; round <= rounds; round++) {
        for (const tool of [ours, theirs]) {
          const run = await coldPull(tool, image)
          runs[tool.name]!.push(run)
          console.error(`  round ${round}/${rounds}: ${tool.name} peak ${mebibytes(run.peakBytes)}, tree ${mebibytes(run.treePeakBytes)}, ${(run.milliseconds / 1000).toFixed(1)} s`)
        }
        // The stores hold up to 2 GiB each after a round; free them before the next.
        await ours.reset()
        await theirs.reset()
      }
      figuresOfAll.push(...figures(runs, layerBytes, content))
    }
    await saveResult({bench: 'pull-memory', finishedAt: new Date().toISOString(), rounds, figures: figuresOfAll})
  } finally {
    await theirs.reset()
    await rm(podmanRoot, {recursive: true, force: true})
    await rm(mydockerRoot, {recursive: true, force: true})
    await registry.remove()
  }
}

async function coldPull(tool: Tool, image: string): Promise<MemoryRun> {
  await tool.reset()
  const [command, ...args] = tool.argv('pull', [image])
  return measureMemory(command!, args, tool.env)
}

function mebibytes(bytes: number): string {
  if (bytes >= 1024 ** 3 && bytes % 1024 ** 3 === 0) return `${bytes / 1024 ** 3} GiB`
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

function figures(runs: Record<string, MemoryRun[]>, layerBytes: number, content: BigLayerContent): Figure[] {
  const what = `one ${mebibytes(layerBytes)} layer of ${content === 'random' ? 'random bytes' : 'zeros'}`
  const peak = (name: string) => Math.max(...runs[name]!.map((run) => Math.max(run.peakBytes, run.treePeakBytes)))
  const time = (name: string) => median(runs[name]!.map((run) => run.milliseconds))
  const ours = peak('mydocker')
  const theirs = peak('podman')
  return [
    {
      id: `pull-memory.peak.${content}`,
      title: `peak RSS of a cold pull, ${what}`,
      unit: 'bytes',
      mydocker: ours,
      reference: theirs,
      referenceName: 'podman',
      ratio: ours / theirs,
      goal: '< 150 MB',
      pass: ours < peakGoalBytes,
      samples: {
        mydocker: runs.mydocker!.map((run) => run.peakBytes),
        'mydocker-tree': runs.mydocker!.map((run) => run.treePeakBytes),
        podman: runs.podman!.map((run) => run.peakBytes),
      },
      note: `highest of GNU time's max RSS and the sampled process-tree RSS over ${runs.mydocker!.length} rounds`,
    },
    {
      id: `pull-memory.time.${content}`,
      title: `cold pull time, ${what}`,
      unit: 'ms',
      mydocker: time('mydocker'),
      reference: time('podman'),
      referenceName: 'podman',
      ratio: time('mydocker') / time('podman'),
      goal: 'none (for information)',
      pass: null,
      samples: {
        mydocker: runs.mydocker!.map((run) => run.milliseconds),
        podman: runs.podman!.map((run) => run.milliseconds),
      },
    },
  ]
}

await main()
