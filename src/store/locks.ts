/**
 * Cross-process locks on store objects, so that concurrent mydocker processes
 * download a blob once and build a snapshot once, and garbage collection never
 * removes a file another process is writing.
 *
 * Locks are proper-lockfile directories under locks/; a holder refreshes its
 * lock while alive, and a lock left by a killed process goes stale and is taken
 * over after STALE_MS.
 */
import {mkdirSync} from 'node:fs'
import {join} from 'node:path'

const STALE_MS = 15_000

export type Release = () => Promise<void>

/**
 * Waits until this process holds the lock named `key` (letters, digits, `-`)
 * under `locksDir`, then resolves with the function that releases it.
 */
export async function acquireLock(locksDir: string, key: string): Promise<Release> {
  const {lock} = await import('proper-lockfile')
  mkdirSync(locksDir, {recursive: true})
  const file = join(locksDir, key)
  return lock(file, {
    realpath: false,
    stale: STALE_MS,
    retries: {forever: true, minTimeout: 50, maxTimeout: 500, factor: 1.5},
    // A lock whose refresh failed may be taken by another process; the work it
    // guards is verified again before anything is recorded, so carry on.
    onCompromised: () => {},
  })
}

/** A lock key for a digest: `sha256:ab..` becomes `blob-sha256-ab..`. */
export function blobLockKey(digest: string): string {
  return `blob-${digest.replace(':', '-')}`
}

/** A lock key for the snapshot of a chain ID. */
export function snapshotLockKey(chainId: string): string {
  return `snapshot-${chainId.replace(':', '-')}`
}
