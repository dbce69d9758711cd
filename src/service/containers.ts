/**
 * Container records: a row per run in progress, so `rm` knows which images are
 * in use and what a killed run left behind can be found and removed.
 */
import {rmSync} from 'node:fs'
import {join} from 'node:path'
import {isProcessAlive} from '../store/process.js'
import type {Store} from '../store/store.js'

export interface ContainerRecord {
  id: string
  name: string | null
  image: string
  manifestDigest: string
  command: string
  pid: number | null
  pidStart: string | null
  createdAt: number
}

/** Every recorded container, whether its process still runs or not. */
export function listContainerRecords(store: Store): ContainerRecord[] {
  return store.db
    .prepare(
      `SELECT id, name, image, manifest_digest AS manifestDigest, command, pid, pid_start AS pidStart,
              created_at AS createdAt FROM containers ORDER BY created_at DESC`,
    )
    .all() as ContainerRecord[]
}

/** True while the process that runs `record` is alive. */
export function isRunning(record: ContainerRecord): boolean {
  return record.pid !== null && isProcessAlive(record.pid, record.pidStart)
}

/**
 * Removes what runs whose mydocker process died left behind: their directory
 * (upper and work layers) and their row. Mounts went with the run's mount
 * namespace. Returns the ids removed.
 */
export function reapDeadContainers(store: Store): string[] {
  const dead = listContainerRecords(store).filter((record) => !isRunning(record))
  for (const record of dead) {
    rmSync(join(store.paths.containers, record.id), {recursive: true, force: true})
    store.db.prepare('DELETE FROM containers WHERE id = ?').run(record.id)
  }
  return dead.map((record) => record.id)
}
