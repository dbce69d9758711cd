// Cold pull: the single-layer Debian bookworm minbase image into an empty
// store, mydocker against podman, with skopeo copying the same image to a
// directory (download and verify, no unpacking) as the floor.
// Usage: node --import tsx bench/pull-cold.ts
import {alternate, median, roundsFromEnvironment, timeCommand} from './lib/measure.js'
import {comparison, saveResult, type Figure} from './lib/results.js'
import {emptyDirectory, mydocker, podman, temporaryRoot, timeTool, type Tool} from './lib/tools.js'
import {fetchManifest, startBenchRegistry} from './lib/images.js'

const podmanRatioGoal = 0.8

async function main(): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const rounds = roundsFromEnvironment(5)
  const {registry, images} = await startBenchRegistry(['debianSingle'])
  const image = images.debianSingle
  const manifest = await fetchManifest(image)
  const layerBytes = manifest.layers.reduce((sum, layer) => sum + layer.size, 0)
  const mydockerRoot = await temporaryRoot('pull-cold-mydocker')
  const podmanRoot = await temporaryRoot('pull-cold-podman')
  const skopeoRoot = await temporaryRoot('pull-cold-skopeo')
  const ours = mydocker(mydockerRoot)
  const theirs = podman(podmanRoot)

  try {
    console.error(`pull-cold: ${image}, ${manifest.layers.length} layer(s), ${(layerBytes / 1024 / 1024).toFixed(1)} MiB compressed, ${rounds} rounds`)
    const samples = await alternate([
      {name: 'mydocker', round: () => coldPull(ours, image)},
      {name: 'podman', round: () => coldPull(theirs, image)},
      {name: 'skopeo', round: () => skopeoCopy(image, skopeoRoot)},
    ], rounds)

    await saveResult({
      bench: 'pull-cold',
      finishedAt: new Date().toISOString(),
      rounds,
      figures: figures(samples, layerBytes),
    })
  } finally {
    await theirs.reset()
    for (const root of [podmanRoot, mydockerRoot, skopeoRoot]) await rm(root, {recursive: true, force: true})
    await registry.remove()
  }
}

/** Empties the tool's store (not timed), then times one pull. */
async function coldPull(tool: Tool, image: string): Promise<number> {
  await tool.reset()
  return timeTool(tool, 'pull', [image])
}

/** Times skopeo copying the image to an empty directory. */
async function skopeoCopy(image: string, root: string): Promise<number> {
  await emptyDirectory(root)
  const timed = await timeCommand('skopeo', [
    'copy', '--quiet', '--insecure-policy', '--src-tls-verify=false', `docker://${image}`, `dir:${root}/image`,
  ])
  return timed.milliseconds
}

function figures(samples: Record<string, number[]>, layerBytes: number): Figure[] {
  const skopeo = median(samples.skopeo!)
  return [
    {
      id: 'pull-cold.debian',
      title: 'cold pull, debian:single (one layer)',
      unit: 'ms',
      ...comparison(samples.mydocker!, samples.podman!, podmanRatioGoal),
      referenceName: 'podman',
      goal: `≤ ${podmanRatioGoal} × podman`,
      samples,
      note: `layer ${(layerBytes / 1024 / 1024).toFixed(1)} MiB gzip; skopeo copy to a directory (no unpacking) ${(skopeo / 1000).toFixed(2)} s`,
    },
  ]
}

await main()
