/**
 * A blob's bytes as one stream that survives cut connections: when the source ends
 * early or fails, it is opened again from the bytes already delivered (a Range
 * request); when the server ignores Range, the repeated bytes are skipped. Each byte
 * is delivered once, in order. The consumer hashes and verifies.
 */
import {PassThrough, type Readable} from 'node:stream'
import {setTimeout as sleep} from 'node:timers/promises'
import {MydockerError} from '../errors.js'
import {MAX_RETRY_AFTER, RegistryError} from './errors.js'

/** An opened source: its bytes start at `start` of the blob. */
export interface BlobSource {
  body: Readable
  start: number
}

/** What openResumableBlob needs: the blob, where to start, and how to open it. */
export interface ResumableBlobOptions {
  /** The digest, for messages. */
  digest: string
  /** The blob's registry URL, for errors. */
  url: string
  /** The blob's size from its descriptor. */
  size: number
  /** First byte wanted. */
  offset: number
  /** Opens the blob from `offset`; may start earlier when the server ignores Range. */
  open: (offset: number, signal?: AbortSignal) => Promise<BlobSource>
  signal?: AbortSignal
  log: (message: string) => void
  /** Consecutive failed attempts without progress allowed before giving up. */
  attempts?: number
  /** First backoff delay in milliseconds; doubled per failure. */
  backoff?: number
}

/**
 * Opens the blob (so errors such as 404 reject here) and returns the stream of its
 * bytes from options.offset. Failures after that are emitted as the stream's error.
 */
export async function openResumableBlob(options: ResumableBlobOptions): Promise<Readable> {
  const first = await openWithRetries(options, options.offset, 0)
  const output = new PassThrough()
  void pump(options, output, first).catch((error: unknown) => output.destroy(error as Error))
  return output
}

async function pump(options: ResumableBlobOptions, output: PassThrough, first: BlobSource): Promise<void> {
  const attempts = options.attempts ?? 5
  let delivered = options.offset
  let source: BlobSource | undefined = first
  let failures = 0

  while (delivered < options.size || source !== undefined) {
    source ??= await openWithRetries(options, delivered, failures)
    const before = delivered
    const failure = await copy(source, delivered, output).then(
      (count) => {
        delivered += count
        return undefined
      },
      (error: {delivered: number; cause: unknown}) => {
        delivered += error.delivered
        return error.cause
      },
    )
    source = undefined
    if (output.destroyed) return

    if (failure === undefined && delivered >= options.size) break
    if (options.signal?.aborted) throw options.signal.reason
    if (!isTemporary(failure)) throw failure

    failures = delivered > before ? 1 : failures + 1
    if (failures > attempts) throw cutError(options, delivered, failure)
    options.log(`blob ${options.digest} cut at byte ${delivered} of ${options.size}; resuming`)
  }

  if (delivered > options.size) throw cutError(options, delivered, new Error(`got ${delivered} bytes, expected ${options.size}`))
  output.end()
}

/**
 * Opens the source from `delivered`, retrying temporary failures with backoff; the
 * first attempt after a cut goes at once, as the cut itself was the failure.
 */
async function openWithRetries(options: ResumableBlobOptions, delivered: number, failures: number): Promise<BlobSource> {
  const attempts = options.attempts ?? 5
  const backoff = options.backoff ?? 500
  let retryAfter = 0
  for (let failed = failures; ; failed++) {
    const delay = Math.max(failed > 1 ? backoff * 2 ** (failed - 2) : 0, retryAfter)
    if (delay > 0) await sleep(delay, undefined, {signal: options.signal})
    try {
      return await options.open(delivered, options.signal)
    } catch (error) {
      if (!isTemporary(error) || failed + 1 > attempts) throw error
      // A 429 or 503 that says how long to wait is obeyed, within reason.
      retryAfter = Math.min((error as RegistryError).retryAfter ?? 0, MAX_RETRY_AFTER)
      if (retryAfter === MAX_RETRY_AFTER) throw error
      options.log(`opening blob ${options.digest} at byte ${delivered} failed; trying again`)
    }
  }
}

/** Undefined (a clean but short end), network failures and temporary registry errors. */
function isTemporary(failure: unknown): boolean {
  if (failure instanceof RegistryError) return failure.temporary
  return !(failure instanceof MydockerError)
}

/**
 * Copies a source's bytes past `delivered` into output with backpressure. Resolves
 * with the count written; rejects with {delivered, cause} when the source fails.
 */
async function copy(source: BlobSource, delivered: number, output: PassThrough): Promise<number> {
  let skip = delivered - source.start
  let written = 0
  try {
    for await (const chunk of source.body as AsyncIterable<Buffer>) {
      let bytes = chunk
      if (skip > 0) {
        const dropped = Math.min(skip, bytes.length)
        bytes = bytes.subarray(dropped)
        skip -= dropped
      }
      if (bytes.length === 0) continue
      written += bytes.length
      if (!output.write(bytes)) await waitForDrain(output)
      if (output.destroyed) break
    }
  } catch (cause) {
    throw {delivered: written, cause}
  } finally {
    source.body.destroy()
  }
  return written
}

function waitForDrain(output: PassThrough): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      output.off('drain', done)
      output.off('close', done)
      resolve()
    }
    output.on('drain', done)
    // 'close' too: a consumer that stops reading destroys the stream without a drain.
    output.on('close', done)
  })
}

function cutError(options: ResumableBlobOptions, delivered: number, cause: unknown): RegistryError {
  const detail = cause instanceof Error ? `: ${cause.message}` : ''
  return new RegistryError('UNAVAILABLE', `download of blob ${options.digest} failed at byte ${delivered} of ${options.size}${detail}`, {
    method: 'GET',
    url: options.url,
    cause,
    temporary: true,
  })
}
