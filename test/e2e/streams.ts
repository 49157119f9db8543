// Long-running kubectl commands (get -w) for end-to-end tests: spawned, read while they run,
// and always stopped by PID within a time bound.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Cluster } from './harness.js';

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

export function streamKubectl(cluster: Cluster, args: string[], opts: { bin?: string; maxMs?: number } = {}): Stream {
  const proc = spawn(opts.bin ?? 'kubectl', ['--kubeconfig', cluster.kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
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
          reject(new Error(`timed out waiting for ${re} in output of kubectl ${args.join(' ')}:\n--- stdout\n${out}\n--- stderr\n${err}`));
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
