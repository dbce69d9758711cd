/**
 * Leases: what a process is using before any name refers to it. A pull holds
 * each blob digest and chain ID it writes; garbage collection keeps whatever a
 * live process holds, and forgets the leases of processes that are gone.
 */
import {randomUUID} from 'node:crypto'
import type {Database} from './database.js'
import {isProcessAlive, ownIdentity} from './process.js'

export class Lease {
  private constructor(
    private readonly db: Database,
    readonly id: string,
  ) {}

  /** A new, empty lease of this process. */
  static create(db: Database): Lease {
    return new Lease(db, randomUUID())
  }

  /** Holds `resource` (a digest or chain ID) until release. */
  hold(resource: string): void {
    const {pid, start} = ownIdentity()
    this.db
      .prepare('INSERT OR IGNORE INTO leases (id, pid, pid_start, resource, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(this.id, pid, start ?? null, resource, Date.now())
  }

  /** Lets go of everything this lease holds. */
  release(): void {
    this.db.prepare('DELETE FROM leases WHERE id = ?').run(this.id)
  }
}

/**
 * The resources held by live leases. Leases of dead processes are deleted on the
 * way, so they never keep content alive.
 */
export function liveLeasedResources(db: Database): Set<string> {
  const rows = db.prepare('SELECT DISTINCT id, pid, pid_start AS start FROM leases').all() as Array<{
    id: string
    pid: number
    start: string | null
  }>
  const dead = rows.filter((row) => !isProcessAlive(row.pid, row.start)).map((row) => row.id)
  const forget = db.prepare('DELETE FROM leases WHERE id = ?')
  for (const id of dead) forget.run(id)

  const held = db.prepare('SELECT resource FROM leases').all() as Array<{resource: string}>
  return new Set(held.map((row) => row.resource))
}
