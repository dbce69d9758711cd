// Disk: store size after pulling image A (debian:single), after image B
// (debian:bookworm: A's layer plus one small layer of its own), and after
// removing B, then A. mydocker must add only B's own layers' bytes and give
// the bytes back on rm; podman's figures are measured the same way.
// Usage: node --import tsx bench/disk.ts
import {formatValue} from './lib/measure.js'
import {saveResult, type Figure} from './lib/results.js'
import {mydocker, podman, runTool, temporaryRoot, type Tool} from './lib/tools.js'
import {fetchManifest, startBenchRegistry} from './lib/images.js'

/** Room for a manifest, a config, index rows and a few directory blocks. */
const metadataAllowanceBytes = 1024 * 1024

/** Store sizes (bytes allocated, `du -s`) at each step. */
interface DiskSteps {
  empty: number
  afterA: number
  afterB: number
  afterRemoveB: number
  afterRemoveA: number
}

async function main(): Promise<void> {
  const {rm} = await import('node:fs/promises')
  const {registry, images} = await startBenchRegistry(['debianSingle', 'debian'])
  const imageA = images.debianSingle
  const imageB = images.debian
  const ownBytes = await ownLayerBytes(imageA, imageB)
  const mydockerRoot = await temporaryRoot('disk-mydocker')
  const podmanRoot = await temporaryRoot('disk-podman')
  const ours = mydocker(mydockerRoot)
  const theirs = podman(podmanRoot)

  try {
    const oursSteps = await measureSteps(ours, imageA, imageB, ['images'])
    const theirsSteps = await measureSteps(theirs, imageA, imageB, ['images'])
    await saveResult({
      bench: 'disk',
      finishedAt: new Date().toISOString(),
      rounds: 1,
      figures: figures(oursSteps, theirsSteps, ownBytes),
    })
  } finally {
    await theirs.reset()
    await rm(podmanRoot, {recursive: true, force: true})
    await rm(mydockerRoot, {recursive: true, force: true})
    await registry.remove()
  }
}

/** Pulls A, pulls B, removes B, removes A, measuring the store after each. */
async function measureSteps(tool: Tool, imageA: string, imageB: string, initialize: string[]): Promise<DiskSteps> {
  const remove = tool.name === 'podman' ? 'rmi' : 'rm'
  // A listing creates the store's own files, so "empty" is a ready store.
  await runTool(tool, initialize[0]!, initialize.slice(1))
  const empty = await allocatedBytes(tool.root)
  await runTool(tool, 'pull', [imageA])
  const afterA = await allocatedBytes(tool.root)
  await runTool(tool, 'pull', [imageB])
  const afterB = await allocatedBytes(tool.root)
  await runTool(tool, remove, [imageB])
  const afterRemoveB = await allocatedBytes(tool.root)
  await runTool(tool, remove, [imageA])
  const afterRemoveA = await allocatedBytes(tool.root)
  const steps = {empty, afterA, afterB, afterRemoveB, afterRemoveA}
  console.error(`disk: ${tool.name}: ${Object.entries(steps).map(([step, bytes]) => `${step} ${formatValue(bytes, 'bytes')}`).join(', ')}`)
  return steps
}

/**
 * Bytes of B's layers that A lacks: compressed size from the manifest plus
 * the uncompressed archive length (an upper bound on what unpacking writes).
 */
async function ownLayerBytes(imageA: string, imageB: string): Promise<{compressed: number; uncompressed: number}> {
  const a = await fetchManifest(imageA)
  const b = await fetchManifest(imageB)
  const shared = new Set(a.layers.map((layer) => layer.digest))
  const own = b.layers.filter((layer) => !shared.has(layer.digest))
  let uncompressed = 0
  for (const layer of own) uncompressed += await uncompressedLength(imageB, layer.digest)
  return {compressed: own.reduce((sum, layer) => sum + layer.size, 0), uncompressed}
}

async function uncompressedLength(reference: string, digest: string): Promise<number> {
  const {gunzipSync} = await import('node:zlib')
  const slash = reference.indexOf('/')
  const name = reference.slice(slash + 1, reference.lastIndexOf(':'))
  const response = await fetch(`http://${reference.slice(0, slash)}/v2/${name}/blobs/${digest}`)
  if (!response.ok) throw new Error(`blob ${digest} of ${reference}: HTTP ${response.status}`)
  return gunzipSync(Buffer.from(await response.arrayBuffer())).length
}

/** Bytes allocated under `directory` as `du -s` counts them (hard links once). */
async function allocatedBytes(directory: string): Promise<number> {
  const {execa} = await import('execa')
  const {stdout} = await execa('du', ['-s', '-B1', directory])
  return Number(stdout.split(/\s/)[0])
}

function figures(ours: DiskSteps, theirs: DiskSteps, own: {compressed: number; uncompressed: number}): Figure[] {
  const oursAdded = ours.afterB - ours.afterA
  const theirsAdded = theirs.afterB - theirs.afterA
  const allowance = own.compressed + own.uncompressed + metadataAllowanceBytes
  const oursLeft = ours.afterRemoveA - ours.empty
  const steps = (label: string, s: DiskSteps) =>
    `${label}: empty ${formatValue(s.empty, 'bytes')}, +A ${formatValue(s.afterA, 'bytes')}, +B ${formatValue(s.afterB, 'bytes')}, ` +
    `rm B ${formatValue(s.afterRemoveB, 'bytes')}, rm A ${formatValue(s.afterRemoveA, 'bytes')}`
  return [
    {
      id: 'disk.image-a',
      title: 'store after image A (debian:single)',
      unit: 'bytes',
      mydocker: ours.afterA - ours.empty,
      reference: theirs.afterA - theirs.empty,
      referenceName: 'podman',
      ratio: (ours.afterA - ours.empty) / (theirs.afterA - theirs.empty),
      goal: 'none (for information)',
      pass: null,
      note: 'mydocker keeps the compressed blob and the unpacked snapshot; podman keeps the unpacked layer only',
    },
    {
      id: 'disk.shared',
      title: 'bytes added by image B sharing A\'s base layer',
      unit: 'bytes',
      mydocker: oursAdded,
      reference: theirsAdded,
      referenceName: 'podman',
      ratio: theirsAdded > 0 ? oursAdded / theirsAdded : undefined,
      goal: `≤ own layers (${formatValue(own.compressed, 'bytes')} gzip + ${formatValue(own.uncompressed, 'bytes')} tar) + 1 MiB`,
      pass: oursAdded <= allowance,
      note: `${steps('mydocker', ours)}; ${steps('podman', theirs)}`,
    },
    {
      id: 'disk.remove',
      title: 'bytes left after rm of both images',
      unit: 'bytes',
      mydocker: oursLeft,
      reference: theirs.afterRemoveA - theirs.empty,
      referenceName: 'podman',
      goal: `rm B returns B's bytes, rm A returns the rest (≤ 1 MiB left)`,
      pass: ours.afterRemoveB - ours.afterA <= metadataAllowanceBytes && oursLeft <= metadataAllowanceBytes,
      note: `after rm B mydocker is ${formatValue(ours.afterRemoveB - ours.afterA, 'bytes')} off its size after A`,
    },
  ]
}

await main()
