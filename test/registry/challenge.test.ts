// WWW-Authenticate parsing: a table of headers real registries send and the
// awkward shapes RFC 7235 allows.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {parseChallenges} from '../../src/registry/challenge.js'
import {redactUrl, summarizeErrorBody} from '../../src/registry/errors.js'

const cases = [
  {
    name: "Docker Hub's Bearer challenge",
    header: 'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/ubuntu:pull"',
    expected: [{scheme: 'bearer', parameters: {realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/ubuntu:pull'}}],
  },
  {
    name: 'scheme and parameter names in any case',
    header: 'BEARER Realm="https://r/token",SERVICE="s"',
    expected: [{scheme: 'bearer', parameters: {realm: 'https://r/token', service: 's'}}],
  },
  {
    name: 'a quoted value holding commas and an escaped quote',
    header: 'Bearer realm="https://r/token",scope="repository:a:pull,push repository:b:pull",error="say \\"hi\\", please"',
    expected: [{scheme: 'bearer', parameters: {realm: 'https://r/token', scope: 'repository:a:pull,push repository:b:pull', error: 'say "hi", please'}}],
  },
  {
    name: "ECR's Basic challenge",
    header: 'Basic realm="https://123.dkr.ecr.us-east-1.amazonaws.com/",service="ecr.amazonaws.com"',
    expected: [{scheme: 'basic', parameters: {realm: 'https://123.dkr.ecr.us-east-1.amazonaws.com/', service: 'ecr.amazonaws.com'}}],
  },
  {
    name: 'two challenges in one header, spaces around "="',
    header: 'Basic realm = "x" , Bearer realm="https://r/token", service=tokenvalue',
    expected: [
      {scheme: 'basic', parameters: {realm: 'x'}},
      {scheme: 'bearer', parameters: {realm: 'https://r/token', service: 'tokenvalue'}},
    ],
  },
  {name: 'a scheme without parameters', header: 'Negotiate', expected: [{scheme: 'negotiate', parameters: {}}]},
  {name: 'nothing', header: '', expected: []},
]

describe('parseChallenges', () => {
  for (const testCase of cases) {
    it(`reads ${testCase.name}`, () => {
      assert.deepEqual(parseChallenges(testCase.header), testCase.expected)
    })
  }

  it('reads challenges from repeated headers', () => {
    assert.deepEqual(
      parseChallenges(['Basic realm="a"', 'Bearer realm="b"']).map((challenge) => challenge.scheme),
      ['basic', 'bearer'],
    )
  })
})

describe('error bodies and URLs', () => {
  it('summarizes JSON, text, XML and broken bodies without failing', () => {
    assert.deepEqual(summarizeErrorBody('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}'), {
      codes: ['MANIFEST_UNKNOWN'],
      summary: 'MANIFEST_UNKNOWN: manifest unknown',
    })
    assert.deepEqual(summarizeErrorBody('<Error><Code>AccessDenied</Code></Error>'), {codes: [], summary: '<Error><Code>AccessDenied</Code></Error>'})
    assert.deepEqual(summarizeErrorBody('{"errors": [1, null, '), {codes: [], summary: '{"errors": [1, null,'})
    assert.equal(summarizeErrorBody('x'.repeat(1000)).summary?.length, 203)
    assert.deepEqual(summarizeErrorBody(undefined), {codes: []})
  })

  it('hides user info and query values of URLs', () => {
    assert.equal(
      redactUrl('https://user:pass@bucket.s3.example/blob?X-Amz-Signature=abc&X-Amz-Credential=def'),
      'https://bucket.s3.example/blob?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED',
    )
  })
})
