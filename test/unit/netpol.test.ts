// NetworkPolicy semantics (src/netpol/model.ts): which pods are isolated, and what the union of
// the policies selecting them lets in and out — checked through `allows`, which reads the
// compiled rules as the rendered nftables rules do. The rendering itself is checked by nft -c.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { NetworkPolicy, NetworkPolicySpec } from 'kubernetes-types/networking/v1.js';
import { NodeAuthorizer } from '../../src/apiserver/authz/node.js';
import { attributes } from '../../src/apiserver/authz/types.js';
import { agentOptionsFromFlags } from '../../src/cli/agentoptions.js';
import { cleanUpNetworkPolicy, networkPolicyTableName } from '../../src/netpol/index.js';
import { podEndpoints } from '../../src/netpol/controller.js';
import { Cidr6Set } from '../../src/controllers/nodeipam/controller.js';
import { cniConfig } from '../../src/agent/runtime/containerd.js';
import { allows, compileNodeRules, policyTypes, type Endpoint, type Protocol } from '../../src/netpol/model.js';
import { cidrRanges, formatIP, mergeRanges, parseIP, rangeElements, subtractRanges } from '../../src/netpol/ranges.js';
import { deleteTableScript, fullScript, renderRules, renderTable, updateScript } from '../../src/netpol/render.js';

const pod = (
  namespace: string,
  name: string,
  ip: string,
  labels: Record<string, string> = {},
  extra: Partial<Endpoint> = {},
): Endpoint => ({ namespace, name, ip, labels, local: true, ports: [], ...extra });

const policy = (namespace: string, name: string, spec: NetworkPolicySpec): NetworkPolicy => ({
  metadata: { namespace, name },
  spec,
});

const nsLabels = new Map<string, Record<string, string>>([
  ['a', { 'kubernetes.io/metadata.name': 'a', team: 'a' }],
  ['b', { 'kubernetes.io/metadata.name': 'b', team: 'b' }],
  ['kube-system', { 'kubernetes.io/metadata.name': 'kube-system' }],
]);

const server = pod(
  'a',
  'server',
  '10.42.0.10',
  { app: 'server' },
  { ports: [{ name: 'http', protocol: 'tcp', port: 8080 }] },
);
const client = pod('a', 'client', '10.42.0.11', { role: 'client' });
const other = pod('a', 'other', '10.42.0.12', {});
const remoteB = pod('b', 'remote', '10.42.1.5', { role: 'client' }, { local: false });
const dns = pod(
  'kube-system',
  'kube-dns@10.42.0.1',
  '10.42.0.1',
  { 'k8s-app': 'kube-dns' },
  {
    local: false,
    ports: [{ name: 'dns', protocol: 'udp', port: 53 }],
  },
);
const pods = [server, client, other, remoteB, dns];

const can = (
  policies: NetworkPolicy[],
  src: Endpoint | string,
  dst: Endpoint | string,
  port: number,
  protocol: Protocol = 'tcp',
) =>
  allows(compileNodeRules(policies, pods, nsLabels), {
    src: typeof src === 'string' ? src : src.ip,
    dst: typeof dst === 'string' ? dst : dst.ip,
    protocol,
    port,
  });

test('policyTypes default: Ingress always, Egress only with egress rules', () => {
  assert.deepEqual(policyTypes(policy('a', 'p', { podSelector: {} })), ['ingress']);
  assert.deepEqual(policyTypes(policy('a', 'p', { podSelector: {}, egress: [{}] })), ['ingress', 'egress']);
  assert.deepEqual(policyTypes(policy('a', 'p', { podSelector: {}, policyTypes: ['Egress'] })), ['egress']);
});

test('no policy: everything flows; an empty podSelector isolates every pod of its namespace only', () => {
  assert.ok(can([], client, server, 80));
  const deny = [policy('a', 'deny', { podSelector: {} })];
  assert.ok(!can(deny, client, server, 80));
  assert.ok(!can(deny, remoteB, other, 80));
  // Egress is not isolated by an ingress-only policy.
  const rules = compileNodeRules(deny, pods, nsLabels);
  assert.equal(rules.egress.size, 0);
  assert.deepEqual([...rules.ingress.keys()].sort(), [server.ip, client.ip, other.ip].sort());
});

test('podSelector + port: only the labelled client, only on that port', () => {
  const ps = [
    policy('a', 'deny', { podSelector: {} }),
    policy('a', 'allow', {
      podSelector: { matchLabels: { app: 'server' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 8080 }] }],
    }),
  ];
  assert.ok(can(ps, client, server, 8080));
  assert.ok(!can(ps, client, server, 8081));
  assert.ok(!can(ps, client, server, 8080, 'udp'));
  assert.ok(!can(ps, other, server, 8080));
  // A podSelector alone means the policy's namespace: b's role=client pod is not let in.
  assert.ok(!can(ps, remoteB, server, 8080));
});

test('namespaceSelector, and namespaceSelector AND podSelector in one peer', () => {
  const byNs = [
    policy('a', 'p', { podSelector: {}, ingress: [{ from: [{ namespaceSelector: { matchLabels: { team: 'b' } } }] }] }),
  ];
  assert.ok(can(byNs, remoteB, server, 80));
  assert.ok(!can(byNs, client, server, 80));
  const both = [
    policy('a', 'p', {
      podSelector: {},
      ingress: [
        {
          from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }],
        },
      ],
    }),
  ];
  assert.ok(can(both, remoteB, server, 80), 'role=client in any namespace');
  assert.ok(can(both, client, server, 80));
  assert.ok(!can(both, other, server, 80), 'unlabelled pod');
});

test('ipBlock with except; ports by name (on the destination pod) and ranges (endPort)', () => {
  const ps = [
    policy('a', 'p', {
      podSelector: { matchLabels: { app: 'server' } },
      ingress: [
        { from: [{ ipBlock: { cidr: '192.168.0.0/16', except: ['192.168.1.0/24'] } }], ports: [{ port: 'http' }] },
        { ports: [{ port: 9000, endPort: 9010, protocol: 'UDP' }] },
      ],
    }),
  ];
  assert.ok(can(ps, '192.168.2.3', server, 8080));
  assert.ok(!can(ps, '192.168.1.3', server, 8080), 'excepted');
  assert.ok(!can(ps, '192.168.2.3', server, 80), 'http is 8080 on the server');
  assert.ok(can(ps, '8.8.8.8', server, 9005, 'udp'));
  assert.ok(!can(ps, '8.8.8.8', server, 9011, 'udp'));
  assert.ok(!can(ps, '8.8.8.8', server, 9005, 'tcp'));
});

test('egress deny with a DNS exception to kube-system kube-dns, and an ipBlock', () => {
  const ps = [
    policy('a', 'egress', {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        {
          to: [
            {
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
              podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
            },
          ],
          ports: [{ protocol: 'UDP', port: 'dns' }],
        },
        { to: [{ ipBlock: { cidr: '10.42.1.0/24' } }] },
      ],
    }),
  ];
  assert.ok(can(ps, client, dns, 53, 'udp'));
  assert.ok(!can(ps, client, dns, 80));
  assert.ok(!can(ps, client, server, 8080), 'pods of the same namespace: egress denied');
  assert.ok(can(ps, client, remoteB, 80), 'the ipBlock');
  assert.ok(!can(ps, client, '1.1.1.1', 443));
  // Traffic into the namespace is not isolated by an egress-only policy (b's pod is remote anyway).
  assert.ok(can(ps, '1.1.1.1', server, 8080));
});

test('rules are unions across policies; a pod on another node is not isolated here', () => {
  const ps = [
    policy('a', 'one', {
      podSelector: { matchLabels: { app: 'server' } },
      ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }] }],
    }),
    policy('a', 'two', { podSelector: { matchLabels: { app: 'server' } }, ingress: [{ ports: [{ port: 22 }] }] }),
    policy('b', 'deny', { podSelector: {} }),
  ];
  assert.ok(can(ps, client, server, 1234));
  assert.ok(can(ps, other, server, 22));
  assert.ok(!can(ps, other, server, 23));
  const rules = compileNodeRules(ps, pods, nsLabels);
  assert.ok(!rules.ingress.has(remoteB.ip), 'its own node enforces it');
});

test('ranges: CIDR minus excepts, merged into disjoint interval-set elements', () => {
  const r = subtractRanges(cidrRanges('10.0.0.0/8'), [
    ...cidrRanges('10.1.0.0/16'),
    ...cidrRanges('10.255.255.255/32'),
  ]);
  assert.deepEqual(rangeElements(r), ['10.0.0.0-10.0.255.255', '10.2.0.0-10.255.255.254']);
  assert.deepEqual(rangeElements(mergeRanges([...cidrRanges('10.0.0.1/32'), ...cidrRanges('10.0.0.0/31')])), [
    '10.0.0.0-10.0.0.1',
  ]);
  assert.deepEqual(cidrRanges('10.0.0.0/33'), []);
  assert.deepEqual(cidrRanges('not-a-cidr'), []);
  assert.deepEqual(cidrRanges('fd00::/129'), []);
});

test('ranges: IPv6 CIDRs and addresses in the same space, never covering IPv4', () => {
  assert.deepEqual(rangeElements(subtractRanges(cidrRanges('fd00::/64'), cidrRanges('fd00::8000:0:0:0/65'))), [
    'fd00::-fd00::7fff:ffff:ffff:ffff',
  ]);
  for (const ip of ['fd00::1', '2001:db8::ff00:42:8329', '::1', 'fe80::1:2:3:4', '1:2:3:4:5:6:7:8', '10.42.0.1'])
    assert.equal(formatIP(parseIP(ip)!), ip);
  assert.equal(formatIP(parseIP('FD00:0:0:0:0:0:0:1')!), 'fd00::1');
  assert.equal(parseIP('::ffff:10.0.0.1'), parseIP('10.0.0.1'), 'the IPv4-mapped form is the IPv4 address');
  for (const bad of ['fd00:::1', '1:2:3:4:5:6:7:8:9', 'fd00::g', '1:2:3:4:5:6:7', '10.0.0.256'])
    assert.equal(parseIP(bad), undefined, bad);
  // ::/0 is every IPv6 peer and no IPv4 one.
  const all6 = cidrRanges('::/0');
  assert.deepEqual(rangeElements(all6), ['::-::fffe:ffff:ffff', '::1:0:0:0-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff']);
});

test('IPv6 pods and ipBlocks: isolated and allowed like IPv4 ones; a dual-stack pod by both addresses', () => {
  const v6server = pod(
    'a',
    'server6',
    'fd42::10',
    { app: 'server' },
    { ports: [{ name: 'http', protocol: 'tcp', port: 8080 }] },
  );
  const v6client = pod('a', 'client6', 'fd42::11', { role: 'client' });
  const v6other = pod('a', 'other6', 'fd42::12', {});
  const eps = [...pods, v6server, v6client, v6other];
  const ps = [
    policy('a', 'deny', { podSelector: {} }),
    policy('a', 'web', {
      podSelector: { matchLabels: { app: 'server' } },
      ingress: [
        { from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 'http' }] },
        { from: [{ ipBlock: { cidr: 'fd99::/16', except: ['fd99:1::/32'] } }] },
      ],
    }),
  ];
  const rules = compileNodeRules(ps, eps, nsLabels);
  const ok = (src: string, dst: string, port: number) => allows(rules, { src, dst, protocol: 'tcp', port });
  assert.ok(ok('fd42::11', 'fd42::10', 8080), 'the labelled client by its IPv6 address');
  assert.ok(!ok('fd42::12', 'fd42::10', 8080), 'another pod is denied');
  assert.ok(!ok('fd42::11', 'fd42::10', 9090), 'another port is denied');
  assert.ok(
    ok('10.42.0.11', 'fd42::10', 8080),
    'the IPv4 client is a peer too (its family never meets, but the rule holds)',
  );
  assert.ok(ok('fd99:2::5', 'fd42::10', 1), 'inside the ipBlock');
  assert.ok(!ok('fd99:1::5', 'fd42::10', 1), 'inside the except');
  assert.ok(!ok('10.1.2.3', 'fd42::10', 1), 'an IPv6 ipBlock never covers IPv4 peers');
  assert.deepEqual(rules.ingress.get('fd42::10'), ['ingress/a/deny', 'ingress/a/web']);
  // A dual-stack pod becomes an endpoint per address: both isolated, both peers.
  const dual = [
    ...podEndpoints(
      [
        {
          metadata: { namespace: 'a', name: 'dual', labels: { role: 'client' } },
          spec: { nodeName: 'n1', containers: [] },
          status: { phase: 'Running', podIP: '10.42.0.20', podIPs: [{ ip: '10.42.0.20' }, { ip: 'fd42::20' }] },
        },
      ],
      'n1',
    ),
  ];
  assert.deepEqual(
    dual.map((e) => e.ip),
    ['10.42.0.20', 'fd42::20'],
  );
  const both = compileNodeRules(ps, [...eps, ...dual], nsLabels);
  assert.ok(allows(both, { src: 'fd42::20', dst: 'fd42::10', protocol: 'tcp', port: 8080 }));
  assert.ok(both.ingress.has('fd42::20') && both.ingress.has('10.42.0.20'));
  // Rendered: IPv6 sets, maps and matches beside the IPv4 ones.
  const script = renderTable('t', both);
  assert.match(script, /add map inet t ingress-pods6 \{ type ipv6_addr : verdict; \}/);
  assert.match(script, /add element inet t ingress-pods6 \{ [^}]*fd42::10 : goto pod-in-/);
  assert.match(script, /ip6 saddr @peers6-\w+ ip6 daddr \. meta l4proto \. th dport @named6-\w+ accept/);
  assert.match(
    script,
    /\{ type ipv6_addr; flags interval; \}\nadd element inet t peers6-\w+ \{ fd99::-fd99:0:ffff:ffff:ffff:ffff:ffff:ffff, fd99:2::-fd99:ffff:ffff:ffff:ffff:ffff:ffff:ffff \}/,
  );
  assert.match(script, /add rule inet t forward-ingress ip6 daddr vmap @ingress-pods6/);
  assert.match(
    script,
    /icmpv6 type \{ nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit, nd-router-advert \} accept/,
  );
  if (hasNft) {
    const r = spawnSync('nft', ['-c', '-f', '-'], {
      input: renderTable('k8tsunittest-netpol', both),
      encoding: 'utf8',
    });
    assert.equal(r.status, 0, r.stderr);
  }
});

const hasNft = spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status === 0 && process.getuid?.() === 0;

test('the rendered table is valid nftables (nft -c)', { skip: !hasNft && 'needs root and nft' }, () => {
  const ps = [
    policy('a', 'deny', { podSelector: {}, policyTypes: ['Ingress', 'Egress'] }),
    policy('a', 'allow', {
      podSelector: { matchLabels: { app: 'server' } },
      ingress: [
        {
          from: [{ podSelector: {} }, { ipBlock: { cidr: '0.0.0.0/0', except: ['10.0.0.0/8'] } }],
          ports: [{ port: 'http' }, { port: 80, endPort: 90 }, { protocol: 'SCTP', port: 7 }],
        },
      ],
      egress: [
        { to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 'dns' }] },
        { to: [{ podSelector: { matchLabels: { none: 'x' } } }] },
      ],
    }),
  ];
  const script = renderTable('k8tsunittest-netpol', compileNodeRules(ps, pods, nsLabels));
  const r = spawnSync('nft', ['-c', '-f', '-'], { input: script, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stderr}\n${script}`);
});

test(
  'an update transaction leaves the kernel with what a full load of the new rules gives',
  { skip: !hasNft && 'needs root and nft' },
  () => {
    // Addresses from the benchmarking range, in a table of its own: nothing real is matched.
    const table = `k8tsunit${process.pid}-netpol`;
    const eps = [
      pod('a', 'server', '198.18.0.10', { app: 'server' }, { ports: [{ name: 'http', protocol: 'tcp', port: 8080 }] }),
      pod('a', 'client', '198.18.0.11', { role: 'client' }),
      pod('b', 'remote', '198.18.1.5', { role: 'client' }, { local: false }),
    ];
    const load = (script: string) => {
      const r = spawnSync('nft', ['-f', '-'], { input: script, encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stderr}\n${script}`);
    };
    // The table's sets, maps and chains (listed in creation order, hence sorted here).
    const listing = () =>
      spawnSync('nft', ['list', 'table', 'inet', table], { encoding: 'utf8' })
        .stdout.trim()
        .replace(/\n}$/, '')
        .split(/\n(?=\t(?:set|map|chain) )/)
        .map((block) => block.trim())
        .sort();
    const v1 = renderRules(
      compileNodeRules(
        [
          policy('a', 'deny', { podSelector: {} }),
          policy('a', 'web', {
            podSelector: { matchLabels: { app: 'server' } },
            ingress: [{ from: [{ podSelector: { matchLabels: { role: 'client' } } }], ports: [{ port: 'http' }] }],
          }),
        ],
        eps,
        nsLabels,
      ),
    );
    const v2 = renderRules(
      compileNodeRules(
        [
          policy('a', 'web', {
            podSelector: { matchLabels: { app: 'server' } },
            ingress: [{ from: [{ namespaceSelector: {}, podSelector: { matchLabels: { role: 'client' } } }] }],
          }),
          policy('a', 'egress', { podSelector: {}, egress: [{ to: [{ ipBlock: { cidr: '198.18.0.0/16' } }] }] }),
        ],
        eps,
        nsLabels,
      ),
    );
    try {
      load(fullScript(table, v2));
      const want = listing();
      load(fullScript(table, v1));
      const script = updateScript(table, v1, v2);
      assert.ok(!script.includes('delete table'), 'a partial update');
      load(script);
      assert.deepEqual(listing(), want);
      assert.equal(updateScript(table, v2, v2), '', 'nothing to do');
    } finally {
      spawnSync('nft', ['-f', '-'], { input: deleteTableScript(table) });
    }
  },
);

test('a node agent may read what its policy controller watches (it was refused NetworkPolicies)', () => {
  const node = new NodeAuthorizer({ podsIn: () => [], pod: () => undefined, claimsOfVolume: () => [] });
  const user = { name: 'system:node:n1', groups: ['system:nodes', 'system:authenticated'] };
  for (const verb of ['list', 'watch'])
    for (const [apiGroup, resource, namespace] of [
      ['networking.k8s.io', 'networkpolicies', undefined],
      ['', 'pods', undefined],
      ['', 'namespaces', undefined],
      ['discovery.k8s.io', 'endpointslices', 'kube-system'],
    ] as const)
      assert.equal(
        node.authorize(attributes({ user, verb, apiGroup, resource, namespace })).decision,
        'Allow',
        `${verb} ${resource}`,
      );
  assert.equal(
    node.authorize(attributes({ user, verb: 'create', apiGroup: 'networking.k8s.io', resource: 'networkpolicies' }))
      .decision,
    'NoOpinion',
  );
});

test('--disable-network-policy reaches the agent options; off by default', () => {
  assert.equal(agentOptionsFromFlags({}).disableNetworkPolicy, false);
  assert.equal(agentOptionsFromFlags({ disableNetworkPolicy: true }).disableNetworkPolicy, true);
});

test(
  "cleanUpNetworkPolicy removes the data dir's table (killall, an agent with enforcement turned off)",
  { skip: !hasNft && 'needs root and nft' },
  async () => {
    const agentDir = `/tmp/k8ts-unit-netpol-${process.pid}/agent`;
    const table = networkPolicyTableName(agentDir, false);
    const tables = () => spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout;
    spawnSync('nft', ['-f', '-'], { input: renderTable(table, compileNodeRules([], [], nsLabels)) });
    assert.match(tables(), new RegExp(`table inet ${table}\\b`));
    await cleanUpNetworkPolicy(agentDir, false);
    assert.doesNotMatch(tables(), new RegExp(`table inet ${table}\\b`));
  },
);

test('dual-stack pods: node IPAM carves IPv6 /64s by index; the CNI network gets both ranges', () => {
  const set = new Cidr6Set('fd42:1::/56', 64);
  assert.equal(set.count, 256);
  assert.equal(set.cidr(0), 'fd42:1::/64');
  assert.equal(set.cidr(3), 'fd42:1:0:3::/64');
  assert.equal(new Cidr6Set('fd42:1::5/56', 64).cidr(255), 'fd42:1:0:ff::/64', 'host bits ignored');
  assert.throws(() => new Cidr6Set('10.0.0.0/8', 64), /not an IPv6 CIDR/);
  assert.throws(() => new Cidr6Set('fd42::/80', 64), /smaller than a \/64/);
  const conf = JSON.parse(
    cniConfig({ podCIDR: '10.42.0.0/24', podCIDRv6: 'fd42:1::/64', bridge: 'b', ipamDir: '/x' }),
  ) as { plugins: { ipam?: { ranges: unknown; routes: unknown } }[] };
  assert.deepEqual(conf.plugins[0].ipam?.ranges, [[{ subnet: '10.42.0.0/24' }], [{ subnet: 'fd42:1::/64' }]]);
  assert.deepEqual(conf.plugins[0].ipam?.routes, [{ dst: '0.0.0.0/0' }, { dst: '::/0' }]);
  const v4only = JSON.parse(cniConfig({ podCIDR: '10.42.0.0/24', bridge: 'b', ipamDir: '/x' })) as typeof conf;
  assert.deepEqual(v4only.plugins[0].ipam?.ranges, [[{ subnet: '10.42.0.0/24' }]]);
});
