// Property tests of the layer applier: random bytes and mutated archives (of
// entries that try to climb out of the root) either apply or reject with a
// MydockerError, never hang, and never write outside the target directory.
import assert from 'node:assert/strict'
import {mkdir, mkdtemp, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Readable} from 'node:stream'
import {after, before, describe, it} from 'node:test'
import fc from 'fast-check'
import {MydockerError} from '../../src/errors.js'
import {applyLayer} from '../../src/snapshot/apply.js'
import {device, dir, file, hardlink, opaque, symlink, tarArchive, whiteout, type TarEntry} from '../support/tar-writer.js'

/** Each run applies one archive (and may start the native helper): keep it modest. */
const RUNS = 60
/** A layer of a few entries applies in milliseconds; this long means a hang. */
const APPLY_TIMEOUT_MS = 15_000

describe('fuzzing the layer applier', () => {
  let sandbox: string
  let outside: string

  before(async () => {
    sandbox = await mkdtemp(join(tmpdir(), 'mydocker-fuzz-apply-'))
    outside = join(sandbox, 'outside')
    await mkdir(outside)
  })

  after(async () => {
    if (sandbox) await rm(sandbox, {recursive: true, force: true})
  })

  // Entries aimed at the sandbox around the target: by `..`, by absolute
  // symlinks, by hard links, and through a symlinked directory.
  const entries = (): fc.Arbitrary<TarEntry> => {
    const name = fc.constantFrom('a', 'b/c', '../outside/x', '/outside/y', 'link/escaped', 'dir/../../outside/z', './d', 'b', 'link')
    const content = fc.string({maxLength: 40})
    return fc.oneof(
      fc.tuple(name, content).map(([path, text]) => file(path, text)),
      name.map((path) => dir(path)),
      fc.tuple(name, fc.constantFrom(outside, '../outside', '/', '../../..', 'b')).map(([path, target]) => symlink(path, target)),
      fc.tuple(name, fc.constantFrom('a', '../outside/x', `${outside}/secret`, 'b/c')).map(([path, target]) => hardlink(path, target)),
      fc.tuple(fc.constantFrom('', 'b', 'link'), fc.constantFrom('a', 'c', 'outside')).map(([directory, entry]) => whiteout(directory, entry)),
      fc.constantFrom('', 'b', 'link').map((directory) => opaque(directory)),
      name.map((path) => device(path, 'fifo')),
    )
  }

  const archive = fc.array(entries(), {maxLength: 8}).map((list) => tarArchive(list))
  const mutatedArchive = fc
    .tuple(archive, fc.array(fc.tuple(fc.nat(), fc.integer({min: 1, max: 255})), {minLength: 1, maxLength: 6}), fc.option(fc.nat(), {nil: undefined}))
    .map(([bytes, flips, cut]) => {
      const copy = Buffer.from(bytes)
      for (const [position, mask] of flips) copy[position % copy.length] ^= mask
      return cut === undefined ? copy : copy.subarray(0, cut % copy.length)
    })
  const randomBytes = fc.uint8Array({maxLength: 4096}).map((bytes) => Buffer.from(bytes))

  let run = 0
  const applyInFreshTarget = async (bytes: Buffer) => {
    const target = join(sandbox, `target-${run++}`)
    await mkdir(target)
    try {
      let timer: NodeJS.Timeout | undefined
      const timeout = new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`applying ${bytes.length} bytes did not finish in ${APPLY_TIMEOUT_MS} ms`)), APPLY_TIMEOUT_MS)
      })
      const applying = applyLayer({target, tar: Readable.from([bytes]), kind: 'overlay', lowers: async () => []})
      try {
        await Promise.race([applying, timeout])
      } catch (error) {
        if (!(error instanceof MydockerError)) throw error
        assert.ok(['CORRUPT', 'INVALID_ARGUMENT', 'UNSUPPORTED', 'INTERNAL'].includes(error.code), error.message)
      } finally {
        clearTimeout(timer)
      }
      assert.deepEqual(await readdir(outside), [], 'something was written outside the target')
      const around = (await readdir(sandbox)).filter((name) => name !== 'outside' && !name.startsWith('target-'))
      assert.deepEqual(around, [], 'something was written beside the target')
    } finally {
      await rm(target, {recursive: true, force: true})
    }
  }

  it('applies or rejects archives of entries aimed outside the root, writing only inside it', async () => {
    // The classic escapes first, so they are tried on every run.
    const escapes: Array<[Buffer]> = [
      [tarArchive([symlink('link', outside), file('link/escaped', 'x')])],
      [tarArchive([symlink('link', '../outside'), dir('link/d'), file('link/d/f', 'x')])],
      [tarArchive([file('../outside/x', 'x'), hardlink('h', `${outside}/secret`), whiteout('link', 'outside')])],
    ]
    await fc.assert(fc.asyncProperty(archive, applyInFreshTarget), {numRuns: RUNS, examples: escapes})
  })

  it('applies or rejects mutated archives, writing only inside the root', async () => {
    await fc.assert(fc.asyncProperty(mutatedArchive, applyInFreshTarget), {numRuns: RUNS})
  })

  it('rejects random bytes, or takes them for an empty layer, without hanging', async () => {
    await fc.assert(fc.asyncProperty(randomBytes, applyInFreshTarget), {numRuns: RUNS})
  })
})
