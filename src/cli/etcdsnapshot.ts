// `k8ts etcd-snapshot save|ls|delete|prune`, k3s's command of that name: snapshots of this data
// dir's managed etcd member (running), kept in DATA/server/db/snapshots unless --dir says otherwise.
// Restoring is `k8ts server --cluster-reset --cluster-reset-restore-path=FILE`.
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from './datadir.js';
import type { EtcdClient } from '../storage/etcd/client.js';

// The etcd client (gRPC) and snapshot code load only when a subcommand runs, not for `k8ts --help`.
const load = async () => ({
  ...(await import('../storage/etcd/client.js')),
  ...(await import('../etcd/managed.js')),
  ...(await import('../etcd/snapshots.js')),
});
type Lib = Awaited<ReturnType<typeof load>>;

interface Opts {
  dataDir?: string;
  dir?: string;
  name?: string;
  nodeName?: string;
  snapshotRetention?: string;
}

function context(lib: Lib, opts: Opts) {
  const dataDir = resolve(opts.dataDir ?? defaultDataDir());
  return {
    dataDir,
    dir: resolve(opts.dir ?? lib.defaultSnapshotDir(dataDir)),
    prefix: opts.name ?? lib.DEFAULT_SNAPSHOT_NAME,
    nodeName: (opts.nodeName ?? hostname()).toLowerCase(),
  };
}

/** A client of the data dir's member, from its stored address and the etcd client certificate. */
function memberClient(lib: Lib, dataDir: string): EtcdClient {
  const config = lib.ManagedEtcd.storedConfig(dataDir);
  if (!config) throw new Error(`no managed etcd in ${dataDir} (start the server with --cluster-init first)`);
  const host = config.address.includes(':') ? `[${config.address}]` : config.address;
  const tls = lib.etcdTlsDir(dataDir);
  return new lib.EtcdClient({
    endpoints: [`https://${host}:${config.clientPort}`],
    caFile: join(tls, 'ca.crt'),
    certFile: join(tls, 'client.crt'),
    keyFile: join(tls, 'client.key'),
    timeoutMs: 60_000,
  });
}

/** A client of the managed etcd member of `dataDir` (for other commands: `k8ts token rotate`). */
export async function dataDirMemberClient(dataDir: string): Promise<EtcdClient> {
  return memberClient(await load(), dataDir);
}

function common(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'data dir of the server (default /var/lib/k8ts as root, ~/.k8ts otherwise)')
    .option('--dir <dir>', 'where snapshots are kept (default DATA/server/db/snapshots)')
    .option('--etcd-snapshot-dir <dir>', 'same as --dir (the server flag)');
}

export function registerEtcdSnapshotCommand(program: Command): void {
  const top = program
    .command('etcd-snapshot')
    .description("Save, list and delete snapshots of the server's managed etcd");
  common(top.command('save'))
    .description('Save a snapshot now, as <name>-<node>-<unix time>')
    .option('--name <prefix>', 'name prefix of the snapshot (default etcd-snapshot)')
    .option('--node-name <name>', 'node name in the snapshot name (default: the hostname)')
    .option('--snapshot-retention <n>', 'then keep only this many snapshots of this prefix and node')
    .action(async (opts: Opts & { etcdSnapshotDir?: string }) => {
      const lib = await load();
      const c = context(lib, { ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      const client = memberClient(lib, c.dataDir);
      try {
        const s = await lib.saveSnapshot(client, c.dir, c.nodeName, c.prefix);
        process.stdout.write(`Snapshot ${s.name} saved at ${s.location} (${s.size} bytes)\n`);
      } finally {
        client.close();
      }
      if (opts.snapshotRetention !== undefined) {
        for (const n of lib.pruneSnapshots(c.dir, c.prefix, c.nodeName, Number(opts.snapshotRetention)))
          process.stdout.write(`Removed snapshot ${n}\n`);
      }
    });
  common(top.command('ls').alias('list'))
    .description('List the snapshots')
    .action(async (opts: Opts & { etcdSnapshotDir?: string }) => {
      const lib = await load();
      const c = context(lib, { ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      const rows = lib.listSnapshots(c.dir).map((s) => [s.name, s.location, String(s.size), s.createdAt.toISOString()]);
      const table = [['Name', 'Location', 'Size', 'Created'], ...rows];
      const widths = table[0].map((_, i) => Math.max(...table.map((r) => r[i].length)));
      for (const r of table)
        process.stdout.write(
          `${r
            .map((v, i) => v.padEnd(widths[i]))
            .join(' ')
            .trimEnd()}\n`,
        );
    });
  common(top.command('delete').alias('rm'))
    .description('Delete snapshots by name')
    .argument('<names...>')
    .action(async (names: string[], opts: Opts & { etcdSnapshotDir?: string }) => {
      const lib = await load();
      const c = context(lib, { ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      const missing = lib.deleteSnapshots(c.dir, names);
      for (const n of names) if (!missing.includes(n)) process.stdout.write(`Removed snapshot ${n}\n`);
      if (missing.length) throw new Error(`no such snapshot: ${missing.join(', ')}`);
    });
  common(top.command('prune'))
    .description('Keep only the newest snapshots of a prefix and node')
    .option('--name <prefix>', 'name prefix of the snapshots (default etcd-snapshot)')
    .option('--node-name <name>', 'node name in the snapshot names (default: the hostname)')
    .option('--snapshot-retention <n>', 'how many to keep', '5')
    .action(async (opts: Opts & { etcdSnapshotDir?: string }) => {
      const lib = await load();
      const c = context(lib, { ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      for (const n of lib.pruneSnapshots(c.dir, c.prefix, c.nodeName, Number(opts.snapshotRetention)))
        process.stdout.write(`Removed snapshot ${n}\n`);
    });
}
