/**
 * The snapshot store: one directory per layer chain under snapshots/<id>,
 * recorded in the `snapshots` table only once completely built.
 *
 * A snapshot is built in a temporary directory (snapshots/tmp-*), then, in one
 * transaction, given its row and renamed to its id. A directory left by a killed
 * build keeps its tmp- name and is never used; `system prune` removes it.
 * Callers serialise builds of one chain ID on its lock (locks.ts).
 */
// fs.promises rather than node:fs/promises: see content/store.ts.
import {mkdtempSync, promises as fs, readdirSync, rmSync} from 'node:fs'
import {join} from 'node:path'
import {fromSystemError} from '../errors.js'
import type {Database} from '../store/database.js'
import {isProcessAlive, ownIdentity} from '../store/process.js'
import type {StorePaths} from '../store/root.js'
import type {SnapshotKind} from './kind.js'

export interface SnapshotInfo {
  id: number
  chainId: string
  diffId: string
  parentChainId: string | null
  kind: SnapshotKind
  size: number
}

/** Where a snapshot being built lives until it is committed. */
export interface PreparedSnapshot {
  readonly directory: string
}

export const TEMPORARY_PREFIX = 'tmp-'

/**
 * The process that made a temporary snapshot directory (`tmp-PID-START-...`),
 * or undefined for a name in another form (made by an older mydocker).
 */
export function temporaryOwner(name: string): {pid: number; start: string} | undefined {
  const match = new RegExp(`^${TEMPORARY_PREFIX}(\\d+)-(\\d+)-`).exec(name)
  return match ? {pid: Number(match[1]), start: match[2]} : undefined
}

function temporaryName(): string {
  const {pid, start} = ownIdentity()
  return `${TEMPORARY_PREFIX}${pid}-${start ?? 0}`
}

export class SnapshotStore {
  private readonly selectByChain

  constructor(
    private readonly paths: StorePaths,
    private readonly db: Database,
  ) {
    this.selectByChain = db.prepare(
      `SELECT id, chain_id AS chainId, diff_id AS diffId, parent_chain_id AS parentChainId, kind, size
       FROM snapshots WHERE chain_id = ?`,
    )
  }

  /** The committed snapshot of `chainId`, if any. */
  get(chainId: string): SnapshotInfo | undefined {
    return this.selectByChain.get(chainId) as SnapshotInfo | undefined
  }

  /** The directory holding a committed snapshot. */
  directory(id: number): string {
    return join(this.paths.snapshots, String(id))
  }

  /**
   * Makes an empty temporary directory to build a snapshot in, named after this
   * process (see temporaryOwner) so a cleaner can tell a build in progress from
   * one a killed process left.
   */
  prepare(): PreparedSnapshot {
    try {
      return {directory: mkdtempSync(join(this.paths.snapshots, `${temporaryName()}-`))}
    } catch (error) {
      throw fromSystemError(error, 'creating a snapshot directory', this.paths.root)
    }
  }

  /**
   * Records a completely built snapshot and moves it to its final name, in one
   * transaction: if the rename fails the row is rolled back.
   */
  async commit(prepared: PreparedSnapshot, snapshot: Omit<SnapshotInfo, 'id'>): Promise<SnapshotInfo> {
    const insert = this.db.prepare(
      `INSERT INTO snapshots (chain_id, diff_id, parent_chain_id, kind, size, created_at)
       VALUES (@chainId, @diffId, @parentChainId, @kind, @size, @createdAt)`,
    )
    // The rename happens inside the transaction, so it cannot be async.
    const {renameSync} = await import('node:fs')
    return this.db.transaction(() => {
      const id = Number(insert.run({...snapshot, createdAt: Date.now()}).lastInsertRowid)
      try {
        renameSync(prepared.directory, this.directory(id))
      } catch (error) {
        throw fromSystemError(error, `committing snapshot ${snapshot.chainId}`, this.paths.root)
      }
      return {id, ...snapshot}
    }).immediate()
  }

  /**
   * Removes this process's own temporary build directories at once, for a
   * signal handler about to exit; what it cannot remove `system prune` will.
   */
  discardOwnBuildsNow(): void {
    try {
      for (const name of readdirSync(this.paths.snapshots)) {
        if (temporaryOwner(name)?.pid === process.pid) rmSync(join(this.paths.snapshots, name), {recursive: true, force: true})
      }
    } catch {
      // Best effort, as the doc says.
    }
  }

  /**
   * Removes the temporary directories of builds whose process is gone and
   * resolves with their names. Builds of live processes are left alone.
   */
  async removeAbandoned(): Promise<string[]> {
    const names = await fs.readdir(this.paths.snapshots).catch(() => [] as string[])
    const abandoned = names.filter((name) => {
      const owner = temporaryOwner(name)
      return owner !== undefined && !isProcessAlive(owner.pid, owner.start)
    })
    for (const name of abandoned) await fs.rm(join(this.paths.snapshots, name), {recursive: true, force: true})
    return abandoned
  }

  /** Discards a snapshot that was being built. */
  async abort(prepared: PreparedSnapshot): Promise<void> {
    await fs.rm(prepared.directory, {recursive: true, force: true})
  }

  /** Removes a committed snapshot's row, then its directory; the caller holds its lock. */
  async remove(snapshot: SnapshotInfo): Promise<void> {
    this.db.prepare('DELETE FROM snapshots WHERE id = ?').run(snapshot.id)
    // Hide it under a temporary name first, so a half-removed tree is never taken for a snapshot.
    const doomed = join(this.paths.snapshots, `${temporaryName()}-rm-${snapshot.id}`)
    await fs.rename(this.directory(snapshot.id), doomed).catch(() => undefined)
    await fs.rm(doomed, {recursive: true, force: true})
  }
}
