/**
 * Where the store lives: `--root`, then `MYDOCKER_ROOT`, then `/var/lib/mydocker`
 * for root, `$XDG_DATA_HOME/mydocker` (or `~/.local/share/mydocker`) for others.
 */
import {homedir} from 'node:os'
import {join, resolve} from 'node:path'

/** Set (to the mapping kind) in the environment of a mydocker re-executed in its own user namespace (rootless). */
export const USER_NAMESPACE_ENV = 'MYDOCKER_USERNS'

/** Resolves the store root directory; the result is absolute. */
export function resolveStoreRoot(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  if (flag) return resolve(flag)
  if (env.MYDOCKER_ROOT) return resolve(env.MYDOCKER_ROOT)
  // Root inside mydocker's own user namespace (rootless) is still an ordinary user.
  if (process.getuid?.() === 0 && env[USER_NAMESPACE_ENV] === undefined) return '/var/lib/mydocker'
  return userStoreRoot(env)
}

/** The store root of an ordinary user: `$XDG_DATA_HOME/mydocker`, or `~/.local/share/mydocker`. */
export function userStoreRoot(env: NodeJS.ProcessEnv): string {
  const dataHome = env.XDG_DATA_HOME || join(homedir(), '.local', 'share')
  return join(resolve(dataHome), 'mydocker')
}

/** The fixed layout under a store root. */
export interface StorePaths {
  root: string
  /** SQLite index. */
  database: string
  /** OCI image layout files. */
  ociLayout: string
  indexJson: string
  blobs: string
  /** Downloads in progress, named after the digest they will have. */
  ingest: string
  /** Unpacked layers, one directory per snapshot id. */
  snapshots: string
  /** Per-run directories (upper, work, rootfs mount point). */
  containers: string
  /** Cross-process lock files. */
  locks: string
}

export function storePaths(root: string): StorePaths {
  return {
    root,
    database: join(root, 'mydocker.db'),
    ociLayout: join(root, 'oci-layout'),
    indexJson: join(root, 'index.json'),
    blobs: join(root, 'blobs'),
    ingest: join(root, 'ingest'),
    snapshots: join(root, 'snapshots'),
    containers: join(root, 'containers'),
    locks: join(root, 'locks'),
  }
}
