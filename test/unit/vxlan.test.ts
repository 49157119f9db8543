// The VXLAN overlay backend (src/agent/network/vxlan.ts): VTEP addresses, what a Node's flannel
// annotations say, the entries wanted per node, and the commands that make and remove the device,
// against a fake `ip` that keeps the device's state (the real kernel is in e2e/vxlan-multinode).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import {
  VxlanBackend,
  desiredVxlanRoutes,
  nodeVtep,
  randomMac,
  removeVxlanDevice,
  vtepAddress,
} from '../../src/agent/network/vxlan.js';
import { planRoutes } from '../../src/agent/network/routes.js';
import { flannelBackendFromFlag } from '../../src/cli/agentoptions.js';
import { cniConfig } from '../../src/agent/runtime/containerd.js';

function node(name: string, podCIDR: string, ip: string, annotations: Record<string, string> = {}): Node {
  return {
    metadata: { name, annotations },
    spec: { podCIDR },
    status: { addresses: [{ type: 'InternalIP', address: ip }] },
  };
}
const vxlanAnn = (mac: string, ip?: string) => ({
  'flannel.alpha.coreos.com/backend-type': 'vxlan',
  'flannel.alpha.coreos.com/backend-data': JSON.stringify({ VNI: 1, VtepMAC: mac }),
  ...(ip ? { 'flannel.alpha.coreos.com/public-ip': ip } : {}),
});

test('vtepAddress is the network address of the podCIDR', () => {
  assert.equal(vtepAddress('10.42.3.0/24'), '10.42.3.0');
  assert.equal(vtepAddress('10.42.3.77/24'), '10.42.3.0');
  assert.equal(vtepAddress('10.42.3.130/25'), '10.42.3.128');
  assert.equal(vtepAddress('10.42.0.0/16'), '10.42.0.0');
});

test('randomMac is unicast and locally administered', () => {
  for (let i = 0; i < 20; i++) {
    const mac = randomMac();
    assert.match(mac, /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    const first = parseInt(mac.slice(0, 2), 16);
    assert.equal(first & 1, 0);
    assert.equal(first & 2, 2);
  }
});

test("nodeVtep reads flannel's annotations, the public IP falling back to the InternalIP", () => {
  assert.deepEqual(nodeVtep(node('a', '10.42.1.0/24', '192.168.1.2', vxlanAnn('AA:bb:cc:dd:ee:01', '203.0.113.2'))), {
    mac: 'aa:bb:cc:dd:ee:01',
    publicIP: '203.0.113.2',
  });
  assert.deepEqual(nodeVtep(node('a', '10.42.1.0/24', '192.168.1.2', vxlanAnn('aa:bb:cc:dd:ee:01'))), {
    mac: 'aa:bb:cc:dd:ee:01',
    publicIP: '192.168.1.2',
  });
  const missing = (n: Node) => ('missing' in nodeVtep(n) ? (nodeVtep(n) as { missing: string }).missing : '');
  assert.match(missing(node('a', '10.42.1.0/24', '192.168.1.2')), /no VTEP published yet/);
  assert.match(
    missing(node('a', '10.42.1.0/24', '192.168.1.2', { 'flannel.alpha.coreos.com/backend-type': 'host-gw' })),
    /host-gw, not vxlan/,
  );
  assert.match(
    missing(
      node('a', '10.42.1.0/24', '192.168.1.2', {
        'flannel.alpha.coreos.com/backend-type': 'vxlan',
        'flannel.alpha.coreos.com/backend-data': '{nope',
      }),
    ),
    /not JSON/,
  );
  assert.match(missing(node('a', '10.42.1.0/24', '192.168.1.2', vxlanAnn('not-a-mac'))), /no VtepMAC/);
});

test('desiredVxlanRoutes: one entry per other annotated node; the rest are skipped with a reason', () => {
  const nodes = [
    node('self', '10.42.0.0/24', '192.168.1.1', vxlanAnn('02:00:00:00:00:01')),
    node('b', '10.42.1.0/24', '172.16.0.2', vxlanAnn('02:00:00:00:00:02')),
    node('a', '10.42.2.0/24', '172.17.0.3', vxlanAnn('02:00:00:00:00:03', '198.51.100.3')),
    node('new', '10.42.3.0/24', '172.16.0.4'),
    node('dup', '10.42.1.0/24', '172.16.0.5', vxlanAnn('02:00:00:00:00:05')),
  ];
  const d = desiredVxlanRoutes('self', '10.42.0.0/24', nodes);
  assert.deepEqual(d.routes, [
    { node: 'a', podCIDR: '10.42.2.0/24', via: '10.42.2.0', mac: '02:00:00:00:00:03', dst: '198.51.100.3' },
    { node: 'b', podCIDR: '10.42.1.0/24', via: '10.42.1.0', mac: '02:00:00:00:00:02', dst: '172.16.0.2' },
  ]);
  assert.deepEqual(
    d.skipped.map((s) => s.node),
    ['new'],
  );
  // A node that reinstalled (new MAC) is replaced, not removed and re-added.
  const moved = [{ ...d.routes[0], mac: '02:00:00:00:00:33' }, d.routes[1]];
  const p = planRoutes(d.routes, moved);
  assert.deepEqual(
    p.add.map((r) => r.mac),
    ['02:00:00:00:00:33'],
  );
  assert.deepEqual(p.remove, []);
});

/** A fake `ip`/`bridge` holding one network namespace's flannel.1, recording every call. */
function fakeHost(existing?: { mac: string; local: string; id?: number }) {
  const calls: string[] = [];
  let dev: { address: string; mtu: number; up: boolean; local: string; id: number; addrs: string[] } | undefined =
    existing && { address: existing.mac, mtu: 1500, up: true, local: existing.local, id: existing.id ?? 1, addrs: [] };
  const ok = (stdout = '') => ({ status: 0, stdout, stderr: '' });
  const run = (cmd: string, args: string[]) => {
    const line = `${cmd} ${args.join(' ')}`;
    calls.push(line);
    if (line === 'ip -j -4 addr show')
      return ok(JSON.stringify([{ ifname: 'eth0', mtu: 9000, addr_info: [{ family: 'inet', local: '192.168.1.1' }] }]));
    if (line === 'ip -j -d addr show dev flannel.1') {
      if (!dev) return { status: 1, stdout: '', stderr: 'Device "flannel.1" does not exist.' };
      return ok(
        JSON.stringify([
          {
            address: dev.address,
            mtu: dev.mtu,
            flags: dev.up ? ['BROADCAST', 'UP'] : ['BROADCAST'],
            linkinfo: { info_kind: 'vxlan', info_data: { id: dev.id, port: 8472, local: dev.local, learning: false } },
            addr_info: dev.addrs.map((a) => ({ family: 'inet', local: a.split('/')[0], prefixlen: +a.split('/')[1] })),
          },
        ]),
      );
    }
    if (line.startsWith('ip link add flannel.1 ')) {
      dev = { address: args[4], mtu: +args[6], up: false, local: args[12], id: +args[10], addrs: [] };
      return ok();
    }
    if (line === 'ip link delete flannel.1') {
      dev = undefined;
      return ok();
    }
    if (dev && line.startsWith('ip addr replace ')) dev.addrs = [...dev.addrs.filter((a) => a !== args[2]), args[2]];
    if (dev && line.startsWith('ip addr del ')) dev.addrs = dev.addrs.filter((a) => a !== args[2]);
    if (dev && line.startsWith('ip link set flannel.1 mtu ')) {
      dev.mtu = +args[4];
      dev.up = true;
    }
    return ok();
  };
  return { run, calls, device: () => dev };
}

test('VxlanBackend makes flannel.1 (VNI 1, port 8472, no learning, underlay MTU − 50) and publishes its MAC', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-vxlan-'));
  try {
    const stateFile = join(dir, 'vxlan.json');
    const host = fakeHost();
    const b = new VxlanBackend({ nodeIP: '192.168.1.1', podCIDR: '10.42.5.0/24', stateFile, run: host.run });
    assert.equal(b.podMTU(), 8950);
    const res = b.setUp();
    assert.ok('annotations' in res, JSON.stringify(res));
    const mac = JSON.parse(readFileSync(stateFile, 'utf8')).mac as string;
    assert.ok(
      host.calls.includes(
        `ip link add flannel.1 address ${mac} mtu 8950 type vxlan id 1 local 192.168.1.1 dev eth0 dstport 8472 nolearning`,
      ),
      host.calls.join('\n'),
    );
    assert.deepEqual(host.device()?.addrs, ['10.42.5.0/32']);
    assert.deepEqual(res.annotations, {
      'flannel.alpha.coreos.com/backend-type': 'vxlan',
      'flannel.alpha.coreos.com/backend-data': `{"VNI":1,"VtepMAC":"${mac}"}`,
      'flannel.alpha.coreos.com/public-ip': '192.168.1.1',
      'flannel.alpha.coreos.com/kube-subnet-manager': 'true',
    });
    assert.equal(b.ready(), true);

    host.calls.length = 0;
    const r = { node: 'b', podCIDR: '10.42.6.0/24', via: '10.42.6.0', mac: '02:00:00:00:00:06', dst: '172.16.0.6' };
    assert.equal(b.install(r).status, 0);
    assert.deepEqual(host.calls, [
      'ip neigh replace 10.42.6.0 lladdr 02:00:00:00:00:06 dev flannel.1 nud permanent',
      'bridge fdb replace 02:00:00:00:00:06 dev flannel.1 dst 172.16.0.6 self permanent',
      'ip route replace 10.42.6.0/24 via 10.42.6.0 dev flannel.1 onlink',
    ]);
    host.calls.length = 0;
    b.install({ ...r, mac: '02:00:00:00:00:66' }, r);
    assert.ok(host.calls.includes('bridge fdb del 02:00:00:00:00:06 dev flannel.1 dst 172.16.0.6 self'));
    host.calls.length = 0;
    b.remove(r);
    assert.deepEqual(host.calls, [
      'ip route del 10.42.6.0/24 via 10.42.6.0 dev flannel.1',
      'ip neigh del 10.42.6.0 dev flannel.1',
      'bridge fdb del 02:00:00:00:00:06 dev flannel.1 dst 172.16.0.6 self',
    ]);

    // A restart keeps the device and its MAC (the other nodes' entries stay right).
    host.calls.length = 0;
    const again = new VxlanBackend({ nodeIP: '192.168.1.1', podCIDR: '10.42.5.0/24', stateFile, run: host.run });
    const res2 = again.setUp();
    assert.ok('annotations' in res2);
    assert.ok(
      !host.calls.some((c) => c.startsWith('ip link add') || c.startsWith('ip link delete')),
      host.calls.join('\n'),
    );
    assert.equal(res2.annotations['flannel.alpha.coreos.com/backend-data'], `{"VNI":1,"VtepMAC":"${mac}"}`);

    // A new node IP: our device is remade with it, still with our MAC.
    const moved = new VxlanBackend({ nodeIP: '192.168.1.1', podCIDR: '10.42.5.0/24', stateFile, run: host.run });
    host.device()!.local = '192.168.9.9';
    host.calls.length = 0;
    assert.ok('annotations' in moved.setUp());
    assert.ok(host.calls.includes('ip link delete flannel.1'));
    assert.equal(host.device()?.local, '192.168.1.1');
    assert.equal(host.device()?.address, mac);

    removeVxlanDevice(stateFile, host.run);
    assert.equal(host.device(), undefined);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("another installation's flannel.1 is adopted when compatible, left alone otherwise, never deleted", () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-vxlan-'));
  try {
    const stateFile = join(dir, 'vxlan.json');
    writeFileSync(stateFile, JSON.stringify({ device: 'flannel.1', mac: '02:aa:aa:aa:aa:aa' }));
    const theirs = fakeHost({ mac: '02:bb:bb:bb:bb:bb', local: '192.168.1.1' });
    const b = new VxlanBackend({ nodeIP: '192.168.1.1', podCIDR: '10.42.5.0/24', stateFile, run: theirs.run });
    const res = b.setUp();
    assert.ok('annotations' in res);
    assert.match(res.annotations['flannel.alpha.coreos.com/backend-data'], /02:bb:bb:bb:bb:bb/);
    removeVxlanDevice(stateFile, theirs.run);
    assert.ok(theirs.device(), 'a device with another MAC is not ours to delete');

    const other = fakeHost({ mac: '02:bb:bb:bb:bb:bb', local: '10.0.0.9' });
    const c = new VxlanBackend({ nodeIP: '192.168.1.1', podCIDR: '10.42.5.0/24', stateFile, run: other.run });
    const res2 = c.setUp();
    assert.ok('error' in res2);
    assert.match(res2.error, /not made by this agent/);
    assert.equal(other.device()?.local, '10.0.0.9');
    assert.ok(!other.calls.includes('ip link delete flannel.1'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('setUp fails clearly when no interface holds the node IP', () => {
  const host = fakeHost();
  const b = new VxlanBackend({
    nodeIP: '10.9.9.9',
    podCIDR: '10.42.5.0/24',
    stateFile: '/nonexistent/x',
    run: host.run,
  });
  const res = b.setUp();
  assert.ok('error' in res);
  assert.match(res.error, /node IP 10\.9\.9\.9/);
});

test('--flannel-backend takes vxlan (default), host-gw, none; anything else names the flag', () => {
  assert.equal(flannelBackendFromFlag(undefined), 'vxlan');
  assert.equal(flannelBackendFromFlag('host-gw'), 'host-gw');
  assert.equal(flannelBackendFromFlag('none'), 'none');
  assert.throws(
    () => flannelBackendFromFlag('wireguard-native'),
    /--flannel-backend: invalid backend "wireguard-native"/,
  );
});

test('the CNI bridge gets the overlay MTU when given one', () => {
  const withMtu = JSON.parse(cniConfig({ podCIDR: '10.42.0.0/24', bridge: 'k8ts0', ipamDir: '/x', mtu: 1450 }));
  assert.equal(withMtu.plugins[0].mtu, 1450);
  const without = JSON.parse(cniConfig({ podCIDR: '10.42.0.0/24', bridge: 'k8ts0', ipamDir: '/x' }));
  assert.equal('mtu' in without.plugins[0], false);
});
