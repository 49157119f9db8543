// Long-running kubectl commands (get -w) for end-to-end tests: spawned, read while they run,
// and always stopped by PID within a time bound.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { run, type Cluster } from './harness.js';

export interface Stream {
  proc: ChildProcess;
  /** Everything printed on stdout so far. */
  readonly out: string;
  readonly err: string;
  /** Resolves when stdout matches re (rejects after timeoutMs, with what was seen). */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Stop the process (SIGTERM, then SIGKILL) and resolve when it has exited. */
  stop(): Promise<void>;
}

export function streamKubectl(
  cluster: Cluster,
  args: string[],
  opts: { bin?: string; maxMs?: number; stdin?: boolean } = {},
): Stream {
  const proc = spawn(opts.bin ?? 'kubectl', ['--kubeconfig', cluster.kubeconfig, ...args], {
    stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  const exited = new Promise<void>((res) => proc.once('exit', () => res()));
  proc.stdout!.on('data', (d) => {
    out += d;
    for (const w of [...waiters]) w();
  });
  proc.stderr!.on('data', (d) => (err += d));
  // Hard bound: nothing we spawn outlives this.
  const hard = setTimeout(() => kill('SIGKILL'), opts.maxMs ?? 30_000);
  hard.unref();
  function kill(sig: NodeJS.Signals) {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid) {
      try {
        process.kill(proc.pid, sig);
      } catch {
        /* already gone */
      }
    }
  }
  return {
    proc,
    get out() {
      return out;
    },
    get err() {
      return err;
    },
    waitFor(re, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (re.test(out)) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(out);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${re} in output of kubectl ${args.join(' ')}:\n--- stdout\n${out}\n--- stderr\n${err}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async stop() {
      clearTimeout(hard);
      kill('SIGTERM');
      const t = setTimeout(() => kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A versioned kubectl binary beside the `kubectl` dispatcher on PATH (kubectl.1.33 …), if there is one. */
export function versionedKubectl(version: string): string | undefined {
  const which = spawnSync('sh', ['-c', 'readlink -f "$(command -v kubectl)"'], { encoding: 'utf8' }).stdout.trim();
  if (!which) return undefined;
  const bin = join(dirname(which), `kubectl.${version}`);
  return existsSync(bin) ? bin : undefined;
}

/**
 * `kubectl port-forward POD :PORT` with the given binary, then `fetches` GETs of the local port;
 * returns the pages and kubectl's stderr (the caller may pass -v=4 in `extra` to see the dialer).
 */
export async function portForwardPages(
  cluster: Cluster,
  bin: string,
  pod: string,
  port: number,
  opts: { fetches?: number; extra?: string[] } = {},
): Promise<{ pages: string[]; stderr: string }> {
  const pf = streamKubectl(cluster, ['port-forward', pod, `:${port}`, ...(opts.extra ?? [])], { bin, maxMs: 60_000 });
  try {
    const local = Number(
      /Forwarding from 127\.0\.0\.1:(\d+)/.exec(await pf.waitFor(/Forwarding from 127\.0\.0\.1:\d+/, 30_000))![1],
    );
    const pages: string[] = [];
    for (let i = 0; i < (opts.fetches ?? 2); i++)
      pages.push(await fetch(`http://127.0.0.1:${local}/`, { headers: { connection: 'close' } }).then((r) => r.text()));
    return { pages, stderr: pf.err };
  } finally {
    await pf.stop();
  }
}

const PYTHON = '/usr/bin/python3';
const pythonScript = (name: string) =>
  join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'e2e', 'python', name);
const PYTHON_PORTFORWARD = pythonScript('portforward.py');
const PYTHON_EXEC = pythonScript('exec.py');

/** Why the Python client can't be used here (undefined: it can). */
export function pythonClientUnavailable(): string | undefined {
  const r = spawnSync(PYTHON, ['-c', 'import kubernetes'], { stdio: 'ignore', timeout: 20_000 });
  return r.status === 0
    ? undefined
    : `${PYTHON} with the kubernetes module is not installed (apt-get install python3-kubernetes)`;
}

/** The Python client's port-forward (test/e2e/python/portforward.py): the pod's answer to an HTTP GET. */
export async function pythonPortForward(
  cluster: Cluster,
  namespace: string,
  pod: string,
  port: number,
): Promise<{ answer: string; error: string | null }> {
  const r = await run(PYTHON, [PYTHON_PORTFORWARD, cluster.kubeconfig, namespace, pod, String(port)], {
    timeoutMs: 60_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.code !== 0) throw new Error(`portforward.py failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}

interface PythonExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

/** The Python client's exec and attach sessions (test/e2e/python/exec.py), as it saw them. */
export async function pythonExec(
  cluster: Cluster,
  namespace: string,
  execPod: string,
  attachPod: string,
): Promise<{
  exit: PythonExecResult;
  oneshot: string;
  stdin: PythonExecResult;
  tty: PythonExecResult;
  attach: string;
}> {
  const r = await run(PYTHON, [PYTHON_EXEC, cluster.kubeconfig, namespace, execPod, attachPod], {
    timeoutMs: 100_000,
    env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
  });
  if (r.code !== 0) throw new Error(`exec.py failed (${r.code}):\n${r.stderr}\n${r.stdout}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!);
}
