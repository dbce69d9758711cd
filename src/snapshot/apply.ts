/**
 * The layer applier: turns one decompressed layer tar stream into a snapshot
 * directory, by the rules of the OCI image spec's layer section ("Applying
 * Changesets", "Whiteouts") and mydocker issue #4.
 *
 * tar 7's parser reads the archive; the file system work is done here (in
 * ./apply/layer-applier.ts) because tar's Unpack places paths by its own rules,
 * not the OCI ones. Device nodes, FIFOs, whiteouts and extended attributes go
 * through the small native helper dist/native/fsops, spawned only for a layer
 * that needs one of them.
 *
 * Behaviour choices:
 * - Entry names are cleaned lexically and placed inside the root (`..` stops at
 *   the root, a leading `/` is the root); symlinks met on the way are followed
 *   as if the root were `/`.
 * - A hard link whose target climbs above the root, names a directory or names
 *   nothing is skipped with a warning; the layer still applies.
 * - An entry under a symlink loop is skipped with a warning.
 * - Extended attributes in the overlay namespaces (trusted.overlay.*,
 *   user.overlay.*) are ignored with a warning: they would steer overlayfs.
 * - An owner that chown refuses (outside the user namespace's mapping) is kept
 *   as it is, with one warning per owner.
 * - An archive tar's parser finds invalid (bad checksum, truncated, not a tar)
 *   fails with a CORRUPT MydockerError; an empty stream and one of zero blocks
 *   are empty layers.
 */
import type {Readable} from 'node:stream'
import type {Parser as TarParser, ReadEntry} from 'tar'

import {corrupt, fromSystemError, MydockerError} from '../errors.js'
import type {SnapshotKind} from './kind.js'
import {LayerApplier, type EntryExtras} from './apply/layer-applier.js'
import {PaxSidecar, paxXattrs} from './apply/pax-sidecar.js'

export type {SnapshotKind} from './kind.js'

/** What applyLayer needs. */
export interface ApplyLayerOptions {
  /**
   * The snapshot directory to fill; exists and is empty (overlay) or holds a
   * copy of the parent's merged tree (flat).
   */
  target: string
  /** The layer's tar stream, already decompressed. */
  tar: Readable
  /**
   * overlay: target holds only this layer's changes, whiteouts become overlayfs
   * whiteouts (0/0 char device; opaque dirs get xattr trusted.overlay.opaque=y,
   * or user.overlay.opaque=y when `userXattr`). flat: target is the merged
   * tree, whiteouts delete.
   */
  kind: SnapshotKind
  /**
   * Lower snapshot directories, top-most first, the read-only view of the
   * layers below (overlay kind). Called at most once, and only when needed (a
   * parent or hard link target missing from this layer, a whiteout whose parent
   * must be checked), so parallel unpacks don't wait unless they must.
   */
  lowers: () => Promise<string[]>
  /** Use user.overlay.* xattrs (rootless overlay with the userxattr option). */
  userXattr?: boolean
  /** Receives a warning (e.g. an owner outside the user namespace's mapping); never fatal. */
  onWarning?: (message: string) => void
}

/** What applyLayer did. */
export interface ApplyLayerResult {
  /** bytes of file content written */
  size: number
  entries: number
}

/** Parser warnings that mean the archive is not a valid tar. */
const fatalParserWarnings = new Set(['TAR_ENTRY_INVALID', 'TAR_BAD_ARCHIVE', 'TAR_ABORT'])

/**
 * Applies one layer to `options.target`. Nothing outside the target is created,
 * changed or deleted, whatever the archive holds. Layers may be applied
 * concurrently into different targets; one target takes one layer at a time.
 *
 * Rejects with a CORRUPT MydockerError for an invalid archive, NO_SPACE when
 * the disk fills, and INTERNAL for other system errors, each naming the target
 * (and the entry, where one was being applied). On failure the target is left
 * half filled: the caller builds snapshots under a temporary name and removes
 * it (STYLE.md point 5).
 */
export async function applyLayer(options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  const {Parser} = await import('tar')
  const applier = new LayerApplier({
    target: options.target,
    kind: options.kind,
    lowers: options.lowers,
    userXattr: options.userXattr ?? false,
    warn: options.onWarning ?? (() => {}),
  })

  try {
    await readArchive(options, new Parser({strict: false}), applier)
    applier.finish()
  } catch (error) {
    throw fromSystemError(error, `applying layer to ${options.target}`)
  } finally {
    await applier.close()
  }

  return {size: applier.size, entries: applier.entries}
}

/**
 * Feeds the stream to the parser (and the PAX sidecar) with backpressure, and
 * applies each entry in archive order; the parser holds the next entry until
 * the current one has ended, so one entry is applied at a time.
 */
async function readArchive(options: ApplyLayerOptions, parser: TarParser, applier: LayerApplier): Promise<void> {
  const sidecar = new PaxSidecar()
  const state = {failure: undefined as unknown, work: Promise.resolve(), xattrs: new Map<string, Buffer>()}
  const fail = (error: unknown) => {
    state.failure ??= error
  }

  parser.on('warn', (code: string, message: string) => {
    // tar calls an archive of nothing or of zero blocks alone "unrecognized";
    // for a layer that is simply empty.
    if (code === 'TAR_BAD_ARCHIVE' && !sidecar.sawData) return
    if (fatalParserWarnings.has(code)) fail(corrupt(`layer archive for ${options.target} is invalid: ${message}`))
    else options.onWarning?.(`layer archive for ${options.target}: ${message}`)
  })
  parser.on('error', (error: Error) => {
    fail(corrupt(`layer archive for ${options.target} is invalid: ${error.message}`))
  })
  parser.on('meta', (text: string) => takeRawMeta(sidecar, text, state.xattrs, options))
  parser.on('ignoredEntry', (entry: ReadEntry) => {
    if (!entry.meta) options.onWarning?.(`skipped entry "${entry.path}" of unsupported type ${entry.type}`)
  })
  parser.on('entry', (entry: ReadEntry) => {
    const extras = {xattrs: state.xattrs}
    state.xattrs = new Map()
    state.work = state.work.then(() => applyOne(applier, entry, extras, state.failure).catch(fail))
  })

  const finished = parserFinished(parser)
  try {
    for await (const chunk of options.tar) {
      if (state.failure !== undefined) break
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
      sidecar.feed(buffer)
      if (!parser.write(buffer)) await drained(parser)
    }
  } catch (error) {
    fail(error)
  }

  parser.end()
  await finished
  await state.work
  if (state.failure !== undefined) throw state.failure
}

/** Applies one entry unless an earlier one failed; always lets the entry end so the parser moves on. */
async function applyOne(applier: LayerApplier, entry: ReadEntry, extras: EntryExtras, failure: unknown) {
  try {
    if (failure === undefined) await applier.apply(entry, extras)
  } catch (error) {
    if (error instanceof MydockerError) throw error
    throw fromSystemError(error, `applying entry "${entry.path}"`)
  } finally {
    entry.resume()
  }
}

/**
 * Pairs a 'meta' event of the parser with the raw body the sidecar queued, and
 * collects the extended attributes of PAX headers for the next entry.
 */
function takeRawMeta(sidecar: PaxSidecar, text: string, xattrs: Map<string, Buffer>, options: ApplyLayerOptions) {
  const raw = sidecar.shift()
  if (raw === undefined || !sameStart(raw.body, text)) {
    // Only reachable if the sidecar lost the framing; tar's parser is the authority.
    if (text.includes('xattr.')) {
      options.onWarning?.(`extended attributes of a PAX header in ${options.target} were not applied: its raw bytes were lost`)
    }
    return
  }

  if (raw.type !== 'x' && raw.type !== 'X') return
  for (const [name, value] of paxXattrs(raw.body)) xattrs.set(name, value)
}

/** True when the ASCII start of the raw body reads the same as the parser's text. */
function sameStart(body: Buffer, text: string): boolean {
  let length = 0
  while (length < Math.min(body.length, 32) && body[length] < 0x80) length += 1
  return text.startsWith(body.toString('latin1', 0, length))
}

function drained(parser: TarParser): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      parser.off('drain', done)
      parser.off('abort', done)
      parser.off('close', done)
      resolve()
    }

    parser.on('drain', done)
    parser.on('abort', done)
    parser.on('close', done)
  })
}

/** Resolves when the parser has emitted every entry (or gave up on the archive). */
function parserFinished(parser: TarParser): Promise<void> {
  return new Promise((resolve) => {
    parser.once('end', () => resolve())
    parser.once('abort', () => resolve())
    parser.once('error', () => resolve())
  })
}
