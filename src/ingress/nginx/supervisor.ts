// Runs NGINX for the ingress (docs/ingress.md, "Data plane"): writes the rendered configuration
// and its files atomically, checks it with `nginx -t` before switching (the last good one stays
// on failure), reloads with SIGHUP (graceful: old workers finish their connections), restarts
// NGINX with backoff when it exits unexpectedly, and stops it with the controller. It runs under
// `setpriv --pdeathsig TERM`, so a k8ts killed with -9 takes it along; a stale one (its master
// or workers still holding the ports) is stopped on the next start and by `k8ts killall`.
import { spawn, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { TLS_SOCKET, type RenderedConfig } from './render.js';
import { processAlive } from '../../machinery/pids.js';

export const NGINX_BINARY = '/usr/sbin/nginx';
export const STREAM_MODULE = '/usr/lib/nginx/modules/ngx_stream_module.so';
const SETPRIV = '/usr/bin/setpriv';

/** The directory of NGINX's runtime files under a data dir. */
export function nginxDir(dataDir: string): string {
  return join(dataDir, 'ingress-nginx');
}

/** Whether the NGINX data plane can run here, or why not. */
export function nginxAvailable(): { ok: true } | { ok: false; why: string } {
  if (!existsSync(NGINX_BINARY)) return { ok: false, why: `${NGINX_BINARY} not found (Debian package nginx-light)` };
  if (!existsSync(STREAM_MODULE))
    return { ok: false, why: `${STREAM_MODULE} not found (Debian package libnginx-mod-stream)` };
  return { ok: true };
}

/**
 * Whether a process still runs: a zombie does not (it holds no sockets or files). The workers of
 * a master killed with -9 are reparented to PID 1, which may reap them only seconds after they
 * exit; counting those as running would keep the ports free that long before NGINX starts again.
 */
function alive(pid: number): boolean {
  if (!processAlive(pid)) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

/**
 * NGINX processes (master and workers) of a runtime directory: an `nginx` process with a file of
 * that directory open (its error log), so a reused PID or another NGINX is never touched.
 */
export function nginxProcessesOf(dir: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'nginx') continue;
      const fds = readdirSync(`/proc/${d}/fd`);
      if (fds.some((fd) => safeReadlink(`/proc/${d}/fd/${fd}`).startsWith(dir + '/'))) out.push(Number(d));
    } catch {
      /* gone or not ours to read */
    }
  }
  return out;
}

function safeReadlink(p: string): string {
  try {
    return readlinkSync(p);
  } catch {
    return '';
  }
}

/** Stops a stale NGINX of this runtime directory (a k8ts killed with -9): QUIT, then KILL after a bound. */
export async function stopStaleNginx(dataDir: string, boundMs = 3000): Promise<number> {
  const dir = nginxDir(dataDir);
  if (!existsSync(dir)) return 0;
  const pids = nginxProcessesOf(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      /* gone */
    }
  }
  const until = Date.now() + boundMs;
  while (pids.some(alive) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return pids.length;
}

export interface NginxSupervisorOptions {
  dataDir: string;
  logger: Logger;
  /** Called after each reload or restart with the configuration in force. */
  onApplied?: (c: RenderedConfig) => void;
}

function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', (err) => resolve({ code: -1, output: err.message }));
    child.on('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

export class NginxSupervisor {
  readonly dir: string;
  private readonly log: Logger;
  private child?: ChildProcess;
  private stopping = false;
  private restartTimer?: NodeJS.Timeout;
  private backoffMs = 500;
  private startedAt = 0;
  /** The configuration NGINX runs (last good). */
  private applied?: RenderedConfig;
  private queue: Promise<void> = Promise.resolve();
  private pending?: RenderedConfig;
  private exitHook?: () => void;
  /** Reloads and restarts done (for tests and logs). */
  reloads = 0;
  restarts = 0;

  constructor(private readonly o: NginxSupervisorOptions) {
    this.dir = nginxDir(o.dataDir);
    this.log = o.logger.child({ component: 'ingress-nginx' });
  }

  get confPath(): string {
    return join(this.dir, 'nginx.conf');
  }

  /** The master's PID (0: not running). */
  get pid(): number {
    return this.child?.exitCode === null ? (this.child.pid ?? 0) : 0;
  }

  /** Writes the first configuration and starts NGINX (a stale one of this data dir is stopped first). */
  async start(first: RenderedConfig): Promise<void> {
    const stale = await stopStaleNginx(this.o.dataDir);
    if (stale) this.log.warn({ processes: stale }, 'stopped a stale NGINX of this data dir');
    mkdirSync(join(this.dir, 'tmp'), { recursive: true, mode: 0o700 });
    const problem = await this.install(first);
    if (problem) throw new Error(`nginx: the configuration does not load: ${problem}`);
    this.applied = first;
    if (!this.exitHook) {
      this.exitHook = () => void this.child?.kill('SIGTERM');
      process.on('exit', this.exitHook);
    }
    this.spawnOnce();
    await this.waitReady();
  }

  /**
   * Until the running master has written its pid file (its signal handlers are set then: a SIGHUP
   * before that would end it). False when it exited or did not get there in time.
   */
  private async waitReady(timeoutMs = 10_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && !this.stopping) {
      const pid = this.pid;
      if (!pid) return false;
      try {
        if (Number(readFileSync(join(this.dir, 'nginx.pid'), 'utf8').trim()) === pid) return true;
      } catch {
        /* not written yet */
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    return false;
  }

  /**
   * Applies a new configuration: nothing when the text and files are the same. One at a time; a
   * configuration that arrives while one is being applied replaces any other waiting (only the
   * latest is applied next).
   */
  apply(next: RenderedConfig): Promise<void> {
    this.pending = next;
    const step = async () => {
      if (this.pending !== next) return; // a newer one is queued
      this.pending = undefined;
      if (this.stopping || !this.applied) return;
      if (same(this.applied, next)) return;
      const t0 = performance.now();
      const problem = await this.install(next);
      if (problem) {
        this.log.error({ problem }, 'nginx: the new configuration does not load; the last good one stays');
        return;
      }
      this.applied = next;
      // A master still starting reads nginx.conf itself, but maybe before it was replaced: it
      // gets the signal once it can take it.
      if (this.pid && (await this.waitReady()) && this.pid) {
        process.kill(this.pid, 'SIGHUP');
        this.reloads++;
        this.log.debug({ ms: Math.round(performance.now() - t0), reloads: this.reloads }, 'nginx reloaded');
      }
      this.o.onApplied?.(next);
      this.prune(next);
    };
    return (this.queue = this.queue.then(step, step));
  }

  /**
   * Writes the files (content-addressed, so the running configuration's stay valid), then the
   * configuration next to nginx.conf, tests it and moves it in place. Returns why it does not load.
   */
  private async install(c: RenderedConfig): Promise<string | undefined> {
    for (const [name, body] of c.files) {
      const path = join(this.dir, name);
      if (existsSync(path)) continue;
      writeFileSync(path + '.tmp', body, { mode: 0o600 });
      renameSync(path + '.tmp', path);
    }
    const next = join(this.dir, 'nginx.conf.next');
    writeFileSync(next, c.text, { mode: 0o600 });
    const test = await run(NGINX_BINARY, ['-t', '-q', '-p', this.dir, '-e', join(this.dir, 'error.log'), '-c', next]);
    if (test.code !== 0) return test.output.trim() || `nginx -t exited with ${test.code}`;
    renameSync(next, this.confPath);
    return undefined;
  }

  /** Certificate files no longer referenced (the master has read the new ones on reload). */
  private prune(c: RenderedConfig): void {
    for (const name of readdirSync(this.dir))
      if ((name.startsWith('tls-') || name.startsWith('htpasswd-')) && !c.files.has(name))
        rmSync(join(this.dir, name), { force: true });
  }

  private spawnOnce(): void {
    rmSync(join(this.dir, 'nginx.pid'), { force: true });
    // A unix socket left by an NGINX killed with -9 would fail the bind (no NGINX of ours runs now).
    rmSync(join(this.dir, TLS_SOCKET), { force: true });
    const args = ['-p', this.dir, '-e', join(this.dir, 'error.log'), '-c', this.confPath];
    // The master gets SIGTERM when k8ts goes, even killed with -9 (fast shutdown takes the workers).
    const [cmd, argv] = existsSync(SETPRIV)
      ? [SETPRIV, ['--pdeathsig', 'TERM', '--', NGINX_BINARY, ...args]]
      : [NGINX_BINARY, args];
    const child = spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.startedAt = Date.now();
    child.stderr?.on('data', (d: Buffer) => this.log.warn({ stderr: d.toString().trim() }, 'nginx'));
    child.on('error', (err) => {
      this.log.error({ err }, 'nginx: cannot start');
      // A spawn that failed emits no 'exit': restart as after one.
      if (child.pid === undefined) this.exited(child, null, null);
    });
    child.on('exit', (code, signal) => this.exited(child, code, signal));
  }

  /**
   * NGINX ended without being asked: start it again after the backoff. Its workers outlive a
   * master killed with -9 and keep the ports (and serve); they are stopped first. The restart
   * runs in the queue of applies, so no `nginx -t` runs meanwhile: the cleanup would take it for a
   * stale NGINX (and the configuration would be lost), and while the ports are free it listens on
   * them for a moment (the new master's bind fails and is retried 0.5 s later).
   */
  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child || this.stopping) return;
    this.child = undefined;
    // A run that lasted resets the backoff; quick failures back off up to 30 s.
    if (Date.now() - this.startedAt > 60_000) this.backoffMs = 500;
    this.log.error({ code, signal, retryInMs: this.backoffMs }, 'nginx exited; restarting it');
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      const restart = async () => {
        if (this.stopping) return;
        const stale = await stopStaleNginx(this.o.dataDir, 1000);
        if (this.stopping) return;
        this.restarts++;
        this.log.warn({ staleProcesses: stale, restarts: this.restarts }, 'nginx: starting it again');
        this.spawnOnce();
        await this.waitReady();
      };
      this.queue = this.queue.then(restart, restart);
    }, this.backoffMs);
    this.backoffMs = Math.min(30_000, this.backoffMs * 2);
  }

  /** Graceful stop (SIGQUIT), then SIGTERM and SIGKILL after bounds. */
  async stop(boundMs = 3000): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    await this.queue;
    const child = this.child;
    if (this.exitHook) process.off('exit', this.exitHook);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    const wait = (ms: number) =>
      Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
    child.kill('SIGQUIT');
    if (await wait(boundMs)) return;
    child.kill('SIGTERM');
    if (await wait(1000)) return;
    child.kill('SIGKILL');
    await wait(1000);
    await stopStaleNginx(this.o.dataDir, 500);
  }
}

function same(a: RenderedConfig, b: RenderedConfig): boolean {
  if (a.text !== b.text || a.files.size !== b.files.size) return false;
  for (const [k, v] of a.files) if (b.files.get(k) !== v) return false;
  return true;
}
