// Serving certificates renewed while their server runs: the API server of a whole assembled
// server (with a 6-second certificate) and the node agent's HTTPS server swap in a new
// certificate at 70–90 % of the old one's lifetime without a restart. New connections get the
// new certificate (which verifies against the cluster CA and is stored on disk), an open
// connection keeps working, and a failed renewal is retried.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import pino from 'pino';
import { X509Certificate } from 'node:crypto';
import { CertificateRenewal, renewalDeadline } from '../../src/machinery/certrenewal.js';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';
import { assembleServer } from '../../src/server/assemble.js';
import { AgentServer, type PodLocator } from '../../src/agent/server.js';
import { AgentAuth } from '../../src/agent/auth.js';
import { until } from '../support/until.js';

/** The serial number of the certificate a fresh TLS connection to `port` is served (verified against `ca`). */
function servedSerial(
  port: number,
  ca: string,
  servername = 'localhost',
): Promise<{ serial: string; socket: tls.TLSSocket }> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca, servername, ALPNProtocols: ['http/1.1'] }, () =>
      resolve({ serial: socket.getPeerX509Certificate()!.serialNumber, socket }),
    );
    socket.once('error', reject);
  });
}

function get(port: number, ca: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    https
      .get({ host: '127.0.0.1', port, path, ca, servername: 'localhost', agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      })
      .once('error', reject);
  });
}

test('the renewal deadline falls at 70–90 % of the lifetime', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-renew-'));
  try {
    const ca = await loadOrCreateCA(dir);
    const pair = await issue(ca, { commonName: 'x', server: true, validMs: 100_000 });
    const from = new Date(new X509Certificate(pair.certPem).validFrom).getTime();
    const to = new Date(new X509Certificate(pair.certPem).validTo).getTime();
    assert.equal(renewalDeadline(pair.certPem, 0).getTime(), from + 0.7 * (to - from));
    assert.equal(renewalDeadline(pair.certPem, 0.999999).getTime() <= from + 0.9 * (to - from), true);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the API server serves a renewed certificate without a restart', { timeout: 60_000 }, async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-renew-api-'));
  const server = await assembleServer({
    dataDir,
    logger: pino({ level: 'silent' }),
    bindAddress: '127.0.0.1',
    port: 0,
    cluster: { serviceCIDR: '10.43.0.0/16', nodePortRange: [30000, 32767], clusterDomain: 'cluster.local' },
    controllers: false,
    scheduler: false,
    leaderElection: false,
    requireServiceAccount: false,
    // Renewed 4.2–5.4 s after it was issued.
    servingCertificateLifetimeMs: 6_000,
  });
  try {
    const port = server.api.port;
    const ca = server.ca.certPem;
    const first = await servedSerial(port, ca);
    const renewed = await until(
      'a renewed serving certificate',
      async () => {
        const next = await servedSerial(port, ca);
        next.socket.destroy();
        return next.serial !== first.serial ? next.serial : undefined;
      },
      20_000,
      250,
    );
    assert.notEqual(renewed, first.serial);
    // Stored for the next start, and the server answers over it.
    const stored = readFileSync(join(dataDir, 'server', 'tls', 'serving-kube-apiserver.crt'), 'utf8');
    assert.equal(new X509Certificate(stored).serialNumber, renewed);
    assert.equal(await get(port, ca, '/version'), 200);
    // The connection opened before the renewal is still up.
    assert.equal(first.socket.destroyed, false);
    first.socket.destroy();
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('the agent server swaps its certificate; a failed renewal is retried', { timeout: 30_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-renew-agent-'));
  const ca = await loadOrCreateCA(dir);
  const serving = await issue(ca, { commonName: 'n1', sans: ['localhost', '127.0.0.1'], server: true });
  const agent = new AgentServer({
    // Requests without credentials are refused before anything is looked up or reviewed.
    locator: {} as PodLocator,
    auth: new AgentAuth({
      reviewer: {
        reviewToken: () => Promise.reject(new Error('no token in this test')),
        reviewAccess: () => Promise.reject(new Error('no review in this test')),
      },
      nodeName: 'n1',
    }),
    tls: { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
    port: 0,
    bindAddress: '127.0.0.1',
  });
  await agent.start();
  // The renewal is handed a certificate due within a second (the served one is good for a year).
  const due = await issue(ca, { commonName: 'n1', server: true, validMs: 1_000 });
  let attempts = 0;
  const renewal = new CertificateRenewal({
    certPem: due.certPem,
    renew: async () => {
      if (++attempts === 1) throw new Error('CA unreachable');
      return issue(ca, { commonName: 'n1', sans: ['localhost', '127.0.0.1'], server: true });
    },
    apply: (pair) => agent.setServingCertificate(pair.certPem, pair.keyPem),
  });
  try {
    const before = await servedSerial(agent.port, ca.certPem);
    before.socket.destroy();
    renewal.start();
    const after = await until(
      'the renewed agent certificate',
      async () => {
        const s = await servedSerial(agent.port, ca.certPem);
        s.socket.destroy();
        return s.serial !== before.serial ? s.serial : undefined;
      },
      20_000,
      100,
    );
    assert.notEqual(after, before.serial);
    assert.equal(attempts, 2, 'the first failure was retried');
    assert.equal(renewal.renewals, 1);
    assert.equal(await get(agent.port, ca.certPem, '/healthz'), 401);
  } finally {
    renewal.stop();
    await agent.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
