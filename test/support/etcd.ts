// An etcd server for tests: a single member on random loopback ports in its own data directory,
// stopped by its PID. `restart()` stops and starts it again on the same ports and data. With
// `tls: true` it serves HTTPS and requires a client certificate (a CA made here signs both).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';

export const ETCD_BIN = process.env.ETCD_BIN ?? '/usr/bin/etcd';

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl in `dir`. */
function makeCertificates(dir: string): { server: TlsFiles; client: TlsFiles } {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  ssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=test-etcd-ca', '-days', '2');
  const issue = (name: string, ext: string) => {
    ssl('req', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
    return { caFile: join(dir, 'ca.crt'), certFile: join(dir, `${name}.crt`), keyFile: join(dir, `${name}.key`) };
  };
  return {
    server: issue('server', 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n'),
    client: issue('client', 'extendedKeyUsage=clientAuth\n'),
  };
}

function healthy(endpoint: string, client?: TlsFiles): Promise<boolean> {
  if (!client) return fetch(`${endpoint}/health`).then((r) => r.ok);
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${endpoint}/health`,
      { ca: readFileSync(client.caFile), cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) },
      (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      },
    );
    req.once('error', reject);
  });
}

export interface TestEtcd {
  endpoint: string;
  /** With `tls: true`: what a client presents. */
  clientTls?: TlsFiles;
  dataDir: string;
  pid: () => number | undefined;
  /** What etcd wrote to stderr since it was started (all launches). */
  log: () => string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEtcd(
  opts: { tls?: boolean; /** more etcd flags, e.g. --quota-backend-bytes */ args?: string[] } = {},
): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-etcd-'));
  const clientPort = await freePort();
  const peerPort = await freePort();
  const endpoint = `${opts.tls ? 'https' : 'http'}://127.0.0.1:${clientPort}`;
  const certs = opts.tls ? makeCertificates(dir) : undefined;
  const tlsArgs = certs
    ? [
        '--cert-file',
        certs.server.certFile,
        '--key-file',
        certs.server.keyFile,
        '--trusted-ca-file',
        certs.server.caFile,
        '--client-cert-auth',
      ]
    : [];
  let child: ChildProcess | undefined;
  let log = '';

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
          ...tlsArgs,
          ...(opts.args ?? []),
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch } },
      );
      child = c;
      let stderr = '';
      c.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        log += d.toString();
      });
      c.once('exit', (code) => reject(new Error(`etcd exited (${code}): ${stderr}`)));
      // Ready once the client port answers /health.
      const deadline = Date.now() + 20_000;
      const poll = async () => {
        try {
          if (await healthy(endpoint, certs?.client)) return resolve();
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
    clientTls: certs?.client,
    dataDir: dir,
    pid: () => child?.pid,
    log: () => log,
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
