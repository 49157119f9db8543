// NodeRestriction with a node's own identity (client certificate CN=system:node:n1,
// O=system:nodes) against a real server (--disable-agent): its own Node only, no workload-steering
// labels, taints or ownerReferences; mirror pods only; its pods' status without labels; its own
// Lease; CSRs for its own name; tokens only for its pods.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';
import { run, startCluster, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let cluster: Cluster;
let dir: string;
let admin: RawClient;
let n1: RawClient;

interface StatusBody {
  message?: string;
  metadata?: { uid?: string };
}

/** A request as node n1: the status, and the Status message when refused. */
async function asNode(method: string, path: string, body?: unknown, contentType?: string) {
  const headers = contentType ? { 'Content-Type': contentType } : undefined;
  const r = await n1.json(method, path, body, headers);
  return { status: r.status, message: (r.body as StatusBody).message ?? '', body: r.body as StatusBody };
}

const mergePatch = 'application/merge-patch+json';
const nodeObject = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Node',
  metadata: { name, labels },
});

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-noderestriction-'));
  cluster = await startCluster();
  const ca = await loadOrCreateCA(join(cluster.dataDir, 'server', 'tls'));
  const cert = await issue(ca, { commonName: 'system:node:n1', organizations: ['system:nodes'], client: true });
  const cfg = YAML.parse(readFileSync(cluster.kubeconfig, 'utf8')) as { users: { user: Record<string, string> }[] };
  cfg.users[0].user['client-certificate-data'] = Buffer.from(cert.certPem).toString('base64');
  cfg.users[0].user['client-key-data'] = Buffer.from(cert.keyPem).toString('base64');
  const kubeconfig = join(dir, 'n1.yaml');
  writeFileSync(kubeconfig, YAML.stringify(cfg));
  admin = rawClient(cluster.kubeconfig);
  n1 = rawClient(kubeconfig);
  for (const [name, node] of [
    ['p1', 'n1'],
    ['p2', 'n2'],
  ])
    assert.equal(
      (
        await admin.json('POST', '/api/v1/namespaces/default/pods', {
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name, labels: { app: name } },
          spec: { nodeName: node, containers: [{ name: 'c', image: 'busybox' }] },
        })
      ).status,
      201,
    );
});

after(async () => {
  admin?.agent.destroy();
  n1?.agent.destroy();
  await cluster?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

test('a node registers itself only, without labels that steer workloads', async () => {
  const other = await asNode('POST', '/api/v1/nodes', nodeObject('n2'));
  assert.equal(other.status, 403);
  assert.equal(other.message, 'nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"');
  const role = await asNode(
    'POST',
    '/api/v1/nodes',
    nodeObject('n1', { 'node-role.kubernetes.io/control-plane': 'true', 'node-restriction.kubernetes.io/x': 'y' }),
  );
  assert.equal(role.status, 403);
  assert.equal(
    role.message,
    'nodes "n1" is forbidden: node "n1" is not allowed to set the following labels: node-restriction.kubernetes.io/x, node-role.kubernetes.io/control-plane',
  );
  const ok = await asNode(
    'POST',
    '/api/v1/nodes',
    nodeObject('n1', {
      'kubernetes.io/hostname': 'n1',
      'kubernetes.io/os': 'linux',
      'node.kubernetes.io/instance-type': 'k8ts',
      'topology.kubernetes.io/zone': 'z1',
      'example.com/rack': 'r1',
    }),
  );
  assert.equal(ok.status, 201, ok.message);
});

test('a node may not change its taints, ownerReferences or restricted labels', async () => {
  // The admin taints it; the node can't take the taint off.
  const taint = { spec: { taints: [{ key: 'dedicated', value: 'x', effect: 'NoSchedule' }] } };
  assert.equal((await admin.json('PATCH', '/api/v1/nodes/n1', taint, { 'Content-Type': mergePatch })).status, 200);
  const untaint = await asNode('PATCH', '/api/v1/nodes/n1', { spec: { taints: null } }, mergePatch);
  assert.equal(untaint.status, 403);
  assert.equal(untaint.message, 'nodes "n1" is forbidden: node "n1" is not allowed to modify taints');
  const owners = {
    metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'Namespace', name: 'default', uid: 'u-1' }] },
  };
  const owned = await asNode('PATCH', '/api/v1/nodes/n1', owners, mergePatch);
  assert.equal(owned.status, 403);
  assert.equal(owned.message, 'nodes "n1" is forbidden: node "n1" is not allowed to modify ownerReferences');
  const label = await asNode(
    'PATCH',
    '/api/v1/nodes/n1',
    { metadata: { labels: { 'node-restriction.kubernetes.io/trusted': 'yes', 'node-role.kubernetes.io/worker': '' } } },
    mergePatch,
  );
  assert.equal(label.status, 403);
  assert.equal(
    label.message,
    'nodes "n1" is forbidden: is not allowed to modify labels: node-restriction.kubernetes.io/trusted, node-role.kubernetes.io/worker',
  );
  // Its own kinds of labels, and its status, it may change.
  const fine = await asNode(
    'PATCH',
    '/api/v1/nodes/n1',
    { metadata: { labels: { 'example.com/rack': 'r2', 'kubelet.kubernetes.io/x': '1' } } },
    mergePatch,
  );
  assert.equal(fine.status, 200, fine.message);
  const status = { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }] } };
  assert.equal((await asNode('PATCH', '/api/v1/nodes/n1/status', status, mergePatch)).status, 200);
});

test('pods: mirror pods only, its own pods, status without labels', async () => {
  const plain = await asNode('POST', '/api/v1/namespaces/default/pods', {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'm0' },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }] },
  });
  assert.equal(plain.status, 403);
  assert.equal(
    plain.message,
    'pods "m0" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "n1" can only create mirror pods',
  );
  const uid = (await admin.json('GET', '/api/v1/nodes/n1')).body as StatusBody;
  const mirror = (name: string, extra: Record<string, unknown> = {}) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      annotations: { 'kubernetes.io/config.mirror': 'hash' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: 'n1', uid: uid.metadata?.uid, controller: true }],
    },
    spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'busybox' }], ...extra },
  });
  const withSecret = await asNode(
    'POST',
    '/api/v1/namespaces/default/pods',
    mirror('m1', { volumes: [{ name: 's', secret: { secretName: 'db' } }] }),
  );
  assert.equal(withSecret.status, 403);
  assert.equal(withSecret.message, 'pods "m1" is forbidden: node "n1" can not create pods that reference secrets');
  const created = await asNode('POST', '/api/v1/namespaces/default/pods', mirror('m2'));
  assert.equal(created.status, 201, created.message);

  // Labels never change through a node's status write (upstream refuses it; here status writes keep metadata).
  await asNode(
    'PATCH',
    '/api/v1/namespaces/default/pods/p1/status',
    { metadata: { labels: { app: 'other' } } },
    mergePatch,
  );
  const p1 = (await admin.json('GET', '/api/v1/namespaces/default/pods/p1')).body as { metadata: { labels: object } };
  assert.deepEqual(p1.metadata.labels, { app: 'p1' });
  const running = { status: { phase: 'Running' } };
  assert.equal((await asNode('PATCH', '/api/v1/namespaces/default/pods/p1/status', running, mergePatch)).status, 200);
  assert.equal((await asNode('PATCH', '/api/v1/namespaces/default/pods/p2/status', running, mergePatch)).status, 403);
  const spec = await asNode(
    'PATCH',
    '/api/v1/namespaces/default/pods/p1',
    { metadata: { labels: { a: 'b' } } },
    mergePatch,
  );
  assert.equal(spec.status, 403); // system:node may not patch pods at all
  assert.equal((await asNode('DELETE', '/api/v1/namespaces/default/pods/p2')).status, 403);
  assert.equal((await asNode('DELETE', '/api/v1/namespaces/default/pods/p1')).status, 200);
});

test('leases, tokens and CSRs: its own only', async () => {
  const lease = (ns: string, name: string) =>
    asNode('POST', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name },
      spec: { holderIdentity: 'n1', leaseDurationSeconds: 40 },
    });
  assert.equal((await lease('kube-node-lease', 'n1')).status, 201);
  const foreign = await lease('kube-node-lease', 'n2');
  assert.equal(foreign.status, 403);
  assert.equal(
    foreign.message,
    'leases.coordination.k8s.io "n2" is forbidden: can only access node lease with the same name as the requesting node',
  );
  assert.equal((await lease('default', 'n1')).status, 403);

  const p2 = (await admin.json('GET', '/api/v1/namespaces/default/pods/p2')).body as StatusBody;
  const token = await asNode('POST', '/api/v1/namespaces/default/serviceaccounts/default/token', {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { boundObjectRef: { apiVersion: 'v1', kind: 'Pod', name: 'p2', uid: p2.metadata?.uid } },
  });
  assert.equal(token.status, 403);
  assert.equal(
    token.message,
    'serviceaccounts "default" is forbidden: node requested token bound to a pod scheduled on a different node',
  );

  const key = join(dir, 'n2.key');
  assert.equal((await run('openssl', ['genrsa', '-out', key, '2048'])).code, 0);
  const req = await run('openssl', ['req', '-new', '-key', key, '-subj', '/CN=system:node:n2/O=system:nodes']);
  assert.equal(req.code, 0, req.stderr);
  const csr = await asNode('POST', '/apis/certificates.k8s.io/v1/certificatesigningrequests', {
    apiVersion: 'certificates.k8s.io/v1',
    kind: 'CertificateSigningRequest',
    metadata: { name: 'node-csr-n2' },
    spec: {
      request: Buffer.from(req.stdout).toString('base64'),
      signerName: 'kubernetes.io/kube-apiserver-client-kubelet',
      usages: ['digital signature', 'client auth'],
    },
  });
  assert.equal(csr.status, 403);
  assert.equal(
    csr.message,
    'certificatesigningrequests.certificates.k8s.io "node-csr-n2" is forbidden: can only create a node CSR with CN=system:node:n1',
  );
});
