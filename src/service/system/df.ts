/**
 * `mydocker system df`: what the store uses, by kind, as `docker system df`
 * shows it: how many there are, how many are in use, the bytes they take and
 * the bytes `mydocker system prune` would give back.
 *
 * Sizes of images, blobs and snapshots come from the index (recorded when
 * stored); sizes of run directories, partial downloads and leftovers are
 * measured on disk.
 */
import {join} from 'node:path'
import {readdir} from 'node:fs/promises'
import {isRunning, listContainerRecords} from '../containers.js'
import type {Store} from '../../store/store.js'
import {directorySize, findSnapshotLeftovers} from './leftovers.js'

/** One row of `system df`. */
export interface UsageRow {
  type: 'images' | 'blobs' | 'snapshots' | 'containers' | 'ingests' | 'leftovers'
  total: number
  /** Used by a running container (images, snapshots, blobs of those) or by a live process. */
  active: number
  size: number
  reclaimable: number
}

/** What the store uses; `root` is the store directory. */
export interface UsageReport {
  root: string
  rows: UsageRow[]
}

/** Measures `store`; reads only, never changes anything. */
export async function storeUsage(store: Store): Promise<UsageReport> {
  const running = listContainerRecords(store).filter(isRunning)
  const inUse = new Set(running.map((record) => record.manifestDigest))
  return {
    root: store.paths.root,
    rows: [
      imagesRow(store, inUse),
      blobsRow(store),
      snapshotsRow(store, inUse),
      await containersRow(store, running.length),
      await ingestsRow(store),
      await leftoversRow(store),
    ],
  }
}

function imagesRow(store: Store, inUse: Set<string>): UsageRow {
  const manifests = store.db
    .prepare('SELECT DISTINCT m.digest, m.unpacked_size AS size FROM manifests m JOIN tags t ON t.manifest_digest = m.digest')
    .all() as Array<{digest: string; size: number}>
  const names = store.db.prepare('SELECT count(*) AS count FROM tags').get() as {count: number}
  const active = manifests.filter((manifest) => inUse.has(manifest.digest))
  // Layers shared between images are counted in each, as docker does for SIZE.
  const size = manifests.reduce((total, manifest) => total + manifest.size, 0)
  const activeSize = active.reduce((total, manifest) => total + manifest.size, 0)
  return {type: 'images', total: names.count, active: active.length, size, reclaimable: size - activeSize}
}

// A blob is reclaimable when no name or container reaches it (what gc removes).
function blobsRow(store: Store): UsageRow {
  const all = store.db.prepare('SELECT count(*) AS count, coalesce(sum(size), 0) AS size FROM blobs').get() as {count: number; size: number}
  const unreachable = store.db
    .prepare(
      `WITH RECURSIVE kept(digest) AS (
         SELECT manifest_digest FROM tags UNION SELECT index_digest FROM tags WHERE index_digest IS NOT NULL
         UNION SELECT manifest_digest FROM containers
         UNION SELECT child FROM blob_refs JOIN kept ON blob_refs.parent = kept.digest)
       SELECT count(*) AS count, coalesce(sum(size), 0) AS size FROM blobs WHERE digest NOT IN (SELECT digest FROM kept)`,
    )
    .get() as {count: number; size: number}
  return {type: 'blobs', total: all.count, active: all.count - unreachable.count, size: all.size, reclaimable: unreachable.size}
}

function snapshotsRow(store: Store, inUse: Set<string>): UsageRow {
  const rows = store.db
    .prepare(
      `SELECT s.chain_id AS chainId, s.size,
              EXISTS (SELECT 1 FROM layers l JOIN tags t ON t.manifest_digest = l.manifest_digest WHERE l.chain_id = s.chain_id)
              OR EXISTS (SELECT 1 FROM layers l JOIN containers c ON c.manifest_digest = l.manifest_digest WHERE l.chain_id = s.chain_id) AS kept
       FROM snapshots s`,
    )
    .all() as Array<{chainId: string; size: number; kept: number}>
  const running = new Set(
    (store.db.prepare('SELECT manifest_digest AS digest, chain_id AS chainId FROM layers').all() as Array<{digest: string; chainId: string}>)
      .filter((layer) => inUse.has(layer.digest))
      .map((layer) => layer.chainId),
  )
  const size = rows.reduce((total, row) => total + row.size, 0)
  const unreferenced = rows.filter((row) => !row.kept).reduce((total, row) => total + row.size, 0)
  return {type: 'snapshots', total: rows.length, active: rows.filter((row) => running.has(row.chainId)).length, size, reclaimable: unreferenced}
}

async function containersRow(store: Store, running: number): Promise<UsageRow> {
  const records = listContainerRecords(store)
  let size = 0
  let reclaimable = 0
  for (const record of records) {
    const bytes = await directorySize(join(store.paths.containers, record.id))
    size += bytes
    if (!isRunning(record)) reclaimable += bytes
  }
  return {type: 'containers', total: records.length, active: running, size, reclaimable}
}

// Partial downloads; one a live pull is writing is active, and prune keeps it.
async function ingestsRow(store: Store): Promise<UsageRow> {
  const names = await readdir(store.paths.ingest).catch(() => [] as string[])
  const {stat} = await import('node:fs/promises')
  let size = 0
  for (const name of names) size += (await stat(join(store.paths.ingest, name)).catch(() => undefined))?.size ?? 0
  return {type: 'ingests', total: names.length, active: 0, size, reclaimable: size}
}

async function leftoversRow(store: Store): Promise<UsageRow> {
  const leftovers = findSnapshotLeftovers(store)
  const names = [...leftovers.temporary, ...leftovers.orphans]
  let size = 0
  for (const name of names) size += await directorySize(join(store.paths.snapshots, name))
  return {type: 'leftovers', total: names.length, active: 0, size, reclaimable: size}
}
