// API Priority and Fairness end to end, with real kubectl: the bootstrap FlowSchemas and
// PriorityLevelConfigurations listed with upstream's columns, the classification headers on a
// response, and a custom FlowSchema that routes one user to a priority level of one seat and a
// queue of one: a burst of that user's creates gets 429s with Retry-After while an exempt admin
// (system:masters) is served at once. Clients that go away while their requests wait take them
// out of the queue at once. The server's concurrency is cut to 150 seats so that a level with one
// share gets one seat (borrowingLimitPercent 0: it borrows none from the idle levels).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { startCluster, until, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let c: Cluster;
let raw: RawClient;

before(async () => {
  c = await startCluster({ args: ['--max-requests-inflight', '100', '--max-mutating-requests-inflight', '50'] });
  raw = rawClient(c.kubeconfig);
});

after(async () => {
  raw?.agent.destroy();
  await c?.cleanup();
});

/**
 * Routes a user (allowed to edit the default namespace) to a new one-seat level that borrows
 * nothing, with one queue of `queueLength`; waits until the server classifies it so, and returns
 * the level's uid.
 */
async function routeUser(user: string, level: string, queueLength: number, precedence: number): Promise<string> {
  await c.k(['create', 'rolebinding', `${user}-edit`, '--clusterrole=edit', `--user=${user}`, '-n', 'default']);
  await c.k(
    ['apply', '-f', '-'],
    `apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: ${level}}
spec:
  type: Limited
  limited:
    nominalConcurrencyShares: 1
    borrowingLimitPercent: 0
    limitResponse: {type: Queue, queuing: {queues: 1, handSize: 1, queueLengthLimit: ${queueLength}}}
---
apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: FlowSchema
metadata: {name: ${user}}
spec:
  priorityLevelConfiguration: {name: ${level}}
  matchingPrecedence: ${precedence}
  distinguisherMethod: {type: ByUser}
  rules:
  - subjects: [{kind: User, user: {name: ${user}}}]
    resourceRules: [{verbs: ['*'], apiGroups: ['*'], resources: ['*'], namespaces: ['*']}]
`,
  );
  const uid = (await c.k(['get', 'prioritylevelconfiguration', level, '-o', 'jsonpath={.metadata.uid}'])).trim();
  // The server follows the objects: the user's requests land on the level.
  await until(
    `${user} on the ${level} level`,
    async () => {
      const r = await raw.request('GET', '/api/v1/namespaces/default/configmaps', undefined, {
        'Impersonate-User': user,
      });
      return r.headers['x-kubernetes-pf-prioritylevel-uid'] === uid || undefined;
    },
    20_000,
  );
  return uid;
}

test('kubectl lists the bootstrap configuration with upstream columns', { timeout: 60_000 }, async () => {
  // The configuration controller marks each schema's Dangling condition (MISSINGPL False).
  const fs = await until(
    'the schemas listed with their Dangling condition',
    async () => {
      const out = await c.k(['get', 'flowschemas']);
      return /\ncatch-all\s+catch-all\s+10000\s+ByUser\s+\S+\s+False\n/.test(out) ? out : undefined;
    },
    30_000,
  );
  const header = fs.split('\n')[0].split(/\s+/);
  assert.deepEqual(header, ['NAME', 'PRIORITYLEVEL', 'MATCHINGPRECEDENCE', 'DISTINGUISHERMETHOD', 'AGE', 'MISSINGPL']);
  assert.match(fs, /\nexempt\s+exempt\s+1\s+<none>\s/);
  for (const name of [
    'probes',
    'system-leader-election',
    'system-node-high',
    'system-nodes',
    'kube-scheduler',
    'service-accounts',
    'global-default',
  ])
    assert.match(fs, new RegExp(`\\n${name}\\s`), name);
  const pl = await c.k(['get', 'prioritylevelconfigurations']);
  assert.deepEqual(pl.split('\n')[0].split(/\s+/), [
    'NAME',
    'TYPE',
    'NOMINALCONCURRENCYSHARES',
    'QUEUES',
    'HANDSIZE',
    'QUEUELENGTHLIMIT',
    'AGE',
  ]);
  assert.match(pl, /\ncatch-all\s+Limited\s+5\s+<none>\s+<none>\s+<none>\s/);
  assert.match(pl, /\nexempt\s+Exempt\s+<none>\s+<none>\s+<none>\s+<none>\s/);
  assert.match(pl, /\nworkload-low\s+Limited\s+100\s+128\s+6\s+50\s/);
  // The configuration producer writes each spec once (no churn: every object is at generation 1).
  const generations = await c.k([
    'get',
    'flowschemas,prioritylevelconfigurations',
    '-o',
    'jsonpath={.items[*].metadata.generation}',
  ]);
  assert.deepEqual([...new Set(generations.trim().split(' '))], ['1']);
  // A mandatory object changed by hand is put back.
  await c.k([
    'patch',
    'prioritylevelconfiguration',
    'catch-all',
    '--type=merge',
    '-p',
    '{"spec":{"limited":{"nominalConcurrencyShares":50}}}',
  ]);
  await until(
    'catch-all restored',
    async () => {
      const n = await c.k([
        'get',
        'prioritylevelconfiguration',
        'catch-all',
        '-o',
        'jsonpath={.spec.limited.nominalConcurrencyShares}',
      ]);
      return n.trim() === '5' || undefined;
    },
    20_000,
  );
  // Bad input names the field.
  const bad = await c.kubectl(['apply', '-f', '-'], {
    input: `apiVersion: flowcontrol.apiserver.k8s.io/v1
kind: PriorityLevelConfiguration
metadata: {name: bad}
spec:
  type: Limited
  limited:
    limitResponse: {type: Queue, queuing: {queues: 4, handSize: 8}}
`,
  });
  assert.notEqual(bad.code, 0);
  assert.match(
    bad.stderr,
    /spec\.limited\.limitResponse\.queuing\.handSize: Invalid value: 8: should not be greater than queues \(4\)/,
  );
});

test('responses name their flow schema and priority level', { timeout: 30_000 }, async () => {
  const uid = (kind: string, name: string) => c.k(['get', kind, name, '-o', 'jsonpath={.metadata.uid}']);
  const r = await raw.request('GET', '/api/v1/namespaces/default');
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-kubernetes-pf-flowschema-uid'], await uid('flowschema', 'exempt'));
  assert.equal(r.headers['x-kubernetes-pf-prioritylevel-uid'], await uid('prioritylevelconfiguration', 'exempt'));
  const asUser = await raw.request('GET', '/api/v1/namespaces/default', undefined, { 'Impersonate-User': 'nobody' });
  assert.equal(asUser.status, 403);
  assert.equal(asUser.headers['x-kubernetes-pf-flowschema-uid'], undefined, 'a forbidden request is not classified');
  const health = await raw.request('GET', '/livez');
  assert.equal(health.status, 200);
});

test(
  'a burst from a user routed to a one-seat level is rejected while an exempt admin is served',
  { timeout: 60_000 },
  async () => {
    await routeUser('burster', 'tiny', 1, 50);
    const burst = Array.from({ length: 40 }, (_, i) =>
      raw.json(
        'POST',
        '/api/v1/namespaces/default/configmaps',
        { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `burst-${i}` }, data: { i: String(i) } },
        { 'Impersonate-User': 'burster' },
      ),
    );
    const admin = raw.request('GET', '/api/v1/namespaces/default');
    const results = await Promise.all(burst);
    const codes = results.map((r) => r.status);
    const rejected = results.filter((r) => r.status === 429);
    assert.ok(rejected.length > 0, `some of the burst is rejected (codes ${codes.join(',')})`);
    assert.ok(codes.includes(201), `some of the burst is served (codes ${codes.join(',')})`);
    assert.ok(
      codes.every((s) => s === 201 || s === 429),
      codes.join(','),
    );
    assert.equal(rejected[0].headers['retry-after'], '1');
    assert.equal(rejected[0].body.message, 'Too many requests, please try again later.');
    assert.equal(rejected[0].body.reason, 'TooManyRequests');
    assert.equal((await admin).status, 200);
    const metrics = await raw.request('GET', '/metrics');
    assert.match(
      metrics.body,
      /apiserver_flowcontrol_rejected_requests_total\{priority_level="tiny",flow_schema="burster",reason="queue-full"\} \d+/,
    );
    assert.match(
      metrics.body,
      /apiserver_flowcontrol_dispatched_requests_total\{priority_level="tiny",flow_schema="burster"\} \d+/,
    );
    assert.match(
      metrics.body,
      /apiserver_flowcontrol_request_wait_duration_seconds_count\{priority_level="tiny",flow_schema="burster",execute="true"\} \d+/,
    );
    // Its level deleted, the schema dangles (MISSINGPL True) and the user falls through to the next match.
    await c.k(['delete', 'prioritylevelconfiguration', 'tiny']);
    await until(
      'the schema dangling',
      async () => {
        const out = await c.k(['get', 'flowschema', 'burster', '--no-headers']);
        return /\sTrue\s*$/.test(out) || undefined;
      },
      20_000,
    );
  },
);

test(
  'queued requests whose clients go away leave the queue at once and never take the seat',
  { timeout: 60_000 },
  async () => {
    await routeUser('holder', 'one-seat', 10, 40);
    const as = { 'Impersonate-User': 'holder' };
    const agent = new https.Agent({ ...raw.agent.options, keepAlive: false });
    const metric = async (name: string, extra = '') => {
      const body = (await raw.request('GET', '/metrics')).body;
      const m = new RegExp(`^${name}\\{priority_level="one-seat",flow_schema="holder"${extra}\\} (\\d+)`, 'm').exec(
        body,
      );
      return m ? Number(m[1]) : 0;
    };
    const dispatchedBefore = await metric('apiserver_flowcontrol_dispatched_requests_total');
    // The seat is held by a create whose body is still arriving.
    const body = JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held' } });
    const holder = https.request(new URL('/api/v1/namespaces/default/configmaps', raw.base), {
      method: 'POST',
      agent,
      headers: { ...as, 'content-type': 'application/json', 'content-length': String(body.length) },
    });
    const held = new Promise<number>((resolve, reject) => {
      holder.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      holder.on('error', reject);
    });
    holder.write(body.slice(0, 10));
    await until(
      'the seat taken',
      async () => (await metric('apiserver_flowcontrol_current_executing_requests')) === 1 || undefined,
      10_000,
    );
    // Three clients queue behind it, then go away.
    const waiters = Array.from({ length: 3 }, () => {
      const r = https.request(new URL('/api/v1/namespaces/default/configmaps', raw.base), { agent, headers: as });
      r.on('error', () => undefined);
      r.end();
      return r;
    });
    await until(
      'three queued',
      async () => (await metric('apiserver_flowcontrol_current_inqueue_requests')) === 3 || undefined,
      10_000,
    );
    for (const w of waiters) w.destroy();
    // Out of the queue at once, while the seat is still held, rejected as upstream counts a cancelled wait.
    await until(
      'the queue empty',
      async () => (await metric('apiserver_flowcontrol_current_inqueue_requests')) === 0 || undefined,
      5_000,
    );
    assert.equal(await metric('apiserver_flowcontrol_rejected_requests_total', ',reason="time-out"'), 3);
    // The next client waits only for the holder, and is served as soon as the holder is done.
    const next = raw.request('GET', '/api/v1/namespaces/default/configmaps', undefined, as);
    await until(
      'the next one queued',
      async () => (await metric('apiserver_flowcontrol_current_inqueue_requests')) === 1 || undefined,
      5_000,
    );
    holder.end(body.slice(10));
    const started = Date.now();
    assert.equal(await held, 201);
    assert.equal((await next).status, 200);
    assert.ok(Date.now() - started < 3_000, `served right after the holder (${Date.now() - started} ms)`);
    // Only the holder and the next one ever took the seat.
    assert.equal((await metric('apiserver_flowcontrol_dispatched_requests_total')) - dispatchedBefore, 2);
    agent.destroy();
  },
);
