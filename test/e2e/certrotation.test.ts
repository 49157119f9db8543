// A joined agent renews its own client certificate (the kubelet's rotateCertificates): started
// with a stored certificate the test issued for 40 seconds, it asks for a new one with a
// CertificateSigningRequest at 70–90 % of that lifetime; csrapproving approves it (selfnodeclient)
// and the signer issues it; the agent stores it and goes on with it without a restart: its Lease
// is still renewed after the old certificate expired, and the node stays Ready.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import type { Lease } from 'kubernetes-types/coordination/v1.js';
import { K8TS_BIN, stopChild, run, startCluster, until, type Cluster } from './harness.js';
import { caFromPem, generateKeys, issue } from '../../src/machinery/pki.js';
import { ExtKeyUsage, KeyUsage, distinguishedName, issueCertificate } from '../../src/machinery/certificate.js';
import { CURRENT_CLIENT_PEM, loadClientCredential, storeClientCredential } from '../../src/agent/certstore.js';

const NODE = 'rot-1';
const FIRST_LIFETIME_MS = 40_000;
let cluster: Cluster;
let agentDir: string;
let agent: ChildProcess | undefined;
let agentOut = '';
let firstNotAfter: Date;

before(async () => {
  cluster = await startCluster();
  agentDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-rotation-'));
});

after(async () => {
  await stopChild(agent);
  await run(process.execPath, [K8TS_BIN, 'killall', '--data-dir', agentDir], {});
  await cluster?.cleanup();
  if (agentDir) rmSync(agentDir, { recursive: true, force: true });
});

const notAfterOf = (pem: string) => new Date(new X509Certificate(pem).validTo);

const nodeReady = async () => {
  const r = await cluster.kubectl(['get', 'nodes', NODE, '--no-headers']);
  return r.code === 0 && /\sReady\s/.test(r.stdout);
};

const leaseRenewTime = async () => {
  const lease = JSON.parse(await cluster.k(['get', 'lease', '-n', 'kube-node-lease', NODE, '-o', 'json'])) as Lease;
  return new Date(lease.spec?.renewTime ?? 0);
};

test('an agent whose client certificate is short-lived renews it through a CSR and stays Ready', async () => {
  // The agent's stored identity, as a join would leave it, but with a 40 s client certificate.
  const serverTls = join(cluster.dataDir, 'server', 'tls');
  const ca = await caFromPem(
    readFileSync(join(serverTls, 'ca.crt'), 'utf8'),
    readFileSync(join(serverTls, 'ca.key'), 'utf8'),
  );
  const tls = join(agentDir, 'agent', 'tls');
  mkdirSync(tls, { recursive: true, mode: 0o700 });
  writeFileSync(join(tls, 'ca.crt'), ca.certPem);
  const serving = await issue(ca, { commonName: NODE, sans: [NODE, '127.0.0.1'], server: true });
  writeFileSync(join(tls, 'serving-kubelet.crt'), serving.certPem);
  writeFileSync(join(tls, 'serving-kubelet.key'), serving.keyPem, { mode: 0o600 });
  const keys = generateKeys();
  const now = Date.now();
  const certPem = issueCertificate(
    {
      subject: distinguishedName(`system:node:${NODE}`, ['system:nodes']),
      publicKey: keys.publicKey,
      notBefore: new Date(now),
      notAfter: new Date(now + FIRST_LIFETIME_MS),
      keyUsage: [KeyUsage.digitalSignature],
      extKeyUsage: [ExtKeyUsage.clientAuth],
    },
    ca,
  );
  storeClientCredential(tls, { certPem, keyPem: keys.keyPem });
  firstNotAfter = notAfterOf(certPem);

  const token = readFileSync(join(cluster.dataDir, 'server', 'token'), 'utf8').trim();
  agent = spawn(
    process.execPath,
    [
      K8TS_BIN,
      'agent',
      '--server',
      cluster.url,
      '--token',
      token,
      '--data-dir',
      agentDir,
      '--node-name',
      NODE,
      '--node-ip',
      '127.0.0.1',
      '--runtime',
      'process',
      '--kubelet-port',
      '0',
      '--disable-kube-proxy',
      '--disable-network-policy',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agent.stdout!.on('data', (d) => (agentOut += d));
  agent.stderr!.on('data', (d) => (agentOut += d));
  const alive = () => {
    if (agent!.exitCode !== null) throw new Error(`agent exited with ${agent!.exitCode}: ${agentOut}`);
  };
  const diag = () => agentOut.split('\n').slice(-30).join('\n');

  await until(
    `node ${NODE} Ready`,
    async () => {
      alive();
      return nodeReady();
    },
    { timeoutMs: 60_000, stepMs: 500, diag },
  );

  // The renewal: a CSR by the node itself, approved by csrapproving and issued by the signer.
  const csr = await until(
    'the renewal CSR Approved and Issued',
    async () => {
      alive();
      const list = JSON.parse(await cluster.k(['get', 'csr', '-o', 'json'])) as { items: CertificateSigningRequest[] };
      return list.items.find(
        (c) =>
          c.spec.username === `system:node:${NODE}` &&
          c.status?.certificate &&
          c.status.conditions?.some((x) => x.type === 'Approved' && x.reason === 'AutoApproved'),
      );
    },
    { timeoutMs: 70_000, stepMs: 1000, diag },
  );
  assert.equal(csr.spec.signerName, 'kubernetes.io/kube-apiserver-client-kubelet');
  assert.deepEqual([...(csr.spec.usages ?? [])].sort(), ['client auth', 'digital signature']);
  assert.equal(csr.spec.expirationSeconds, 600, 'the renewal asks for the shortest lifetime upstream allows');
  const issued = Buffer.from(csr.status!.certificate!, 'base64').toString('utf8');
  assert.match(new X509Certificate(issued).subject, new RegExp(`CN=system:node:${NODE}`));

  // Stored (atomically, behind the current link) and later than the first.
  const stored = await until(
    'the renewed certificate stored',
    () => {
      const cred = loadClientCredential(tls);
      return cred && cred.certPem.trim() === issued.trim() ? cred : undefined;
    },
    { timeoutMs: 20_000, stepMs: 500, diag },
  );
  assert.ok(notAfterOf(stored.certPem).getTime() > firstNotAfter.getTime(), 'the new certificate lasts longer');
  assert.ok(readFileSync(join(tls, CURRENT_CLIENT_PEM), 'utf8').includes('PRIVATE KEY'));
  const kubeconfig = readFileSync(join(agentDir, 'agent', 'kubeconfig.yaml'), 'utf8');
  assert.ok(kubeconfig.includes(Buffer.from(stored.certPem).toString('base64')), 'the kubeconfig has the new one');
  assert.match(agentOut, /client certificate rotated/);

  // Without a restart, the agent keeps working after the old certificate expired: its Lease is
  // renewed later than that, and the node is still Ready.
  await until(
    'the Lease renewed after the first certificate expired',
    async () => {
      alive();
      return (await leaseRenewTime()).getTime() > firstNotAfter.getTime() + 1000;
    },
    { timeoutMs: 60_000, stepMs: 1000, diag },
  );
  assert.ok(await nodeReady(), `node ${NODE} Ready`);
  assert.equal(agent.exitCode, null, 'the agent was not restarted');
});
