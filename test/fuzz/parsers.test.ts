// Property tests of the parsers that read what users type and what registries
// send: random and mutated inputs never crash them with anything but a
// MydockerError of the documented code, never hang, and valid inputs survive
// a round trip.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import fc from 'fast-check'
import {MydockerError} from '../../src/errors.js'
import {parseImageConfig, parseManifestOrIndex} from '../../src/image/parse.js'
import {formatReference, parseReference} from '../../src/reference/reference.js'
import {parseChallenges} from '../../src/registry/challenge.js'

/** Runs per property: enough to find the usual slips, few enough to stay fast. */
const RUNS = 300

/** Calls `parse`; a throw must be a MydockerError with one of `codes`. */
function parsesOrRejects<T>(parse: () => T, codes: string[]): T | undefined {
  try {
    return parse()
  } catch (error) {
    if (!(error instanceof MydockerError)) throw new Error(`threw a ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`)
    assert.ok(codes.includes(error.code), `unexpected code ${error.code}: ${error.message}`)
    assert.ok(error.message.length > 0 && error.message[0] === error.message[0].toLowerCase(), `message "${error.message}"`)
    return undefined
  }
}

const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`))
const digest = hex(64).map((value) => `sha256:${value}`)
const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/).filter((text) => text.length <= 30)
const tag = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}$/)
const host = fc.oneof(fc.constant('127.0.0.1:5000'), fc.constant('localhost'), fc.constant('registry.example.com'), fc.constant('[::1]:5000'))
const validReference = fc
  .record({
    host: fc.option(host, {nil: undefined}),
    path: fc.array(component, {minLength: 1, maxLength: 3}),
    tag: fc.option(tag, {nil: undefined}),
    digest: fc.option(digest, {nil: undefined}),
  })
  .map(({host, path, tag, digest}) => `${host ? `${host}/` : ''}${path.join('/')}${tag ? `:${tag}` : ''}${digest ? `@${digest}` : ''}`)

/** A text with a few characters replaced, inserted or removed. */
function mutated(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.record({position: fc.nat(), kind: fc.constantFrom('replace', 'insert', 'delete'), character: fc.string({minLength: 1, maxLength: 1, unit: 'binary'})})
  return fc.tuple(text, fc.array(edit, {minLength: 1, maxLength: 4})).map(([original, edits]) => {
    let result = original
    for (const {position, kind, character} of edits) {
      const at = result.length === 0 ? 0 : position % result.length
      if (kind === 'replace') result = result.slice(0, at) + character + result.slice(at + 1)
      if (kind === 'insert') result = result.slice(0, at) + character + result.slice(at)
      if (kind === 'delete') result = result.slice(0, at) + result.slice(at + 1)
    }
    return result
  })
}

describe('fuzzing the reference parser', () => {
  it('accepts or rejects any string with INVALID_ARGUMENT', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({unit: 'binary', maxLength: 300}), mutated(validReference)), (input) => {
        parsesOrRejects(() => parseReference(input), ['INVALID_ARGUMENT'])
      }),
      {numRuns: RUNS},
    )
  })

  it('parses every valid reference, and its canonical form parses to the same reference', () => {
    fc.assert(
      fc.property(validReference, (input) => {
        const reference = parseReference(input)
        assert.deepEqual(parseReference(formatReference(reference)), reference)
      }),
      {numRuns: RUNS},
    )
  })
})

describe('fuzzing the WWW-Authenticate challenge parser', () => {
  const quoted = fc.string({maxLength: 20}).map((text) => `"${text.replace(/["\\]/g, '\\$&')}"`)
  const parameter = fc.tuple(fc.constantFrom('realm', 'service', 'scope', 'error', 'Realm'), fc.oneof(quoted, fc.stringMatching(/^[a-z0-9:/._-]{0,20}$/)))
  const challenge = fc
    .tuple(fc.constantFrom('Bearer', 'Basic', 'bearer', 'Digest'), fc.array(parameter, {maxLength: 4}))
    .map(([scheme, parameters]) => `${scheme} ${parameters.map(([name, value]) => `${name}=${value}`).join(',')}`)
  const header = fc.array(challenge, {minLength: 1, maxLength: 3}).map((challenges) => challenges.join(', '))

  it('never throws, and yields lowercase schemes with string parameters, for any header', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({unit: 'binary', maxLength: 400}), mutated(header), header), (input) => {
        for (const parsed of parseChallenges(input)) {
          assert.equal(parsed.scheme, parsed.scheme.toLowerCase())
          for (const [name, value] of Object.entries(parsed.parameters)) {
            assert.equal(name, name.toLowerCase())
            assert.equal(typeof value, 'string')
          }
        }
      }),
      {numRuns: RUNS},
    )
  })

  it('finds the realm of every well-formed Bearer challenge', () => {
    fc.assert(
      fc.property(fc.webUrl(), fc.stringMatching(/^[a-z0-9.:-]{1,30}$/), (realm, service) => {
        const [parsed] = parseChallenges(`Bearer realm="${realm}",service="${service}"`)
        assert.equal(parsed.scheme, 'bearer')
        assert.equal(parsed.parameters.realm, realm)
        assert.equal(parsed.parameters.service, service)
      }),
      {numRuns: RUNS},
    )
  })

  it('reads a header of the largest size Node accepts without hanging', () => {
    const long = `Bearer ${'a=b,'.repeat(4000)}realm="x"`
    assert.equal(parseChallenges(long)[0].parameters.realm, 'x')
  })
})

const descriptor = (mediaType: string) =>
  fc.record({mediaType: fc.constant(mediaType), digest, size: fc.nat({max: 1 << 30})})

const manifestDocument = fc.record({
  schemaVersion: fc.constant(2),
  mediaType: fc.constant('application/vnd.oci.image.manifest.v1+json'),
  config: descriptor('application/vnd.oci.image.config.v1+json'),
  layers: fc.array(descriptor('application/vnd.oci.image.layer.v1.tar+gzip'), {maxLength: 4}),
})

const indexDocument = fc.record({
  schemaVersion: fc.constant(2),
  mediaType: fc.constant('application/vnd.oci.image.index.v1+json'),
  manifests: fc.array(
    fc.record({
      mediaType: fc.constant('application/vnd.oci.image.manifest.v1+json'),
      digest,
      size: fc.nat({max: 1 << 20}),
      platform: fc.record({os: fc.constantFrom('linux', 'windows'), architecture: fc.constantFrom('amd64', 'arm64', 's390x')}),
    }),
    {maxLength: 4},
  ),
})

const configDocument = fc.record({
  architecture: fc.constantFrom('amd64', 'arm64'),
  os: fc.constant('linux'),
  config: fc.record({Env: fc.array(fc.string({maxLength: 20}), {maxLength: 3}), Cmd: fc.array(fc.string({maxLength: 10}), {maxLength: 3})}, {requiredKeys: []}),
  rootfs: fc.record({type: fc.constant('layers'), diff_ids: fc.array(digest, {maxLength: 4})}),
})

/** A JSON document with one field replaced by any JSON value, or removed. */
function damagedDocument(document: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Buffer> {
  return fc.tuple(document, fc.nat(), fc.option(fc.jsonValue(), {nil: undefined})).map(([value, pick, replacement]) => {
    const keys = Object.keys(value)
    const copy: Record<string, unknown> = {...value}
    const key = keys[pick % keys.length]
    if (replacement === undefined) delete copy[key]
    else copy[key] = replacement
    return Buffer.from(JSON.stringify(copy))
  })
}

/** Serialized bytes with a few bytes flipped or cut. */
function damagedBytes(document: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Buffer> {
  return fc.tuple(document, fc.array(fc.tuple(fc.nat(), fc.integer({min: 1, max: 255})), {minLength: 1, maxLength: 3}), fc.option(fc.nat(), {nil: undefined})).map(
    ([value, flips, cut]) => {
      const bytes = Buffer.from(JSON.stringify(value))
      for (const [position, mask] of flips) bytes[position % bytes.length] ^= mask
      return cut === undefined ? bytes : bytes.subarray(0, cut % bytes.length)
    },
  )
}

const mediaTypes = fc.constantFrom(
  undefined,
  '',
  'application/json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'text/html; charset=utf-8',
)

describe('fuzzing the manifest, index and config parsers', () => {
  const anyBody = fc.oneof(
    fc.uint8Array({maxLength: 512}).map((bytes) => Buffer.from(bytes)),
    fc.jsonValue().map((value) => Buffer.from(JSON.stringify(value) ?? 'null')),
    damagedDocument(manifestDocument),
    damagedDocument(indexDocument),
    damagedBytes(manifestDocument),
    damagedBytes(indexDocument),
  )

  it('parses or rejects any manifest body with CORRUPT or UNSUPPORTED', () => {
    fc.assert(
      fc.property(anyBody, mediaTypes, (body, mediaType) => {
        parsesOrRejects(() => parseManifestOrIndex(body, mediaType), ['CORRUPT', 'UNSUPPORTED'])
      }),
      {numRuns: RUNS},
    )
  })

  it('parses every well-formed manifest and index as what it is', () => {
    fc.assert(
      fc.property(fc.oneof(manifestDocument, indexDocument), (document) => {
        const parsed = parseManifestOrIndex(Buffer.from(JSON.stringify(document)))
        assert.equal(parsed.kind, 'manifests' in document ? 'index' : 'manifest')
      }),
      {numRuns: RUNS},
    )
  })

  it('parses or rejects any config body with CORRUPT', () => {
    const body = fc.oneof(
      fc.uint8Array({maxLength: 512}).map((bytes) => Buffer.from(bytes)),
      damagedDocument(configDocument),
      damagedBytes(configDocument),
    )
    fc.assert(
      fc.property(body, (input) => {
        parsesOrRejects(() => parseImageConfig(input), ['CORRUPT'])
      }),
      {numRuns: RUNS},
    )
  })

  it('parses every well-formed config with its diff IDs', () => {
    fc.assert(
      fc.property(configDocument, (document) => {
        const config = parseImageConfig(Buffer.from(JSON.stringify(document)))
        assert.deepEqual(config.rootfs.diff_ids, document.rootfs.diff_ids)
      }),
      {numRuns: RUNS},
    )
  })
})
