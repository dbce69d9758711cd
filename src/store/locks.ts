/**
 * Cross-process locks on store objects, so that concurrent mydocker processes
 * download a blob once and build a snapshot once, and garbage collection never
 * removes a file another process is writing.
 *
 * Locks are proper-lockfile directories under locks/; a holder refreshes its
 * lock while alive, and a lock left by a killed process goes stale and is taken
 * over after STALE_MS. To not make the next pull wait that long after a kill,
 * each holder also records itself in `<key>.owner` (PID, start time and the
 * lock directory's inode); a waiter that finds the recorded process gone takes
 * the lock over at once.
 */
import {mkdirSync, readFileSync, rmdirSync, statSync, unlinkSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {isProcessAlive, ownIdentity} from './process.js'

const STALE_MS = 15_000
/** A takeover guard is held for microseconds; one left by a killed process goes stale fast. */
const GUARD_STALE_MS = 2_000
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 500

export type Release = () => Promise<void>

type LockModule = typeof import('proper-lockfile')

/**
 * Waits until this process holds the lock named `key` (letters, digits, `-`)
 * under `locksDir`, then resolves with the function that releases it.
 */
export async function acquireLock(locksDir: string, key: string): Promise<Release> {
  const lockfile = await import('proper-lockfile')
  const file = lockPath(locksDir, key)
  for (let attempt = 0; ; attempt++) {
    const release = await tryLock(lockfile, file)
    if (release) return release
    if (await takeOverDeadLock(lockfile, file)) continue
    await sleep(Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 1.5 ** attempt))
  }
}

/**
 * Takes the lock named `key` if nobody alive holds it (a dead holder's lock is
 * taken over); resolves with undefined, at once, when a live process holds it.
 */
export async function tryAcquireLock(locksDir: string, key: string): Promise<Release | undefined> {
  const lockfile = await import('proper-lockfile')
  const file = lockPath(locksDir, key)
  const release = await tryLock(lockfile, file)
  if (release) return release
  if (await takeOverDeadLock(lockfile, file)) return tryLock(lockfile, file)
  return undefined
}

/** A lock key for a digest: `sha256:ab..` becomes `blob-sha256-ab..`. */
export function blobLockKey(digest: string): string {
  return `blob-${digest.replace(':', '-')}`
}

/** A lock key for the snapshot of a chain ID. */
export function snapshotLockKey(chainId: string): string {
  return `snapshot-${chainId.replace(':', '-')}`
}

/** The key of a lock directory or owner record under locks/ (`KEY.lock`, `KEY.owner`), or undefined for other files. */
export function lockKeyOf(entryName: string): string | undefined {
  const match = /^([a-z0-9-]+)\.(?:lock|owner)$/.exec(entryName)
  return match?.[1]
}

function lockPath(locksDir: string, key: string): string {
  mkdirSync(locksDir, {recursive: true})
  return join(locksDir, key)
}

// One attempt; undefined when someone holds the lock.
async function tryLock(lockfile: LockModule, file: string): Promise<Release | undefined> {
  let release: Release
  try {
    release = await lockfile.lock(file, {
      realpath: false,
      stale: STALE_MS,
      retries: 0,
      // A lock whose refresh failed may be taken by another process; the work it
      // guards is verified again before anything is recorded, so carry on.
      onCompromised: () => {},
    })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') return undefined
    throw error
  }

  const owner = recordOwner(file)
  return async () => {
    forgetOwner(file, owner)
    await release()
  }
}

// The owner record names the lock directory's inode, so a record left beside an
// older lock directory is never taken for the owner of a newer one.
function recordOwner(file: string): string {
  const {pid, start} = ownIdentity()
  try {
    const owner = `${pid} ${start ?? '-'} ${statSync(`${file}.lock`).ino}\n`
    writeFileSync(`${file}.owner`, owner)
    return owner
  } catch {
    // Without the record the lock still works; a waiter falls back to staleness.
    return ''
  }
}

function forgetOwner(file: string, owner: string): void {
  try {
    if (readFileSync(`${file}.owner`, 'utf8') === owner) unlinkSync(`${file}.owner`)
  } catch {
    // Already gone.
  }
}

// Under a short guard lock, so two waiters never both remove it: if the owner
// record names a process that is gone and the lock directory it names, remove
// the record and then the directory. Resolves true when the lock was freed.
async function takeOverDeadLock(lockfile: LockModule, file: string): Promise<boolean> {
  if (!isHeldByDeadProcess(file)) return false
  let releaseGuard: () => Promise<void>
  try {
    releaseGuard = await lockfile.lock(`${file}.takeover`, {realpath: false, stale: GUARD_STALE_MS, retries: 0, onCompromised: () => {}})
  } catch {
    return false
  }

  try {
    if (!isHeldByDeadProcess(file)) return false
    unlinkSync(`${file}.owner`)
    rmdirSync(`${file}.lock`)
    return true
  } catch {
    return false
  } finally {
    await releaseGuard()
  }
}

function isHeldByDeadProcess(file: string): boolean {
  try {
    const [pid, start, inode] = readFileSync(`${file}.owner`, 'utf8').trim().split(' ')
    if (statSync(`${file}.lock`).ino !== Number(inode)) return false
    return !isProcessAlive(Number(pid), start === '-' ? null : start)
  } catch {
    return false
  }
}

function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds))
}
