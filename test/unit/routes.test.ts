// Route planning of the host-gw pod network (src/agent/network/routes.ts): which routes a node
// wants for a set of Nodes, what changes from the installed ones, and the iptables rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { R } from '../../src/client/index.js';
import { eventually, sleep, startTestApi } from './client-fixture.js';
import {
  chainNames,
  cleanUpPodRoutes,
  desiredRoutes,
  directlyConnected,
  forwardRules,
  natRules,
  planRoutes,
  PodRoutes,
  splitRule,
  type NodeRoute,
} from '../../src/agent/network/routes.js';
import { inProcessClient } from '../../src/apiserver/inprocess.js';

function node(name: string, podCIDR?: string, ip?: string, extra: any = {}) {
  return {
    metadata: { name, ...extra.metadata },
    spec: podCIDR ? { podCIDR } : {},
    status: { addresses: [...(ip ? [{ type: 'InternalIP', address: ip }] : []), { type: 'Hostname', address: name }] },
  };
}
const onLan = (ip: string) => ip.startsWith('192.168.1.');

test('desiredRoutes: one route per other node with a podCIDR and a directly connected InternalIP', () => {
  const nodes = [
    node('self', '10.42.0.0/24', '192.168.1.1'),
    node('b', '10.42.1.0/24', '192.168.1.2'),
    node('a', '10.42.2.0/24', '192.168.1.3'),
    node('no-cidr', undefined, '192.168.1.4'),
    node('no-ip', '10.42.4.0/24'),
    node('far', '10.42.5.0/24', '172.16.0.9'),
    node('same-cidr-as-self', '10.42.0.0/24', '192.168.1.6'),
    node('gone', '10.42.7.0/24', '192.168.1.7', { metadata: { deletionTimestamp: '2026-01-01T00:00:00Z' } }),
  ];
  const d = desiredRoutes('self', '10.42.0.0/24', nodes, onLan);
  assert.deepEqual(d.routes, [
    { node: 'a', podCIDR: '10.42.2.0/24', via: '192.168.1.3' },
    { node: 'b', podCIDR: '10.42.1.0/24', via: '192.168.1.2' },
  ]);
  assert.deepEqual(d.unreachable, [{ node: 'far', ip: '172.16.0.9' }]);
});

test('planRoutes: adds new routes, removes those of gone nodes, replaces a changed next hop without deleting it', () => {
  const installed: NodeRoute[] = [
    { node: 'a', podCIDR: '10.42.1.0/24', via: '192.168.1.2' },
    { node: 'b', podCIDR: '10.42.2.0/24', via: '192.168.1.3' },
    { node: 'c', podCIDR: '10.42.3.0/24', via: '192.168.1.4' },
    { node: 'd', podCIDR: '10.42.4.0/24', via: '192.168.1.5' },
  ];
  const desired: NodeRoute[] = [
    { node: 'a', podCIDR: '10.42.1.0/24', via: '192.168.1.2' }, // unchanged
    { node: 'b', podCIDR: '10.42.2.0/24', via: '192.168.1.33' }, // new IP
    { node: 'd', podCIDR: '10.42.9.0/24', via: '192.168.1.5' }, // new podCIDR
    { node: 'e', podCIDR: '10.42.5.0/24', via: '192.168.1.6' }, // new node
  ];
  const p = planRoutes(installed, desired);
  assert.deepEqual(
    p.add.map((r) => r.node),
    ['b', 'd', 'e'],
  );
  assert.deepEqual(
    p.remove.map((r) => `${r.node} ${r.podCIDR}`),
    ['c 10.42.3.0/24', 'd 10.42.4.0/24'],
  );
  assert.deepEqual(planRoutes(desired, desired), { add: [], remove: [] });
  assert.deepEqual(planRoutes([], []), { add: [], remove: [] });
});

test('iptables rules: no masquerade towards routed pod CIDRs, forwarding both ways', () => {
  const routes: NodeRoute[] = [{ node: 'b', podCIDR: '10.42.1.0/24', via: '192.168.1.2' }];
  assert.deepEqual(natRules(routes), [['-d', '10.42.1.0/24', '-j', 'ACCEPT']]);
  assert.deepEqual(forwardRules('10.42.0.0/24', routes), [
    ['-s', '10.42.0.0/24', '-d', '10.42.1.0/24', '-j', 'ACCEPT'],
    ['-s', '10.42.1.0/24', '-d', '10.42.0.0/24', '-j', 'ACCEPT'],
  ]);
  const c = chainNames('k8ts1a2b3c');
  assert.ok(c.nat.length <= 28 && c.forward.length <= 28);
  assert.notEqual(c.nat, chainNames('k8ts0').nat);
});

test('directlyConnected reads `ip -j route get`', () => {
  const fake = (out: string) => () => ({ status: 0, stdout: out, stderr: '' });
  assert.equal(
    directlyConnected(
      '192.168.1.2',
      fake('[{"dst":"192.168.1.2","dev":"eth0","prefsrc":"192.168.1.1","flags":[],"uid":0,"cache":[]}]'),
    ),
    true,
  );
  assert.equal(
    directlyConnected(
      '8.8.8.8',
      fake('[{"dst":"8.8.8.8","gateway":"192.168.1.254","dev":"eth0","prefsrc":"192.168.1.1"}]'),
    ),
    false,
  );
  assert.equal(
    directlyConnected('192.168.1.1', fake('[{"type":"local","dst":"192.168.1.1","dev":"lo","prefsrc":"192.168.1.1"}]')),
    false,
  );
  assert.equal(
    directlyConnected('1.2.3.4', () => ({ status: 2, stdout: '', stderr: 'unreachable' })),
    false,
  );
});

test('splitRule keeps quoted comments whole', () => {
  assert.deepEqual(
    splitRule('POSTROUTING -s 10.42.0.0/24 -m comment --comment "k8ts: no masquerade" -j K8TS0-NOMASQ'),
    ['POSTROUTING', '-s', '10.42.0.0/24', '-m', 'comment', '--comment', 'k8ts: no masquerade', '-j', 'K8TS0-NOMASQ'],
  );
});

test('PodRoutes installs, changes and removes routes; stop keeps them, stop(true) cleans its chains', async () => {
  const calls: string[] = [];
  const run = (cmd: string, args: string[]) => {
    calls.push(`${cmd} ${args.filter((a) => a !== '-w' && a !== '5').join(' ')}`);
    if (cmd === 'ip' && args[1] === 'route' && args[2] === 'get')
      return { status: 0, stdout: JSON.stringify([{ dst: args[3], dev: 'eth0' }]), stderr: '' };
    return { status: 0, stdout: '', stderr: '' };
  };
  const t = await startTestApi();
  try {
    const client = inProcessClient(t.api, { fieldManager: 'routes-test' });
    for (const n of [node('self', '10.42.0.0/24', '192.168.1.1'), node('b', '10.42.1.0/24', '192.168.1.2')]) {
      const created = await client.resource(R.nodes).create({ apiVersion: 'v1', kind: 'Node', ...n });
      if (!created.status?.addresses?.length)
        await client.resource(R.nodes).updateStatus({ ...created, status: n.status });
    }
    const stateFile = join(t.dir, 'routes.json');
    const r = new PodRoutes({
      client,
      nodeName: 'self',
      podCIDR: '10.42.0.0/24',
      bridge: 'k8ts0',
      stateFile,
      nodeIP: '192.168.1.1',
      logger: pino({ level: 'silent' }),
      run,
    });
    r.start();
    await eventually(() => r.routes.length === 1);
    // The node says which backend it runs, as flannel annotates it.
    await eventually(async () => {
      const a = (await client.resource(R.nodes).get('self')).metadata?.annotations ?? {};
      return (
        a['flannel.alpha.coreos.com/backend-type'] === 'host-gw' &&
        a['flannel.alpha.coreos.com/public-ip'] === '192.168.1.1'
      );
    });
    assert.deepEqual(r.routes, [{ node: 'b', podCIDR: '10.42.1.0/24', via: '192.168.1.2' }]);
    assert.ok(calls.includes('ip route replace 10.42.1.0/24 via 192.168.1.2'), calls.join('\n'));
    assert.ok(
      calls.includes(
        'iptables -t nat -I POSTROUTING 1 -s 10.42.0.0/24 -j K8TS0-NOMASQ -m comment --comment k8ts: no masquerade between pod CIDRs',
      ),
    );
    assert.ok(calls.includes('iptables -t nat -A K8TS0-NOMASQ -d 10.42.1.0/24 -j ACCEPT'));
    assert.deepEqual(JSON.parse(readFileSync(stateFile, 'utf8')), r.routes);

    // A heartbeat-like change of node b changes nothing; a new InternalIP re-points the route.
    calls.length = 0;
    const b = await client.resource(R.nodes).get('b');
    await client
      .resource(R.nodes)
      .updateStatus({ ...b, status: { ...b.status, conditions: [{ type: 'Ready', status: 'True' }] } });
    await sleep(200);
    assert.deepEqual(
      calls.filter((c) => c.startsWith('ip ')),
      [],
    );
    const b2 = await client.resource(R.nodes).get('b');
    await client
      .resource(R.nodes)
      .updateStatus({ ...b2, status: { ...b2.status, addresses: [{ type: 'InternalIP', address: '192.168.1.22' }] } });
    await eventually(() => r.routes[0]?.via === '192.168.1.22');
    assert.ok(calls.includes('ip route replace 10.42.1.0/24 via 192.168.1.22'), calls.join('\n'));
    assert.ok(!calls.some((c) => c.startsWith('ip route del')), calls.join('\n'));

    calls.length = 0;
    await client.resource(R.nodes).delete('b');
    await eventually(() => r.routes.length === 0);
    assert.ok(calls.includes('ip route del 10.42.1.0/24 via 192.168.1.22'), calls.join('\n'));

    calls.length = 0;
    await r.stop();
    assert.equal(calls.length, 0, `a plain stop (a restart) leaves routes and chains: ${calls.join('; ')}`);
    await r.stop(true);
    assert.ok(calls.includes('iptables -t nat -X K8TS0-NOMASQ'), calls.join('\n'));
    assert.ok(calls.includes('iptables -t filter -X K8TS0-FORWARD'));
  } finally {
    await t.stop();
  }
});

test('cleanUpPodRoutes removes what a crashed agent left: routes from its state file, jumps and chains', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-routes-'));
  try {
    const stateFile = join(dir, 'routes.json');
    writeFileSync(stateFile, JSON.stringify([{ node: 'b', podCIDR: '10.42.1.0/24', via: '192.168.1.2' }]));
    const calls: string[] = [];
    const run = (cmd: string, args: string[]) => {
      calls.push(`${cmd} ${args.filter((a) => a !== '-w' && a !== '5').join(' ')}`);
      const stdout =
        args.includes('POSTROUTING') && args.includes('-S')
          ? '-P POSTROUTING ACCEPT\n-A POSTROUTING -s 10.42.0.0/24 -m comment --comment "k8ts: no masquerade between pod CIDRs" -j K8TS0-NOMASQ\n-A POSTROUTING -s 10.42.0.5/32 -j CNI-abc\n'
          : '';
      return { status: 0, stdout, stderr: '' };
    };
    cleanUpPodRoutes(stateFile, 'k8ts0', run);
    assert.deepEqual(calls, [
      'ip route del 10.42.1.0/24 via 192.168.1.2',
      'iptables -t nat -S POSTROUTING',
      'iptables -t nat -D POSTROUTING -s 10.42.0.0/24 -m comment --comment k8ts: no masquerade between pod CIDRs -j K8TS0-NOMASQ',
      'iptables -t filter -S FORWARD',
      'iptables -t nat -F K8TS0-NOMASQ',
      'iptables -t nat -X K8TS0-NOMASQ',
      'iptables -t filter -F K8TS0-FORWARD',
      'iptables -t filter -X K8TS0-FORWARD',
    ]);
    assert.ok(!existsSync(stateFile));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
