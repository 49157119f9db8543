// Managed etcd, as k3s's embedded etcd: `k8ts server --cluster-init` (or joining another server)
// runs one etcd member of Debian's etcd-server binary under DATA/server/db/etcd, with its own
// certificates from an etcd CA (DATA/server/tls/etcd/, kept apart from the cluster CA so that a
// node's client certificate never opens etcd), restarts it with backoff when it dies, and gives
// the API server its client URL and a client certificate. The member's name and addresses are
// kept in DATA/server/db/etcd/config.json, its PID in etcd.pid (for `k8ts killall`).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadOrCreateCA, loadOrIssue } from '../machinery/pki.js';
import { EtcdClient } from '../storage/etcd/client.js';
import type { Member } from '../storage/etcd/messages.js';
import { processAlive } from '../machinery/pids.js';

export const DEFAULT_CLIENT_PORT = 2379;
export const DEFAULT_PEER_PORT = 2380;

/** Where the etcd member of a k8ts data dir keeps its data (etcd's --data-dir). */
export const etcdDataDir = (dataDir: string) => join(dataDir, 'server', 'db', 'etcd');
export const etcdPidFile = (dataDir: string) => join(etcdDataDir(dataDir), 'etcd.pid');
export const etcdTlsDir = (dataDir: string) => join(dataDir, 'server', 'tls', 'etcd');
const configFile = (dataDir: string) => join(etcdDataDir(dataDir), 'config.json');

/** The etcd binary: $K8TS_ETCD_BIN, else `etcd` on PATH, else /usr/bin/etcd. */
export function findEtcdBinary(name = 'etcd'): string {
  const override = process.env[`K8TS_${name.toUpperCase()}_BIN`];
  if (override) return override;
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    if (existsSync(join(dir, name))) return join(dir, name);
  }
  if (existsSync(`/usr/bin/${name}`)) return `/usr/bin/${name}`;
  throw new Error(
    `managed etcd needs the \`${name}\` binary, found neither on PATH nor at /usr/bin/${name}: install Debian's etcd-server and etcd-client packages (apt-get install etcd-server etcd-client)`,
  );
}

/** What a member keeps about itself across restarts. */
export interface MemberConfig {
  name: string;
  address: string;
  clientPort: number;
  peerPort: number;
}

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

export interface ManagedEtcdOptions {
  dataDir: string;
  nodeName: string;
  address: string;
  clientPort: number;
  peerPort: number;
  logger: Logger;
}

/** How a new member's etcd first starts: a cluster of its own, or joining existing members. */
export interface InitialCluster {
  state: 'new' | 'existing';
  /** name=peerURL,… (etcd's --initial-cluster). */
  members: string;
}

const url = (address: string, port: number) => `https://${address.includes(':') ? `[${address}]` : address}:${port}`;

const alive = processAlive;

/** Stops an etcd left running by a server that died (its PID file), checking the PID is still an etcd. */
export async function stopStrayEtcd(dataDir: string): Promise<void> {
  const file = etcdPidFile(dataDir);
  if (!existsSync(file)) return;
  const pid = Number(readFileSync(file, 'utf8').trim());
  rmSync(file, { force: true });
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return;
  }
  if (!cmdline.includes(etcdDataDir(dataDir))) return; // the PID was reused by something else
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

export class ManagedEtcd {
  readonly dir: string;
  readonly config: MemberConfig;
  readonly clientURL: string;
  readonly peerURL: string;
  /** The client certificate the API server (and `k8ts etcd-snapshot`) present to etcd. */
  readonly clientTls: TlsFiles;
  private child?: ChildProcess;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private backoffMs = 1000;
  private exitHook?: () => void;
  private readonly log: Logger;
  private readonly bin: string;

  constructor(private readonly o: ManagedEtcdOptions) {
    this.bin = findEtcdBinary();
    this.dir = etcdDataDir(o.dataDir);
    this.log = o.logger.child({ component: 'etcd' });
    const stored = ManagedEtcd.storedConfig(o.dataDir);
    // The name stays for the member's life; the addresses follow the flags.
    this.config = {
      name: stored?.name ?? `${o.nodeName}-${randomBytes(4).toString('hex')}`,
      address: o.address,
      clientPort: o.clientPort,
      peerPort: o.peerPort,
    };
    this.clientURL = url(o.address, o.clientPort);
    this.peerURL = url(o.address, o.peerPort);
    const tls = etcdTlsDir(o.dataDir);
    this.clientTls = {
      caFile: join(tls, 'ca.crt'),
      certFile: join(tls, 'client.crt'),
      keyFile: join(tls, 'client.key'),
    };
  }

  static storedConfig(dataDir: string): MemberConfig | undefined {
    try {
      return JSON.parse(readFileSync(configFile(dataDir), 'utf8')) as MemberConfig;
    } catch {
      return undefined;
    }
  }

  /** Whether this member has data already (then etcd ignores the --initial-cluster flags). */
  hasData(): boolean {
    return existsSync(join(this.dir, 'member', 'wal'));
  }

  /** The etcd CA (made by the first server, fetched by joining ones) and this member's certificates. */
  async prepareCertificates(): Promise<void> {
    const tls = etcdTlsDir(this.o.dataDir);
    const ca = await loadOrCreateCA(tls, 'etcd-ca');
    const sans = [...new Set([this.o.address, '127.0.0.1', 'localhost', '::1', this.o.nodeName])];
    // etcd's gateway dials its own client port with the server certificate: client usage too.
    await loadOrIssue(ca, tls, 'server-client', { commonName: 'etcd-server', sans, server: true, client: true });
    await loadOrIssue(ca, tls, 'peer-server-client', { commonName: 'etcd-peer', sans, server: true, client: true });
    await loadOrIssue(ca, tls, 'client', { commonName: 'etcd-client', client: true });
  }

  private args(extra: string[]): string[] {
    const tls = etcdTlsDir(this.o.dataDir);
    return [
      '--name',
      this.config.name,
      '--data-dir',
      this.dir,
      '--listen-client-urls',
      this.clientURL,
      '--advertise-client-urls',
      this.clientURL,
      '--listen-peer-urls',
      this.peerURL,
      '--initial-advertise-peer-urls',
      this.peerURL,
      '--cert-file',
      join(tls, 'server-client.crt'),
      '--key-file',
      join(tls, 'server-client.key'),
      '--trusted-ca-file',
      join(tls, 'ca.crt'),
      '--client-cert-auth',
      '--peer-cert-file',
      join(tls, 'peer-server-client.crt'),
      '--peer-key-file',
      join(tls, 'peer-server-client.key'),
      '--peer-trusted-ca-file',
      join(tls, 'ca.crt'),
      '--peer-client-cert-auth',
      // k3s's timing: tolerant of a loaded machine, still electing within seconds.
      '--heartbeat-interval',
      '500',
      '--election-timeout',
      '5000',
      '--logger',
      'zap',
      '--log-outputs',
      'stderr',
      ...extra,
    ];
  }

  /** A client of this member alone (member calls, snapshots, health). */
  localClient(timeoutMs = 15_000): EtcdClient {
    return new EtcdClient({ endpoints: [this.clientURL], ...this.clientTls, timeoutMs });
  }

  private spawnOnce(extra: string[]): ChildProcess {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const logDir = join(this.o.dataDir, 'server', 'logs');
    mkdirSync(logDir, { recursive: true });
    const logFd = openSync(join(logDir, 'etcd.log'), 'a');
    const child = spawn(this.bin, this.args(extra), {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch },
    });
    closeSync(logFd);
    if (child.pid) writeFileSync(etcdPidFile(this.o.dataDir), `${child.pid}\n`);
    return child;
  }

  /**
   * Starts etcd (with `initial` the first time a member starts) and waits until it serves a
   * linearizable read, i.e. it is part of a cluster with quorum. From then on it is supervised.
   */
  async start(initial?: InitialCluster, extra: string[] = []): Promise<void> {
    await stopStrayEtcd(this.o.dataDir);
    await this.prepareCertificates();
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileSync(configFile(this.o.dataDir), `${JSON.stringify(this.config, null, 2)}\n`);
    const first = initial
      ? ['--initial-cluster', initial.members, '--initial-cluster-state', initial.state, ...extra]
      : extra;
    this.stopping = false;
    if (!this.exitHook) {
      // The server exiting on an error takes its etcd along (a kill -9 cannot: killall and the
      // next start stop that one by its PID file).
      this.exitHook = () => void this.child?.kill('SIGTERM');
      process.on('exit', this.exitHook);
    }
    this.supervise(this.spawnOnce(first));
    await this.waitReady(120_000);
    this.log.info({ name: this.config.name, client: this.clientURL, peer: this.peerURL }, 'etcd member ready');
  }

  /** Restarts etcd when it exits, waiting 1 s, then twice as long each time up to 30 s (reset after a minute up). */
  private supervise(child: ChildProcess): void {
    this.child = child;
    const started = Date.now();
    child.once('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      if (this.stopping) return;
      if (Date.now() - started > 60_000) this.backoffMs = 1000;
      this.log.warn({ code, signal, retryInMs: this.backoffMs }, 'etcd exited; restarting it');
      this.restartTimer = setTimeout(() => {
        this.restartTimer = undefined;
        if (!this.stopping) this.supervise(this.spawnOnce([]));
      }, this.backoffMs);
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
  }

  /** PID of the running etcd, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  async waitReady(timeoutMs: number): Promise<void> {
    const client = this.localClient(2000);
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    try {
      while (Date.now() < deadline) {
        if (!this.child && !this.restartTimer) throw new Error('etcd is not running');
        try {
          await client.range({ key: Buffer.from('health') });
          return;
        } catch (err) {
          last = err;
        }
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      client.close();
    }
    throw new Error(
      `etcd at ${this.clientURL} not ready after ${timeoutMs / 1000}s (see DATA/server/logs/etcd.log): ${String(last)}`,
    );
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const c = this.child;
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      c.kill('SIGTERM');
      const timer = setTimeout(() => c.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    this.child = undefined;
    rmSync(etcdPidFile(this.o.dataDir), { force: true });
  }

  /**
   * Adds a member (a joining server) and answers the members it must list in --initial-cluster.
   * A member with the same peer URL already listed (a join retried after a failure) is kept.
   */
  async addMember(name: string, peerURL: string): Promise<Member[]> {
    const client = this.localClient();
    try {
      const members = await client.memberList();
      const existing = members.find((m) => m.peerURLs.includes(peerURL));
      if (existing && existing.name && existing.name !== name)
        throw new Error(`peer URL ${peerURL} belongs to member ${existing.name} already`);
      const list = existing ? members : (await client.memberAdd([peerURL])).members;
      this.log.info({ name, peerURL }, existing ? 'etcd member already added' : 'added etcd member');
      return list;
    } finally {
      client.close();
    }
  }
}

/** etcd's --initial-cluster for a joining member: every started member plus itself. */
export function initialClusterFor(
  members: Pick<Member, 'name' | 'peerURLs'>[],
  self: { name: string; peerURL: string },
): string {
  const parts = members
    .filter((m) => m.name && !m.peerURLs.includes(self.peerURL))
    .flatMap((m) => m.peerURLs.map((u) => `${m.name}=${u}`));
  parts.push(`${self.name}=${self.peerURL}`);
  return parts.join(',');
}
