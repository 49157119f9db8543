// Managed etcd for `k8ts server` (k3s's embedded etcd): --cluster-init starts this server's
// member, --server joins another server's cluster (its shared files, then an etcd member),
// --cluster-reset makes this member a cluster of one. Decided before the server is assembled,
// since the member is the server's datastore.
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type pino from 'pino';
import {
  DEFAULT_CLIENT_PORT,
  DEFAULT_PEER_PORT,
  ManagedEtcd,
  initialClusterFor,
  etcdDataDir,
} from '../etcd/managed.js';
import { SnapshotScheduler, defaultSnapshotDir, restoreSnapshot } from '../etcd/snapshots.js';
import { EtcdBackend } from '../storage/etcd/backend.js';
import { SqliteBackend } from '../storage/sqlite/backend.js';
import { migrate } from '../storage/migrate.js';
import type { Backend } from '../storage/interface.js';
import type { JoinServiceOptions } from '../apiserver/join.js';
import { fetchServerBootstrap, requestEtcdMember, serverBootstrap } from './serverjoin.js';
import { parseCount } from './component.js';
import { advertiseAddress } from './advertise.js';
import type { ServerFlags } from './server.js';

export interface ServerDatastore {
  endpoint?: string;
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  /** This server's etcd member, when it runs one. */
  managed?: { etcd: ManagedEtcd; endpoint: string; fresh: boolean };
}

function portFlag(v: string | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0 || n > 65535) throw new Error(`${name}: invalid port ${v}`);
  return n;
}

/** The address this server's etcd member listens on: --node-ip, else a specific --bind-address, else the host's. */
function etcdAddress(flags: ServerFlags): string {
  if (flags.nodeIp) return flags.nodeIp;
  const bind = flags.bindAddress;
  if (bind !== '0.0.0.0' && bind !== '::' && bind !== '127.0.0.1' && bind !== '::1') return bind;
  return advertiseAddress(bind) ?? '127.0.0.1';
}

/**
 * Managed etcd (--cluster-init, --server without --datastore-endpoint, or a data dir that has a
 * member already): starts (or joins, or resets) this server's member. Answers the member and the
 * datastore flags that point the API server at it.
 */
async function startManagedEtcd(
  flags: ServerFlags,
  dataDir: string,
  logger: pino.Logger,
  joined: Awaited<ReturnType<typeof fetchServerBootstrap>> | undefined,
): Promise<{ etcd: ManagedEtcd; endpoint: string; fresh: boolean }> {
  const etcd = new ManagedEtcd({
    dataDir,
    nodeName: (flags.nodeName ?? hostname()).toLowerCase(),
    address: etcdAddress(flags),
    clientPort: portFlag(flags.etcdClientPort, DEFAULT_CLIENT_PORT, '--etcd-client-port'),
    peerPort: portFlag(flags.etcdPeerPort, DEFAULT_PEER_PORT, '--etcd-peer-port'),
    logger,
  });
  if (flags.clusterReset) {
    if (!etcd.hasData()) throw new Error(`--cluster-reset: no managed etcd data in ${etcdDataDir(dataDir)}`);
    if (flags.clusterResetRestorePath) {
      const old = restoreSnapshot(dataDir, etcd.config, etcd.peerURL, resolve(flags.clusterResetRestorePath));
      logger.info({ snapshot: flags.clusterResetRestorePath, previousData: old }, 'etcd snapshot restored');
    }
    // force-new-cluster: this member alone, with whatever data it has (restored or not).
    await etcd.start(undefined, ['--force-new-cluster']);
    await etcd.stop();
    process.stdout.write(
      'k8ts server: managed etcd cluster membership has been reset; restart without --cluster-reset now. ' +
        `Other servers must move their ${join('server', 'db')} aside and join again with --server.\n`,
    );
    process.exit(0);
  }
  const fresh = !etcd.hasData() && !joined;
  if (etcd.hasData()) {
    await etcd.start();
  } else if (joined && flags.server) {
    const members = await requestEtcdMember(flags.server, joined, etcd.config.name, etcd.peerURL, logger);
    const cluster = initialClusterFor(members, { name: etcd.config.name, peerURL: etcd.peerURL });
    await etcd.start({ state: 'existing', members: cluster });
  } else {
    await etcd.start({ state: 'new', members: `${etcd.config.name}=${etcd.peerURL}` });
  }
  // The API server talks to its own member first and fails over to the others known now.
  const client = etcd.localClient();
  const others = await client
    .memberList()
    .then((ms) => ms.flatMap((m) => m.clientURLs).filter((u) => u !== etcd.clientURL))
    .catch(() => [] as string[])
    .finally(() => client.close());
  return { etcd, endpoint: [etcd.clientURL, ...others].join(','), fresh };
}

/** The datastore a server uses: its managed etcd member when it runs one, else --datastore-endpoint. */
export async function serverDatastore(
  flags: ServerFlags,
  dataDir: string,
  logger: pino.Logger,
): Promise<ServerDatastore> {
  const hasMember = existsSync(join(etcdDataDir(dataDir), 'member'));
  if (flags.server && flags.clusterInit)
    throw new Error('--cluster-init and --server: give one (--server joins a cluster)');
  if (flags.server && !flags.token) throw new Error("--server needs --token (the first server's DATA/server/token)");
  // A server joining another takes the cluster's shared files first (a restart has them already).
  const joined =
    flags.server && !hasMember ? await fetchServerBootstrap(flags.server, flags.token!, dataDir, logger) : undefined;
  const managed =
    !flags.datastoreEndpoint && (flags.clusterInit || !!flags.server || hasMember || !!flags.clusterReset);
  if (flags.clusterReset && !managed) throw new Error('--cluster-reset: this server does not run managed etcd');
  if (!managed)
    return {
      endpoint: flags.datastoreEndpoint,
      caFile: flags.datastoreCafile,
      certFile: flags.datastoreCertfile,
      keyFile: flags.datastoreKeyfile,
    };
  const m = await startManagedEtcd(flags, dataDir, logger, joined);
  const tls = m.etcd.clientTls;
  return { endpoint: m.endpoint, caFile: tls.caFile, certFile: tls.certFile, keyFile: tls.keyFile, managed: m };
}

/** k3s's move to managed etcd: --cluster-init on a server that ran on SQLite takes its objects along. */
export async function moveSqliteIntoEtcd(
  store: ServerDatastore,
  backend: Backend,
  dataDir: string,
  logger: pino.Logger,
): Promise<void> {
  const sqliteFile = join(dataDir, 'server', 'db', 'state.db');
  if (!store.managed?.fresh || !existsSync(sqliteFile) || !(backend instanceof EtcdBackend)) return;
  const source = new SqliteBackend(sqliteFile);
  await source.start();
  try {
    const r = await migrate(source, backend, { advanceRevisionTo: (rev) => backend.advanceRevisionTo(rev) });
    logger.warn({ ...r, from: sqliteFile }, 'moved the SQLite datastore into the new managed etcd');
  } finally {
    await source.close();
  }
}

/** What this server offers servers joining it: the shared files, and an etcd member when it runs etcd. */
export function serverJoinSource(store: ServerDatastore, dataDir: string): JoinServiceOptions['servers'] {
  const managed = store.managed;
  return {
    bootstrap: () => serverBootstrap(dataDir),
    addEtcdMember: managed
      ? async (name, peerURL) =>
          (await managed.etcd.addMember(name, peerURL)).map((m) => ({
            name: m.name,
            peerURLs: m.peerURLs,
            clientURLs: m.clientURLs,
          }))
      : undefined,
  };
}

/** Scheduled snapshots of the managed member (--etcd-snapshot-*), unless turned off. */
export function snapshotsFromFlags(
  flags: ServerFlags,
  store: ServerDatastore,
  dataDir: string,
  logger: pino.Logger,
): SnapshotScheduler | undefined {
  const managed = store.managed;
  if (!managed || flags.etcdDisableSnapshots) return undefined;
  return new SnapshotScheduler({
    cron: flags.etcdSnapshotScheduleCron ?? '0 */12 * * *',
    retention: parseCount(flags.etcdSnapshotRetention ?? '5', '--etcd-snapshot-retention'),
    dir: resolve(flags.etcdSnapshotDir ?? defaultSnapshotDir(dataDir)),
    nodeName: (flags.nodeName ?? hostname()).toLowerCase(),
    client: () => managed.etcd.localClient(60_000),
    logger,
  });
}
