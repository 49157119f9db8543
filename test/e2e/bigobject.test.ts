// Big request bodies (up to the 3 MiB limit) must neither take minutes nor stop the server from
// answering others while they are handled. Work per phase is linear (test/unit/bigobject.test.ts
// pins that); here a real server shows it end to end, without timing thresholds that a busy
// machine could break.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { performance } from 'node:perf_hooks';
import { startCluster, type Cluster } from './harness.js';
import { rawClient, type RawClient } from './rawclient.js';

let cluster: Cluster;
let api: RawClient;
const PODS = '/api/v1/namespaces/default/pods';
const CMS = '/api/v1/namespaces/default/configmaps';

before(async () => {
  cluster = await startCluster();
  api = rawClient(cluster.kubeconfig);
});
after(async () => {
  api?.agent.destroy();
  await cluster?.cleanup();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * POST `body`; resolves with the response, when the body was handed to the socket and when the
 * response began (a big response then streams out over many turns of the server's event loop).
 */
function post(
  path: string,
  body: string,
): Promise<{ status: number; text: string; sentAt: number; repliedAt: number }> {
  return new Promise((resolve, reject) => {
    let sentAt = NaN;
    const req = https.request(
      new URL(path, api.base),
      { method: 'POST', agent: api.agent, headers: { 'Content-Type': 'application/json', Accept: 'application/json' } },
      (res) => {
        const repliedAt = performance.now();
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8'), sentAt, repliedAt }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body, () => (sentAt = performance.now()));
  });
}

/** Meanwhile a second client reads, one GET after the other, until `done()` says to stop. */
async function getsWhile(done: () => boolean): Promise<{ sent: number; done: number }[]> {
  const gets: { sent: number; done: number }[] = [];
  while (!done()) {
    const sent = performance.now();
    const r = await api.request('GET', '/api/v1/namespaces/default');
    assert.equal(r.status, 200);
    gets.push({ sent, done: performance.now() });
  }
  return gets;
}

test('a Pod with 50,000 containers is too big to store: refused with 413 before the costly steps, dry run or not', async () => {
  // 1.5 MB of body, but defaulted and with its managedFields over 10 MB: more than the store
  // keeps (etcd's 1.5 MiB, as upstream), and found out before field management and encoding run.
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'wide' },
    spec: { containers: range(50_000).map((i) => ({ name: `c${i}`, image: 'i' })) },
  };
  for (const query of ['', '?dryRun=All']) {
    const r = await post(`${PODS}${query}`, JSON.stringify(pod));
    assert.equal(r.status, 413, r.text.slice(0, 300));
    const status = JSON.parse(r.text);
    assert.equal(status.reason, 'RequestEntityTooLarge');
    assert.match(status.message, /request is too large/);
  }
  assert.equal((await api.request('GET', `${PODS}/wide`)).status, 404);
  // A body over the limit even before defaulting (3 MiB of containers) likewise.
  const big = { ...pod, spec: { containers: range(90_000).map((i) => ({ name: `c${i}`, image: 'i' })) } };
  assert.equal((await post(PODS, JSON.stringify(big))).status, 413);
  // Such a body is refused from its text, before it is parsed: cut short, it is still a 413.
  assert.equal((await post(PODS, JSON.stringify(big).slice(0, -100))).status, 413);
  // Whitespace is not stored, so it does not count: 2.5 MB of indentation around a small Pod.
  const small = { ...pod, metadata: { name: 'indented' }, spec: { containers: [{ name: 'c', image: 'i' }] } };
  const lines = JSON.stringify(small, null, 2).split('\n');
  const padded = lines.join(`\n${' '.repeat(Math.floor(2_500_000 / lines.length))}`);
  assert.ok(padded.length > 2_000_000 && padded.length < 3 * 1024 * 1024);
  assert.equal((await post(`${PODS}?dryRun=All`, padded)).status, 201);
});

test('a Pod as big as the store keeps is handled in slices: other requests are answered meanwhile', async () => {
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'wide' },
    spec: { containers: range(2_500).map((i) => ({ name: `c${i}`, image: 'i' })) },
  };
  // A dry run: nothing is written, so before slicing the server had no reason at all to answer
  // anyone else between reading this body and replying to it.
  let doneAt = Infinity;
  const create = post(`${PODS}?dryRun=All`, JSON.stringify(pod)).finally(() => (doneAt = performance.now()));
  const gets = await getsWhile(() => doneAt !== Infinity);
  const r = await create;
  assert.equal(r.status, 201, r.text.slice(0, 300));
  assert.equal(JSON.parse(r.text).spec.containers.length, 2_500);
  // Some GET sent well after the whole body was on its way was answered before the create began
  // its reply. (Skipped when the request took too little time for a GET to fit in.)
  const from = r.sentAt + 200;
  if (r.repliedAt - from < 500) return;
  const answered = gets.filter((g) => g.sent >= from && g.done < r.repliedAt);
  const timeline = JSON.stringify(gets.map((g) => [Math.round(g.sent - r.sentAt), Math.round(g.done - r.sentAt)]));
  assert.ok(
    answered.length > 0,
    `the create (reply after ${Math.round(r.repliedAt - r.sentAt)} ms) answered no GET sent after it started; GETs [sent, done] in ms after the body was sent: ${timeline}`,
  );
});

test(
  'server-side apply of a 30,000-key ConfigMap sent as JSON takes seconds, not minutes',
  { timeout: 120_000 },
  async () => {
    // 30,000 keys: with each key's managedFields entry the stored object stays under the store's limit.
    const cm = (value: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'keys', namespace: 'default' },
      data: Object.fromEntries(range(30_000).map((i) => [`k${i}`, value])),
    });
    assert.equal((await api.json('POST', CMS, cm('v'))).status, 201);
    // kubectl sends apply bodies as JSON with the YAML media type; the YAML parser's own duplicate
    // key check was quadratic (over two minutes for this body).
    const r = await api.request('PATCH', `${CMS}/keys?fieldManager=second&force=true`, JSON.stringify(cm('w')), {
      'Content-Type': 'application/apply-patch+yaml',
    });
    assert.equal(r.status, 200, r.body.slice(0, 300));
    const applied = JSON.parse(r.body);
    assert.equal(applied.data.k29999, 'w');
    assert.ok(applied.metadata.managedFields.some((m: any) => m.manager === 'second' && m.operation === 'Apply'));
    // Duplicate keys in such a body are still refused.
    const dup = await api.request(
      'PATCH',
      `${CMS}/keys?fieldManager=second`,
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keys"},"data":{"a":"1","a":"2"}}',
      { 'Content-Type': 'application/apply-patch+yaml' },
    );
    assert.equal(dup.status, 400, dup.body);
    assert.match(JSON.parse(dup.body).message, /Map keys must be unique/);
  },
);
