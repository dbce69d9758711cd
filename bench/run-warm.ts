// Warm run: `mydocker run IMAGE true` against `podman run ... IMAGE true`
// with both images already stored, `node -e 0` as the floor any Node CLI
// pays, and mydocker's Debian run against its busybox run (run time must
// not grow with image size). Usage: node --import tsx bench/run-warm.ts
import {alternate, median, roundsFromEnvironment, timeCommand} from './lib/measure.js'
import {comparison, saveResult, type Figure} from './lib/results.js'
import {mydocker, podman, runTool, temporaryRoot, timeTool} from './lib/tools.js'
import {startBenchRegistry} from './lib/images.js'

/** Goals of issue #6 for the warm run. */
const podmanRatioGoal = 0.6
const floorMarginMilliseconds = 35
// `node -e 0` on the machine the issue measured, and the margin as a ratio there.
const issueNodeMilliseconds = 68
const issueFloorRatio = (issueNodeMilliseconds + floorMarginMilliseconds) / issueNodeMilliseconds
const imageSizeRatioGoal = 1.1

async function main(): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const rounds = roundsFromEnvironment(15)
  const {registry, images} = await startBenchRegistry(['busybox', 'debian'])
  const mydockerRoot = await temporaryRoot('run-mydocker')
  const podmanRoot = await temporaryRoot('run-podman')
  const ours = mydocker(mydockerRoot)
  const theirs = podman(podmanRoot)

  try {
    for (const tool of [ours, theirs]) {
      for (const image of [images.busybox, images.debian]) {
        await runTool(tool, 'pull', [image])
        // One unmeasured run each fills the page cache and podman's own state.
        await runTool(tool, 'run', [image, 'true'])
      }
    }

    console.error(`run-warm: ${rounds} rounds`)
    const samples = await alternate([
      {name: 'node', round: async () => (await timeCommand(process.execPath, ['-e', '0'])).milliseconds},
      {name: 'mydocker', round: () => timeTool(ours, 'run', [images.busybox, 'true'])},
      {name: 'podman', round: () => timeTool(theirs, 'run', [images.busybox, 'true'])},
      {name: 'mydocker-debian', round: () => timeTool(ours, 'run', [images.debian, 'true'])},
      {name: 'mydocker-network-none', round: () => timeTool(ours, 'run', ['--network', 'none', images.busybox, 'true'])},
    ], rounds)

    await saveResult({bench: 'run-warm', finishedAt: new Date().toISOString(), rounds, figures: figures(samples)})
  } finally {
    await theirs.reset()
    await rm(podmanRoot, {recursive: true, force: true})
    await rm(mydockerRoot, {recursive: true, force: true})
    await registry.remove()
  }
}

function figures(samples: Record<string, number[]>): Figure[] {
  const node = median(samples.node!)
  const ours = median(samples.mydocker!)
  const floor = comparison(samples.mydocker!, samples.node!, issueFloorRatio)
  return [
    {
      id: 'run-warm.busybox',
      title: 'warm run, busybox true',
      unit: 'ms',
      ...comparison(samples.mydocker!, samples.podman!, podmanRatioGoal),
      referenceName: 'podman',
      goal: `≤ ${podmanRatioGoal} × podman`,
      samples: {mydocker: samples.mydocker!, podman: samples.podman!, 'mydocker-network-none': samples['mydocker-network-none']!},
      note: `podman runs with --network none (the only way it runs here); mydocker with --network none: ${median(samples['mydocker-network-none']!).toFixed(1)} ms`,
    },
    {
      id: 'run-warm.floor',
      title: 'warm run over bare node -e 0',
      unit: 'ms',
      ...floor,
      referenceName: 'node -e 0',
      goal: `≤ node -e 0 + ${floorMarginMilliseconds} ms`,
      // The goal is a margin in ms, not a ratio.
      pass: ours - node <= floorMarginMilliseconds,
      samples: {mydocker: samples.mydocker!, node: samples.node!},
      // The issue's 35 ms is its own machine's arithmetic (0.6 × 166 ms ≈ 68 ms + 35 ms);
      // the same margin as a ratio is for a reader whose node is slower or faster.
      note: `mydocker spends ${(ours - node).toFixed(1)} ms above a bare node start; as a ratio ${floor.ratio!.toFixed(2)} × node -e 0, against ${issueFloorRatio.toFixed(2)} × on the issue's machine (node -e 0 ${issueNodeMilliseconds} ms)`,
    },
    {
      id: 'run-warm.debian',
      title: 'warm run, debian:bookworm true vs busybox',
      unit: 'ms',
      ...comparison(samples['mydocker-debian']!, samples.mydocker!, imageSizeRatioGoal),
      referenceName: 'mydocker busybox',
      goal: `≤ ${imageSizeRatioGoal} × busybox`,
      samples: {'mydocker-debian': samples['mydocker-debian']!, mydocker: samples.mydocker!},
    },
  ]
}

await main()
