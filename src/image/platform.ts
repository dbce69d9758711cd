/**
 * Platforms (`os/arch[/variant]`) and the choice of one manifest from an index, with
 * containerd's matching rules: architecture aliases normalised, an arm64 entry without
 * variant is v8, an arm entry without variant is v7, and a newer variant may fall back
 * to an older one (arm v7 -> v6 -> v5; amd64 v3 -> v2 -> v1).
 */
import {invalidArgument, notFound} from '../errors.js'
import type {Descriptor, ImageIndex, Platform} from './types.js'

const PART = /^[a-z0-9][a-z0-9._-]*$/
const ARCHITECTURE_ALIASES: Record<string, string> = {
  x86_64: 'amd64',
  'x86-64': 'amd64',
  aarch64: 'arm64',
  i386: '386',
  i686: '386',
  armhf: 'arm',
  armel: 'arm',
}
// Variants an architecture means when an entry names none.
const DEFAULT_VARIANTS: Record<string, string> = {arm64: 'v8', arm: 'v7', amd64: 'v1'}
// The oldest variant a newer one may fall back to.
const OLDEST_VARIANTS: Record<string, number> = {arm: 5, amd64: 1}
const ATTESTATION_ANNOTATION = 'vnd.docker.reference.type'

/**
 * Parses `os/arch[/variant]` as `--platform` takes it (lowercased, aliases such as
 * x86_64 normalised). Throws INVALID_ARGUMENT quoting the input.
 */
export function parsePlatform(text: string): Platform {
  const parts = text.trim().toLowerCase().split('/')
  const bad = (why: string) =>
    invalidArgument(`invalid platform "${text}": ${why}`, {hint: 'a platform looks like os/arch[/variant], for example linux/arm64 or linux/arm/v7'})
  if (parts.length < 2 || parts.length > 3) throw bad('expected os/arch or os/arch/variant')
  parts.forEach((part) => {
    if (!PART.test(part)) throw bad(part === '' ? 'a part is empty' : `"${part}" is not a valid platform part`)
  })

  const [os, architecture, variant] = parts
  const platform: Platform = {os, architecture: normalizeArchitecture(architecture)}
  if (variant !== undefined) platform.variant = variant
  return platform
}

/** `os/arch[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/')
}

/** The platform of this machine in OCI names: x64 -> amd64, arm64 -> arm64/v8, arm -> arm/vN. */
export function hostPlatform(): Platform {
  const os = process.platform === 'win32' ? 'windows' : process.platform
  switch (process.arch) {
    case 'x64':
      return {os, architecture: 'amd64'}
    case 'arm64':
      return {os, architecture: 'arm64', variant: 'v8'}
    case 'arm': {
      const version = (process.config.variables as {arm_version?: string | number}).arm_version
      return {os, architecture: 'arm', variant: `v${version ?? 7}`}
    }
    case 'ia32':
      return {os, architecture: '386'}
    case 'ppc64':
      return {os, architecture: 'ppc64le'}
    default:
      return {os, architecture: process.arch}
  }
}

/**
 * The manifest of `index` for `wanted`. The same index in any order gives the same
 * answer: the best variant wins, and equally good entries are told apart by digest.
 * Attestations (platform unknown/unknown, or the vnd.docker.reference.type annotation)
 * are never chosen. Throws NOT_FOUND listing the platforms the index has.
 */
export function selectManifest(index: ImageIndex, wanted: Platform): Descriptor {
  const preferences = variantPreferences(wanted)
  const candidates = index.manifests
    .filter((entry) => !isAttestation(entry))
    .map((entry) => ({entry, rank: rankEntry(entry, wanted, preferences)}))
    .filter((candidate) => candidate.rank !== -1)
    .sort((left, right) => left.rank - right.rank || compareText(left.entry.digest, right.entry.digest))

  if (candidates.length > 0) return candidates[0].entry
  const available = platformsOf(index)
  const listing = available.length > 0 ? available.join(', ') : 'no platforms'
  throw notFound(`no manifest for platform ${formatPlatform(wanted)} in the image index; it has ${listing}`, {
    hint: available.length > 0 ? `choose one with --platform, for example --platform ${available[0]}` : undefined,
  })
}

/** The platforms an index offers (attestations left out), sorted and without repeats. */
function platformsOf(index: ImageIndex): string[] {
  const platforms = index.manifests.flatMap((entry) => (entry.platform && !isAttestation(entry) ? [formatPlatform(entry.platform)] : []))
  return [...new Set(platforms)].sort()
}

/** True for attestation manifests (provenance, SBOM) that BuildKit puts in indexes. */
export function isAttestation(entry: Descriptor): boolean {
  if (entry.annotations?.[ATTESTATION_ANNOTATION] !== undefined) return true
  return entry.platform?.os === 'unknown' && entry.platform.architecture === 'unknown'
}

/** Position in the preference list of the entry's variant; -1 when it does not fit. */
function rankEntry(entry: Descriptor, wanted: Platform, preferences: string[] | undefined): number {
  const platform = entry.platform
  if (platform === undefined) return -1
  if (platform.os.toLowerCase() !== wanted.os) return -1
  const architecture = normalizeArchitecture(platform.architecture.toLowerCase())
  if (architecture !== normalizeArchitecture(wanted.architecture)) return -1

  const variant = platform.variant?.toLowerCase() || DEFAULT_VARIANTS[architecture]
  // Architectures without known variants: an entry without variant, then any.
  if (preferences === undefined) return variant === wanted.variant ? 0 : wanted.variant === undefined ? 1 : -1
  return preferences.indexOf(variant ?? '')
}

/** The variants acceptable for `wanted`, best first; undefined when variants are not ordered. */
function variantPreferences(wanted: Platform): string[] | undefined {
  const architecture = normalizeArchitecture(wanted.architecture)
  const variant = wanted.variant || DEFAULT_VARIANTS[architecture]
  if (variant === undefined) return undefined

  const oldest = OLDEST_VARIANTS[architecture]
  const number = Number(/^v(\d+)$/.exec(variant)?.[1])
  if (oldest === undefined || !Number.isInteger(number)) return [variant]
  const list: string[] = []
  for (let version = number; version >= oldest; version--) list.push(`v${version}`)
  return list
}

function normalizeArchitecture(architecture: string): string {
  return ARCHITECTURE_ALIASES[architecture] ?? architecture
}

function compareText(left: string, right: string): number {
  return left < right ? -1 : left > right ? 1 : 0
}

/** True when an image built for `platform` is what `wanted` asks for (as selectManifest would choose it). */
export function platformMatches(platform: Platform, wanted: Platform): boolean {
  const entry = {mediaType: '', digest: '', size: 0, platform}
  return rankEntry(entry, wanted, variantPreferences(wanted)) !== -1
}
