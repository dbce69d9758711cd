/**
 * Opening a store: the one place where the database handle and the store's
 * parts are built, then passed to whatever needs them.
 */
import {existsSync, mkdirSync, statSync, writeFileSync} from 'node:fs'
import {ContentStore} from '../content/store.js'
import {fromSystemError, isNoSpaceError, MydockerError} from '../errors.js'
import {SnapshotStore} from '../snapshot/store.js'
import {openDatabase, type Database} from './database.js'
import {ImageStore} from './images.js'
import {storePaths, type StorePaths} from './root.js'

/** An open store; close it when the command is done. */
export interface Store {
  readonly paths: StorePaths
  readonly db: Database
  readonly content: ContentStore
  readonly snapshots: SnapshotStore
  readonly images: ImageStore
  close(): void
}

/**
 * Opens the store at `root`, creating it (an empty OCI image layout plus the
 * index and working directories) when it does not exist yet.
 */
export function openStore(root: string): Store {
  const paths = storePaths(root)
  try {
    if (!existsSync(paths.database)) initialiseLayout(paths)
    const db = openDatabase(paths.database)
    return {
      paths,
      db,
      content: new ContentStore(paths, db),
      snapshots: new SnapshotStore(paths, db),
      images: new ImageStore(paths, db),
      close: () => db.close(),
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') {
      throw unusableRoot(root, 'a file is in the way')
    }
    if ((error as {code?: string}).code === 'SQLITE_NOTADB' || (error as {code?: string}).code === 'SQLITE_CORRUPT') {
      throw new MydockerError('CORRUPT', `the store index ${paths.database} is damaged: ${(error as Error).message}`, {
        cause: error,
        hint: 'move the store aside and pull again, or restore the index from a backup',
      })
    }
    throw fromSystemError(error, `opening the store at ${root}`, root)
  }
}

function unusableRoot(root: string, why: string): MydockerError {
  return new MydockerError('INVALID_ARGUMENT', `cannot use ${root} as the store: ${why}`, {
    hint: 'choose a writable directory with --root DIR or MYDOCKER_ROOT',
  })
}

function initialiseLayout(paths: StorePaths): void {
  mkdirSync(paths.root, {recursive: true, mode: 0o711})
  if (!statSync(paths.root).isDirectory()) throw unusableRoot(paths.root, 'it is not a directory')
  // Not recursive: node's recursive mkdir never returns under some pseudo file
  // systems (a store at /proc), and the root exists by now anyway.
  for (const directory of [paths.blobs, paths.ingest, paths.snapshots, paths.containers, paths.locks]) {
    try {
      mkdirSync(directory, {mode: 0o711})
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EEXIST') continue
      if (isNoSpaceError(error)) throw error
      throw unusableRoot(paths.root, (error as Error).message)
    }
  }
  if (!existsSync(paths.ociLayout)) writeFileSync(paths.ociLayout, '{"imageLayoutVersion":"1.0.0"}\n')
  if (!existsSync(paths.indexJson)) {
    writeFileSync(paths.indexJson, '{\n  "schemaVersion": 2,\n  "mediaType": "application/vnd.oci.image.index.v1+json",\n  "manifests": []\n}\n')
  }
}
