// The layer applier against the table of named cases, in both snapshot kinds:
// flat (every layer applied in turn into one tree) and overlay (each layer
// into its own directory, one at a time and all at once, then really mounted
// with overlayfs and read through the merged view). Hostile cases aim at a
// sentinel directory on the host, which must stay as it was.
import assert from 'node:assert/strict'
import {execFileSync} from 'node:child_process'
import {lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {after, before, describe, it} from 'node:test'

import fc from 'fast-check'

import {MydockerError} from '../../src/errors.js'
import {applyLayer, type ApplyLayerResult, type SnapshotKind} from '../../src/snapshot/apply.js'
import {checkView, layerCases, type LayerCase} from '../support/layer-cases.js'
import {dir, file, hardlink, symlink, tarArchive, writeChecksum, type TarEntry} from '../support/tar-writer.js'

const isRoot = process.getuid?.() === 0
const skipReason = isRoot ? false : 'needs root: device nodes, owners and overlay mounts'

let base = ''
let sentinel = ''
let sentinelBefore = ''

/** A listing of the sentinel tree (names, types, sizes, modes, times, contents) to compare before and after. */
function describeTree(path: string): string {
  const stats = lstatSync(path, {throwIfNoEntry: false})
  if (stats === undefined) return `${path}: missing`
  const line = `${path} ${stats.mode} ${stats.size} ${stats.mtimeMs} ${stats.ino}`
  if (stats.isDirectory()) return [line, ...readdirSync(path).sort().map((name) => describeTree(join(path, name)))].join('\n')
  return stats.isFile() ? `${line} ${readFileSync(path, 'hex')}` : line
}

function assertSentinelUntouched(): void {
  assert.equal(describeTree(sentinel), sentinelBefore, `the host sentinel ${sentinel} changed`)
}

/** A fresh directory under the test's base directory. */
function scratch(prefix: string): string {
  return mkdtempSync(join(base, `${prefix}-`))
}

async function applyBuffer(target: string, archive: Buffer, kind: SnapshotKind, lowers: () => Promise<string[]>, warnings: string[]) {
  return applyLayer({target, tar: Readable.from([archive]), kind, lowers, onWarning: (message) => warnings.push(message)})
}

/** Flat kind: every layer in turn into one directory. */
async function applyFlat(layers: Buffer[], warnings: string[]): Promise<string> {
  const target = scratch('flat')
  for (const layer of layers) await applyBuffer(target, layer, 'flat', async () => [], warnings)
  return target
}

/**
 * Overlay kind: each layer into its own directory. Concurrently, each layer's
 * lowers() waits for the layers below it, as the pull code's does.
 */
async function applyOverlay(layers: Buffer[], concurrent: boolean, warnings: string[]): Promise<string[]> {
  const directories = layers.map(() => scratch('layer'))
  const done: Array<Promise<ApplyLayerResult>> = []
  for (const [index, layer] of layers.entries()) {
    const lowers = async () => {
      await Promise.all(done.slice(0, index))
      return directories.slice(0, index).reverse()
    }

    const applying = applyBuffer(directories[index], layer, 'overlay', lowers, warnings)
    done.push(applying)
    if (!concurrent) await applying
  }

  await Promise.all(done)
  return directories
}

/** Mounts the layer directories (bottom first) read-only with overlayfs and runs `check` on the merged view. */
function withOverlayMount<T>(directories: string[], check: (merged: string) => T): T {
  // overlayfs wants two lower directories when there is no upper one.
  const lowerdir = [...directories].reverse().concat(scratch('empty')).join(':')
  const merged = scratch('merged')
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowerdir}`, merged])
  try {
    return check(merged)
  } finally {
    execFileSync('umount', [merged])
  }
}

type Mode = 'flat' | 'overlay' | 'overlay, layers at once'

async function runCase(testCase: LayerCase, mode: Mode): Promise<void> {
  const warnings: string[] = []
  let problems: string[]
  if (mode === 'flat') {
    problems = checkView(await applyFlat(testCase.layers, warnings), testCase.expect)
  } else {
    const directories = await applyOverlay(testCase.layers, mode !== 'overlay', warnings)
    problems = withOverlayMount(directories, (merged) => checkView(merged, testCase.expect))
  }

  assert.deepEqual(problems, [], `warnings: ${JSON.stringify(warnings)}`)
  if (testCase.warns) assert.ok(warnings.length > 0, 'the applier should have warned')
  else assert.deepEqual(warnings, [])
  assertSentinelUntouched()
}

describe('applyLayer', {skip: skipReason}, () => {
  before(() => {
    base = mkdtempSync('/tmp/mydocker-apply-test-')
    sentinel = mkdtempSync('/tmp/mydocker-sentinel-')
    writeFileSync(join(sentinel, 'keep'), 'host file')
    sentinelBefore = describeTree(sentinel)
  })

  after(() => {
    rmSync(base, {recursive: true, force: true})
    rmSync(sentinel, {recursive: true, force: true})
  })

  // The table needs the sentinel's name, known only once before() ran; the
  // cases' names do not depend on it.
  for (const [index, {name}] of layerCases('/tmp/placeholder').entries()) {
    for (const mode of ['flat', 'overlay', 'overlay, layers at once'] as const) {
      it(`${name} (${mode})`, () => runCase(layerCases(sentinel)[index], mode))
    }
  }

  it('counts entries and bytes of content written', async () => {
    const target = scratch('count')
    const archive = tarArchive([dir('d/'), file('d/a', 'x'.repeat(1000)), file('d/b', 'yy'), symlink('s', 'd')])
    const result = await applyBuffer(target, archive, 'flat', async () => [], [])
    assert.deepEqual(result, {size: 1002, entries: 4})
  })

  it('does not ask for the lowers when every parent is in the layer', async () => {
    const target = scratch('lazy')
    const archive = tarArchive([dir('usr/'), dir('usr/bin/'), file('usr/bin/tool', 'x'), hardlink('usr/bin/alias', 'usr/bin/tool')])
    const lowers = async () => assert.fail('lowers() was called')
    await applyBuffer(target, archive, 'overlay', lowers, [])
  })

  it('marks opaque directories with user.overlay.opaque when asked for user xattrs', async () => {
    const target = scratch('userxattr')
    const archive = tarArchive([dir('d/'), file('d/.wh..wh..opq'), dir('e/'), file('.wh.e'), file('.wh.gone')])
    await applyLayer({target, tar: Readable.from([archive]), kind: 'overlay', lowers: async () => [], userXattr: true})
    const read = (path: string, name: string) =>
      execFileSync('python3', ['-c', 'import os,sys;print(os.getxattr(*sys.argv[1:3]).decode())', join(target, path), name], {
        encoding: 'utf8',
      }).trim()
    assert.equal(read('d', 'user.overlay.opaque'), 'y')
    assert.equal(read('e', 'user.overlay.opaque'), 'y')
    assert.equal(lstatSync(join(target, 'gone')).rdev, 0)
    assert.ok(lstatSync(join(target, 'gone')).isCharacterDevice())
  })

  it('rejects a truncated archive with a corrupt-archive error', async () => {
    const archive = tarArchive([file('big', 'z'.repeat(5000))]).subarray(0, 1536)
    await assert.rejects(applyBuffer(scratch('truncated'), archive, 'flat', async () => [], []), (error: unknown) => {
      return error instanceof MydockerError && error.code === 'CORRUPT'
    })
  })

  it('rejects a header with a bad checksum with a corrupt-archive error', async () => {
    const archive = tarArchive([file('a', 'a')])
    archive[0] ^= 1
    await assert.rejects(applyBuffer(scratch('checksum'), archive, 'flat', async () => [], []), (error: unknown) => {
      return error instanceof MydockerError && error.code === 'CORRUPT'
    })
  })

  it('gives a valid result or a MydockerError for random bytes', {timeout: 300_000}, async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({minLength: 0, maxLength: 4096}), async (bytes) => {
        await expectResultOrMydockerError(Buffer.from(bytes))
      }),
      {numRuns: 60},
    )
  })

  it('gives a valid result or a MydockerError for mutated valid archives, and never leaves the root', {timeout: 300_000}, async () => {
    const cases = layerCases(sentinel)
    const archives = cases.flatMap((testCase) => testCase.layers).filter((layer) => layer.length > 0)
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...archives),
        fc.array(fc.tuple(fc.nat(), fc.integer({min: 0, max: 255})), {minLength: 1, maxLength: 8}),
        fc.boolean(),
        async (archive, mutations, fixChecksums) => {
          const mutated = Buffer.from(archive)
          for (const [position, value] of mutations) mutated[position % mutated.length] = value
          if (fixChecksums) for (let offset = 0; offset + 512 <= mutated.length; offset += 512) fixHeaderChecksum(mutated, offset)
          await expectResultOrMydockerError(mutated)
        },
      ),
      {numRuns: 150},
    )
  })

  it('keeps every entry of random hostile names inside the root', {timeout: 300_000}, async () => {
    const segment = fc.constantFrom('..', '.', '', 'a', 'b', 'tmp', sentinel.slice(1), '.wh.a', '.wh..wh..opq', '.wh..')
    // An empty name is no valid tar header at all (the parser refuses it), so none is generated.
    const name = fc.array(segment, {minLength: 1, maxLength: 6}).map((parts) => parts.join('/')).filter((path) => path !== '')
    const entry = fc.oneof(
      // tar reads a file named with a trailing / as a directory, which has no content.
      name.map((path) => file(path, path.endsWith('/') ? '' : 'f')),
      name.map((path) => dir(path)),
      fc.tuple(name, fc.constantFrom(sentinel, `${sentinel}/keep`, '..', '/', '../../..', 'a')).map(([path, target]) => symlink(path, target)),
      fc.tuple(name, name).map(([path, target]) => hardlink(path, target)),
    )
    await fc.assert(
      fc.asyncProperty(fc.array(entry, {minLength: 1, maxLength: 12}), fc.constantFrom<SnapshotKind>('flat', 'overlay'), async (entries: TarEntry[], kind) => {
        const box = scratch('box')
        const target = join(box, 'root')
        mkdirSync(target)
        await applyBuffer(target, tarArchive(entries), kind, async () => [], [])
        assert.deepEqual(readdirSync(box), ['root'])
        assertSentinelUntouched()
      }),
      {numRuns: 150},
    )
  })
})

/** Recomputes a block's checksum when it looks like a header, so mutations reach the parser's meaning. */
function fixHeaderChecksum(archive: Buffer, offset: number): void {
  const block = archive.subarray(offset, offset + 512)
  if (block.toString('latin1', 257, 262) === 'ustar') writeChecksum(block)
}

async function expectResultOrMydockerError(archive: Buffer): Promise<void> {
  const box = scratch('fuzz')
  const target = join(box, 'root')
  mkdirSync(target)
  try {
    await applyBuffer(target, archive, 'flat', async () => [], [])
  } catch (error) {
    assert.ok(error instanceof MydockerError, `not a MydockerError: ${String(error)}`)
  }

  assert.deepEqual(readdirSync(box), ['root'])
  assertSentinelUntouched()
}
