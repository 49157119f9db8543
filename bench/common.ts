// Helpers every benchmark shares: configuration from the environment, percentiles, process CPU.
import YAML from 'yaml';
import { readFileSync } from 'node:fs';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (benchmarks run from dist/bench/). */
export const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/**
 * The Node flags on bin/k8ts' `#!/usr/bin/env -S node ...` line: benchmarks that start the server
 * with `node bin/k8ts` (to add their own flags) run it as `./bin/k8ts` runs for a user.
 */
export const k8tsNodeFlags: string[] = readFileSync(resolve(repo, 'bin', 'k8ts'), 'utf8')
  .split('\n')[0]
  .split(/\s+/)
  .filter((a) => a.startsWith('--'));

/** BENCH_SCALE=small picks the small defaults of `pick`. */
export const scale: 'small' | 'full' = process.env.BENCH_SCALE === 'small' ? 'small' : 'full';

/** A numeric setting: the environment variable if set, else the default for this scale. */
export const pick = (name: string, full: number, small: number): number => {
  const v = process.env[name];
  return v !== undefined && v !== '' ? Number(v) : scale === 'small' ? small : full;
};

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for `p`, at most `ms`. Its timer is cleared when `p` settles first: a pending sleep in
 * a race would keep the bench process alive that long after it is done.
 */
export async function waitAtMost(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([p, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The q-quantile (0..1) of an ascending array, nearest-rank. */
export function pct(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

export const CLK_TCK = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** User + system CPU seconds a process has used so far (all its threads), from /proc. */
export function cpuSecondsOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** A process's resident memory now and at its peak (MiB), from /proc; NaN once it is gone. */
export function rssOf(pid: number): { rssMiB: number; hwmMiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssMiB: kb('VmRSS') / 1024, hwmMiB: kb('VmHWM') / 1024 };
  } catch {
    return { rssMiB: NaN, hwmMiB: NaN };
  }
}

/** Spawn a process and wait for a line on stdout matching `ready`. */
/**
 * The node arguments that start `k8ts server` on a fresh data dir, on 127.0.0.1 and a free port,
 * without the ingress (no ports 80/443, no ingress watches in the numbers); `extra` follows.
 */
export function k8tsServerArgs(dataDir: string, extra: string[] = [], nodeArgs: string[] = []): string[] {
  return [
    ...k8tsNodeFlags,
    ...nodeArgs,
    join(repo, 'bin', 'k8ts'),
    'server',
    '--disable-ingress',
    '--data-dir',
    dataDir,
    '--https-listen-port',
    '0',
    '--bind-address',
    '127.0.0.1',
    ...extra,
  ];
}

export function launch(
  name: string,
  args: string[],
  ready: RegExp,
  timeoutMs: number,
  /** A niceness for the whole process (all its threads): `nice -n N node ...`, which keeps the PID. */
  niceness = 0,
): Promise<{ child: ChildProcess; match: RegExpExecArray; stderr: () => string }> {
  const argv = niceness ? ['-n', String(niceness), process.execPath, ...args] : args;
  const child = spawn(niceness ? 'nice' : process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (stderr.length > 200_000) stderr = stderr.slice(-100_000);
  });
  return new Promise((ok, fail) => {
    let out = '';
    const timer = setTimeout(
      () => fail(new Error(`${name} not ready in ${timeoutMs} ms:\n${stderr.slice(-5000)}`)),
      timeoutMs,
    );
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = ready.exec(out);
      if (m) {
        clearTimeout(timer);
        ok({ child, match: m, stderr: () => stderr });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`${name} exited (${code}) before it was ready:\n${stderr.slice(-5000)}`));
    });
  });
}

/** The cluster CA and client certificate of a kubeconfig k8ts wrote, for a TLS client. */
export function clientTLS(kubeconfigPath: string): { ca: string; cert: string; key: string } {
  const kc = YAML.parse(readFileSync(kubeconfigPath, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64').toString('utf8');
  return {
    ca: b64(kc.clusters[0].cluster['certificate-authority-data']),
    cert: b64(kc.users[0].user['client-certificate-data']),
    key: b64(kc.users[0].user['client-key-data']),
  };
}

/**
 * BENCH_HEAP_SNAPSHOT=DIR: the server's node flags that let `heapSnapshotOf` ask it for a heap
 * snapshot (written to DIR; read it with `node dist/bench/heapowners.js FILE`).
 */
export const heapSnapshotDir = process.env.BENCH_HEAP_SNAPSHOT || undefined;
export const heapSnapshotNodeArgs = (): string[] =>
  heapSnapshotDir ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${heapSnapshotDir}`] : [];

/** When BENCH_HEAP_SNAPSHOT is set: have the process write a heap snapshot and wait until it has. */
export async function heapSnapshotOf(pid: number, log: (msg: string) => void): Promise<void> {
  if (!heapSnapshotDir) return;
  const { readdirSync, statSync } = await import('node:fs');
  const before = new Set(readdirSync(heapSnapshotDir));
  process.kill(pid, 'SIGUSR2');
  let lastSize = -1;
  for (let i = 0; i < 1200; i++) {
    await sleep(1000);
    const file = readdirSync(heapSnapshotDir).find((f) => f.endsWith('.heapsnapshot') && !before.has(f));
    if (!file) continue;
    const size = statSync(join(heapSnapshotDir, file)).size;
    if (size > 0 && size === lastSize) {
      log(`heap snapshot ${join(heapSnapshotDir, file)} (${(size / 2 ** 20).toFixed(0)} MiB)`);
      return;
    }
    lastSize = size;
  }
  log('heap snapshot: not written within 20 minutes');
}
