// A started SQLite backend in a temporary directory, for tests of what sits on storage (the
// watch cache, pagination): closed and removed after, whatever `fn` did.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteBackend } from '../../src/storage/sqlite/backend.js';

export async function withSqliteBackend<T>(fn: (backend: SqliteBackend) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-sqlite-'));
  const backend = new SqliteBackend(join(dir, 'state.db'));
  await backend.start();
  try {
    return await fn(backend);
  } finally {
    await backend.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
