/**
 * Layer decompression chosen by the content's magic bytes, the media type being
 * only a hint: real registries serve gzip layers labelled as plain tar and zstd
 * layers under Docker's gzip media type, and both must unpack.
 */
import {Transform, type TransformCallback} from 'node:stream'
import {createGunzip} from 'node:zlib'
import {MydockerError} from '../errors.js'

export type Compression = 'gzip' | 'zstd' | 'none'

const GZIP_MAGIC = [0x1f, 0x8b]
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd]

/** The compression the first bytes of a blob show; needs at least 4 bytes unless the blob is shorter. */
export function detectCompression(head: Uint8Array): Compression {
  if (startsWith(head, GZIP_MAGIC)) return 'gzip'
  if (startsWith(head, ZSTD_MAGIC)) return 'zstd'
  return 'none'
}

function startsWith(bytes: Uint8Array, magic: number[]): boolean {
  return bytes.length >= magic.length && magic.every((byte, index) => bytes[index] === byte)
}

/**
 * A transform from a layer blob to its uncompressed tar stream, whatever the
 * compression. `layer` names the blob in errors.
 */
export function createDecompressor(layer: string): Transform {
  return new Decompressor(layer)
}

class Decompressor extends Transform {
  private head: Buffer[] = []
  private headLength = 0
  private decoder?: Decoder

  constructor(private readonly layer: string) {
    super({readableHighWaterMark: 1 << 20})
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.decoder) return this.decoder.write(chunk, callback)
    this.head.push(chunk)
    this.headLength += chunk.length
    if (this.headLength < ZSTD_MAGIC.length) return callback()
    this.start(callback)
  }

  override _flush(callback: TransformCallback): void {
    if (!this.decoder) {
      if (this.headLength === 0) return callback()
      return this.start((error) => (error ? callback(error) : this.decoder!.end(callback)))
    }
    this.decoder.end(callback)
  }

  private start(callback: TransformCallback): void {
    const head = Buffer.concat(this.head)
    this.head = []
    const compression = detectCompression(head)
    // A decoder error destroys this stream, so whoever reads it sees the error
    // even when no write or flush callback is pending.
    this.decoder = makeDecoder(compression, (data) => this.push(data), this.layer, (error) => this.destroy(error))
    this.decoder.write(head, callback)
  }
}

/** A push-style decoder: output goes to the sink given at creation. */
interface Decoder {
  write(chunk: Buffer, callback: (error?: Error | null) => void): void
  end(callback: (error?: Error | null) => void): void
}

function makeDecoder(
  compression: Compression,
  sink: (data: Buffer) => void,
  layer: string,
  onError: (error: Error) => void,
): Decoder {
  if (compression === 'none') {
    return {
      write: (chunk, callback) => {
        sink(chunk)
        callback()
      },
      end: (callback) => callback(),
    }
  }
  if (compression === 'gzip') return gzipDecoder(sink, layer, onError)
  return zstdDecoder(sink, layer)
}

function gzipDecoder(sink: (data: Buffer) => void, layer: string, onError: (error: Error) => void): Decoder {
  const gunzip = createGunzip({chunkSize: 256 * 1024})
  gunzip.on('data', sink)
  let failure: Error | undefined
  gunzip.on('error', (error) => {
    failure = decompressError(layer, 'gzip', error)
    onError(failure)
  })
  return {
    write: (chunk, callback) => {
      if (failure) return callback(failure)
      gunzip.write(chunk, () => callback(failure))
    },
    end: (callback) => {
      if (failure) return callback(failure)
      let called = false
      const done = () => {
        if (called) return
        called = true
        callback(failure)
      }
      gunzip.once('error', done)
      gunzip.once('end', done)
      gunzip.end()
    },
  }
}

function zstdDecoder(sink: (data: Buffer) => void, layer: string): Decoder {
  // fzstd is loaded only for zstd layers; most images never need it.
  let stream: {push(chunk: Uint8Array, final?: boolean): void} | undefined
  const ready = import('fzstd').then((fzstd) => {
    stream = new fzstd.Decompress((data: Uint8Array) => sink(Buffer.from(data.buffer, data.byteOffset, data.length)))
  })
  const push = (chunk: Uint8Array, final: boolean, callback: (error?: Error | null) => void) => {
    ready.then(() => {
      try {
        stream!.push(chunk, final)
        callback()
      } catch (error) {
        callback(decompressError(layer, 'zstd', error))
      }
    }, callback)
  }
  return {
    write: (chunk, callback) => push(chunk, false, callback),
    end: (callback) => push(new Uint8Array(0), true, callback),
  }
}

function decompressError(layer: string, format: string, cause: unknown): MydockerError {
  const detail = cause instanceof Error ? cause.message : String(cause)
  return new MydockerError('CORRUPT', `layer ${layer} is not valid ${format} data: ${detail}`, {cause})
}
