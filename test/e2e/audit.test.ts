// The audit log end to end: a policy file and a log path on the server's command line, requests
// made with kubectl and a raw client, and the JSON lines checked against upstream's Event format.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

const POLICY = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
  - level: None
    nonResourceURLs: ["/openapi*", "/api", "/apis*", "/version"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets"]
  - level: RequestResponse
    resources:
      - group: ""
        resources: ["configmaps"]
  - level: Request
    omitStages: [ResponseStarted]
    resources:
      - group: ""
        resources: ["pods/log", "services"]
  - level: Metadata
`;

let c: Cluster;
let raw: RawClient;
let dir: string;
let logFile: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'k8ts-audit-'));
  writeFileSync(join(dir, 'policy.yaml'), POLICY);
  logFile = join(dir, 'logs', 'audit.log');
  c = await startCluster({
    args: ['--audit-policy-file', join(dir, 'policy.yaml'), '--audit-log-path', logFile],
  });
  raw = rawClient(c.kubeconfig);
});
after(async () => {
  await c?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

interface Ev {
  kind: string;
  apiVersion: string;
  level: string;
  auditID: string;
  stage: string;
  requestURI: string;
  verb: string;
  user: { username?: string; groups?: string[] };
  impersonatedUser?: { username: string };
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: Record<string, string>;
  responseStatus?: { code: number; reason?: string; message?: string };
  requestObject?: { data?: unknown; metadata: { name: string; uid?: string } };
  responseObject?: { metadata: { name: string; uid?: string } };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

const events = (): Ev[] =>
  existsSync(logFile)
    ? readFileSync(logFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Ev)
    : [];

/** The events of one request, once its last stage is in the log. */
async function eventsOf(auditID: string): Promise<Ev[]> {
  let found: Ev[] = [];
  await until(`audit events of ${auditID}`, () => {
    found = events().filter((e) => e.auditID === auditID);
    return found.some((e) => e.stage === 'ResponseComplete' || e.stage === 'ResponseStarted');
  });
  return found;
}

test('every request has an Audit-Id; a secret read is logged at Metadata without its data', async () => {
  await c.k(['create', 'secret', 'generic', 'topsecret', '--from-literal=password=hunter2-value']);
  const r = await raw.request('GET', '/api/v1/namespaces/default/secrets/topsecret', undefined, {
    'User-Agent': 'audit-test/1.0',
  });
  assert.equal(r.status, 200);
  const id = r.headers['audit-id'] as string;
  assert.match(id, /^[0-9a-f-]{36}$/);
  const [ev, ...more] = await eventsOf(id);
  assert.equal(more.length, 0, 'RequestReceived is omitted by the policy');
  assert.equal(ev.kind, 'Event');
  assert.equal(ev.apiVersion, 'audit.k8s.io/v1');
  assert.equal(ev.level, 'Metadata');
  assert.equal(ev.stage, 'ResponseComplete');
  assert.equal(ev.verb, 'get');
  assert.equal(ev.requestURI, '/api/v1/namespaces/default/secrets/topsecret');
  assert.equal(ev.user.username, 'system:admin');
  assert.ok(ev.user.groups?.includes('system:masters'));
  assert.equal(ev.userAgent, 'audit-test/1.0');
  assert.ok(ev.sourceIPs.includes('127.0.0.1'));
  assert.deepEqual(ev.objectRef, { resource: 'secrets', namespace: 'default', name: 'topsecret', apiVersion: 'v1' });
  assert.deepEqual(ev.responseStatus, { metadata: {}, code: 200 });
  assert.match(ev.requestReceivedTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  assert.ok(ev.stageTimestamp >= ev.requestReceivedTimestamp);
  assert.equal(ev.annotations?.['authorization.k8s.io/decision'], 'allow');
  assert.equal(ev.requestObject, undefined);
  assert.equal(ev.responseObject, undefined);
  // The value appears nowhere in the log (base64 or plain).
  const text = readFileSync(logFile, 'utf8');
  assert.ok(!text.includes('hunter2-value') && !text.includes(Buffer.from('hunter2-value').toString('base64')));
  // A client's own Audit-ID is kept.
  const own = await raw.request('GET', '/api/v1/namespaces/default/secrets/topsecret', undefined, {
    'Audit-ID': 'my-own-audit-id',
  });
  assert.equal(own.headers['audit-id'], 'my-own-audit-id');
});

test('RequestResponse records both objects; Request only the request; omitStages add up', async () => {
  const cm = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'audited' }, data: { k: 'v' } };
  const created = await raw.json('POST', '/api/v1/namespaces/default/configmaps', cm);
  assert.equal(created.status, 201);
  const [ev] = await eventsOf(created.headers['audit-id'] as string);
  assert.equal(ev.level, 'RequestResponse');
  assert.equal(ev.verb, 'create');
  assert.equal(ev.objectRef?.name, 'audited', 'a create is named from its body');
  assert.deepEqual(ev.requestObject?.data, { k: 'v' });
  assert.equal(ev.responseObject?.metadata.name, 'audited');
  assert.ok(ev.responseObject?.metadata.uid);
  assert.deepEqual(ev.responseStatus, { metadata: {}, code: 201 });

  const svc = {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 'audited' },
    spec: { ports: [{ port: 80 }] },
  };
  const s = await raw.json('POST', '/api/v1/namespaces/default/services', svc);
  assert.equal(s.status, 201);
  const stages = await eventsOf(s.headers['audit-id'] as string);
  // The rule's omitStages add to the policy's: RequestReceived stays omitted.
  assert.deepEqual(
    stages.map((e) => e.stage),
    ['ResponseComplete'],
  );
  const done = stages[0];
  assert.equal(done.level, 'Request');
  assert.equal(done.requestObject?.metadata.name, 'audited');
  assert.equal(done.responseObject, undefined);
});

test('errors carry their Status; a refusal its decision; impersonation its user', async () => {
  const missing = await raw.request('GET', '/api/v1/namespaces/default/configmaps/nope');
  assert.equal(missing.status, 404);
  const [ev] = await eventsOf(missing.headers['audit-id'] as string);
  assert.equal(ev.responseStatus?.code, 404);
  assert.equal(ev.responseStatus?.reason, 'NotFound');
  assert.equal(ev.responseStatus?.message, 'configmaps "nope" not found');

  const denied = await raw.request('GET', '/api/v1/namespaces/default/pods', undefined, { 'Impersonate-User': 'jane' });
  assert.equal(denied.status, 403);
  const [d] = await eventsOf(denied.headers['audit-id'] as string);
  assert.equal(d.user.username, 'system:admin');
  assert.equal(d.impersonatedUser?.username, 'jane');
  assert.equal(d.annotations?.['authorization.k8s.io/decision'], 'forbid');
  assert.equal(d.responseStatus?.reason, 'Forbidden');

  // No credentials: system:anonymous, refused by RBAC; a bad token: 401, logged before authentication.
  const noCreds = rawClient(c.kubeconfig, { anonymous: true });
  const anon = await noCreds.request('GET', '/api/v1/namespaces');
  assert.equal(anon.status, 403);
  const [n] = await eventsOf(anon.headers['audit-id'] as string);
  assert.equal(n.user?.username, 'system:anonymous');
  assert.equal(n.annotations?.['authorization.k8s.io/decision'], 'forbid');
  const bad = await noCreds.request('GET', '/api/v1/namespaces', undefined, { Authorization: 'Bearer not-a-token' });
  assert.equal(bad.status, 401);
  const [a] = await eventsOf(bad.headers['audit-id'] as string);
  assert.equal(a.stage, 'ResponseStarted');
  assert.equal(a.responseStatus?.code, 401);
});

test('a watch logs ResponseStarted, then ResponseComplete when it ends; None-level paths are not logged', async () => {
  const w = await raw.request('GET', '/api/v1/namespaces/default/configmaps?watch=true&timeoutSeconds=1');
  assert.equal(w.status, 200);
  const id = w.headers['audit-id'] as string;
  await until('watch completes in the log', () =>
    events().some((e) => e.auditID === id && e.stage === 'ResponseComplete'),
  );
  const stages = events()
    .filter((e) => e.auditID === id)
    .map((e) => e.stage);
  assert.deepEqual(stages, ['ResponseStarted', 'ResponseComplete']);

  const v = await raw.request('GET', '/apis');
  assert.equal(v.status, 200);
  assert.ok(v.headers['audit-id'], 'the header is there even when the policy says None');
  await raw.request('GET', '/api/v1/namespaces/default/configmaps/audited');
  await until('a later event is written', () =>
    events().some((e) => e.requestURI.endsWith('/configmaps/audited') && e.verb === 'get'),
  );
  assert.ok(!events().some((e) => e.auditID === v.headers['audit-id']));
});
