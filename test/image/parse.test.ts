// Manifest, index and config parsing: tables of valid documents and of broken
// ones with the field each error must name.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {manifestMediaType, parseImageConfig, parseManifestOrIndex} from '../../src/image/parse.js'
import {MediaType} from '../../src/image/types.js'

const digest = `sha256:${'b'.repeat(64)}`
const descriptor = {mediaType: MediaType.ociLayerGzip, digest, size: 10}
const manifest = {schemaVersion: 2, mediaType: MediaType.ociManifest, config: {...descriptor, mediaType: MediaType.ociConfig}, layers: [descriptor]}
const index = {schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [{...descriptor, mediaType: MediaType.ociManifest, platform: {os: 'linux', architecture: 'amd64'}}]}
const json = (value: unknown) => Buffer.from(JSON.stringify(value))
const without = (value: Record<string, unknown>, key: string) => Object.fromEntries(Object.entries(value).filter(([name]) => name !== key))

describe('parseManifestOrIndex', () => {
  const good = [
    {name: 'an OCI manifest', body: manifest, mediaType: undefined, kind: 'manifest', expected: MediaType.ociManifest},
    {name: 'an OCI index', body: index, mediaType: undefined, kind: 'index', expected: MediaType.ociIndex},
    {name: 'a Docker manifest by Content-Type', body: without(manifest, 'mediaType'), mediaType: MediaType.dockerManifest, kind: 'manifest', expected: MediaType.dockerManifest},
    {name: 'a Docker list by Content-Type with parameters', body: without(index, 'mediaType'), mediaType: `${MediaType.dockerManifestList}; charset=utf-8`, kind: 'index', expected: MediaType.dockerManifestList},
    {name: 'an index by structure', body: without(index, 'mediaType'), mediaType: 'application/json', kind: 'index', expected: MediaType.ociIndex},
    {name: 'a manifest by structure', body: without(manifest, 'mediaType'), mediaType: '', kind: 'manifest', expected: MediaType.ociManifest},
  ]
  for (const testCase of good) {
    it(`reads ${testCase.name}`, () => {
      const parsed = parseManifestOrIndex(json(testCase.body), testCase.mediaType)
      assert.equal(parsed.kind, testCase.kind)
      assert.equal(parsed.mediaType, testCase.expected)
    })
  }

  const bad = [
    {name: 'not JSON', body: Buffer.from('{nope'), code: 'CORRUPT', message: /not valid JSON/},
    {name: 'a JSON array', body: json([]), code: 'CORRUPT', message: /not a JSON object/},
    {name: 'schema 1 by body', body: json({schemaVersion: 1, fsLayers: []}), code: 'UNSUPPORTED', message: /schema 1 images are not supported/},
    {name: 'schema 1 by type', body: json({schemaVersion: 1}), mediaType: MediaType.dockerSchema1, code: 'UNSUPPORTED', message: /schema 1/},
    {name: 'neither shape', body: json({schemaVersion: 2}), code: 'CORRUPT', message: /neither an index/},
    {name: 'wrong schemaVersion', body: json({...manifest, schemaVersion: 3}), code: 'CORRUPT', message: /schemaVersion 3/},
    {name: 'no config', body: json(without(manifest, 'config')), mediaType: MediaType.ociManifest, code: 'CORRUPT', message: /no "config"/},
    {name: 'layers not an array', body: json({...manifest, layers: {}}), code: 'CORRUPT', message: /no "layers"/},
    {name: 'a layer with a bad digest', body: json({...manifest, layers: [{...descriptor, digest: 'sha256'}]}), code: 'CORRUPT', message: /layers\[0\] has an invalid digest/},
    {name: 'a layer with a negative size', body: json({...manifest, layers: [{...descriptor, size: -1}]}), code: 'CORRUPT', message: /layers\[0\].*invalid size/},
    {name: 'a layer without mediaType', body: json({...manifest, layers: [without(descriptor, 'mediaType')]}), code: 'CORRUPT', message: /layers\[0\] has no "mediaType"/},
    {name: 'urls not strings', body: json({...manifest, layers: [{...descriptor, urls: [1]}]}), code: 'CORRUPT', message: /"urls"/},
    {name: 'index entry not an object', body: json({...index, manifests: ['x']}), code: 'CORRUPT', message: /manifests\[0\] is not an object/},
    {name: 'an unknown media type', body: json(manifest), mediaType: 'application/vnd.example+json', code: 'UNSUPPORTED', message: /not supported/},
  ]
  for (const testCase of bad) {
    it(`refuses ${testCase.name}`, () => {
      assert.throws(() => parseManifestOrIndex(testCase.body, testCase.mediaType), {code: testCase.code, message: testCase.message})
    })
  }

  it('takes a specific Content-Type over the body', () => {
    assert.equal(manifestMediaType(json(manifest), MediaType.dockerManifest), MediaType.dockerManifest)
  })
})

describe('parseImageConfig', () => {
  const config = {architecture: 'amd64', os: 'linux', config: {Cmd: ['sh']}, rootfs: {type: 'layers', diff_ids: [digest]}}

  it('reads a valid config', () => {
    assert.deepEqual(parseImageConfig(json(config)).rootfs.diff_ids, [digest])
  })

  it('takes null for any of the run fields, as Go decodes it', () => {
    const nulls = {Env: null, Entrypoint: null, Cmd: null, User: null, WorkingDir: null, StopSignal: null}
    assert.deepEqual(parseImageConfig(json({...config, config: nulls})).config, nulls)
  })

  const bad = [
    {name: 'no rootfs', body: without(config, 'rootfs'), message: /no "rootfs"/},
    {name: 'no diff_ids', body: {...config, rootfs: {type: 'layers'}}, message: /rootfs.diff_ids/},
    {name: 'a bad diff_id', body: {...config, rootfs: {type: 'layers', diff_ids: ['x']}}, message: /diff_ids\[0\] is not a digest/},
    {name: 'another rootfs type', body: {...config, rootfs: {type: 'zfs', diff_ids: []}}, message: /expected "layers"/},
    {name: 'no architecture', body: without(config, 'architecture'), message: /architecture/},
    {name: 'config not an object', body: {...config, config: 'x'}, message: /"config" is not an object/},
    {name: 'a string Entrypoint', body: {...config, config: {Entrypoint: 'echo'}}, message: /"config.Entrypoint" is not a list of strings/},
    {name: 'a number in Env', body: {...config, config: {Env: [5]}}, message: /"config.Env" is not a list of strings/},
    {name: 'an object for Cmd', body: {...config, config: {Cmd: {a: 1}}}, message: /"config.Cmd" is not a list of strings/},
    {name: 'a NUL inside an Env entry', body: {...config, config: {Env: ['A=b\u0000c']}}, message: /"config.Env"/},
    {name: 'a number for WorkingDir', body: {...config, config: {WorkingDir: 7}}, message: /"config.WorkingDir" is not a string/},
    {name: 'a list for User', body: {...config, config: {User: ['root']}}, message: /"config.User" is not a string/},
  ]
  for (const testCase of bad) {
    it(`refuses ${testCase.name}`, () => {
      assert.throws(() => parseImageConfig(json(testCase.body)), {code: 'CORRUPT', message: testCase.message})
    })
  }
})
