// The controller manager over HTTPS (as a standalone controller manager would run): the
// namespace controller empties and removes a namespace; of two managers only one acts.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Client, R, isNotFound } from '../../src/client/index.js';
import { ControllerManager } from '../../src/controllers/manager.js';
import { eventually, startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
let admin: Client;

before(async () => {
  t = await startTestApi();
  admin = inProcessClient(t.api, { fieldManager: 'test' });
});

after(async () => {
  await admin.close();
  await t.stop();
});

const logger = pino({ level: 'silent' });
const FAST = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };

test('namespace deletion over HTTPS with two managers, one leading; failover keeps it working', async () => {
  const c1 = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'kube-controller-manager' });
  const c2 = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'kube-controller-manager' });
  const m1 = new ControllerManager({ client: c1, logger, leaderElection: { ...FAST, identity: 'm1' } });
  const m2 = new ControllerManager({ client: c2, logger, leaderElection: { ...FAST, identity: 'm2' } });
  m1.start();
  await eventually(() => m1.isLeader, 3000);
  m2.start();
  const nsClient = admin.resource(R.namespaces);
  const deleteAndWait = async (name: string) => {
    await nsClient.create({ metadata: { name } });
    await admin
      .resource(R.configmaps)
      .namespace(name)
      .create({ metadata: { name: 'c' }, data: {} });
    await admin
      .resource(R.secrets)
      .namespace(name)
      .create({ metadata: { name: 's' }, stringData: { a: 'b' } });
    const marked = await nsClient.delete(name);
    assert.equal(marked.status.phase, 'Terminating');
    await eventually(async () => {
      try {
        await nsClient.get(name);
        return false;
      } catch (err) {
        return isNotFound(err);
      }
    }, 15_000); // the controller first looks 5 s after the deletion, as upstream's does
    assert.equal((await admin.resource(R.configmaps).namespace(name).list()).items.length, 0);
  };
  await deleteAndWait('over-https');
  assert.equal(m2.isLeader, false, 'the second manager stays standby');
  await m1.stop(); // graceful: releases the lease
  await eventually(() => m2.isLeader, 10_000); // at its next 100 ms round; the bound is for loaded machines
  await deleteAndWait('after-failover');
  await m2.stop();
  await c1.close();
  await c2.close();
});
