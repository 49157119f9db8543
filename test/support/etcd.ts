// An etcd server for tests: a single member on random loopback ports in its own data directory,
// stopped by its PID. `restart()` stops and starts it again on the same ports and data.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export interface TestEtcd {
  endpoint: string;
  dataDir: string;
  pid: () => number | undefined;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `http://127.0.0.1:${clientPort}`;
  let child: ChildProcess | undefined;

  const launch = () =>
    new Promise<void>((resolve, reject) => {
      const c = spawn(
        ETCD_BIN,
        [
          '--name',
          'test',
          '--data-dir',
          join(dir, 'data'),
          '--listen-client-urls',
          endpoint,
          '--advertise-client-urls',
          endpoint,
          '--listen-peer-urls',
          `http://127.0.0.1:${peerPort}`,
          '--initial-advertise-peer-urls',
          `http://127.0.0.1:${peerPort}`,
          '--initial-cluster',
          `test=http://127.0.0.1:${peerPort}`,
          '--log-level',
          'error',
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } },
      );
      child = c;
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      c.once('exit', (code) => reject(new Error(`etcd exited (${code}): ${stderr}`)));
      // Ready once the client port answers /health.
      const deadline = Date.now() + 20_000;
      const poll = async () => {
        try {
          const res = await fetch(`${endpoint}/health`);
          if (res.ok) return resolve();
        } catch {
          // not listening yet
        }
        if (Date.now() > deadline) return reject(new Error(`etcd did not start: ${stderr}`));
        setTimeout(() => void poll(), 100);
      };
      void poll();
    });

  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    await exited;
  };

  await launch();
  return {
    endpoint,
    dataDir: dir,
    pid: () => child?.pid,
    async restart() {
      await kill();
      await launch();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
