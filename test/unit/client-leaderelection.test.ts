import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Client, LeaderElector, R } from '../../src/client/index.js';
import { eventually, sleep, startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
let client: Client;

before(async () => {
  t = await startTestApi();
  client = inProcessClient(t.api, { fieldManager: 'le-test' });
});

after(async () => {
  await client.close();
  await t.stop();
});

const FAST = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };

function candidate(name: string, identity: string, c = client, releaseOnCancel = true) {
  const state = { leading: false, everLed: false, starts: 0 };
  const elector = new LeaderElector({
    client: c,
    namespace: 'kube-system',
    name,
    identity,
    ...FAST,
    releaseOnCancel,
    onStartedLeading: () => {
      state.leading = true;
      state.everLed = true;
      state.starts++;
    },
    onStoppedLeading: () => {
      state.leading = false;
    },
  });
  return { elector, state };
}

test('two candidates: exactly one leads; the lease records it', async () => {
  const a = candidate('le-one', 'a');
  const b = candidate('le-one', 'b');
  a.elector.start();
  b.elector.start();
  await eventually(() => a.state.leading || b.state.leading, 3000);
  let both = false;
  for (let i = 0; i < 15; i++) {
    if (a.state.leading && b.state.leading) both = true;
    await sleep(50);
  }
  assert.equal(both, false, 'never two leaders');
  const leader = a.state.leading ? 'a' : 'b';
  const lease = await client.resource(R.leases).namespace('kube-system').get('le-one');
  assert.equal(lease.spec?.holderIdentity, leader);
  assert.equal(lease.spec?.leaseDurationSeconds, 1);
  assert.match(lease.spec?.renewTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, 'MicroTime');
  assert.match(lease.spec?.acquireTime ?? '', /\.\d{6}Z$/);
  assert.equal(typeof lease.spec?.leaseTransitions, 'number');
  await a.elector.stop();
  await b.elector.stop();
});

test('a killed leader (no release) is replaced within about the lease duration', async () => {
  const a = candidate('le-two', 'a', client, false);
  a.elector.start();
  await eventually(() => a.state.leading, 3000);
  const b = candidate('le-two', 'b');
  b.elector.start();
  await sleep(300);
  assert.equal(b.state.leading, false, 'standby while the leader renews');
  const before = (await client.resource(R.leases).namespace('kube-system').get('le-two')).spec?.leaseTransitions;
  assert.equal(typeof before, 'number');
  const killedAt = Date.now();
  await a.elector.stop(); // stops renewing, keeps the lease: as if the process died
  await eventually(() => b.state.leading, 3000, 10);
  const took = Date.now() - killedAt;
  assert.ok(took <= 1000 + 400, `took over after ${took} ms`);
  const lease = await client.resource(R.leases).namespace('kube-system').get('le-two');
  assert.equal(lease.spec?.holderIdentity, 'b');
  assert.equal(lease.spec?.leaseTransitions, (before ?? 0) + 1);
  await b.elector.stop();
});

test('a graceful stop releases the lease so a standby takes over at once', async () => {
  const a = candidate('le-three', 'a');
  a.elector.start();
  await eventually(() => a.state.leading, 3000);
  const b = candidate('le-three', 'b');
  b.elector.start();
  await sleep(200);
  const stoppedAt = Date.now();
  await a.elector.stop();
  assert.equal(a.state.leading, false);
  const released = await client.resource(R.leases).namespace('kube-system').get('le-three');
  assert.ok(released.spec?.holderIdentity === '' || released.spec?.holderIdentity === 'b');
  await eventually(() => b.state.leading, 2000, 10);
  assert.ok(Date.now() - stoppedAt < 600, 'well within the lease duration');
  await b.elector.stop();
});

test('a leader that cannot renew stops leading after renewDeadline', async () => {
  const a = candidate('le-four', 'a');
  a.elector.start();
  await eventually(() => a.state.leading, 3000);
  // Someone else grabs the lease (e.g. an admin): the old leader notices and steps down.
  const leases = client.resource(R.leases).namespace('kube-system');
  const lease = await leases.get('le-four');
  await leases.update({ ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', leaseDurationSeconds: 30 } });
  await eventually(() => !a.state.leading, 2000, 10);
  await a.elector.stop();
});
