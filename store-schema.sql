-- The mydocker store index, schema version 1.
--
-- The files under the store root are the content; this index says what is
-- complete and what refers to what. A row is written only after the file it
-- describes is synced and renamed into place, in the same transaction as the
-- rows that refer to it, so a row always means "this is on disk, verified".
-- The store applies this file at open when PRAGMA user_version is older.

PRAGMA user_version = 1;

-- Every blob under blobs/<algorithm>/<hex>: manifests, indexes, configs, layers,
-- byte for byte as the registry served them.
CREATE TABLE IF NOT EXISTS blobs (
  digest      TEXT PRIMARY KEY,
  size        INTEGER NOT NULL CHECK (size >= 0),
  media_type  TEXT NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;

-- Edges of the content graph: an index refers to manifests, a manifest to its
-- config and layers. Garbage collection keeps whatever a tag reaches.
CREATE TABLE IF NOT EXISTS blob_refs (
  parent  TEXT NOT NULL REFERENCES blobs(digest) ON DELETE CASCADE,
  child   TEXT NOT NULL,
  PRIMARY KEY (parent, child)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS blob_refs_child ON blob_refs(child);

-- Image manifests, with the platform they were chosen for and their config.
CREATE TABLE IF NOT EXISTS manifests (
  digest         TEXT PRIMARY KEY REFERENCES blobs(digest),
  media_type     TEXT NOT NULL,
  config_digest  TEXT NOT NULL REFERENCES blobs(digest),
  os             TEXT NOT NULL,
  architecture   TEXT NOT NULL,
  variant        TEXT,
  -- Sum of the compressed layer sizes, and of the unpacked snapshot sizes.
  size           INTEGER NOT NULL,
  unpacked_size  INTEGER NOT NULL,
  created        TEXT,
  created_at     INTEGER NOT NULL
) WITHOUT ROWID;

-- The layers of each manifest, bottom first. chain_id names the snapshot.
CREATE TABLE IF NOT EXISTS layers (
  manifest_digest  TEXT NOT NULL REFERENCES manifests(digest) ON DELETE CASCADE,
  position         INTEGER NOT NULL,
  blob_digest      TEXT NOT NULL REFERENCES blobs(digest),
  diff_id          TEXT NOT NULL,
  chain_id         TEXT NOT NULL,
  PRIMARY KEY (manifest_digest, position)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS layers_chain ON layers(chain_id);
CREATE INDEX IF NOT EXISTS layers_blob ON layers(blob_digest);

-- Images by name: `registry/repository:tag` or `registry/repository@digest`.
-- index_digest is set when the name resolved through an image index.
CREATE TABLE IF NOT EXISTS tags (
  name             TEXT PRIMARY KEY,
  repository       TEXT NOT NULL,
  tag              TEXT,
  manifest_digest  TEXT NOT NULL REFERENCES manifests(digest),
  index_digest     TEXT REFERENCES blobs(digest),
  updated_at       INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_manifest ON tags(manifest_digest);

-- Unpacked layers, one per chain ID, under snapshots/<id>. A row exists only for
-- a snapshot that was completely built and renamed into place.
CREATE TABLE IF NOT EXISTS snapshots (
  id               INTEGER PRIMARY KEY AUTOINCREMENT,
  chain_id         TEXT NOT NULL UNIQUE,
  diff_id          TEXT NOT NULL,
  parent_chain_id  TEXT,
  -- overlay (whiteouts as overlayfs devices) or flat (a whole merged tree).
  kind             TEXT NOT NULL CHECK (kind IN ('overlay', 'flat')),
  size             INTEGER NOT NULL,
  created_at       INTEGER NOT NULL
);

-- Containers that are running, or whose run ended without cleaning up.
CREATE TABLE IF NOT EXISTS containers (
  id               TEXT PRIMARY KEY,
  name             TEXT UNIQUE,
  image            TEXT NOT NULL,
  manifest_digest  TEXT NOT NULL,
  command          TEXT NOT NULL,
  -- Host PID of the process that supervises the run, and its start time, so a
  -- reused PID is never mistaken for a live run.
  pid              INTEGER,
  pid_start        TEXT,
  created_at       INTEGER NOT NULL
) WITHOUT ROWID;

-- Content a process is using before any tag refers to it (a pull in progress).
-- Garbage collection keeps it while the process is alive.
CREATE TABLE IF NOT EXISTS leases (
  id          TEXT NOT NULL,
  pid         INTEGER NOT NULL,
  pid_start   TEXT,
  resource    TEXT NOT NULL,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (id, resource)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS leases_resource ON leases(resource);
