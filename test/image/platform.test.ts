// Platform parsing and the choice of a manifest from an index: deterministic in
// any order, attestations never chosen, arm64/v8 and arm v7 -> v6 -> v5.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {formatPlatform, hostPlatform, parsePlatform, platformMatches, selectManifest} from '../../src/image/platform.js'
import {type Descriptor, type ImageIndex, MediaType, type Platform} from '../../src/image/types.js'

function entry(name: string, platform: Platform, annotations?: Record<string, string>): Descriptor {
  const hex = Buffer.from(name).toString('hex').padEnd(64, '0').slice(0, 64)
  return {mediaType: MediaType.ociManifest, digest: `sha256:${hex}`, size: 100, platform, annotations}
}

function indexOf(...manifests: Descriptor[]): ImageIndex {
  return {schemaVersion: 2, mediaType: MediaType.ociIndex, manifests}
}

const amd64 = entry('amd64', {os: 'linux', architecture: 'amd64'})
const arm64 = entry('arm64', {os: 'linux', architecture: 'arm64'})
const arm64v8 = entry('arm64v8', {os: 'linux', architecture: 'arm64', variant: 'v8'})
const armv7 = entry('armv7', {os: 'linux', architecture: 'arm', variant: 'v7'})
const armv6 = entry('armv6', {os: 'linux', architecture: 'arm', variant: 'v6'})
const armv5 = entry('armv5', {os: 'linux', architecture: 'arm', variant: 'v5'})
const attestation = entry('attest', {os: 'unknown', architecture: 'unknown'}, {'vnd.docker.reference.type': 'attestation-manifest'})
const annotatedAttestation = entry('attest2', {os: 'linux', architecture: 'amd64'}, {'vnd.docker.reference.type': 'attestation-manifest', 'vnd.docker.reference.digest': amd64.digest})
const windows = entry('windows', {os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1'})

/** Every order of a list (small lists only). */
function permutations<T>(items: T[]): T[][] {
  if (items.length <= 1) return [items]
  return items.flatMap((item, position) => permutations([...items.slice(0, position), ...items.slice(position + 1)]).map((rest) => [item, ...rest]))
}

describe('selectManifest', () => {
  const cases = [
    {name: 'amd64 among many', manifests: [attestation, armv7, amd64, arm64, windows], wanted: 'linux/amd64', expected: amd64},
    {name: 'arm64 without variant for linux/arm64/v8', manifests: [amd64, arm64, attestation], wanted: 'linux/arm64/v8', expected: arm64},
    {name: 'arm64/v8 for linux/arm64', manifests: [amd64, arm64v8], wanted: 'linux/arm64', expected: arm64v8},
    {name: 'arm v7 when there', manifests: [armv5, armv6, armv7], wanted: 'linux/arm/v7', expected: armv7},
    {name: 'arm v6 for v7 without v7', manifests: [armv5, armv6, amd64], wanted: 'linux/arm/v7', expected: armv6},
    {name: 'arm v5 for v7 without v7 and v6', manifests: [armv5, amd64], wanted: 'linux/arm/v7', expected: armv5},
    {name: 'not an attestation marked by annotation only', manifests: [annotatedAttestation, amd64], wanted: 'linux/amd64', expected: amd64},
    {name: 'aliases such as x86_64', manifests: [entry('alias', {os: 'linux', architecture: 'x86_64'}), arm64], wanted: 'linux/amd64', expected: entry('alias', {os: 'linux', architecture: 'x86_64'})},
  ]

  for (const testCase of cases) {
    it(`chooses ${testCase.name}, whatever the order of the index`, () => {
      for (const order of permutations(testCase.manifests)) {
        assert.equal(selectManifest(indexOf(...order), parsePlatform(testCase.wanted)).digest, testCase.expected.digest)
      }
    })
  }

  it('chooses the same of two equal entries in any order', () => {
    const twin = entry('twin', {os: 'linux', architecture: 'amd64'})
    const first = selectManifest(indexOf(amd64, twin), parsePlatform('linux/amd64'))
    assert.equal(selectManifest(indexOf(twin, amd64), parsePlatform('linux/amd64')).digest, first.digest)
  })

  it('does not fall back from arm v6 to v7, nor choose an attestation', () => {
    assert.throws(() => selectManifest(indexOf(armv7, attestation), parsePlatform('linux/arm/v6')), {code: 'NOT_FOUND'})
    assert.throws(() => selectManifest(indexOf(attestation), parsePlatform('unknown/unknown')), {code: 'NOT_FOUND'})
  })

  it('lists the platforms the index has when none matches', () => {
    assert.throws(() => selectManifest(indexOf(amd64, armv7, attestation), parsePlatform('linux/s390x')), {
      code: 'NOT_FOUND',
      message: 'no manifest for platform linux/s390x in the image index; it has linux/amd64, linux/arm/v7',
    })
  })
})

describe('parsePlatform', () => {
  const good = [
    {input: 'linux/amd64', expected: {os: 'linux', architecture: 'amd64'}},
    {input: 'linux/arm64/v8', expected: {os: 'linux', architecture: 'arm64', variant: 'v8'}},
    {input: 'Linux/ARM/v7', expected: {os: 'linux', architecture: 'arm', variant: 'v7'}},
    {input: 'linux/aarch64', expected: {os: 'linux', architecture: 'arm64'}},
  ]
  for (const testCase of good) {
    it(`reads "${testCase.input}"`, () => assert.deepEqual(parsePlatform(testCase.input), testCase.expected))
  }

  for (const input of ['linux', 'linux/', '/amd64', 'linux/amd64/v8/x', 'linux/am d64', '']) {
    it(`refuses "${input}" naming it`, () => {
      assert.throws(() => parsePlatform(input), {code: 'INVALID_ARGUMENT', message: new RegExp(`^invalid platform "${input}"`)})
    })
  }

  it('formats back', () => assert.equal(formatPlatform(parsePlatform('linux/arm/v7')), 'linux/arm/v7'))
})

describe('hostPlatform', () => {
  it("maps node's architecture to OCI names", () => {
    const expected: Record<string, Platform> = {
      x64: {os: 'linux', architecture: 'amd64'},
      arm64: {os: 'linux', architecture: 'arm64', variant: 'v8'},
    }
    const host = hostPlatform()
    if (expected[process.arch] !== undefined) assert.deepEqual(host, expected[process.arch])
    assert.equal(host.os, process.platform)
    assert.notEqual(host.architecture, 'x64')
  })
})

describe('platformMatches', () => {
  const cases = [
    {platform: 'linux/arm64', wanted: 'linux/arm64/v8', matches: true},
    {platform: 'linux/arm/v6', wanted: 'linux/arm/v7', matches: true},
    {platform: 'linux/arm/v7', wanted: 'linux/arm/v6', matches: false},
    {platform: 'linux/amd64', wanted: 'linux/arm64', matches: false},
    {platform: 'windows/amd64', wanted: 'linux/amd64', matches: false},
  ]
  for (const testCase of cases) {
    it(`${testCase.matches ? 'accepts' : 'refuses'} an image for ${testCase.platform} when ${testCase.wanted} is wanted`, () => {
      assert.equal(platformMatches(parsePlatform(testCase.platform), parsePlatform(testCase.wanted)), testCase.matches)
    })
  }
})
