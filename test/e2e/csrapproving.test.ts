// csrapproving end to end: a node renewing its own client certificate through a CSR (kubelet's
// certificate rotation) gets it approved by the controller after a SubjectAccessReview on
// certificatesigningrequests/selfnodeclient, and signed; a request for a node's certificate by
// someone allowed `nodeclient` (here an admin) too; the node asking another signer is left
// pending for a person. (NodeRestriction refuses a node's CSR for another node's name outright.)
import 'reflect-metadata';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { startCluster, until, type Cluster } from './harness.js';
import { caFromPem, issue } from '../../src/machinery/pki.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
let c: Cluster;
let nodeKubeconfig: string;

before(async () => {
  c = await startCluster();
  const tls = join(c.dataDir, 'server', 'tls');
  const ca = await caFromPem(readFileSync(join(tls, 'ca.crt'), 'utf8'), readFileSync(join(tls, 'ca.key'), 'utf8'));
  const node = await issue(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], client: true });
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  nodeKubeconfig = join(c.dataDir, 'node-n1.kubeconfig');
  writeFileSync(
    nodeKubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'k', cluster: { server: c.url, 'certificate-authority-data': b64(ca.certPem) } }],
      users: [
        { name: 'n1', user: { 'client-certificate-data': b64(node.certPem), 'client-key-data': b64(node.keyPem) } },
      ],
      contexts: [{ name: 'k', context: { cluster: 'k', user: 'n1' } }],
      'current-context': 'k',
    }),
  );
});

after(async () => {
  await c?.cleanup();
});

async function requestPem(subject: string): Promise<string> {
  const keys = await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({ name: subject, keys, signingAlgorithm: ALG });
  return csr.toString('pem');
}

/** A CSR created with the node's own certificate (or the admin's). */
async function createCsr(
  name: string,
  subject: string,
  signerName: string,
  usages: string[],
  asAdmin = false,
): Promise<void> {
  const csr: CertificateSigningRequest = {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name },
    spec: { request: Buffer.from(await requestPem(subject)).toString('base64'), signerName, usages },
  };
  const who = asAdmin ? [] : ['--kubeconfig', nodeKubeconfig];
  const r = await c.kubectl([...who, 'create', '-f', '-'], { input: JSON.stringify(csr) });
  assert.equal(r.code, 0, r.stderr);
}

const getCsr = async (name: string) =>
  JSON.parse(await c.k(['get', 'csr', name, '-o', 'json'])) as CertificateSigningRequest;

const USAGES = ['digital signature', 'client auth'];
const KUBELET_CLIENT = 'kubernetes.io/kube-apiserver-client-kubelet';

test("a node's self-renewal CSR is approved (selfnodeclient) and signed; other signers' requests stay pending", async () => {
  // Queued before the renewal: by the time that is approved, the controller has seen it.
  await createCsr('other-signer', 'CN=system:node:n1, O=system:nodes', 'kubernetes.io/kube-apiserver-client', USAGES);
  await createCsr('renewal', 'CN=system:node:n1, O=system:nodes', KUBELET_CLIENT, USAGES);
  const renewed = await until(
    'the renewal CSR signed',
    async () => {
      const csr = await getCsr('renewal');
      return csr.status?.certificate ? csr : undefined;
    },
    120_000,
  );
  assert.equal(renewed.spec.username, 'system:node:n1');
  const approved = renewed.status?.conditions?.find((x) => x.type === 'Approved');
  assert.equal(approved?.status, 'True');
  assert.equal(approved?.reason, 'AutoApproved');
  assert.equal(approved?.message, 'Auto approving self kubelet client certificate after SubjectAccessReview.');
  const cert = new x509.X509Certificate(Buffer.from(renewed.status!.certificate!, 'base64').toString('utf8'));
  assert.equal(cert.subject, 'CN=system:node:n1, O=system:nodes');
  assert.deepEqual((await getCsr('other-signer')).status?.conditions ?? [], [], 'left pending');
  // A person can still approve a pending one.
  await c.k(['certificate', 'approve', 'other-signer']);
  await until('the approved CSR signed', async () => (await getCsr('other-signer')).status?.certificate, 120_000);
});

test('a node client CSR by someone allowed nodeclient (not the node itself) is approved as such', async () => {
  await createCsr('bootstrap-n2', 'CN=system:node:n2, O=system:nodes', KUBELET_CLIENT, USAGES, true);
  const csr = await until(
    'the CSR approved',
    async () => {
      const got = await getCsr('bootstrap-n2');
      return got.status?.conditions?.length ? got : undefined;
    },
    120_000,
  );
  const approved = csr.status?.conditions?.find((x) => x.type === 'Approved');
  assert.equal(approved?.message, 'Auto approving kubelet client certificate after SubjectAccessReview.');
});
