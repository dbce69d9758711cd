/**
 * Recovers the raw bytes of PAX extended headers, which tar 7's parser does not
 * hand out: it keeps only the keys it knows (so `SCHILY.xattr.*` records are
 * dropped) and decodes the header as UTF-8 (so binary values such as
 * `security.capability` would be mangled anyway).
 *
 * The sidecar is fed the same bytes as the parser, just before it, and follows
 * the tar framing only as far as needed to find the bodies of meta entries. It
 * queues one body per meta entry in archive order; the parser announces each
 * meta entry with a 'meta' event in the same order, so the applier takes one
 * body per event. It only needs to agree with the parser on valid archives: any
 * entry tar's parser finds invalid (a bad checksum, a missing name) makes the
 * applier refuse the layer.
 */

const blockSize = 512

/** The limit tar 7's parser puts on a meta entry; larger ones are skipped by both. */
const maxMetaEntrySize = 1024 * 1024

/** Typeflags of meta entries: PAX (x, X, g) and GNU long names (L, N) and links (K). */
const metaTypes = new Set(['x', 'X', 'g', 'L', 'N', 'K'])

/** Typeflags tar 7 treats as file system entries: a PAX `size` applies to these only. */
const normalTypes = new Set(['0', '', '1', '2', '3', '4', '5', '6', '7', 'D'])

/** One meta entry's body as it was in the archive. */
export interface RawMeta {
  type: string
  body: Buffer
}

/** Tracks tar framing over a byte stream and queues the raw meta bodies. */
export class PaxSidecar {
  /** Meta bodies in archive order, not yet claimed by a 'meta' event. */
  private readonly queue: RawMeta[] = []
  private partialHeader: Buffer | undefined
  private state: 'header' | 'skip' | 'collect' | 'done' = 'header'
  private remaining = 0
  private bodyLength = 0
  private collectType = ''
  private collected: Buffer[] = []
  private pendingSize: number | undefined
  private pendingPath: string | undefined
  private nullBlocks = 0

  /** True once any block that is not all zero bytes was seen. */
  sawData = false

  /** Follows the framing over the next chunk of the archive. */
  feed(chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length && this.state !== 'done') {
      offset = this.state === 'header' ? this.takeHeader(chunk, offset) : this.takeBody(chunk, offset)
    }
  }

  /** The oldest unclaimed meta body, or undefined when the sidecar lost track. */
  shift(): RawMeta | undefined {
    return this.queue.shift()
  }

  private takeHeader(chunk: Buffer, offset: number): number {
    const have = this.partialHeader?.length ?? 0
    const take = Math.min(blockSize - have, chunk.length - offset)
    const piece = chunk.subarray(offset, offset + take)
    const block = have === 0 ? piece : Buffer.concat([this.partialHeader!, piece])
    if (block.length < blockSize) {
      this.partialHeader = Buffer.from(block)
      return offset + take
    }

    this.partialHeader = undefined
    this.onHeader(block)
    return offset + take
  }

  private takeBody(chunk: Buffer, offset: number): number {
    const take = Math.min(this.remaining, chunk.length - offset)
    if (this.state === 'collect') {
      const wanted = Math.max(0, Math.min(take, this.bodyLength - this.collectedLength()))
      if (wanted > 0) this.collected.push(Buffer.from(chunk.subarray(offset, offset + wanted)))
    }

    this.remaining -= take
    if (this.remaining === 0) this.finishBody()
    return offset + take
  }

  private collectedLength(): number {
    return this.collected.reduce((total, piece) => total + piece.length, 0)
  }

  private finishBody(): void {
    if (this.state === 'collect') {
      const body = Buffer.concat(this.collected)
      this.collected = []
      this.queue.push({type: this.collectType, body})
      if (this.collectType === 'x' || this.collectType === 'X') {
        const records = paxRecords(body)
        const size = records.get('size')
        if (size !== undefined && /^\d+$/.test(size.toString('latin1').trim())) this.pendingSize = Number(size)
        const path = records.get('path')
        if (path !== undefined) this.pendingPath = path.toString('latin1').replace(/\0.*$/s, '')
      }

      if (this.collectType === 'L' || this.collectType === 'N') {
        this.pendingPath = body.toString('latin1').replace(/\0.*$/s, '')
      }
    }

    this.state = 'header'
  }

  private onHeader(block: Buffer): void {
    if (block.every((byte) => byte === 0)) {
      // Two zero blocks end the archive, as for tar's parser.
      this.nullBlocks += 1
      if (this.nullBlocks >= 2) this.state = 'done'
      return
    }

    // No checksum check: a header tar's parser finds invalid fails the whole
    // layer, so the sidecar never needs to skip one the way the parser does.
    this.nullBlocks = 0
    this.sawData = true

    const type = block[156] === 0 ? '' : String.fromCharCode(block[156])
    const headerSize = readNumber(block.subarray(124, 136))
    if (metaTypes.has(type)) return this.startMeta(type, headerSize)

    const size = normalTypes.has(type) ? (this.pendingSize ?? headerSize) : headerSize
    const path = this.pendingPath ?? block.toString('latin1', 0, 100).replace(/\0.*$/s, '')
    this.pendingSize = undefined
    this.pendingPath = undefined
    // tar's parser reads a file named with a trailing `/` as a directory, and
    // gives every directory an empty body, whatever its size field says.
    const directory = type === '5' || ((type === '0' || type === '') && path.endsWith('/'))
    this.startBody('skip', directory ? 0 : size)
  }

  private startMeta(type: string, size: number): void {
    if (size === 0) return
    this.collectType = type
    this.startBody(size > maxMetaEntrySize ? 'skip' : 'collect', size)
  }

  private startBody(state: 'skip' | 'collect', size: number): void {
    this.bodyLength = size
    this.remaining = Math.ceil(size / blockSize) * blockSize
    this.state = this.remaining === 0 ? 'header' : state
  }
}

/** A numeric header field: octal text, or base-256 when the top bit is set (GNU). */
function readNumber(field: Buffer): number {
  if (field[0] & 0x80) {
    let value = field[0] & 0x7f
    for (let index = 1; index < field.length; index++) value = value * 256 + field[index]
    return value
  }

  const text = field.toString('latin1').replace(/\0.*$/s, '').trim()
  const value = Number.parseInt(text, 8)
  return Number.isFinite(value) ? value : 0
}

/**
 * The records of a PAX extended header body ("LENGTH KEY=VALUE\n", LENGTH in
 * bytes counting the whole record), with values as raw bytes. A malformed
 * record ends the parse, keeping what came before, as tar's parser does.
 */
export function paxRecords(body: Buffer): Map<string, Buffer> {
  const records = new Map<string, Buffer>()
  let offset = 0
  while (offset < body.length) {
    const space = body.indexOf(0x20, offset)
    if (space < 0) break
    const length = Number.parseInt(body.toString('latin1', offset, space), 10)
    if (!Number.isSafeInteger(length) || length <= space - offset || offset + length > body.length) break

    const record = body.subarray(space + 1, offset + length - 1)
    const equals = record.indexOf(0x3d)
    if (equals > 0) records.set(record.toString('utf8', 0, equals), record.subarray(equals + 1))
    offset += length
  }

  return records
}

/**
 * The extended attributes a PAX header body carries: `SCHILY.xattr.NAME=VALUE`
 * (GNU tar, Go's archive/tar, Docker) with the raw value, and
 * `LIBARCHIVE.xattr.NAME=BASE64` (bsdtar) with a URL-encoded name.
 */
export function paxXattrs(body: Buffer): Map<string, Buffer> {
  const xattrs = new Map<string, Buffer>()
  for (const [key, value] of paxRecords(body)) {
    if (key.startsWith('SCHILY.xattr.')) {
      xattrs.set(key.slice('SCHILY.xattr.'.length), value)
    } else if (key.startsWith('LIBARCHIVE.xattr.')) {
      const name = safeDecode(key.slice('LIBARCHIVE.xattr.'.length))
      if (name !== undefined) xattrs.set(name, Buffer.from(value.toString('latin1'), 'base64'))
    }
  }

  return xattrs
}

function safeDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text)
  } catch {
    return undefined
  }
}
