/**
 * Pull progress on stderr, as docker shows it. On a terminal: one line per layer
 * that updates in place (a cli-progress multibar). Otherwise: a plain line each
 * time a layer changes state, with no escape codes.
 */
import type {LayerStatus, PullEvent} from '../service/pull.js'
import {humanSize, shortId} from './format.js'

const STATUS_TEXT: Record<LayerStatus, string> = {
  waiting: 'Waiting',
  exists: 'Already exists',
  downloading: 'Downloading',
  verifying: 'Verifying Checksum',
  extracting: 'Extracting',
  complete: 'Pull complete',
}

/** Receives pull events and draws them; `stop` ends the display. */
export interface PullProgress {
  onEvent(event: PullEvent): void
  stop(): void
}

/** A display fitting `stream`: live bars on a terminal, plain lines otherwise. */
export async function createPullProgress(stream: NodeJS.WriteStream, label: string): Promise<PullProgress> {
  if (!stream.isTTY) return plainProgress(stream, label)
  return terminalProgress(stream, label)
}

function plainProgress(stream: NodeJS.WriteStream, label: string): PullProgress {
  const last = new Map<string, LayerStatus>()
  return {
    onEvent(event) {
      if (event.type === 'resolved') {
        stream.write(`${label}: resolved to ${event.manifestDigest} (${event.layers.length} layers)\n`)
        return
      }
      // Byte counts change constantly; a plain log shows state changes only.
      if (last.get(event.digest) === event.status) return
      last.set(event.digest, event.status)
      stream.write(`${shortId(event.digest)}: ${STATUS_TEXT[event.status]}\n`)
    },
    stop() {},
  }
}

async function terminalProgress(stream: NodeJS.WriteStream, label: string): Promise<PullProgress> {
  const {MultiBar} = await import('cli-progress')
  const bars = new MultiBar({
    stream,
    format: '{id}: {status} {bar} {bytes}',
    barsize: 30,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    autopadding: true,
    forceRedraw: true,
    barCompleteChar: '=',
    barIncompleteChar: ' ',
  })
  const rows = new Map<string, ReturnType<typeof bars.create>>()
  stream.write(`${label}: pulling\n`)
  return {
    onEvent(event) {
      if (event.type === 'resolved') return
      let row = rows.get(event.digest)
      if (!row) {
        row = bars.create(event.total ?? 1, 0, {id: shortId(event.digest), status: '', bytes: ''})
        rows.set(event.digest, row)
      }
      const bytes = event.current === undefined ? '' : `${humanSize(event.current)}/${humanSize(event.total ?? 0)}`
      if (event.total) row.setTotal(event.total)
      row.update(event.current ?? (event.status === 'complete' || event.status === 'exists' ? row.getTotal() : 0), {
        status: STATUS_TEXT[event.status],
        bytes: event.status === 'downloading' || event.status === 'extracting' ? bytes : '',
      })
    },
    stop() {
      bars.stop()
    },
  }
}
