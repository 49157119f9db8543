// Picks a backend from --datastore-endpoint (k3s style): empty or sqlite:// → embedded SQLite;
// http(s)://host:2379[,http(s)://host2:2379…] → etcd v3.
import { join } from 'node:path';
import type { Backend } from './interface.js';
import { SqliteBackend } from './sqlite/backend.js';

export interface DatastoreOptions {
  /** --datastore-cafile, --datastore-certfile, --datastore-keyfile: TLS towards etcd. */
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** --etcd-prefix. */
  etcdPrefix?: string;
  /** --event-ttl in seconds (etcd: Events are written with a lease). */
  eventTtlSeconds?: number;
  onWarning?: (message: string, err?: unknown) => void;
  /** SQLite only: never fsync (etcd's --unsafe-no-fsync), for a throwaway store such as a library test cluster's. */
  unsafeNoFsync?: boolean;
}

export function isEtcdEndpoint(endpoint: string | undefined): boolean {
  return !!endpoint && /^https?:\/\//.test(endpoint);
}

/** The etcd client (gRPC, protobuf) is loaded only for an etcd endpoint: SQLite users never pay for it. */
export async function openBackend(
  endpoint: string | undefined,
  defaultDir: string,
  opts: DatastoreOptions = {},
): Promise<Backend> {
  const sqlite = { unsafeNoFsync: opts.unsafeNoFsync };
  if (!endpoint) return new SqliteBackend(join(defaultDir, 'state.db'), sqlite);
  if (endpoint.startsWith('sqlite://'))
    return new SqliteBackend(endpoint.slice('sqlite://'.length).split('?')[0], sqlite);
  if (isEtcdEndpoint(endpoint)) {
    const { EtcdBackend } = await import('./etcd/backend.js');
    return new EtcdBackend({
      endpoints: endpoint
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean),
      caFile: opts.caFile,
      certFile: opts.certFile,
      keyFile: opts.keyFile,
      prefix: opts.etcdPrefix,
      eventTtlSeconds: opts.eventTtlSeconds,
      onWarning: opts.onWarning,
    });
  }
  throw new Error(
    `--datastore-endpoint ${endpoint}: unsupported (use sqlite:///path/to/file.db or https://etcd-host:2379[,…])`,
  );
}
