// `mydocker images`: docker's --format placeholders, --digests, --no-trunc, -q,
// and the reference filter with full host:port names and Docker Hub short names.
import assert from 'node:assert/strict'
import {execFile} from 'node:child_process'
import {rm} from 'node:fs/promises'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {promisify} from 'node:util'
import {mydocker, pullImages, temporaryStore} from '../support/cli.js'
import {seedImages} from '../support/images.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const execFileAsync = promisify(execFile)
const isRoot = process.getuid?.() === 0

describe('mydocker images', {skip: !isRoot && 'needs root to unpack layers with their owners'}, () => {
  let registry: RunningRegistry
  let root: string
  let busybox: string
  let explorer: string
  const run = (args: string[]) => mydocker(args, {root})

  before(async () => {
    registry = await startRegistry()
    ;({busybox, explorer} = await seedImages(registry.host, ['busybox', 'explorer']))
    root = await temporaryStore()
    await pullImages([busybox, explorer], root)
    // A Docker Hub name, stored without reaching Docker Hub: load a docker archive tagged busybox:latest.
    const archive = join(root, 'hub.tar')
    await execFileAsync('skopeo', ['copy', '-q', `oci:${root}:${busybox}`, `docker-archive:${archive}:busybox:latest`])
    const loaded = await run(['load', '-i', archive])
    assert.equal(loaded.exitCode, 0, loaded.stderr)
    await rm(archive)
  })

  after(async () => {
    await registry?.remove()
    if (root) await rm(root, {recursive: true, force: true})
  })

  it('prints repository and tag with {{.Repository}}:{{.Tag}}, one image a line', async () => {
    const result = await run(['images', '--format', '{{.Repository}}:{{.Tag}}'])
    assert.equal(result.exitCode, 0, result.stderr)
    assert.deepEqual(result.stdout.trim().split('\n').sort(), ['busybox:latest', busybox, explorer].sort())
  })

  it('prints the short image ID with {{.ID}} and the whole one with --no-trunc', async () => {
    const short = await run(['images', busybox, '--format', '{{.ID}}'])
    const long = await run(['images', busybox, '--format', '{{.ID}}', '--no-trunc'])
    assert.match(short.stdout, /^[a-f0-9]{12}\n$/)
    assert.match(long.stdout, /^sha256:[a-f0-9]{64}\n$/)
    assert.ok(long.stdout.startsWith(`sha256:${short.stdout.trim()}`))
  })

  it('prints digest, creation time, age and size in docker\'s words', async () => {
    const result = await run(['images', busybox, '--format', '{{.Digest}}|{{.CreatedAt}}|{{.CreatedSince}}|{{.Size}}'])
    const [digest, createdAt, since, size] = result.stdout.trim().split('|')
    assert.match(digest, /^sha256:[a-f0-9]{64}$/)
    assert.match(createdAt, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/)
    assert.match(since, / ago$/)
    assert.match(size, /^\d+(\.\d+)?(B|kB|MB|GB)$/)
  })

  it('prints every field as a JSON object with {{json .}}', async () => {
    const result = await run(['images', explorer, '--format', '{{json .}}'])
    const fields = JSON.parse(result.stdout) as Record<string, string>
    assert.equal(`${fields.Repository}:${fields.Tag}`, explorer)
    for (const key of ['ID', 'Digest', 'CreatedAt', 'CreatedSince', 'Size']) assert.equal(typeof fields[key], 'string', key)
  })

  it('prints a header and aligned columns for a table format with \\t', async () => {
    const result = await run(['images', explorer, '--format', 'table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}'])
    const lines = result.stdout.trimEnd().split('\n')
    assert.match(lines[0], /^REPOSITORY\s+TAG\s+SIZE$/)
    assert.equal(lines.length, 2)
    assert.equal(lines[1].indexOf('latest'), lines[0].indexOf('TAG'))
  })

  it('rejects an unknown placeholder with exit status 125 and a hint', async () => {
    const result = await run(['images', '--format', '{{.Nope}}'])
    assert.equal(result.exitCode, 125)
    assert.equal(result.stdout, '')
    assert.match(result.stderr, /cannot evaluate "\{\{\.Nope\}\}"/)
  })

  it('adds a DIGEST column with --digests', async () => {
    const result = await run(['images', '--digests'])
    const [header, ...rows] = result.stdout.trimEnd().split('\n')
    assert.match(header, /^REPOSITORY\s+TAG\s+DIGEST\s+IMAGE ID\s+CREATED\s+SIZE$/)
    for (const row of rows) assert.match(row, /sha256:[a-f0-9]{64}/)
  })

  it('accepts -a and lists the same images', async () => {
    const all = await run(['images', '-a', '-q'])
    const plain = await run(['images', '-q'])
    assert.equal(all.exitCode, 0, all.stderr)
    assert.equal(all.stdout, plain.stdout)
  })

  const filterCases: Array<{name: string; filter: () => string; expected: () => string[]}> = [
    {name: 'a full host:port name', filter: () => busybox.replace(/:latest$/, ''), expected: () => [busybox]},
    {name: 'a full host:port name with its tag', filter: () => explorer, expected: () => [explorer]},
    {name: 'a Docker Hub short name', filter: () => 'busybox', expected: () => ['busybox:latest']},
    {name: 'a Docker Hub name with library/', filter: () => 'library/busybox:latest', expected: () => ['busybox:latest']},
    {name: 'a Docker Hub name in full', filter: () => 'docker.io/library/busybox', expected: () => ['busybox:latest']},
    {name: 'a tag no image has', filter: () => 'busybox:nope', expected: () => []},
  ]
  for (const testCase of filterCases) {
    it(`keeps only the matching images for ${testCase.name}`, async () => {
      const result = await run(['images', testCase.filter(), '--format', '{{.Repository}}:{{.Tag}}'])
      assert.equal(result.exitCode, 0, result.stderr)
      assert.deepEqual(result.stdout.split('\n').filter(Boolean), testCase.expected())
    })
  }
})
