/**
 * The SQLite index of a store: opened once per command, schema applied at open.
 *
 * Concurrency: any number of mydocker processes share one index. WAL mode lets
 * readers run beside the single writer; every write transaction is BEGIN
 * IMMEDIATE (better-sqlite3's `.immediate()`), so a writer waits in SQLite's
 * busy handler instead of failing when another one holds the lock, and no
 * transaction is upgraded from read to write (the case SQLite cannot wait on).
 */
import {readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import SqliteDatabase from 'better-sqlite3'

/** The schema version store-schema.sql declares. */
export const SCHEMA_VERSION = 1

/** How long a write waits for another process's transaction, in milliseconds. */
const BUSY_TIMEOUT_MS = 120_000

export type Database = SqliteDatabase.Database
export type Statement = SqliteDatabase.Statement

const schemaPath = new URL('../../store-schema.sql', import.meta.url)

/**
 * Opens (creating when missing) the index at `file` and brings its schema up to
 * SCHEMA_VERSION. Throws when the file was written by a newer mydocker.
 */
export function openDatabase(file: string): Database {
  // Naming the addon skips the `bindings` package's search of the disk, a few
  // milliseconds of every command's start-up. The import above is static so that
  // the fast path's bundle (scripts/build.js) carries better-sqlite3's JavaScript.
  const nativeBinding = createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node')
  const db = new SqliteDatabase(file, {timeout: BUSY_TIMEOUT_MS, nativeBinding})
  db.pragma('foreign_keys = ON')
  db.pragma('synchronous = NORMAL')

  const version = db.pragma('user_version', {simple: true}) as number
  if (version < SCHEMA_VERSION) applySchema(db)
  else if (version > SCHEMA_VERSION) {
    db.close()
    throw new Error(`store index ${file} has schema version ${version}; this mydocker knows ${SCHEMA_VERSION}`)
  }

  return db
}

function applySchema(db: Database): void {
  // journal_mode cannot change inside a transaction; it persists in the file.
  db.pragma('journal_mode = WAL')
  const schema = readFileSync(schemaPath, 'utf8')
  db.transaction(() => db.exec(schema)).immediate()
}
