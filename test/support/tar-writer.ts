/**
 * Writes layer archives in code, header by header, so tests need no binary
 * fixtures and can say exactly which bytes an entry has: PAX records, GNU long
 * names and links, a ustar prefix, a 100-byte name field with no terminator, or
 * names no honest tool would write.
 */
import {gzipSync} from 'node:zlib'

/** Entry types by their typeflag meaning. */
export type TarEntryType = 'file' | 'dir' | 'symlink' | 'hardlink' | 'char' | 'block' | 'fifo'

/** How a name or link target longer than its 100-byte field is written. */
export type LongNameForm = 'pax' | 'gnu' | 'prefix'

/** One archive entry; everything but `name` has a plain default. */
export interface TarEntry {
  name: string | Buffer
  type?: TarEntryType
  /** Content of a file (other types carry none unless `content` is given anyway). */
  content?: string | Buffer
  /** Permission bits, 07777 included; 0644 for files, 0755 for directories by default. */
  mode?: number
  uid?: number
  gid?: number
  /** Seconds since the epoch; 1,700,000,000 by default. */
  mtime?: number
  /** Symlink or hard link target. */
  linkname?: string | Buffer
  major?: number
  minor?: number
  /** Extended attributes, written as PAX `SCHILY.xattr.NAME` records with raw values. */
  xattrs?: Record<string, string | Buffer>
  /** Other PAX records for this entry. */
  pax?: Record<string, string | Buffer>
  /** How to write a name or link target that does not fit its field; pax by default. */
  longNames?: LongNameForm
  /** A raw typeflag overriding `type` (e.g. 'V' for a volume header). */
  typeflag?: string
}

const defaultMtime = 1_700_000_000

const typeflags: Record<TarEntryType, string> = {
  file: '0',
  dir: '5',
  symlink: '2',
  hardlink: '1',
  char: '3',
  block: '4',
  fifo: '6',
}

/** Builds a tar archive of the entries, ended by two zero blocks (or `zeroBlocks`). */
export function tarArchive(entries: TarEntry[], options: {gzip?: boolean; zeroBlocks?: number} = {}): Buffer {
  const blocks = entries.flatMap((entry) => entryBlocks(entry))
  blocks.push(Buffer.alloc(512 * (options.zeroBlocks ?? 2)))
  const archive = Buffer.concat(blocks)
  return options.gzip ? gzipSync(archive) : archive
}

/** A regular file. */
export function file(name: string | Buffer, content: string | Buffer = '', fields: Partial<TarEntry> = {}): TarEntry {
  return {name, type: 'file', content, ...fields}
}

/** A directory. */
export function dir(name: string | Buffer, fields: Partial<TarEntry> = {}): TarEntry {
  return {name, type: 'dir', ...fields}
}

/** A symbolic link. */
export function symlink(name: string | Buffer, linkname: string | Buffer, fields: Partial<TarEntry> = {}): TarEntry {
  return {name, type: 'symlink', linkname, ...fields}
}

/** A hard link to `linkname`, an archive name. */
export function hardlink(name: string | Buffer, linkname: string | Buffer, fields: Partial<TarEntry> = {}): TarEntry {
  return {name, type: 'hardlink', linkname, ...fields}
}

/** A whiteout of `name` in `directory` ('' for the root). */
export function whiteout(directory: string, name: string): TarEntry {
  return file(directory === '' ? `.wh.${name}` : `${directory}/.wh.${name}`)
}

/** The opaque marker of `directory` ('' for the root). */
export function opaque(directory: string): TarEntry {
  return file(directory === '' ? '.wh..wh..opq' : `${directory}/.wh..wh..opq`)
}

/** A device node or FIFO. */
export function device(name: string, type: 'char' | 'block' | 'fifo', major = 0, minor = 0, fields: Partial<TarEntry> = {}) {
  return {name, type, major, minor, ...fields} satisfies TarEntry
}

function entryBlocks(entry: TarEntry): Buffer[] {
  const name = bytes(entry.name)
  const linkname = entry.linkname === undefined ? Buffer.alloc(0) : bytes(entry.linkname)
  const content = entry.content === undefined ? Buffer.alloc(0) : bytes(entry.content)
  const form = entry.longNames ?? 'pax'
  const blocks: Buffer[] = []
  const pax: Array<[string, Buffer]> = Object.entries(entry.pax ?? {}).map(([key, value]) => [key, bytes(value)])
  for (const [key, value] of Object.entries(entry.xattrs ?? {})) pax.push([`SCHILY.xattr.${key}`, bytes(value)])

  let nameField: Buffer = name
  let prefixField: Buffer = Buffer.alloc(0)
  if (name.length > 100) {
    if (form === 'pax') pax.push(['path', name])
    if (form === 'gnu') blocks.push(...gnuLong('L', name))
    if (form === 'prefix') [prefixField, nameField] = splitPrefix(name)
    else nameField = name.subarray(0, 100)
  }

  let linkField: Buffer = linkname
  if (linkname.length > 100) {
    if (form === 'gnu') blocks.push(...gnuLong('K', linkname))
    else pax.push(['linkpath', linkname])
    linkField = linkname.subarray(0, 100)
  }

  if (pax.length > 0) blocks.push(...paxHeader(pax))
  const typeflag = entry.typeflag ?? typeflags[entry.type ?? 'file']
  const defaultMode = entry.type === 'dir' ? 0o755 : 0o644
  blocks.push(
    header({
      name: nameField,
      mode: entry.mode ?? defaultMode,
      uid: entry.uid ?? 0,
      gid: entry.gid ?? 0,
      size: content.length,
      mtime: entry.mtime ?? defaultMtime,
      typeflag,
      linkname: linkField,
      major: entry.major ?? 0,
      minor: entry.minor ?? 0,
      prefix: prefixField,
      gnu: form === 'gnu',
    }),
  )
  blocks.push(padded(content))
  return blocks
}

interface HeaderFields {
  name: Buffer
  mode: number
  uid: number
  gid: number
  size: number
  mtime: number
  typeflag: string
  linkname: Buffer
  major: number
  minor: number
  prefix: Buffer
  gnu: boolean
}

/** One 512-byte header with its checksum. */
export function header(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(512)
  fields.name.copy(block, 0, 0, 100)
  octal(block, 100, 8, fields.mode)
  octal(block, 108, 8, fields.uid)
  octal(block, 116, 8, fields.gid)
  octal(block, 124, 12, fields.size)
  octal(block, 136, 12, fields.mtime)
  block.write(fields.typeflag, 156, 1, 'latin1')
  fields.linkname.copy(block, 157, 0, 100)
  // GNU tar writes "ustar  \0"; POSIX ustar "ustar\0" and version "00".
  block.write(fields.gnu ? 'ustar  \0' : 'ustar\u000000', 257, 8, 'latin1')
  block.write('root', 265, 'latin1')
  block.write('root', 297, 'latin1')
  octal(block, 329, 8, fields.major)
  octal(block, 337, 8, fields.minor)
  if (!fields.gnu) fields.prefix.copy(block, 345, 0, 155)
  writeChecksum(block)
  return block
}

/** Recomputes the checksum of a header block in place (for tests that mutate headers). */
export function writeChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156)
  let sum = 0
  for (const byte of block.subarray(0, 512)) sum += byte
  block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'latin1')
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(value.toString(8).padStart(length - 1, '0') + '\0', offset, length, 'latin1')
}

function paxHeader(records: Array<[string, Buffer]>): Buffer[] {
  const body = Buffer.concat(records.map(([key, value]) => paxRecord(key, value)))
  const head = header({
    name: Buffer.from('PaxHeaders/entry'),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: defaultMtime,
    typeflag: 'x',
    linkname: Buffer.alloc(0),
    major: 0,
    minor: 0,
    prefix: Buffer.alloc(0),
    gnu: false,
  })
  return [head, padded(body)]
}

/** A PAX record "LENGTH KEY=VALUE\n", LENGTH counting its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')])
  let length = rest.length + 1
  while (String(length).length + rest.length !== length) length += 1
  return Buffer.concat([Buffer.from(String(length)), rest])
}

function gnuLong(typeflag: 'L' | 'K', value: Buffer): Buffer[] {
  const body = Buffer.concat([value, Buffer.of(0)])
  const head = header({
    name: Buffer.from('././@LongLink'),
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime: 0,
    typeflag,
    linkname: Buffer.alloc(0),
    major: 0,
    minor: 0,
    prefix: Buffer.alloc(0),
    gnu: true,
  })
  return [head, padded(body)]
}

/** Splits a name at a `/` so the prefix fits 155 bytes and the rest 100. */
function splitPrefix(name: Buffer): [Buffer, Buffer] {
  for (let index = name.length - 1; index > 0; index--) {
    if (name[index] === 0x2f && index <= 155 && name.length - index - 1 <= 100) {
      return [name.subarray(0, index), name.subarray(index + 1)]
    }
  }

  throw new Error(`name of ${name.length} bytes cannot be split into a ustar prefix`)
}

function padded(content: Buffer): Buffer {
  const length = Math.ceil(content.length / 512) * 512
  return length === content.length ? content : Buffer.concat([content, Buffer.alloc(length - content.length)])
}

function bytes(value: string | Buffer): Buffer {
  return typeof value === 'string' ? Buffer.from(value) : value
}
