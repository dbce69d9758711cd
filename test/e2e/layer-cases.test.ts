// The layer cases of test/support/layer-cases.ts through the whole pipeline:
// each case becomes an image (umoci adds the crafted layers verbatim), is pushed
// to a real registry, pulled by mydocker and run; a static probe bind-mounted
// into the container lists the tree as the container sees it, and the listing
// is checked against the case. The host sentinel must not change.
import assert from 'node:assert/strict'
import {mkdtemp, mkdir, readdir, readFile, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {after, before, describe, it} from 'node:test'
import {mydocker, temporaryStore} from '../support/cli.js'
import {buildLayout, buildProbe, pushLayout} from '../support/images.js'
import {layerCases, type Expectation} from '../support/layer-cases.js'
import {startRegistry, type RunningRegistry} from '../support/registry.js'

const PROBE = '/.mydocker-probe'

/** One entry of the probe's `walk` listing. */
interface WalkEntry {
  type: string
  mode: number
  uid: number
  gid: number
  ino: string
  major: number
  minor: number
  mtime: number
  link?: string
  content?: string
  xattrs: Record<string, string>
}

function fromHex(hex: string): string {
  return hex === '-' ? '' : Buffer.from(hex, 'hex').toString('utf8')
}

function parseWalk(output: string): Map<string, WalkEntry> {
  const entries = new Map<string, WalkEntry>()
  for (const line of output.split('\n').filter(Boolean)) {
    const [path, type, mode, uid, gid, , , ino, major, minor, mtime, link, content, xattrs] = line.split('\t')
    entries.set(fromHex(path), {
      type,
      mode: Number.parseInt(mode, 8),
      uid: Number(uid),
      gid: Number(gid),
      ino,
      major: Number(major),
      minor: Number(minor),
      mtime: Number(mtime),
      link: type === 'symlink' ? fromHex(link) : undefined,
      content: type === 'file' && content !== '-' ? fromHex(content) : type === 'file' ? '' : undefined,
      xattrs: Object.fromEntries(
        xattrs === '-' ? [] : xattrs.split(',').map((pair) => pair.split('=') as [string, string]),
      ),
    })
  }
  return entries
}

// What the runtime itself puts in every container's root, beyond the image.
const RUNTIME_ENTRIES = new Set(['dev', 'proc', 'sys', 'etc', PROBE.slice(1)])

function check(entries: Map<string, WalkEntry>, expectation: Expectation): string[] {
  const entry = entries.get(expectation.path)
  const name = expectation.path || '/'
  if (expectation.path === '' && expectation.children === undefined) return []
  if (expectation.path !== '' && entry === undefined) return expectation.type === 'absent' ? [] : [`${name}: is missing`]
  if (expectation.type === 'absent') return [`${name}: should be absent`]

  const problems: string[] = []
  const differ = (what: string, actual: unknown, wanted: unknown) => {
    if (wanted !== undefined && actual !== wanted) problems.push(`${name}: ${what} is ${JSON.stringify(actual)}, wanted ${JSON.stringify(wanted)}`)
  }
  if (entry) {
    differ('type', entry.type, expectation.type)
    differ('mode', entry.mode, expectation.mode)
    differ('uid', entry.uid, expectation.uid)
    differ('gid', entry.gid, expectation.gid)
    differ('mtime', entry.mtime, expectation.mtime)
    differ('content', entry.content, expectation.content)
    differ('link target', entry.link, expectation.linkTarget)
    if (expectation.device) differ('device', `${entry.major}:${entry.minor}`, `${expectation.device.major}:${expectation.device.minor}`)
    if (expectation.sameInodeAs !== undefined) differ('inode', entry.ino, entries.get(expectation.sameInodeAs)?.ino)
    for (const [xattr, hex] of Object.entries(expectation.xattrs ?? {})) differ(`xattr ${xattr}`, entry.xattrs[xattr], hex)
  }
  if (expectation.children !== undefined) {
    const prefix = expectation.path === '' ? '' : `${expectation.path}/`
    const children = [...entries.keys()]
      .filter((path) => path.startsWith(prefix) && path.length > prefix.length && !path.slice(prefix.length).includes('/'))
      .map((path) => path.slice(prefix.length))
      .filter((child) => expectation.path !== '' || !RUNTIME_ENTRIES.has(child) || expectation.children!.includes(child))
    differ('children', children.sort().join(','), [...expectation.children].sort().join(','))
  }
  return problems
}

describe('layer cases run in real containers', {skip: process.getuid?.() !== 0 && 'needs root', concurrency: 3}, () => {
  let registry: RunningRegistry
  let root: string
  let scratch: string
  let sentinel: string
  let probe: string

  before(async () => {
    registry = await startRegistry()
    root = await temporaryStore()
    scratch = await mkdtemp(join(tmpdir(), 'mydocker-layer-cases-'))
    sentinel = await mkdtemp(join('/tmp', 'mydocker-sentinel-'))
    await writeFile(join(sentinel, 'keep'), 'keep\n')
    probe = await buildProbe()
  })

  after(async () => {
    await registry?.stop()
    for (const directory of [registry?.rootDirectory, root, scratch, sentinel]) {
      if (directory) await rm(directory, {recursive: true, force: true})
    }
  })

  const cases = layerCases('/tmp/mydocker-sentinel-placeholder')
  cases.forEach((placeholder, index) => {
    it(placeholder.name, async () => {
      // The table is built again with the real sentinel, which exists only now.
      const testCase = layerCases(sentinel)[index]
      const layout = join(scratch, `case-${index}`)
      await mkdir(layout)
      await rm(layout, {recursive: true})
      await buildLayout(layout, {
        layers: testCase.layers.map((archive) => ({writeArchive: (path: string) => writeFile(path, archive)})),
        config: {cmd: [PROBE]},
      })
      const image = await pushLayout(layout, 'latest', registry.host, `case-${index}:latest`)

      const pulled = await mydocker(['pull', '-q', image], {root})
      assert.equal(pulled.exitCode, 0, pulled.stderr)
      const walked = await mydocker(['run', '-v', `${probe}:${PROBE}:ro`, image, PROBE, 'walk', '/'], {root})
      assert.equal(walked.exitCode, 0, walked.stderr)

      const entries = parseWalk(walked.stdout)
      assert.ok(![...entries.keys()].some((path) => /(^|\/)\.wh\./.test(path)), 'no .wh. file is visible')
      // The runtime mounts its own /dev, /proc and /sys, as Docker does, so what a
      // layer put there is checked by test/snapshot/apply.test.ts, not here.
      const visible = testCase.expect.filter((expectation) => !/^(dev|proc|sys)(\/|$)/.test(expectation.path))
      const problems = visible.flatMap((expectation) => check(entries, expectation))
      assert.deepEqual(problems, [])

      assert.deepEqual(await readdir(sentinel), ['keep'], 'nothing was added to the host sentinel')
      assert.equal(await readFile(join(sentinel, 'keep'), 'utf8'), 'keep\n')
      await mydocker(['rm', image], {root})
    })
  })
})
