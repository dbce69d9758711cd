// Warm pull: pulling an image the store already holds, mydocker against
// podman, both through a counting proxy in front of the loopback registry so
// the requests each makes can be counted.
// Usage: node --import tsx bench/pull-warm.ts
import {alternate, roundsFromEnvironment} from './lib/measure.js'
import {comparison, saveResult, type Figure} from './lib/results.js'
import {mydocker, podman, runTool, temporaryRoot, timeTool, type Tool} from './lib/tools.js'
import {startBenchRegistry} from './lib/images.js'
import {countRequests, startCountingProxy, type CountingProxy, type RequestCounts} from './lib/counting-proxy.js'

async function main(): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const rounds = roundsFromEnvironment(10)
  const {registry} = await startBenchRegistry(['busybox'])
  const proxy = await startCountingProxy(registry.host)
  const image = `${proxy.host}/busybox:latest`
  const mydockerRoot = await temporaryRoot('pull-warm-mydocker')
  const podmanRoot = await temporaryRoot('pull-warm-podman')
  const ours = mydocker(mydockerRoot)
  const theirs = podman(podmanRoot)

  try {
    for (const tool of [ours, theirs]) await runTool(tool, 'pull', [image])
    const oursCounts = await requestsOfOnePull(proxy, ours, image)
    const theirsCounts = await requestsOfOnePull(proxy, theirs, image)

    console.error(`pull-warm: ${rounds} rounds`)
    const samples = await alternate([
      {name: 'mydocker', round: () => timeTool(ours, 'pull', [image])},
      {name: 'podman', round: () => timeTool(theirs, 'pull', [image])},
    ], rounds)

    await saveResult({
      bench: 'pull-warm',
      finishedAt: new Date().toISOString(),
      rounds,
      figures: figures(samples, oursCounts, theirsCounts),
    })
  } finally {
    await theirs.reset()
    await rm(podmanRoot, {recursive: true, force: true})
    await rm(mydockerRoot, {recursive: true, force: true})
    await proxy.stop()
    await registry.remove()
  }
}

/** Pulls once more and counts what reached the registry. */
async function requestsOfOnePull(proxy: CountingProxy, tool: Tool, image: string): Promise<RequestCounts> {
  proxy.clear()
  await runTool(tool, 'pull', [image])
  const counts = countRequests(proxy.requests())
  console.error(`pull-warm: ${tool.name} requests: ${proxy.requests().map((request) => `${request.method} ${request.path} ${request.status}`).join('; ')}`)
  return counts
}

function describe(counts: RequestCounts): string {
  return `${counts.manifestHeads} manifest HEAD, ${counts.manifestGets} manifest GET, ${counts.blobRequests} blob, ${counts.other} other`
}

function figures(samples: Record<string, number[]>, ours: RequestCounts, theirs: RequestCounts): Figure[] {
  const manifestRequests = ours.manifestHeads + ours.manifestGets
  return [
    {
      id: 'pull-warm.time',
      title: 'warm pull of a stored image (busybox)',
      unit: 'ms',
      ...comparison(samples.mydocker!, samples.podman!, 1),
      referenceName: 'podman',
      goal: '≤ 1 × podman',
      samples,
    },
    {
      id: 'pull-warm.requests',
      title: 'registry requests of a warm pull',
      unit: 'requests',
      mydocker: ours.total,
      reference: theirs.total,
      referenceName: 'podman',
      goal: 'one manifest request (HEAD), no blob',
      pass: manifestRequests === 1 && ours.blobRequests === 0 && ours.other === 0,
      note: `mydocker: ${describe(ours)}; podman: ${describe(theirs)}`,
    },
  ]
}

await main()
