// `k8ts etcd-snapshot save|ls|delete|prune`, k3s's command of that name: snapshots of this data
// dir's managed etcd member (running), kept in DATA/server/db/snapshots unless --dir says otherwise.
// Restoring is `k8ts server --cluster-reset --cluster-reset-restore-path=FILE`.
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultDataDir } from './datadir.js';
import { EtcdClient } from '../storage/etcd/client.js';
import { ManagedEtcd, etcdTlsDir } from '../etcd/managed.js';
import {
  DEFAULT_SNAPSHOT_NAME,
  defaultSnapshotDir,
  deleteSnapshots,
  listSnapshots,
  pruneSnapshots,
  saveSnapshot,
} from '../etcd/snapshots.js';
import { join } from 'node:path';

interface Opts {
  dataDir?: string;
  dir?: string;
  name?: string;
  nodeName?: string;
  snapshotRetention?: string;
}

function context(opts: Opts) {
  const dataDir = resolve(opts.dataDir ?? defaultDataDir());
  return {
    dataDir,
    dir: resolve(opts.dir ?? defaultSnapshotDir(dataDir)),
    prefix: opts.name ?? DEFAULT_SNAPSHOT_NAME,
    nodeName: (opts.nodeName ?? hostname()).toLowerCase(),
  };
}

/** A client of the data dir's member, from its stored address and the etcd client certificate. */
function memberClient(dataDir: string): EtcdClient {
  const config = ManagedEtcd.storedConfig(dataDir);
  if (!config) throw new Error(`no managed etcd in ${dataDir} (start the server with --cluster-init first)`);
  const host = config.address.includes(':') ? `[${config.address}]` : config.address;
  const tls = etcdTlsDir(dataDir);
  return new EtcdClient({
    endpoints: [`https://${host}:${config.clientPort}`],
    caFile: join(tls, 'ca.crt'),
    certFile: join(tls, 'client.crt'),
    keyFile: join(tls, 'client.key'),
    timeoutMs: 60_000,
  });
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
    .option('--name <prefix>', 'name prefix of the snapshot', DEFAULT_SNAPSHOT_NAME)
    .option('--node-name <name>', 'node name in the snapshot name (default: the hostname)')
    .option('--snapshot-retention <n>', 'then keep only this many snapshots of this prefix and node')
    .action(async (opts: Opts & { etcdSnapshotDir?: string }) => {
      const c = context({ ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      const client = memberClient(c.dataDir);
      try {
        const s = await saveSnapshot(client, c.dir, c.nodeName, c.prefix);
        process.stdout.write(`Snapshot ${s.name} saved at ${s.location} (${s.size} bytes)\n`);
      } finally {
        client.close();
      }
      if (opts.snapshotRetention !== undefined) {
        for (const n of pruneSnapshots(c.dir, c.prefix, c.nodeName, Number(opts.snapshotRetention)))
          process.stdout.write(`Removed snapshot ${n}\n`);
      }
    });
  common(top.command('ls').alias('list'))
    .description('List the snapshots')
    .action((opts: Opts & { etcdSnapshotDir?: string }) => {
      const c = context({ ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      const rows = listSnapshots(c.dir).map((s) => [s.name, s.location, String(s.size), s.createdAt.toISOString()]);
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
    .action((names: string[], opts: Opts & { etcdSnapshotDir?: string }) => {
      const c = context({ ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      const missing = deleteSnapshots(c.dir, names);
      for (const n of names) if (!missing.includes(n)) process.stdout.write(`Removed snapshot ${n}\n`);
      if (missing.length) throw new Error(`no such snapshot: ${missing.join(', ')}`);
    });
  common(top.command('prune'))
    .description('Keep only the newest snapshots of a prefix and node')
    .option('--name <prefix>', 'name prefix of the snapshots', DEFAULT_SNAPSHOT_NAME)
    .option('--node-name <name>', 'node name in the snapshot names (default: the hostname)')
    .option('--snapshot-retention <n>', 'how many to keep', '5')
    .action((opts: Opts & { etcdSnapshotDir?: string }) => {
      const c = context({ ...opts, dir: opts.dir ?? opts.etcdSnapshotDir });
      for (const n of pruneSnapshots(c.dir, c.prefix, c.nodeName, Number(opts.snapshotRetention)))
        process.stdout.write(`Removed snapshot ${n}\n`);
    });
}
