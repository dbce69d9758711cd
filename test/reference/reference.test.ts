// Reference parsing as Docker normalises names: a table of good inputs with
// what they mean, and bad inputs with why they are refused.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {apiHost, familiarRepository, formatReference, isLoopbackRegistry, parseReference, storedName} from '../../src/reference/reference.js'

const digest = `sha256:${'a'.repeat(64)}`

const good = [
  {input: 'ubuntu', registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest'},
  {input: 'docker.io/ubuntu', registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest'},
  {input: 'index.docker.io/library/ubuntu', registry: 'docker.io', repository: 'library/ubuntu', tag: 'latest'},
  {input: 'docker.io/library/ubuntu:22.04', registry: 'docker.io', repository: 'library/ubuntu', tag: '22.04'},
  {input: 'opensuse/leap:15.3', registry: 'docker.io', repository: 'opensuse/leap', tag: '15.3'},
  {input: 'somename/repo', registry: 'docker.io', repository: 'somename/repo', tag: 'latest'},
  {input: 'localhost/foo', registry: 'localhost', repository: 'foo', tag: 'latest'},
  {input: 'localhost:5000/a/b:1', registry: 'localhost:5000', repository: 'a/b', tag: '1'},
  {input: 'myreg:5000/x', registry: 'myreg:5000', repository: 'x', tag: 'latest'},
  {input: 'foo:5000', registry: 'docker.io', repository: 'library/foo', tag: '5000'},
  {input: `busybox:1.36@${digest}`, registry: 'docker.io', repository: 'library/busybox', tag: '1.36', digest},
  {input: `ghcr.io/owner/image@${digest}`, registry: 'ghcr.io', repository: 'owner/image', tag: undefined, digest},
  {input: '127.0.0.1:5000/busybox', registry: '127.0.0.1:5000', repository: 'busybox', tag: 'latest'},
  {input: '[::1]:5000/busybox', registry: '[::1]:5000', repository: 'busybox', tag: 'latest'},
  {input: 'Registry.Example/foo', registry: 'Registry.Example', repository: 'foo', tag: 'latest'},
  {input: 'a/b/c/d:tag_1.2-x', registry: 'docker.io', repository: 'a/b/c/d', tag: 'tag_1.2-x'},
  {input: 'my.registry.io/team/repo__x.y-z', registry: 'my.registry.io', repository: 'team/repo__x.y-z', tag: 'latest'},
]

const bad = [
  {name: 'empty', input: '', why: /empty/},
  {name: 'uppercase repository', input: 'Ubuntu', why: /lowercase/},
  {name: 'uppercase repository on a registry', input: 'localhost:5000/Foo', why: /lowercase/},
  {name: 'white space', input: 'ubuntu latest', why: /white space/},
  {name: 'empty tag', input: 'ubuntu:', why: /not a valid tag/},
  {name: 'tag with a slash-free bad character', input: 'ubuntu:la$t', why: /not a valid tag/},
  {name: 'tag too long', input: `ubuntu:${'x'.repeat(129)}`, why: /not a valid tag/},
  {name: 'short digest', input: 'ubuntu@sha256:abc', why: /not a valid digest/},
  {name: 'digest of unknown algorithm', input: `ubuntu@md5:${'a'.repeat(32)}`, why: /not a valid digest/},
  {name: 'double slash', input: 'a//b', why: /component/},
  {name: 'trailing slash', input: 'ubuntu/', why: /component/},
  {name: 'leading separator', input: '-ubuntu', why: /component/},
  {name: 'registry without repository', input: 'localhost:5000/', why: /missing|component/},
  {name: 'bad port', input: 'myreg:50a0/x:1', why: /registry host|tag/},
  {name: 'triple underscore', input: 'a___b', why: /component/},
  {name: 'name too long', input: `${'a'.repeat(256)}`, why: /longer than/},
]

describe('parseReference', () => {
  for (const testCase of good) {
    it(`reads "${testCase.input}"`, () => {
      const reference = parseReference(testCase.input)
      assert.deepEqual(
        {registry: reference.registry, repository: reference.repository, tag: reference.tag, digest: reference.digest},
        {registry: testCase.registry, repository: testCase.repository, tag: testCase.tag, digest: testCase.digest},
      )
    })
  }

  for (const testCase of bad) {
    it(`refuses ${testCase.name} ("${testCase.input.slice(0, 40)}")`, () => {
      assert.throws(() => parseReference(testCase.input), (error: Error & {code?: string}) => {
        assert.equal(error.code, 'INVALID_ARGUMENT')
        assert.match(error.message, /^invalid reference format/)
        assert.match(error.message, testCase.why)
        return true
      })
    })
  }
})

describe('reference names', () => {
  it('stores a reference with tag and digest by digest alone', () => {
    assert.equal(storedName(parseReference(`busybox:1.36@${digest}`)), `docker.io/library/busybox@${digest}`)
    assert.equal(formatReference(parseReference(`busybox:1.36@${digest}`)), `docker.io/library/busybox:1.36@${digest}`)
  })

  it('shows Docker Hub official images without docker.io/library/', () => {
    assert.equal(familiarRepository(parseReference('docker.io/library/ubuntu')), 'ubuntu')
    assert.equal(familiarRepository(parseReference('opensuse/leap')), 'opensuse/leap')
    assert.equal(familiarRepository(parseReference('localhost:5000/a/b')), 'localhost:5000/a/b')
  })

  it('reaches Docker Hub at registry-1.docker.io and other registries at their name', () => {
    assert.equal(apiHost(parseReference('ubuntu')), 'registry-1.docker.io')
    assert.equal(apiHost(parseReference('ghcr.io/a/b')), 'ghcr.io')
  })

  it('knows loopback registries', () => {
    const cases = [
      {host: 'localhost', loopback: true},
      {host: 'localhost:5000', loopback: true},
      {host: '127.0.0.1:5000', loopback: true},
      {host: '127.1.2.3', loopback: true},
      {host: '[::1]:5000', loopback: true},
      {host: 'registry.example:5000', loopback: false},
      {host: '10.0.0.1:5000', loopback: false},
    ]
    for (const testCase of cases) assert.equal(isLoopbackRegistry(testCase.host), testCase.loopback, testCase.host)
  })
})
