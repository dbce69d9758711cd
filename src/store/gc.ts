/**
 * Garbage collection: removes every manifest, blob and snapshot that no name,
 * no live container and no live lease reaches, rows first and then files.
 *
 * Each blob or snapshot is removed under its lock, after checking in a write
 * transaction that it is still unreachable, so a pull that stores the same
 * content at the same moment never loses it.
 */
import {rm} from 'node:fs/promises'
import type {Store} from './store.js'
import {liveLeasedResources} from './lease.js'
import {isProcessAlive} from './process.js'
import {acquireLock, blobLockKey, snapshotLockKey} from './locks.js'

export interface CollectResult {
  /** Digests of the blobs removed. */
  blobs: string[]
  /** Chain IDs of the snapshots removed. */
  snapshots: string[]
  /** Bytes given back: blob sizes plus snapshot sizes. */
  reclaimed: number
}

/** Removes unreachable content from `store`; see the module comment. */
export async function collectGarbage(store: Store): Promise<CollectResult> {
  const result: CollectResult = {blobs: [], snapshots: [], reclaimed: 0}
  const leased = liveLeasedResources(store.db)
  deleteUnreachableManifests(store, leased)

  // Removing an index or manifest blob drops its references, which may free
  // its children: repeat until nothing more goes.
  for (;;) {
    const candidates = unreachableBlobs(store).filter((blob) => !leased.has(blob.digest))
    const removed = await removeBlobs(store, candidates)
    if (removed.length === 0) break
    for (const blob of removed) {
      result.blobs.push(blob.digest)
      result.reclaimed += blob.size
    }
  }

  for (const snapshot of unreachableSnapshots(store).filter((row) => !leased.has(row.chainId))) {
    const release = await acquireLock(store.paths.locks, snapshotLockKey(snapshot.chainId))
    try {
      const info = store.snapshots.get(snapshot.chainId)
      if (!info || isChainInUse(store, snapshot.chainId) || isLeased(store, snapshot.chainId)) continue
      await store.snapshots.remove(info)
      result.snapshots.push(info.chainId)
      result.reclaimed += info.size
    } finally {
      await release()
    }
  }
  return result
}

// Selected and deleted in one write transaction, so a run that records its
// container (in its own write transaction) either keeps the manifest or finds it gone.
function deleteUnreachableManifests(store: Store, leased: Set<string>): void {
  const select = store.db.prepare(
    `SELECT digest FROM manifests m
     WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_digest = m.digest)
       AND NOT EXISTS (SELECT 1 FROM containers c WHERE c.manifest_digest = m.digest)`,
  )
  const remove = store.db.prepare('DELETE FROM manifests WHERE digest = ?')
  store.db
    .transaction(() => {
      const rows = select.all() as Array<{digest: string}>
      for (const row of rows) if (!leased.has(row.digest) && !isLeased(store, row.digest)) remove.run(row.digest)
    })
    .immediate()
}

const UNREACHABLE_BLOB = `
  NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.child = b.digest)
  AND NOT EXISTS (SELECT 1 FROM tags t WHERE t.manifest_digest = b.digest OR t.index_digest = b.digest)
  AND NOT EXISTS (SELECT 1 FROM manifests m WHERE m.digest = b.digest OR m.config_digest = b.digest)
  AND NOT EXISTS (SELECT 1 FROM layers l WHERE l.blob_digest = b.digest)`

function unreachableBlobs(store: Store): Array<{digest: string; size: number}> {
  return store.db.prepare(`SELECT digest, size FROM blobs b WHERE ${UNREACHABLE_BLOB}`).all() as Array<{
    digest: string
    size: number
  }>
}

async function removeBlobs(
  store: Store,
  candidates: Array<{digest: string; size: number}>,
): Promise<Array<{digest: string; size: number}>> {
  const stillUnreachable = store.db.prepare(`SELECT 1 FROM blobs b WHERE b.digest = ? AND ${UNREACHABLE_BLOB}`)
  const deleteRow = store.db.prepare('DELETE FROM blobs WHERE digest = ?')
  const removed = []
  for (const blob of candidates) {
    const release = await acquireLock(store.paths.locks, blobLockKey(blob.digest))
    try {
      const gone = store.db
        .transaction(() => {
          if (isLeased(store, blob.digest) || !stillUnreachable.get(blob.digest)) return false
          deleteRow.run(blob.digest)
          return true
        })
        .immediate()
      if (!gone) continue
      await rm(store.content.blobPath(blob.digest), {force: true})
      removed.push(blob)
    } finally {
      await release()
    }
  }
  return removed
}

function unreachableSnapshots(store: Store): Array<{chainId: string}> {
  return store.db
    .prepare(
      `SELECT chain_id AS chainId FROM snapshots s
       WHERE NOT EXISTS (SELECT 1 FROM layers l WHERE l.chain_id = s.chain_id)`,
    )
    .all() as Array<{chainId: string}>
}

function isChainInUse(store: Store, chainId: string): boolean {
  return store.db.prepare('SELECT 1 FROM layers WHERE chain_id = ?').get(chainId) !== undefined
}

// Asked again under the object's lock: a lease taken since the collection began
// keeps the object.
function isLeased(store: Store, resource: string): boolean {
  const holders = store.db.prepare('SELECT pid, pid_start AS start FROM leases WHERE resource = ?').all(resource) as Array<{
    pid: number
    start: string | null
  }>
  return holders.some((holder) => isProcessAlive(holder.pid, holder.start))
}
