// Reads V8 .cpuprofile files (what `node --cpu-prof` writes) and sums
// sampled time by module and by function, self and inclusive.

/** The parts of a V8 CPU profile this module reads. */
interface CpuProfile {
  nodes: Array<{
    id: number
    callFrame: {functionName: string; url: string; lineNumber: number}
    children?: number[]
  }>
  startTime: number
  endTime: number
  samples: number[]
  timeDeltas: number[]
}

/** One row of a summary: a module or function and the time sampled in it. */
export interface ProfileRow {
  name: string
  milliseconds: number
  /** Share of all sampled time, 0..1. */
  share: number
}

/** What a set of profiles of the same command shows, averaged per profile. */
export interface ProfileSummary {
  profiles: number
  /** Mean wall time the profiles cover, in ms. */
  milliseconds: number
  /** Self time by module group (package, node internals, dist/ file, or a V8 state). */
  selfByModule: ProfileRow[]
  /** Self time by function, "name (module:line)". */
  selfByFunction: ProfileRow[]
  /** Inclusive time of mydocker's own functions (dist/), callees included. */
  inclusiveOwn: ProfileRow[]
}

/** The group a script URL belongs to: a package, a dist/ file, node internals. */
export function moduleGroup(url: string, functionName: string): string {
  // Frames without a script are V8 states, or node's C++ bindings (fs calls...).
  if (url === '') return functionName.startsWith('(') ? functionName : '(native bindings)'
  const packageMatch = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)
  if (packageMatch) return packageMatch[1]!
  const ownMatch = /\/(dist|bin)\/(.*)$/.exec(url)
  if (ownMatch) return `${ownMatch[1]}/${ownMatch[2]!.replace(/\.js$/, '')}`
  if (url.startsWith('node:internal/modules') || url.startsWith('node:internal/process/') || url.includes('/esm/')) {
    return 'node:module loading'
  }
  if (url.startsWith('node:')) return url.replace(/^node:(internal\/)?/, 'node:').replace(/\/.*$/, '')
  return url
}

function functionKey(node: CpuProfile['nodes'][number]): string {
  const {functionName, url, lineNumber} = node.callFrame
  const group = moduleGroup(url, functionName)
  if (url === '') return functionName || '(anonymous)'
  return `${functionName || '(anonymous)'} (${group}:${lineNumber + 1})`
}

/**
 * Reads every .cpuprofile in `directory` and sums sampled time (the sample
 * time deltas) per module group and per function, divided by the number of
 * profiles so rows read as "ms per command". Keeps the `top` biggest rows
 * of each table.
 */
export async function summarizeProfiles(directory: string, top = 15): Promise<ProfileSummary> {
  const {readdir, readFile} = await import('node:fs/promises')
  const {join} = await import('node:path')

  const files = (await readdir(directory)).filter((name) => name.endsWith('.cpuprofile'))
  if (files.length === 0) throw new Error(`no .cpuprofile in ${directory}`)
  const byModule = new Map<string, number>()
  const byFunction = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  let wall = 0

  for (const file of files) {
    const profile = JSON.parse(await readFile(join(directory, file), 'utf8')) as CpuProfile
    wall += (profile.endTime - profile.startTime) / 1000
    total += addProfile(profile, byModule, byFunction, inclusive)
  }

  const rows = (map: Map<string, number>) =>
    [...map.entries()]
      .map(([name, microseconds]) => ({name, milliseconds: microseconds / 1000 / files.length, share: microseconds / total}))
      .sort((a, b) => b.milliseconds - a.milliseconds)
      .slice(0, top)
  return {
    profiles: files.length,
    milliseconds: wall / files.length,
    selfByModule: rows(byModule),
    selfByFunction: rows(byFunction),
    inclusiveOwn: rows(inclusive),
  }
}

/** Adds one profile's samples to the maps; returns its total sampled µs. */
function addProfile(
  profile: CpuProfile,
  byModule: Map<string, number>,
  byFunction: Map<string, number>,
  inclusive: Map<string, number>,
): number {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const parents = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id)

  let total = 0
  for (const [index, id] of profile.samples.entries()) {
    const delta = profile.timeDeltas[index] ?? 0
    const node = nodes.get(id)
    if (!node) continue
    total += delta
    add(byModule, moduleGroup(node.callFrame.url, node.callFrame.functionName), delta)
    add(byFunction, functionKey(node), delta)

    // Inclusive: each of mydocker's own functions on the stack, once per sample.
    const seen = new Set<string>()
    for (let current: number | undefined = id; current !== undefined; current = parents.get(current)) {
      const frame = nodes.get(current)!
      if (!isOwnCode(frame.callFrame.url)) continue
      const key = functionKey(frame)
      if (seen.has(key)) continue
      seen.add(key)
      add(inclusive, key, delta)
    }
  }
  return total
}

/** mydocker's own compiled code (dist/, bin/), not a dependency's dist/. */
function isOwnCode(url: string): boolean {
  return /\/(dist|bin)\//.test(url) && !url.includes('/node_modules/')
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value)
}
