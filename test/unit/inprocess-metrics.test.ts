// In-process components' calls are timed in the API server's request metrics, as the same calls
// made by upstream's controllers over HTTP would be: the latency SLIs count them.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { R, type Client } from '../../src/client/index.js';
import { startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
let client: Client;

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'metrics-test' });
  await client.resource(R.namespaces).create({ metadata: { name: 'metered' } });
});

after(async () => {
  await client.close();
  await t.stop();
});

/** The count of apiserver_request_duration_seconds for the series with these labels (0 when absent). */
async function callsOf(labels: Record<string, string>): Promise<number> {
  const text = await t.api.metrics.render();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let n = 0;
  for (const line of text.split('\n'))
    if (line.startsWith('apiserver_request_duration_seconds_count{') && wanted.every((w) => line.includes(w)))
      n += Number(line.slice(line.lastIndexOf(' ') + 1));
  return n;
}

test('in-process creates, gets, lists, updates and failed calls are counted by verb, resource and scope', async () => {
  const cms = client.resource(R.configmaps).namespace('metered');
  const series = {
    create: { verb: 'POST', resource: 'configmaps', scope: 'namespace' },
    get: { verb: 'GET', resource: 'configmaps', scope: 'resource' },
    list: { verb: 'LIST', resource: 'configmaps', scope: 'namespace' },
    update: { verb: 'PUT', resource: 'configmaps', scope: 'resource' },
  };
  const before = Object.fromEntries(
    await Promise.all(Object.entries(series).map(async ([k, l]) => [k, await callsOf(l)] as const)),
  );
  const cm = await cms.create({ metadata: { name: 'a' }, data: { k: 'v' } });
  await cms.get('a');
  await assert.rejects(cms.get('missing'), /not found/);
  await cms.list();
  await cms.update({ ...cm, data: { k: 'w' } });
  assert.equal((await callsOf(series.create)) - before.create, 1);
  assert.equal((await callsOf(series.get)) - before.get, 2, 'the 404 is a call too');
  assert.equal((await callsOf(series.list)) - before.list, 1);
  assert.equal((await callsOf(series.update)) - before.update, 1);
  // The response codes, as apiserver_request_total counts them.
  const total = await t.api.metrics.render();
  assert.match(total, /apiserver_request_total\{[^}]*verb="GET"[^}]*resource="configmaps"[^}]*code="404"[^}]*\} 1/);
});
