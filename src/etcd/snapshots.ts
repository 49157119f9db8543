// etcd snapshots as k3s takes them: whole-database copies through etcd's Maintenance.Snapshot
// into DATA/server/db/snapshots, named `etcd-snapshot-<node>-<unix seconds>`, on demand
// (`k8ts etcd-snapshot save`) or on a cron schedule with a retention count; and the restore that
// `--cluster-reset --cluster-reset-restore-path` runs (etcdutl, else etcdctl, `snapshot restore`).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { Logger } from 'pino';
import type { EtcdClient } from '../storage/etcd/client.js';
import { etcdDataDir, findEtcdBinary, type MemberConfig } from './managed.js';

export const DEFAULT_SNAPSHOT_NAME = 'etcd-snapshot';
export const defaultSnapshotDir = (dataDir: string) => join(dataDir, 'server', 'db', 'snapshots');

export interface SnapshotFile {
  name: string;
  location: string;
  size: number;
  createdAt: Date;
}

/** Saves one snapshot as `<prefix>-<node>-<unix>` in `dir`. */
export async function saveSnapshot(
  client: EtcdClient,
  dir: string,
  nodeName: string,
  prefix = DEFAULT_SNAPSHOT_NAME,
  now = new Date(),
): Promise<SnapshotFile> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = `${prefix}-${nodeName}-${Math.floor(now.getTime() / 1000)}`;
  const location = join(dir, name);
  const size = await client.snapshot(location);
  return { name, location, size, createdAt: now };
}

/** The snapshots in `dir`, oldest first (partial downloads left out). */
export function listSnapshots(dir: string): SnapshotFile[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => !n.endsWith('.part'))
    .map((name) => {
      const location = join(dir, name);
      const st = statSync(location);
      return { name, location, size: st.size, createdAt: st.mtime };
    })
    .filter((s) => statSync(s.location).isFile())
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime() || a.name.localeCompare(b.name));
}

/** Deletes snapshots by name; answers the names that were not there. */
export function deleteSnapshots(dir: string, names: string[]): string[] {
  const missing: string[] = [];
  for (const n of names) {
    const file = join(dir, basename(n));
    if (existsSync(file)) rmSync(file);
    else missing.push(n);
  }
  return missing;
}

/** Keeps the newest `retention` snapshots of this prefix and node; answers the names removed. */
export function pruneSnapshots(dir: string, prefix: string, nodeName: string, retention: number): string[] {
  const own = listSnapshots(dir).filter((s) => s.name.startsWith(`${prefix}-${nodeName}-`));
  const doomed = own.slice(0, Math.max(0, own.length - retention)).map((s) => s.name);
  deleteSnapshots(dir, doomed);
  return doomed;
}

// ---- cron ----

const FIELDS: [string, number, number][] = [
  ['minute', 0, 59],
  ['hour', 0, 23],
  ['day of month', 1, 31],
  ['month', 1, 12],
  ['day of week', 0, 6],
];

/**
 * A five-field cron expression (minute hour day-of-month month day-of-week) with `*`, numbers,
 * ranges `a-b`, steps `*\/n` and `a-b/n`, and lists `a,b`: the subset snapshot schedules use.
 * Answers whether a time (local) matches. Day-of-month and day-of-week combine as in cron: when
 * both are restricted, either matching is enough.
 */
export function parseCron(expr: string): (d: Date) => boolean {
  const parts = expr.trim().split(/\s+/);
  if (parts.length !== 5)
    throw new Error(`cron expression ${JSON.stringify(expr)}: want 5 fields, got ${parts.length}`);
  const sets = parts.map((p, i) => {
    const [fieldName, min, max] = FIELDS[i];
    const allowed = new Set<number>();
    for (const item of p.split(',')) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(item);
      if (!m) throw new Error(`cron expression ${JSON.stringify(expr)}: bad ${fieldName} ${JSON.stringify(item)}`);
      const lo = m[1] === '*' ? min : Number(m[2]);
      const hi = m[1] === '*' ? max : m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
      const step = m[4] !== undefined ? Number(m[4]) : 1;
      // Sunday may be written 7, as in cron.
      const top = i === 4 ? 7 : max;
      if (lo < min || hi > top || lo > hi || step < 1)
        throw new Error(`cron expression ${JSON.stringify(expr)}: ${fieldName} ${item} out of range ${min}-${max}`);
      for (let v = lo; v <= hi; v += step) allowed.add(i === 4 ? v % 7 : v);
    }
    return { allowed, any: p === '*' };
  });
  const [minute, hour, dom, month, dow] = sets;
  return (d) => {
    if (!minute.allowed.has(d.getMinutes()) || !hour.allowed.has(d.getHours())) return false;
    if (!month.allowed.has(d.getMonth() + 1)) return false;
    const domOk = dom.allowed.has(d.getDate());
    const dowOk = dow.allowed.has(d.getDay());
    if (dom.any || dow.any) return domOk && dowOk;
    return domOk || dowOk;
  };
}

/** Takes a snapshot at each minute the cron expression matches, then prunes to the retention. */
export class SnapshotScheduler {
  private timer?: NodeJS.Timeout;
  private readonly matches: (d: Date) => boolean;
  private running = false;

  constructor(
    private readonly o: {
      cron: string;
      retention: number;
      dir: string;
      nodeName: string;
      client: () => EtcdClient;
      logger: Logger;
    },
  ) {
    this.matches = parseCron(o.cron);
  }

  start(): void {
    const tick = () => {
      const now = new Date();
      // Wake at the start of the next minute.
      this.timer = setTimeout(tick, 60_000 - (now.getSeconds() * 1000 + now.getMilliseconds()) + 50);
      this.timer.unref();
      if (this.matches(now) && !this.running) void this.runOnce(now);
    };
    const now = new Date();
    this.timer = setTimeout(tick, 60_000 - (now.getSeconds() * 1000 + now.getMilliseconds()) + 50);
    this.timer.unref();
  }

  /** One scheduled snapshot and the pruning after it (errors are logged: the schedule goes on). */
  async runOnce(now = new Date()): Promise<void> {
    this.running = true;
    const client = this.o.client();
    try {
      const s = await saveSnapshot(client, this.o.dir, this.o.nodeName, DEFAULT_SNAPSHOT_NAME, now);
      const pruned = pruneSnapshots(this.o.dir, DEFAULT_SNAPSHOT_NAME, this.o.nodeName, this.o.retention);
      this.o.logger.info({ snapshot: s.location, size: s.size, pruned }, 'scheduled etcd snapshot saved');
    } catch (err) {
      this.o.logger.error({ err }, 'scheduled etcd snapshot failed');
    } finally {
      client.close();
      this.running = false;
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }
}

/**
 * Replaces this member's data with a snapshot's, as a new single-member cluster of this member
 * alone: `snapshot restore` into a scratch directory, then the old data moved aside to
 * DATA/server/db/etcd-old-<unix> and the restored data put in its place.
 */
export function restoreSnapshot(dataDir: string, member: MemberConfig, peerURL: string, file: string): string {
  if (!existsSync(file)) throw new Error(`--cluster-reset-restore-path: no file ${file}`);
  let tool: string;
  let env = process.env;
  try {
    tool = findEtcdBinary('etcdutl');
  } catch {
    tool = findEtcdBinary('etcdctl');
    env = { ...process.env, ETCDCTL_API: '3' };
  }
  const db = join(dataDir, 'server', 'db');
  const scratch = join(db, `etcd-restore-${process.pid}`);
  rmSync(scratch, { recursive: true, force: true });
  const r = spawnSync(
    tool,
    [
      'snapshot',
      'restore',
      file,
      '--data-dir',
      scratch,
      '--name',
      member.name,
      '--initial-cluster',
      `${member.name}=${peerURL}`,
      '--initial-advertise-peer-urls',
      peerURL,
    ],
    { encoding: 'utf8', env },
  );
  if (r.status !== 0) {
    rmSync(scratch, { recursive: true, force: true });
    throw new Error(`${basename(tool)} snapshot restore ${file} failed: ${r.stderr || r.stdout || r.error?.message}`);
  }
  const live = etcdDataDir(dataDir);
  const old = join(db, `etcd-old-${Math.floor(Date.now() / 1000)}`);
  mkdirSync(old, { recursive: true });
  if (existsSync(join(live, 'member'))) renameSync(join(live, 'member'), join(old, 'member'));
  mkdirSync(live, { recursive: true, mode: 0o700 });
  renameSync(join(scratch, 'member'), join(live, 'member'));
  rmSync(scratch, { recursive: true, force: true });
  return old;
}
