/**
 * The client side of native/fsops.c: the helper that makes device nodes, FIFOs
 * and overlay whiteouts and reads and writes extended attributes, which Node
 * cannot do. One helper process serves one layer; it is spawned on the first
 * request, so a layer that needs none of this spawns nothing.
 *
 * Protocol (see native/fsops.c): each request is a 4-byte little-endian length
 * and NUL-separated fields; each answer is one line, "ok", "ok HEX" or
 * "err ERRNO MESSAGE", in request order. Requests are awaited one at a time
 * because the applier's next step usually depends on the result (a node must
 * exist before it is chowned, a whiteout before its directory's time is set).
 */
import {spawn, type ChildProcessByStdio} from 'node:child_process'
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import type {Readable, Writable} from 'node:stream'
import {fileURLToPath} from 'node:url'

import {MydockerError} from '../../errors.js'

/** A failed request: `errno` is the C errno the helper reported. */
export class FsOpsError extends Error {
  readonly errno: number

  constructor(errno: number, message: string) {
    super(message)
    this.name = 'FsOpsError'
    this.errno = errno
  }
}

/** Device node and FIFO types mknod takes. */
export type NodeType = 'c' | 'b' | 'p'

interface Waiter {
  resolve: (answer: string) => void
  reject: (error: Error) => void
}

/**
 * Finds dist/native/fsops from the package root, so the same code works when
 * run compiled from dist/ and as TypeScript from src/ (tests run through tsx).
 */
export function fsopsPath(): string {
  let directory = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    if (existsSync(join(directory, 'package.json'))) return join(directory, 'dist', 'native', 'fsops')
    const parent = dirname(directory)
    if (parent === directory) break
    directory = parent
  }

  throw new MydockerError('INTERNAL', 'the fsops helper was not found: no package.json above the applier', {
    hint: 'run `npm run build` in the mydocker checkout',
  })
}

/** A lazily spawned fsops process; not safe to share between layers. */
export class FsOpsClient {
  private child: ChildProcessByStdio<Writable, Readable, null> | undefined
  private exited: Promise<void> | undefined
  private readonly waiters: Waiter[] = []
  private pending = ''
  private failure: Error | undefined

  /** Makes a device node or FIFO at `relative` under `root`, with exactly `mode`. */
  async mknod(root: string, relative: string, node: {type: NodeType; mode: number; major: number; minor: number}) {
    const fields = ['n', root, relative, node.type, node.mode.toString(8), String(node.major), String(node.minor)]
    await this.request(fields.map((field) => Buffer.from(field)))
  }

  /** Sets an extended attribute on `relative` under `root`, without following a symlink there. */
  async setXattr(root: string, relative: string, name: string, value: Buffer): Promise<void> {
    await this.request([Buffer.from('x'), Buffer.from(root), Buffer.from(relative), Buffer.from(name), value])
  }

  /** Reads an extended attribute; undefined when it is not set (ENODATA). */
  async getXattr(root: string, relative: string, name: string): Promise<Buffer | undefined> {
    try {
      const answer = await this.request([Buffer.from('g'), Buffer.from(root), Buffer.from(relative), Buffer.from(name)])
      return Buffer.from(answer, 'hex')
    } catch (error) {
      if (error instanceof FsOpsError && error.errno === 61) return undefined
      throw error
    }
  }

  /** Ends the helper and waits for it to exit; safe to call when none was spawned. */
  async close(): Promise<void> {
    if (this.child === undefined) return
    this.child.stdin.end()
    await this.exited
  }

  private async request(fields: Buffer[]): Promise<string> {
    const child = this.spawnOnce()
    if (this.failure !== undefined) throw this.failure

    const payload = Buffer.concat(fields.flatMap((field, index) => (index === 0 ? [field] : [Buffer.of(0), field])))
    const length = Buffer.alloc(4)
    length.writeUInt32LE(payload.length)
    const answer = new Promise<string>((resolve, reject) => this.waiters.push({resolve, reject}))
    child.stdin.write(Buffer.concat([length, payload]))
    return answer
  }

  private spawnOnce(): ChildProcessByStdio<Writable, Readable, null> {
    if (this.child !== undefined) return this.child

    const path = fsopsPath()
    const child = spawn(path, [], {stdio: ['pipe', 'pipe', 'inherit']})
    this.child = child
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (text: string) => this.onAnswers(text))
    child.stdin.on('error', (error) => this.fail(error))
    this.exited = new Promise((resolve) => {
      child.on('error', (error) => {
        this.fail(new MydockerError('INTERNAL', `starting the fsops helper ${path}: ${error.message}`, {cause: error}))
        resolve()
      })
      child.on('close', (code) => {
        this.fail(new MydockerError('INTERNAL', `the fsops helper ${path} exited with status ${code}`))
        resolve()
      })
    })
    return child
  }

  private onAnswers(text: string): void {
    this.pending += text
    let newline = this.pending.indexOf('\n')
    while (newline >= 0) {
      const line = this.pending.slice(0, newline)
      this.pending = this.pending.slice(newline + 1)
      this.settle(line)
      newline = this.pending.indexOf('\n')
    }
  }

  private settle(line: string): void {
    const waiter = this.waiters.shift()
    if (waiter === undefined) return
    if (line === 'ok' || line.startsWith('ok ')) return waiter.resolve(line.slice(3))

    const match = /^err (\d+) (.*)$/.exec(line)
    waiter.reject(new FsOpsError(match ? Number(match[1]) : 0, match ? match[2] : line))
  }

  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.waiters.splice(0)) waiter.reject(this.failure)
  }
}
