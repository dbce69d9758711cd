/**
 * A minimal streaming tar writer for image archives: regular files and
 * directories with short names (an image archive's names are at most
 * `blobs/sha512/` and 128 hex digits), content streamed through, never held
 * whole. Headers are encoded by tar 7's Header (ustar).
 */
import {once} from 'node:events'
import type {Readable, Writable} from 'node:stream'
import type {Header as TarHeader} from 'tar'

const BLOCK = 512

/** One archive being written to `output`; call `finish` after the last entry. */
export class TarWriter {
  private constructor(
    private readonly output: Writable,
    private readonly HeaderClass: typeof TarHeader,
    private readonly mtime: Date,
  ) {}

  /** Starts an archive on `output`; every entry gets `mtime` (reproducible archives). */
  static async create(output: Writable, mtime = new Date(0)): Promise<TarWriter> {
    const {Header} = await import('tar')
    return new TarWriter(output, Header, mtime)
  }

  /** Adds a directory entry (`name` without a trailing slash). */
  async addDirectory(name: string): Promise<void> {
    await this.write(this.header({path: `${name}/`, type: 'Directory', mode: 0o755, size: 0}))
  }

  /** Adds a file given whole. */
  async addBuffer(name: string, body: Buffer): Promise<void> {
    await this.write(this.header({path: name, type: 'File', mode: 0o644, size: body.length}))
    await this.write(body)
    await this.pad(body.length)
  }

  /**
   * Adds a file of exactly `size` bytes read from `source`. Rejects (the
   * archive is then unusable) when the source yields another length.
   */
  async addStream(name: string, size: number, source: Readable): Promise<void> {
    await this.write(this.header({path: name, type: 'File', mode: 0o644, size}))
    let written = 0
    for await (const chunk of source as AsyncIterable<Buffer>) {
      written += chunk.length
      if (written > size) break
      await this.write(chunk)
    }
    if (written !== size) {
      source.destroy()
      throw new Error(`archive entry ${name}: expected ${size} bytes, read ${written}`)
    }
    await this.pad(size)
  }

  /** Writes the two zero blocks that end an archive and ends `output`. */
  async finish(): Promise<void> {
    await this.write(Buffer.alloc(BLOCK * 2))
    this.output.end()
    if (!this.output.writableFinished) await once(this.output, 'finish')
  }

  private header(data: {path: string; type: 'File' | 'Directory'; mode: number; size: number}): Buffer {
    const block = Buffer.alloc(BLOCK)
    const header = new this.HeaderClass({...data, uid: 0, gid: 0, mtime: this.mtime, uname: '', gname: ''})
    const needsPax = header.encode(block, 0)
    if (needsPax) throw new Error(`archive entry name ${data.path} is too long for a ustar header`)
    return block
  }

  private async pad(size: number): Promise<void> {
    const remainder = size % BLOCK
    if (remainder !== 0) await this.write(Buffer.alloc(BLOCK - remainder))
  }

  // Honours backpressure, and fails fast when the output errors.
  private async write(chunk: Buffer): Promise<void> {
    if (this.output.destroyed) throw new Error('the archive output was closed')
    if (!this.output.write(chunk)) await Promise.race([once(this.output, 'drain'), once(this.output, 'error').then(([error]) => Promise.reject(error))])
  }
}
