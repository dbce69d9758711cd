// Runs the built mydocker CLI (bin/run.js) as a real process, the way users do.
import assert from 'node:assert/strict'
import {spawn} from 'node:child_process'
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

export const binPath = fileURLToPath(new URL('../../bin/run.js', import.meta.url))

export interface CliResult {
  stdout: string
  stderr: string
  exitCode: number
}

export interface CliOptions {
  /** Store root, passed as MYDOCKER_ROOT. */
  root: string
  env?: Record<string, string>
  input?: string
  timeoutMs?: number
}

/** Runs `mydocker ARGS...` to completion; never rejects on a non-zero exit. */
export function mydocker(args: string[], options: CliOptions): Promise<CliResult> {
  const child = spawn(process.execPath, ['--', binPath, ...args], {
    env: {...process.env, MYDOCKER_ROOT: options.root, ...options.env},
    stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  })
  if (options.input !== undefined) child.stdin!.end(options.input)
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', (chunk) => (stdout += chunk))
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000)
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({stdout, stderr, exitCode: code ?? 128 + (signal === 'SIGKILL' ? 9 : 15)})
    })
  })
}

/** Pulls each of `images` into the store at `root`; an image that does not pull fails the test with mydocker's stderr. */
export async function pullImages(images: string[], root: string): Promise<void> {
  for (const image of images) {
    const pulled = await mydocker(['pull', image], {root})
    assert.equal(pulled.exitCode, 0, pulled.stderr)
  }
}

/** A fresh, empty store directory. */
export async function temporaryStore(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'mydocker-store-'))
}

/** Total bytes of regular files under `directory` (what the store occupies). */
export async function diskUsage(directory: string): Promise<number> {
  const {readdir, lstat} = await import('node:fs/promises')
  let total = 0
  const seen = new Set<number>()
  const walk = async (path: string): Promise<void> => {
    for (const entry of await readdir(path, {withFileTypes: true})) {
      const child = join(path, entry.name)
      if (entry.isDirectory()) await walk(child)
      else if (entry.isFile()) {
        const stat = await lstat(child)
        if (!seen.has(stat.ino)) total += stat.size
        seen.add(stat.ino)
      }
    }
  }
  await walk(directory)
  return total
}
