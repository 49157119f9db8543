// Device plugins: the allocation bookkeeping alone, then the device manager and the sample plugin
// talking gRPC over unix sockets in a temporary directory (registration, ListAndWatch, Allocate,
// health changes, the checkpoint across a manager restart, re-registration).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import * as grpc from '@grpc/grpc-js';
import { DeviceBook, InsufficientDevicesError } from '../../src/agent/devices/allocations.js';
import { DeviceManager, applyDevices, reusableContainers } from '../../src/agent/devices/manager.js';
import { SamplePlugin } from '../../src/agent/devices/sample.js';
import {
  API_VERSION,
  CHECKPOINT_FILE,
  KUBELET_SOCKET,
  deviceServices,
  isExtendedResourceName,
  unary,
  unixTarget,
} from '../../src/agent/devices/api.js';
import { until } from '../support/until.js';

const W = 'example.com/widget';
const logger = pino({ level: 'silent' });
const healthy = (ids: string[]) => ids.map((id) => ({ id, health: 'Healthy' }));
const work = mkdtempSync(join(tmpdir(), 'k8ts-devices-'));
after(() => rmSync(work, { recursive: true, force: true }));

test('book: picks free healthy devices, refuses too many, frees by pod', () => {
  const b = new DeviceBook();
  b.setDevices(W, [...healthy(['w0', 'w1', 'w2']), { id: 'w3', health: 'Unhealthy' }]);
  assert.deepEqual(b.healthyCounts(), { [W]: 3 });
  const a = b.pick(W, 'pod-a', 2);
  assert.deepEqual(a, ['w0', 'w1']);
  b.commit('pod-a', 'main', W, a);
  assert.deepEqual(b.available(W, 'pod-b'), ['w2']);
  assert.throws(
    () => b.pick(W, 'pod-b', 2),
    (e: unknown) => e instanceof InsufficientDevicesError && /Requested: 2, Available: 1/.test(e.message),
  );
  assert.equal(b.freePod('pod-a'), true);
  assert.equal(b.freePod('pod-a'), false);
  assert.deepEqual(b.available(W, 'pod-b'), ['w0', 'w1', 'w2']);
});

test('book: a container reuses the devices of init containers that ran before it', () => {
  const b = new DeviceBook();
  b.setDevices(W, healthy(['w0', 'w1', 'w2']));
  b.commit('p', 'init', W, ['w2']);
  assert.deepEqual(b.available(W, 'p', ['init']), ['w2', 'w0', 'w1']);
  b.commit('p', 'main', W, b.pick(W, 'p', 1, ['init']));
  assert.deepEqual(b.get('p', 'main', W)?.deviceIds, ['w2']);
  // Taken by main now: a second app container may not have it.
  assert.deepEqual(b.available(W, 'p', ['init']), ['w0', 'w1']);
  const pod = {
    spec: {
      initContainers: [{ name: 'a' }, { name: 'side', restartPolicy: 'Always' }, { name: 'b' }],
      containers: [{ name: 'main' }],
    },
  };
  assert.deepEqual(reusableContainers(pod, { name: 'main' }), ['a', 'b']);
  assert.deepEqual(reusableContainers(pod, { name: 'b' }), ['a']);
  assert.deepEqual(reusableContainers(pod, { name: 'a' }), []);
});

test('book: checkpoint keeps allocations, devices come back unhealthy; prune frees inactive pods', () => {
  const b = new DeviceBook();
  b.setDevices(W, healthy(['w0', 'w1']));
  b.commit('p1', 'main', W, ['w0']);
  b.setResponse('p1', 'main', W, { envs: { WIDGET_IDS: 'w0' } });
  b.commit('p2', 'main', W, ['w1']); // no answer yet: not checkpointed
  const restored = DeviceBook.fromJSON(JSON.parse(JSON.stringify(b.toJSON())));
  assert.deepEqual(restored.healthyCounts(), { [W]: 0 });
  assert.equal(restored.known(W), true);
  assert.deepEqual(restored.get('p1', 'main', W)?.response?.envs, { WIDGET_IDS: 'w0' });
  assert.equal(restored.get('p2', 'main', W), undefined);
  restored.setDevices(W, healthy(['w0', 'w1']));
  assert.deepEqual(restored.available(W, 'p3'), ['w1']);
  assert.deepEqual(
    restored.prune((uid) => uid !== 'p1'),
    ['p1'],
  );
  assert.deepEqual(restored.available(W, 'p3'), ['w0', 'w1']);
  assert.equal(DeviceBook.fromJSON({ version: 9 }).list().length, 0);
  assert.equal(DeviceBook.fromJSON(null).list().length, 0);
});

test('extended resource names and applying devices to a container config', () => {
  assert.equal(isExtendedResourceName('example.com/widget'), true);
  assert.equal(isExtendedResourceName('nvidia.com/gpu'), true);
  assert.equal(isExtendedResourceName('widget'), false);
  assert.equal(isExtendedResourceName('kubernetes.io/widget'), false);
  assert.equal(isExtendedResourceName('Example.com/widget'), false);
  const cfg = {
    mounts: [{ containerPath: '/etc/hosts', hostPath: '/x' }],
    devices: [],
    annotations: { a: '1' } as Record<string, string>,
  };
  applyDevices(cfg, {
    envs: [],
    mounts: [
      { containerPath: '/dev/w/0', hostPath: '/h/0', readonly: true },
      { containerPath: '/etc/hosts', hostPath: '/y' },
    ],
    devices: [{ containerPath: '/dev/null2', hostPath: '/dev/null', permissions: 'rw' }],
    annotations: { a: '2', b: '3' },
  });
  assert.deepEqual(
    cfg.mounts.map((m) => m.hostPath),
    ['/x', '/h/0'],
  );
  assert.equal(cfg.devices.length, 1);
  assert.deepEqual(cfg.annotations, { a: '1', b: '3' });
});

const pod = (uid: string, n: number | string) => ({
  metadata: { uid, name: uid, namespace: 'default' },
  spec: { containers: [{ name: 'main', resources: { limits: { [W]: String(n) } } }] },
});

test('manager and sample plugin over gRPC: register, advertise, allocate, health, restart', async () => {
  const dir = join(work, 'device-plugins');
  let changes = 0;
  const active = new Set<string>(['a', 'b', 'c', 'd']);
  const newManager = () =>
    new DeviceManager({ dir, logger, onChange: () => changes++, isActive: (uid) => active.has(uid) });
  let mgr = newManager();
  await mgr.start();
  assert.ok(existsSync(join(dir, KUBELET_SOCKET)));
  const plugin = new SamplePlugin({ pluginDir: dir, resource: W, count: 4, pollMs: 100 });
  try {
    await plugin.start();
    await until('4 widgets', () => mgr.resources()[W] === 4);
    await until('a status report', () => changes >= 1);

    // Allocate: two devices, the env var and one mount per device.
    const c = pod('a', 2).spec.containers[0];
    const got = await mgr.allocate(pod('a', 2), c);
    assert.ok(got);
    assert.deepEqual(got.envs, [{ key: 'WIDGET_IDS', value: 'widget-0,widget-1' }]);
    assert.deepEqual(
      got.mounts.map((m) => m.containerPath),
      ['/dev/widgets/widget-0', '/dev/widgets/widget-1'],
    );
    assert.equal(readFileSync(join(got.mounts[0].hostPath, 'id'), 'utf8'), 'widget-0\n');
    assert.equal(got.annotations['k8ts.io/widget-ids'], 'widget-0,widget-1');
    // A container restart gets the same devices without another Allocate.
    const again = await mgr.allocate(pod('a', 2), c);
    assert.deepEqual(again?.envs, got.envs);
    assert.equal(plugin.allocated.length, 1);
    // Containers without the resource get nothing; too many is refused with the kubelet's message.
    assert.equal(await mgr.allocate(pod('x', 0), { name: 'main', resources: { limits: { cpu: '1' } } }), undefined);
    await assert.rejects(mgr.allocate(pod('b', 3), pod('b', 3).spec.containers[0]), /Requested: 3, Available: 2/);
    const b = await mgr.allocate(pod('b', 2), pod('b', 2).spec.containers[0]);
    assert.equal(b?.envs[0].value, 'widget-2,widget-3');

    // Health: an unhealthy device lowers the count and triggers a status report.
    const before = changes;
    plugin.setHealth('widget-3', false);
    await until('3 widgets', () => mgr.resources()[W] === 3);
    await until('another status report', () => changes > before);
    plugin.setHealth('widget-3', true);
    await until('4 widgets again', () => mgr.resources()[W] === 4);

    // Freed devices can be used again.
    mgr.free('b');
    const cpod = await mgr.allocate(pod('c', 2), pod('c', 2).spec.containers[0]);
    assert.equal(cpod?.envs[0].value, 'widget-2,widget-3');

    // A restarted manager keeps the allocations (checkpoint) and the plugin registers again.
    const regs = plugin.registrations;
    await mgr.stop();
    const cp = JSON.parse(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8'));
    assert.equal(cp.entries.length, 2);
    mgr = newManager();
    await mgr.start();
    assert.deepEqual(mgr.resources(), { [W]: 0 });
    await until('re-registration', () => plugin.registrations > regs && mgr.resources()[W] === 4);
    await assert.rejects(mgr.allocate(pod('d', 1), pod('d', 1).spec.containers[0]), /Available: 0/);
    // Pods that are gone no longer hold their devices.
    active.delete('a');
    const d = await mgr.allocate(pod('d', 2), pod('d', 2).spec.containers[0]);
    assert.equal(d?.envs[0].value, 'widget-0,widget-1');

    // A plugin that goes away leaves the resource at zero.
    await plugin.stop();
    await until('0 widgets', () => mgr.resources()[W] === 0);
  } finally {
    await plugin.stop();
    await mgr.stop();
  }
});

test('registration refuses a wrong version or resource name', async () => {
  const dir = join(work, 'refuse');
  const mgr = new DeviceManager({ dir, logger });
  await mgr.start();
  const { Registration } = deviceServices();
  const client = new Registration(unixTarget(join(dir, KUBELET_SOCKET)), grpc.credentials.createInsecure());
  try {
    await assert.rejects(
      unary(client, 'Register', { version: 'v1alpha', endpoint: 'x.sock', resourceName: W }),
      /unsupported API version/,
    );
    await assert.rejects(
      unary(client, 'Register', { version: API_VERSION, endpoint: 'x.sock', resourceName: 'widget' }),
      /invalid resource name/,
    );
    await assert.rejects(
      unary(client, 'Register', { version: API_VERSION, endpoint: '../x.sock', resourceName: W }),
      /invalid endpoint/,
    );
  } finally {
    client.close();
    await mgr.stop();
  }
});
