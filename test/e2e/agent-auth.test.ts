// The node agent's API asks the API server who its callers are and what they may do, as the
// kubelet does: TokenReview for bearer tokens, the cluster CA for client certificates, and a
// SubjectAccessReview on nodes/<subresource> of its node for every request. A real API server
// (--disable-agent) and a real agent server (src/agent/server.ts) whose pod locator serves one
// log file: no containers needed.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import YAML from 'yaml';
import type { TokenReview, TokenReviewStatus } from 'kubernetes-types/authentication/v1.js';
import { AgentServer, type PodLocator } from '../../src/agent/server.js';
import { AgentAuth, clientReviewer, nodeAttributes, type AccessReviewer } from '../../src/agent/auth.js';
import type { Runtime } from '../../src/agent/runtime/types.js';
import { Client } from '../../src/client/client.js';
import { HttpsTransport } from '../../src/client/https.js';
import { issue, loadOrCreateCA, type CA } from '../../src/machinery/pki.js';
import { startCluster, type Cluster } from './harness.js';
import { rawClient } from './rawclient.js';

const NODE = 'authz-node';
const work = mkdtempSync(join(tmpdir(), 'k8ts-agent-auth-'));
let cluster: Cluster;
let ca: CA;
let agent: AgentServer;
/** SubjectAccessReviews the agent sent (its cache keeps most requests from reaching the server). */
let accessReviews = 0;
let tokenReviews = 0;

interface Answer {
  status: number;
  body: string;
}

/** A request straight to the agent, with a client certificate or a bearer token (or neither). */
function callAgent(
  path: string,
  who: { cert?: { certPem: string; keyPem: string }; token?: string } = {},
  method = 'GET',
  headers: Record<string, string> = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: agent.port,
        path,
        method,
        ca: ca.certPem,
        cert: who.cert?.certPem,
        key: who.cert?.keyPem,
        headers: { ...headers, ...(who.token ? { Authorization: `Bearer ${who.token}` } : {}) },
        agent: false,
      },
      (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

const SPDY_EXEC = { Connection: 'Upgrade', Upgrade: 'SPDY/3.1', 'X-Stream-Protocol-Version': 'v4.channel.k8s.io' };

before(async () => {
  cluster = await startCluster();
  ca = await loadOrCreateCA(join(cluster.dataDir, 'server', 'tls'));
  const log = join(work, 'main.log');
  writeFileSync(log, '2024-05-01T10:00:01.5Z stdout F hello from main\n');
  const locator: PodLocator = {
    runtime: {
      name: 'none',
      exec: () => Promise.reject(new Error('no runtime here')),
    } as unknown as Runtime,
    container: (ns, pod, c) =>
      ns === 'default' && pod === 'p' && c === 'main'
        ? { current: { id: 'cid-main', logPath: log, running: false } }
        : undefined,
    sandbox: (ns, pod) => (ns === 'default' && pod === 'p' ? 'sandbox-p' : undefined),
  };
  const node = await issue(ca, { commonName: `system:node:${NODE}`, organizations: ['system:nodes'], client: true });
  const reviewer = clientReviewer(
    new Client(
      new HttpsTransport(
        { server: cluster.url, ca: ca.certPem, cert: node.certPem, key: node.keyPem },
        { fieldManager: 'kubelet' },
      ),
    ),
  );
  // The real reviewer, counted: the caches must keep repeated requests from the API server.
  const counted: AccessReviewer = {
    reviewToken: (t) => (tokenReviews++, reviewer.reviewToken(t)),
    reviewAccess: (u, a) => (accessReviews++, reviewer.reviewAccess(u, a)),
  };
  const serving = await issue(ca, { commonName: NODE, sans: ['127.0.0.1'], server: true });
  agent = new AgentServer({
    locator,
    auth: new AgentAuth({ reviewer: counted, nodeName: NODE }),
    tls: { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem },
    port: 0,
    bindAddress: '127.0.0.1',
  });
  await agent.start();

  await cluster.k(['apply', '-f', '-'], YAML.stringify({ apiVersion: 'v1', kind: 'Node', metadata: { name: NODE } }));
  const status = {
    status: {
      addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
      daemonEndpoints: { kubeletEndpoint: { Port: agent.port } },
    },
  };
  await cluster.k(['patch', 'node', NODE, '--subresource=status', '--type=merge', '-p', JSON.stringify(status)]);
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'p', namespace: 'default' },
    spec: { nodeName: NODE, containers: [{ name: 'main', image: 'busybox' }] },
  };
  await cluster.k(['apply', '-f', '-'], YAML.stringify(pod));
  const running = {
    status: {
      phase: 'Running',
      containerStatuses: [
        {
          name: 'main',
          ready: true,
          restartCount: 0,
          image: 'busybox',
          imageID: '',
          containerID: 'containerd://cid-main',
          state: { running: { startedAt: '2024-05-01T10:00:00Z' } },
        },
      ],
    },
  };
  await cluster.k(['patch', 'pod', 'p', '--subresource=status', '--type=merge', '-p', JSON.stringify(running)]);
  for (const sa of ['reader', 'proxier', 'elsewhere']) await cluster.k(['create', 'serviceaccount', sa]);
  // proxier may use this node's kubelet API; elsewhere only another node's.
  await cluster.k(['create', 'clusterrole', 'node-proxy', '--verb=get,create', '--resource=nodes/proxy']);
  await cluster.k([
    'create',
    'clusterrolebinding',
    'proxier',
    '--clusterrole=node-proxy',
    '--serviceaccount=default:proxier',
  ]);
  await cluster.k([
    'create',
    'clusterrole',
    'other-node-proxy',
    '--verb=get,create',
    '--resource=nodes/proxy',
    '--resource-name=some-other-node',
  ]);
  await cluster.k([
    'create',
    'clusterrolebinding',
    'elsewhere',
    '--clusterrole=other-node-proxy',
    '--serviceaccount=default:elsewhere',
  ]);
});

after(async () => {
  await agent?.stop();
  await cluster?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test('TokenReview answers for service-account tokens, with audiences as upstream', async () => {
  const raw = rawClient(cluster.kubeconfig);
  const review = async (spec: object) => {
    const r = await raw.json('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenReview',
      spec,
    });
    return {
      status: r.status,
      body: r.body as Required<TokenReview> & { status: Required<TokenReviewStatus>; message?: string },
    };
  };
  const token = (await cluster.k(['create', 'token', 'reader'])).trim();
  const ok = await review({ token });
  assert.equal(ok.status, 201);
  assert.equal(ok.body.kind, 'TokenReview');
  assert.equal(ok.body.status.authenticated, true);
  assert.equal(ok.body.status.user.username, 'system:serviceaccount:default:reader');
  assert.deepEqual(ok.body.status.user.groups, [
    'system:serviceaccounts',
    'system:serviceaccounts:default',
    'system:authenticated',
  ]);
  assert.match(ok.body.status.user.uid ?? '', /^[0-9a-f-]{36}$/);
  assert.deepEqual(ok.body.status.audiences, ['https://kubernetes.default.svc.cluster.local']);

  // A token for another audience is good for that audience only.
  const vault = (await cluster.k(['create', 'token', 'reader', '--audience=vault'])).trim();
  assert.equal((await review({ token: vault })).body.status.authenticated, undefined);
  const forVault = await review({ token: vault, audiences: ['vault', 'other'] });
  assert.equal(forVault.body.status.authenticated, true);
  assert.deepEqual(forVault.body.status.audiences, ['vault']);
  assert.equal((await review({ token, audiences: ['vault'] })).body.status.authenticated, undefined);

  const bad = await review({ token: 'not-a-token' });
  assert.equal(bad.status, 201);
  assert.deepEqual(bad.body.status, { user: {}, error: 'invalid bearer token' });
  const empty = await review({});
  assert.equal(empty.status, 400);
  assert.equal(empty.body.message, 'token is required for TokenReview in authentication');
  raw.agent.destroy();
});

test('a ServiceAccount without nodes/proxy is forbidden on the agent; one with it gets through', async () => {
  const reader = (await cluster.k(['create', 'token', 'reader'])).trim();
  const logs = await callAgent('/containerLogs/default/p/main', { token: reader });
  assert.equal(logs.status, 403);
  assert.equal(
    logs.body,
    'Forbidden (user=system:serviceaccount:default:reader, verb=get, resource=nodes, subresource(s)=[proxy])\n',
  );
  const exec = await callAgent('/exec/default/p/main?command=id&output=1', { token: reader }, 'POST', SPDY_EXEC);
  assert.equal(exec.status, 403);
  assert.equal((await callAgent('/healthz', { token: reader })).status, 403);

  const proxier = (await cluster.k(['create', 'token', 'proxier'])).trim();
  const allowed = await callAgent('/containerLogs/default/p/main', { token: proxier });
  assert.equal(allowed.status, 200);
  assert.equal(allowed.body, 'hello from main\n');
  // get is not create: a SPDY exec (POST) needs create, which proxier has; DELETE it lacks.
  assert.equal((await callAgent('/healthz', { token: proxier }, 'DELETE')).status, 403);

  // nodes/proxy on another node is not this one's.
  const elsewhere = (await cluster.k(['create', 'token', 'elsewhere'])).trim();
  assert.equal((await callAgent('/containerLogs/default/p/main', { token: elsewhere })).status, 403);
});

test('a client certificate of the cluster CA is not enough: its user must be authorized', async () => {
  const mallory = await issue(ca, { commonName: 'mallory', organizations: ['developers'], client: true });
  const r = await callAgent('/containerLogs/default/p/main', { cert: mallory });
  assert.equal(r.status, 403);
  assert.equal(r.body, 'Forbidden (user=mallory, verb=get, resource=nodes, subresource(s)=[proxy])\n');
  const exec = await callAgent('/exec/default/p/main?command=id&output=1', { cert: mallory }, 'POST', SPDY_EXEC);
  assert.equal(exec.status, 403);
  // Another node's identity gets nothing on this node (the Node authorizer).
  const other = await issue(ca, { commonName: 'system:node:other', organizations: ['system:nodes'], client: true });
  assert.equal((await callAgent('/containerLogs/default/p/main', { cert: other })).status, 403);
  // Unknown tokens and no credentials: 401.
  assert.deepEqual(await callAgent('/containerLogs/default/p/main', { token: 'nope' }), {
    status: 401,
    body: 'Unauthorized',
  });
  assert.equal((await callAgent('/healthz')).status, 401);
});

test('the API server (its kubelet client certificate) gets through: kubectl logs', async () => {
  assert.equal(await cluster.k(['logs', 'p', '-c', 'main']), 'hello from main\n');
  const raw = rawClient(cluster.kubeconfig);
  const healthz = await raw.request('GET', `/api/v1/nodes/${NODE}/proxy/healthz`);
  assert.equal(healthz.status, 200);
  raw.agent.destroy();
});

test('decisions are cached: a repeated request asks the API server nothing', async () => {
  const proxier = (await cluster.k(['create', 'token', 'proxier'])).trim();
  assert.equal((await callAgent('/containerLogs/default/p/main', { token: proxier })).status, 200);
  const before = { access: accessReviews, tokens: tokenReviews };
  for (let i = 0; i < 5; i++)
    assert.equal((await callAgent('/containerLogs/default/p/main', { token: proxier })).status, 200);
  const reader = (await cluster.k(['create', 'token', 'reader'])).trim();
  await callAgent('/containerLogs/default/p/main', { token: reader });
  const afterDenied = accessReviews;
  for (let i = 0; i < 3; i++) await callAgent('/containerLogs/default/p/main', { token: reader });
  assert.equal(accessReviews, afterDenied);
  // Only the new token was reviewed; the reader's denial was asked at most once (it may still be cached).
  assert.equal(tokenReviews, before.tokens + 1);
  assert.ok(accessReviews <= before.access + 1);
});

test('paths map to the kubelet subresources', () => {
  const sub = (method: string, path: string) => {
    const a = nodeAttributes(method, path, 'n');
    return `${a.verb} ${a.subresources.join(',')}`;
  };
  assert.equal(sub('GET', '/stats/summary'), 'get stats');
  assert.equal(sub('GET', '/metrics/cadvisor'), 'get metrics');
  assert.equal(sub('GET', '/logs/messages'), 'get log');
  assert.equal(sub('GET', '/logsx'), 'get proxy');
  assert.equal(sub('GET', '/pods'), 'get pods,proxy');
  assert.equal(sub('GET', '/healthz'), 'get healthz,proxy');
  assert.equal(sub('POST', '/exec/ns/p/c'), 'create proxy');
  assert.equal(sub('GET', '/containerLogs/ns/p/c'), 'get proxy');
  assert.equal(sub('PUT', '/x'), 'update proxy');
  assert.equal(sub('OPTIONS', '/x'), ' proxy');
});
