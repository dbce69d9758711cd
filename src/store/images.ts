/**
 * Image metadata in the index: manifests with their layers, and the names
 * (tags) that point at them. Writing an image is one transaction that also
 * rewrites the OCI layout's index.json, so the layout and the index agree.
 */
import {writeFileSync, renameSync} from 'node:fs'
import {notFound} from '../errors.js'
import type {Platform} from '../image/types.js'
import type {Database, Statement} from './database.js'
import type {StorePaths} from './root.js'

/** A layer of a stored image, bottom first. */
export interface StoredLayer {
  blobDigest: string
  mediaType: string
  size: number
  diffId: string
  chainId: string
}

/** What recordImage needs to know about a pulled image. */
export interface NewImage {
  /** Stored name, `registry/repository:tag` or `registry/repository@digest`. */
  name: string
  repository: string
  tag?: string
  manifestDigest: string
  manifestMediaType: string
  indexDigest?: string
  configDigest: string
  platform: Platform
  created?: string
  layers: StoredLayer[]
  unpackedSize: number
}

/** A row of `mydocker images`. */
export interface ImageSummary {
  name: string
  repository: string
  tag: string | null
  manifestDigest: string
  indexDigest: string | null
  configDigest: string
  created: string | null
  size: number
  unpackedSize: number
  platform: Platform
}

/** What `run` needs of a stored image, read with one query. */
export interface RunnableImage {
  name: string
  manifestDigest: string
  configDigest: string
  /** Snapshot ids, bottom layer first; null where a layer's snapshot is missing. */
  snapshotIds: Array<number | null>
  /** The kind of the top layer's snapshot ('overlay' or 'flat'; see snapshot/kind.ts), when it is stored. */
  topSnapshotKind?: string
}

const SUMMARY_QUERY = `
  SELECT t.name, t.repository, t.tag, t.manifest_digest AS manifestDigest, t.index_digest AS indexDigest,
         m.config_digest AS configDigest, m.created, m.size, m.unpacked_size AS unpackedSize,
         m.os, m.architecture, m.variant
  FROM tags t JOIN manifests m ON m.digest = t.manifest_digest`

type SummaryRow = Omit<ImageSummary, 'platform'> & {os: string; architecture: string; variant: string | null}

function toSummary({os, architecture, variant, ...rest}: SummaryRow): ImageSummary {
  return {...rest, platform: {os, architecture, ...(variant ? {variant} : {})}}
}

export class ImageStore {
  private runnableQuery?: Statement

  constructor(
    private readonly paths: StorePaths,
    private readonly db: Database,
  ) {}

  /** Records a pulled image and points `image.name` at it; every blob is already stored. */
  recordImage(image: NewImage): void {
    const now = Date.now()
    const layersSize = image.layers.reduce((total, layer) => total + layer.size, 0)
    const record = this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT OR IGNORE INTO manifests
             (digest, media_type, config_digest, os, architecture, variant, size, unpacked_size, created, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(
          image.manifestDigest,
          image.manifestMediaType,
          image.configDigest,
          image.platform.os,
          image.platform.architecture,
          image.platform.variant ?? null,
          layersSize,
          image.unpackedSize,
          image.created ?? null,
          now,
        )
      const insertLayer = this.db.prepare(
        'INSERT OR IGNORE INTO layers (manifest_digest, position, blob_digest, diff_id, chain_id) VALUES (?, ?, ?, ?, ?)',
      )
      const insertRef = this.db.prepare('INSERT OR IGNORE INTO blob_refs (parent, child) VALUES (?, ?)')
      insertRef.run(image.manifestDigest, image.configDigest)
      image.layers.forEach((layer, position) => {
        insertLayer.run(image.manifestDigest, position, layer.blobDigest, layer.diffId, layer.chainId)
        insertRef.run(image.manifestDigest, layer.blobDigest)
      })
      if (image.indexDigest) insertRef.run(image.indexDigest, image.manifestDigest)

      this.db
        .prepare(
          `INSERT INTO tags (name, repository, tag, manifest_digest, index_digest, updated_at)
           VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET manifest_digest = excluded.manifest_digest,
             index_digest = excluded.index_digest, updated_at = excluded.updated_at`,
        )
        .run(image.name, image.repository, image.tag ?? null, image.manifestDigest, image.indexDigest ?? null, now)
      this.writeLayoutIndex()
    })
    record.immediate()
  }

  /** The manifest digest a stored name points at. */
  manifestOf(name: string): string | undefined {
    const row = this.db.prepare('SELECT manifest_digest AS digest FROM tags WHERE name = ?').get(name) as
      | {digest: string}
      | undefined
    return row?.digest
  }

  /**
   * Looks up what `run` needs for a stored name, in one prepared statement.
   * Undefined when the name is not stored.
   */
  runnable(name: string): RunnableImage | undefined {
    // Prepared once: `run` asks twice (to find the image, then again as it claims it).
    this.runnableQuery ??= this.db.prepare(
      `SELECT t.name, t.manifest_digest AS manifestDigest, m.config_digest AS configDigest, s.id AS snapshotId, s.kind
       FROM tags t
       JOIN manifests m ON m.digest = t.manifest_digest
       LEFT JOIN layers l ON l.manifest_digest = m.digest
       LEFT JOIN snapshots s ON s.chain_id = l.chain_id
       WHERE t.name = ?
       ORDER BY l.position`,
    )
    const rows = this.runnableQuery.all(name) as Array<{
      name: string
      manifestDigest: string
      configDigest: string
      snapshotId: number | null
      kind: string | null
    }>
    if (rows.length === 0) return undefined
    const [first] = rows
    return {
      name: first.name,
      manifestDigest: first.manifestDigest,
      configDigest: first.configDigest,
      snapshotIds: rows.map((row) => row.snapshotId),
      topSnapshotKind: rows[rows.length - 1].kind ?? undefined,
    }
  }

  /** Every stored name with its image, newest first. */
  list(): ImageSummary[] {
    const rows = this.db.prepare(`${SUMMARY_QUERY} ORDER BY m.created_at DESC, t.name`).all() as SummaryRow[]
    return rows.map(toSummary)
  }

  /** The image a stored name points at, or undefined. */
  summary(name: string): ImageSummary | undefined {
    const row = this.db.prepare(`${SUMMARY_QUERY} WHERE t.name = ?`).get(name) as SummaryRow | undefined
    return row && toSummary(row)
  }

  /**
   * Finds stored names for what a user typed: a stored name, or an image ID
   * prefix (of the config digest, as Docker's IMAGE ID), or a manifest digest.
   */
  namesMatching(storedName: string | undefined, idPrefix: string | undefined): string[] {
    if (storedName && this.manifestOf(storedName)) return [storedName]
    if (!idPrefix || !/^[a-f0-9]{4,64}$/.test(idPrefix)) return []
    return (
      this.db
        .prepare(
          `SELECT t.name FROM tags t JOIN manifests m ON m.digest = t.manifest_digest
           WHERE m.config_digest LIKE ? OR m.digest LIKE ? ORDER BY t.name`,
        )
        .all(`sha256:${idPrefix}%`, `sha256:${idPrefix}%`) as Array<{name: string}>
    ).map((row) => row.name)
  }

  /** Removes a name; the content it pointed at stays until garbage collection. */
  removeName(name: string): void {
    this.db
      .transaction(() => {
        const result = this.db.prepare('DELETE FROM tags WHERE name = ?').run(name)
        if (result.changes === 0) throw notFound(`no such image: ${name}`)
        this.writeLayoutIndex()
      })
      .immediate()
  }

  /**
   * Rewrites index.json from the tags table (OCI image-layout: one manifest
   * descriptor per name, the full reference in org.opencontainers.image.ref.name).
   * Runs inside the caller's write transaction, which serialises writers.
   */
  private writeLayoutIndex(): void {
    const rows = this.db
      .prepare(
        `SELECT t.name, t.manifest_digest AS digest, b.size, m.media_type AS mediaType,
                m.os, m.architecture, m.variant
         FROM tags t JOIN manifests m ON m.digest = t.manifest_digest JOIN blobs b ON b.digest = m.digest
         ORDER BY t.name`,
      )
      .all() as Array<{name: string; digest: string; size: number; mediaType: string; os: string; architecture: string; variant: string | null}>
    const index = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.index.v1+json',
      manifests: rows.map((row) => ({
        mediaType: row.mediaType,
        digest: row.digest,
        size: row.size,
        platform: {architecture: row.architecture, os: row.os, ...(row.variant ? {variant: row.variant} : {})},
        annotations: {'org.opencontainers.image.ref.name': row.name},
      })),
    }
    const temporary = `${this.paths.indexJson}.${process.pid}.tmp`
    writeFileSync(temporary, `${JSON.stringify(index, null, 2)}\n`)
    renameSync(temporary, this.paths.indexJson)
  }
}
