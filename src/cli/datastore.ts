// `k8ts datastore migrate --from … --to …`: copies every object of one datastore into another
// (typically the embedded SQLite of a server into etcd). Stop the server that writes the source
// first; the target may be a running server's etcd (its watch cache sees the copied objects).
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from './datadir.js';
import type { ManagedEtcd } from '../etcd/managed.js';

interface MigrateFlags {
  dataDir?: string;
  from?: string;
  to?: string;
  toCafile?: string;
  toCertfile?: string;
  toKeyfile?: string;
  etcdPrefix: string;
  overwrite?: boolean;
}

/** The managed etcd member of a data dir as a datastore endpoint with its client certificate. */
function managedEndpoint(
  managed: typeof ManagedEtcd,
  dataDir: string,
): { endpoint: string; caFile: string; certFile: string; keyFile: string } {
  const config = managed.storedConfig(dataDir);
  if (!config) throw new Error(`--to: not given and ${dataDir} has no managed etcd (server --cluster-init)`);
  const host = config.address.includes(':') ? `[${config.address}]` : config.address;
  const tls = join(dataDir, 'server', 'tls', 'etcd');
  return {
    endpoint: `https://${host}:${config.clientPort}`,
    caFile: join(tls, 'ca.crt'),
    certFile: join(tls, 'client.crt'),
    keyFile: join(tls, 'client.key'),
  };
}

export async function runMigrate(flags: MigrateFlags): Promise<void> {
  // Loaded here, not for `k8ts --help`: the datastores, the etcd client (gRPC).
  const { isEtcdEndpoint, openBackend } = await import('../storage/open.js');
  const { EtcdBackend } = await import('../storage/etcd/backend.js');
  const { migrate } = await import('../storage/migrate.js');
  const { ManagedEtcd } = await import('../etcd/managed.js');
  const dataDir = resolve(flags.dataDir ?? defaultDataDir());
  const db = join(dataDir, 'server', 'db');
  const fromEndpoint = flags.from ?? `sqlite://${join(db, 'state.db')}`;
  const to = flags.to
    ? { endpoint: flags.to, caFile: flags.toCafile, certFile: flags.toCertfile, keyFile: flags.toKeyfile }
    : managedEndpoint(ManagedEtcd, dataDir);
  // etcd's key layout (kube-apiserver's) drops the API group of built-in resources, so only a
  // SQLite datastore can be read back key for key.
  if (!fromEndpoint.startsWith('sqlite://'))
    throw new Error(`--from ${fromEndpoint}: the source must be a SQLite datastore (sqlite:///path/state.db)`);
  if (!isEtcdEndpoint(to.endpoint) && !to.endpoint.startsWith('sqlite://'))
    throw new Error(`--to ${to.endpoint}: use https://etcd:2379[,…] or sqlite:///path.db`);
  if (fromEndpoint === to.endpoint) throw new Error('--from and --to are the same datastore');
  const source = await openBackend(fromEndpoint, db);
  const target = await openBackend(to.endpoint, db, { ...to, etcdPrefix: flags.etcdPrefix });
  await source.start();
  try {
    await target.start();
    try {
      const r = await migrate(source, target, {
        overwrite: flags.overwrite,
        advanceRevisionTo: target instanceof EtcdBackend ? (rev) => target.advanceRevisionTo(rev) : undefined,
      });
      process.stdout.write(
        `k8ts datastore migrate: ${r.copied} copied, ${r.unchanged} already there, ${r.differing} differing (${flags.overwrite ? 'overwritten' : "kept the target's; --overwrite replaces them"}), from revision ${r.sourceRevision} of ${fromEndpoint} to ${to.endpoint}\n`,
      );
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
}

export function registerDatastoreCommand(program: Command): void {
  program
    .command('datastore')
    .description('Datastore maintenance')
    .command('migrate')
    .description(
      "Copy every object from one datastore into another (default: this data dir's SQLite into its managed etcd)",
    )
    .option('--data-dir <dir>', 'data dir of the server (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
    .option('--from <endpoint>', 'source: sqlite:///path/state.db (default: DATA/server/db/state.db)')
    .option(
      '--to <endpoint>',
      "target: https://etcd:2379[,…] or sqlite:///path.db (default: the data dir's managed etcd)",
    )
    .option('--to-cafile <file>', 'CA bundle that verifies the target etcd')
    .option('--to-certfile <file>', 'client certificate presented to the target etcd')
    .option('--to-keyfile <file>', 'key of --to-certfile')
    .option('--etcd-prefix <prefix>', 'key prefix in the target etcd', '/registry')
    .option('--overwrite', "replace objects the target has with another value (default: keep the target's)")
    .action(async (opts: MigrateFlags) => {
      await runMigrate(opts);
      process.exit(0);
    });
}
