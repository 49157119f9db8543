// SQLite layout, in the manner of kine: an append-only log whose row id is the revision, plus
// an index of the live row per key so current reads don't scan history.
import Database from 'better-sqlite3';

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0,
  create_revision INTEGER NOT NULL,
  prev_revision INTEGER NOT NULL DEFAULT 0,
  value TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_name_id ON kv(name, id);
CREATE TABLE IF NOT EXISTS live (
  name TEXT PRIMARY KEY,
  id INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta (
  k TEXT PRIMARY KEY,
  v INTEGER NOT NULL
) WITHOUT ROWID;
`;

export interface Row {
  id: number;
  name: string;
  deleted: number;
  create_revision: number;
  prev_revision: number;
  value: string;
}

/**
 * SQLite's page cache per connection (KiB). Both connections (the writer thread's, the reader's)
 * live in the server's process, and each fills its cache with every page it touches until the
 * cap: the writer's compaction pass reads the whole log every five minutes. At 64 MiB each they
 * held up to 128 MiB of RSS outside the JS heap once the database outgrew them. Pages not cached
 * here are read from the kernel's page cache (the database file's, not counted as the process's
 * own memory) for a few microseconds each; what the writer touches per commit (the log's last
 * pages, the index paths of the keys written) fits in far less.
 */
export const PAGE_CACHE_KIB = 8192;

export interface OpenOptions {
  readonly?: boolean;
  /**
   * Never fsync (SQLite synchronous = OFF), as etcd's --unsafe-no-fsync that envtest starts etcd
   * with: for a throwaway store (a library test cluster's temporary directory) only, since a crash
   * of the machine can then lose acknowledged writes or corrupt the file.
   */
  unsafeNoFsync?: boolean;
}

export function openDatabase(
  file: string,
  { readonly = false, unsafeNoFsync = false }: OpenOptions = {},
): Database.Database {
  const db = new Database(file, { readonly, fileMustExist: readonly });
  if (!readonly) {
    // FULL: the WAL is fsynced at every commit, so an acknowledged write survives power loss
    // too, not only kill -9. Commits are batched by the writer to keep this cheap.
    db.pragma(unsafeNoFsync ? 'synchronous = OFF' : 'synchronous = FULL');
    db.pragma('journal_mode = WAL');
    db.exec(SCHEMA);
  }
  db.pragma('busy_timeout = 5000');
  db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
  return db;
}

/** The next key after every key with this prefix, for range scans. */
export function prefixEnd(prefix: string): string {
  return prefix + '\uffff';
}
