// Picks a backend from --datastore-endpoint (k3s style): empty or sqlite:// → embedded SQLite.
import { join } from 'node:path';
import type { Backend } from './interface.js';
import { SqliteBackend } from './sqlite/backend.js';

export function openBackend(endpoint: string | undefined, defaultDir: string): Backend {
  if (!endpoint) return new SqliteBackend(join(defaultDir, 'state.db'));
  if (endpoint.startsWith('sqlite://')) return new SqliteBackend(endpoint.slice('sqlite://'.length).split('?')[0]);
  if (/^(https?|etcd):\/\//.test(endpoint)) {
    throw new Error(
      `--datastore-endpoint ${endpoint}: the etcd backend is not available in this build yet; use the embedded SQLite default`,
    );
  }
  throw new Error(`--datastore-endpoint ${endpoint}: unsupported (use sqlite:///path/to/file.db)`);
}
