// pods/ephemeralcontainers through both client transports (in-process, as the server's own
// components call it, and HTTPS): get, patch and update reach the subresource's strategy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError, Client, R } from '../../src/client/index.js';
import { startTestApi, type TestApi } from './client-fixture.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

let t: TestApi;
const clients: Record<string, Client> = {};

before(async () => {
  t = await startTestApi();
  clients['in-process'] = inProcessClient(t.api, { fieldManager: 'test' });
  clients.https = Client.fromKubeconfig(t.kubeconfig, { fieldManager: 'test' });
});

after(async () => {
  for (const c of Object.values(clients)) await c.close();
  await t.stop();
});

for (const kind of ['in-process', 'https']) {
  describe(`${kind} transport`, () => {
    const ns = `eph-${kind}`;
    const pods = () => clients[kind].resource(R.pods).namespace(ns);
    const invalid = (re: RegExp) => (e: any) => e instanceof ApiError && e.code === 422 && re.test(e.message);

    test('pods/ephemeralcontainers: get, patch, update; the pod itself may not change them', async () => {
      await clients[kind].resource(R.namespaces).create({ metadata: { name: ns } });
      await pods().create({ metadata: { name: 'p' }, spec: { containers: [{ name: 'main', image: 'busybox:1.35' }] } });
      const got = await clients[kind].transport.get({
        resource: R.pods,
        namespace: ns,
        name: 'p',
        subresource: 'ephemeralcontainers',
      });
      assert.equal(got.kind, 'Pod');

      const patched = await pods().patch(
        'p',
        'strategic',
        { spec: { ephemeralContainers: [{ name: 'dbg', image: 'busybox:1.35', targetContainerName: 'main' }] } },
        { subresource: 'ephemeralcontainers' },
      );
      assert.deepEqual(
        patched.spec?.ephemeralContainers?.map((c: any) => [c.name, c.imagePullPolicy]),
        [['dbg', 'IfNotPresent']],
      );

      const next = structuredClone(patched);
      next.spec!.ephemeralContainers!.push({ name: 'dbg2', image: 'busybox:1.35' });
      const updated = await pods().updateSubresource('ephemeralcontainers', next);
      assert.deepEqual(
        updated.spec?.ephemeralContainers?.map((c: any) => c.name),
        ['dbg', 'dbg2'],
      );

      const changed = structuredClone(updated);
      changed.spec!.ephemeralContainers![0].image = 'busybox:1.36';
      await assert.rejects(
        pods().updateSubresource('ephemeralcontainers', changed),
        invalid(/existing ephemeral containers "dbg" may not be changed/),
      );
      await assert.rejects(
        pods().patch('p', 'json', [{ op: 'remove', path: '/spec/ephemeralContainers/1' }], {
          subresource: 'ephemeralcontainers',
        }),
        invalid(/existing ephemeral containers "dbg2" may not be removed/),
      );
      const direct = structuredClone(updated);
      direct.spec!.ephemeralContainers!.push({ name: 'dbg3', image: 'busybox:1.35' });
      await assert.rejects(pods().update(direct), invalid(/pod updates may not change fields other than/));
    });
  });
}
