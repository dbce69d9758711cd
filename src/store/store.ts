/**
 * Opening a store: the one place where the database handle and the store's
 * parts are built, then passed to whatever needs them.
 */
import {existsSync, mkdirSync, writeFileSync} from 'node:fs'
import {ContentStore} from '../content/store.js'
import {fromSystemError} from '../errors.js'
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
    throw fromSystemError(error, `opening the store at ${root}`, root)
  }
}

function initialiseLayout(paths: StorePaths): void {
  for (const directory of [paths.root, paths.blobs, paths.ingest, paths.snapshots, paths.containers, paths.locks]) {
    mkdirSync(directory, {recursive: true, mode: 0o711})
  }
  if (!existsSync(paths.ociLayout)) writeFileSync(paths.ociLayout, '{"imageLayoutVersion":"1.0.0"}\n')
  if (!existsSync(paths.indexJson)) {
    writeFileSync(paths.indexJson, '{\n  "schemaVersion": 2,\n  "mediaType": "application/vnd.oci.image.index.v1+json",\n  "manifests": []\n}\n')
  }
}
