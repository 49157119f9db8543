import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { buildModel, SCHEDULER_ANNOTATION } from '../../src/proxy/model.js';
import {
  endpointUse,
  fullSync,
  HASH_SEED,
  partialSync,
  serviceFragment,
  serviceChainName,
  type Fragment,
} from '../../src/proxy/nftables.js';
import { svc, slice } from './proxy-fixtures.js';

const cfg = { table: 'k8tstest', clusterCIDR: '10.42.0.0/16' };
const opts = { nodeName: 'node-a', defaultScheduler: 'rr' as const };
const ep = (ip: string) => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'node-a' });

const web = svc('web', {
  type: 'NodePort',
  sessionAffinity: 'ClientIP',
  sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } },
  externalIPs: ['192.0.2.77'],
  ports: [{ name: 'http', port: 80, nodePort: 30080 }],
});
const empty = svc('empty', { clusterIP: '10.43.0.30', ports: [{ port: 53, protocol: 'UDP' }] });
const webSlice = (...ips: string[]) => slice('web', [{ name: 'http', port: 8080 }], ips.map(ep));
const fragments = (model: ReturnType<typeof buildModel>) =>
  new Map<string, Fragment>(model.map((p) => [`${p.key}/${p.protocol}`, serviceFragment(p, cfg)]));

/** `nft -c` parses and checks a script against the kernel without changing anything (root only). */
function nftAccepts(script: string): boolean | undefined {
  if (process.getuid?.() !== 0 || spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status !== 0)
    return undefined;
  const r = spawnSync('nft', ['-c', '-f', '-'], { input: script, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`nft -c rejected the script: ${r.stderr}\n${script}`);
  return true;
}

test('a Service port renders to verdict-map elements, a numgen service chain and DNAT endpoint chains', () => {
  const model = buildModel([web, empty], [webSlice('10.42.0.2', '10.42.0.3')], opts);
  const text = fullSync(cfg, fragments(model).values());
  const lines = text.split('\n');
  const chain = serviceChainName(model[1]);
  assert.match(chain, /^service-[A-Z0-9x]{8}-default\/web\/tcp\/http$/);
  assert.ok(lines.includes(`add element ip k8tstest service-ips { 10.43.0.20 . tcp . 80 : goto ${chain} }`));
  // Traffic from outside the pod range is masqueraded; the endpoint is chosen at random among two.
  assert.ok(
    lines.includes(
      `add rule ip k8tstest ${chain} ip daddr 10.43.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade`,
    ),
  );
  assert.ok(
    lines.some((l) => l.startsWith(`add rule ip k8tstest ${chain} numgen inc mod 2 vmap { 0 : goto endpoint-`)),
  );
  assert.ok(
    lines.some((l) => /endpoint-\S+__10\.42\.0\.3\/8080 meta l4proto tcp dnat ip to 10\.42\.0\.3:8080$/.test(l)),
  );
  // Hairpin: a pod reaching itself through the service is masqueraded (its address pair, in postrouting).
  assert.ok(lines.includes('add element ip k8tstest hairpin-endpoints { 10.42.0.2 . 10.42.0.2 }'));
  assert.ok(
    lines.includes(
      'add rule ip k8tstest masquerading ct status dnat ip saddr . ip daddr @hairpin-endpoints jump mark-for-masquerade',
    ),
  );
  // Session affinity: one timed set per endpoint, consulted before the random choice.
  assert.equal(
    lines.filter(
      (l) => l.startsWith('add set ip k8tstest affinity-') && l.includes('flags dynamic,timeout; timeout 30s;'),
    ).length,
    2,
  );
  assert.ok(lines.some((l) => l.includes(' update @affinity-') && l.endsWith('{ ip saddr }')));
  // NodePort and externalIP go through the external chain, which masquerades (policy Cluster).
  assert.ok(lines.some((l) => /service-nodeports \{ tcp \. 30080 : goto external-\S+ \}/.test(l)));
  assert.ok(lines.some((l) => /service-ips \{ 192\.0\.2\.77 \. tcp \. 80 : goto external-\S+ \}/.test(l)));
  // No endpoints: rejected before DNAT.
  assert.ok(
    lines.includes('add element ip k8tstest no-endpoint-services { 10.43.0.30 . udp . 53 : goto reject-chain }'),
  );
  assert.ok(lines.includes('add rule ip k8tstest reject-chain reject'));
  assert.deepEqual(lines.slice(0, 3), ['add table ip k8tstest', 'delete table ip k8tstest', 'add table ip k8tstest']);
  nftAccepts(text);
});

test('a partial sync touches only the Service port that changed, and deletes what went away last', () => {
  const before = fragments(buildModel([web, empty], [webSlice('10.42.0.2', '10.42.0.3')], opts));
  const after = fragments(buildModel([web, empty], [webSlice('10.42.0.3')], opts));
  // The unchanged port keeps its object, as the backend arranges.
  const emptyKey = 'default/empty:/UDP';
  after.set(emptyKey, before.get(emptyKey)!);
  const text = partialSync(cfg, before, after);
  const lines = text.trim().split('\n');
  assert.ok(!text.includes('empty'), 'the unchanged service is not touched');
  assert.ok(lines.some((l) => l.startsWith('flush chain ip k8tstest service-') && l.endsWith('/web/tcp/http')));
  assert.ok(lines.some((l) => l.includes('numgen inc mod 1 vmap')));
  const deleteChain = lines.findIndex((l) => l.startsWith('delete chain') && l.includes('__10.42.0.2/8080'));
  const refill = lines.findIndex((l) => l.includes('numgen inc mod 1'));
  assert.ok(deleteChain > refill, 'the endpoint chain is deleted after the service chain stops naming it');
  assert.ok(lines.some((l) => l.startsWith('delete set ip k8tstest affinity-')));
  // Nothing changed: nothing to send.
  assert.equal(partialSync(cfg, after, after), '');
  // Scaled to zero: the map element moves from service-ips to the reject map.
  const none = fragments(buildModel([web, empty], [], opts));
  none.set(emptyKey, before.get(emptyKey)!);
  const zero = partialSync(cfg, after, none);
  assert.match(zero, /delete element ip k8tstest service-ips \{ 10\.43\.0\.20 \. tcp \. 80 \}/);
  assert.match(
    zero,
    /add element ip k8tstest no-endpoint-services \{ 10\.43\.0\.20 \. tcp \. 80 : goto reject-chain \}/,
  );
  assert.match(zero, /add element ip k8tstest no-endpoint-nodeports \{ tcp \. 30080 : goto reject-chain \}/);
});

test('internalTrafficPolicy Local without a local endpoint drops; externalTrafficPolicy Local keeps the client address', () => {
  const remote = [{ addresses: ['10.42.1.2'], conditions: { ready: true }, nodeName: 'node-b' }];
  const itp = buildModel(
    [svc('web', { internalTrafficPolicy: 'Local' })],
    [slice('web', [{ port: 8080 }], remote)],
    opts,
  );
  assert.match(fullSync(cfg, fragments(itp).values()), /no-endpoint-services \{ 10\.43\.0\.20 \. tcp \. 80 : drop \}/);
  const etp = buildModel(
    [svc('web', { type: 'NodePort', externalTrafficPolicy: 'Local', ports: [{ port: 80, nodePort: 30080 }] })],
    [slice('web', [{ port: 8080 }], [...remote, ep('10.42.0.2')])],
    opts,
  );
  const text = fullSync(cfg, fragments(etp).values());
  const ext = text.split('\n').filter((l) => l.startsWith('add rule ip k8tstest external-'));
  assert.ok(
    !ext.some((l) => l.endsWith(' jump mark-for-masquerade') && !l.includes('fib saddr')),
    'external traffic is not masqueraded',
  );
  assert.ok(
    ext.some((l) => l.endsWith('meta l4proto tcp dnat ip to 10.42.0.2:8080')),
    'only the local endpoint serves external traffic',
  );
  nftAccepts(text);
});

test('without session affinity a Service port is one chain: the endpoint is picked (rr: a counter) and DNATed by one rule', () => {
  const plain = svc('plain', { clusterIP: '10.43.0.40', ports: [{ name: 'http', port: 80 }] });
  const model = buildModel(
    [plain],
    [slice('plain', [{ name: 'http', port: 8080 }], ['10.42.0.2', '10.42.0.3'].map(ep))],
    opts,
  );
  const f = serviceFragment(model[0], cfg);
  assert.deepEqual([...f.chains.keys()], [serviceChainName(model[0])]);
  assert.equal(f.sets.size, 0);
  assert.equal(
    f.chains.get(serviceChainName(model[0]))!.at(-1),
    'meta l4proto tcp dnat ip to numgen inc mod 2 map { 0 : 10.42.0.2 . 8080, 1 : 10.42.0.3 . 8080 }',
  );
  const text = fullSync(cfg, [f]);
  assert.doesNotMatch(text, /add chain ip k8tstest endpoint-/);
  nftAccepts(text);
});

test('a hairpin pair stays while any Service port still uses the endpoint, and goes with the last', () => {
  const a = svc('a', { clusterIP: '10.43.0.41', ports: [{ port: 80 }] });
  const b = svc('b', { clusterIP: '10.43.0.42', ports: [{ port: 80 }] });
  const slices = (aIPs: string[], bIPs: string[]) => [
    slice('a', [{ port: 8080 }], aIPs.map(ep)),
    slice('b', [{ port: 8080 }], bIPs.map(ep)),
  ];
  const s0 = fragments(buildModel([a, b], slices(['10.42.0.2'], ['10.42.0.2']), opts));
  const s1 = fragments(buildModel([a, b], slices(['10.42.0.2'], ['10.42.0.3']), opts));
  s1.set('default/a:/TCP', s0.get('default/a:/TCP')!);
  const use = endpointUse(s0.values());
  const t1 = partialSync(cfg, s0, s1, use);
  assert.doesNotMatch(t1, /hairpin-endpoints \{ 10\.42\.0\.2/, 'a still uses 10.42.0.2');
  assert.match(t1, /add element ip k8tstest hairpin-endpoints \{ 10\.42\.0\.3 \. 10\.42\.0\.3 \}/);
  assert.deepEqual(use, endpointUse(s1.values()));
  const s2 = fragments(buildModel([a, b], slices([], ['10.42.0.3']), opts));
  s2.set('default/b:/TCP', s1.get('default/b:/TCP')!);
  assert.match(
    partialSync(cfg, s1, s2, use),
    /delete element ip k8tstest hairpin-endpoints \{ 10\.42\.0\.2 \. 10\.42\.0\.2 \}/,
  );
  assert.deepEqual([...use.keys()], ['10.42.0.3']);
});

test(
  'the kernel takes a full sync and every partial sync after it (root with nft only)',
  { skip: nftAccepts('') === undefined ? 'needs root and nft' : false },
  async () => {
    const { NftablesBackend } = await import('../../src/proxy/nftbackend.js');
    const table = `k8tsunit${process.pid}`;
    const backend = new NftablesBackend({ table, clusterCIDR: '10.42.0.0/16' });
    try {
      for (const ips of [['10.42.0.2', '10.42.0.3'], ['10.42.0.3'], [], ['10.42.0.4']]) {
        await backend.sync(buildModel([web, empty], ips.length ? [webSlice(...ips)] : [], opts));
      }
      const listed = spawnSync('nft', ['list', 'table', 'ip', table], { encoding: 'utf8' }).stdout;
      assert.match(listed, /dnat to 10\.42\.0\.4:8080/);
      assert.doesNotMatch(listed, /10\.42\.0\.[23]/);
    } finally {
      await backend.cleanup();
    }
    assert.doesNotMatch(spawnSync('nft', ['list', 'tables'], { encoding: 'utf8' }).stdout, new RegExp(table));
  },
);

test(
  'a table removed by someone else is rebuilt: by the next sync if nothing changed, by the one after a failed partial sync otherwise (root with nft only)',
  { skip: nftAccepts('') === undefined ? 'needs root and nft' : false },
  async () => {
    const { NftablesBackend } = await import('../../src/proxy/nftbackend.js');
    const table = `k8tsunitgone${process.pid}`;
    const backend = new NftablesBackend({ table, clusterCIDR: '10.42.0.0/16' });
    const present = () => spawnSync('nft', ['list', 'table', 'ip', table], { encoding: 'utf8' }).stdout;
    try {
      await backend.sync(buildModel([web], [webSlice('10.42.0.2')], opts));
      spawnSync('nft', ['delete', 'table', 'ip', table]);
      await backend.sync(buildModel([web], [webSlice('10.42.0.2')], opts));
      assert.match(present(), /dnat to 10\.42\.0\.2:8080/);
      spawnSync('nft', ['delete', 'table', 'ip', table]);
      await assert.rejects(backend.sync(buildModel([web], [webSlice('10.42.0.3')], opts)), /No such file or directory/);
      await backend.sync(buildModel([web], [webSlice('10.42.0.3')], opts));
      assert.match(present(), /dnat to 10\.42\.0\.3:8080/);
    } finally {
      await backend.cleanup();
    }
  },
);

test('the scheduler annotation picks the nftables expression: rr takes turns, sh and dh hash, the rest is random', () => {
  const pick = (scheduler?: string) => {
    const s = svc('pick', { clusterIP: '10.43.0.45', ports: [{ port: 80 }] });
    if (scheduler) s.metadata!.annotations = { [SCHEDULER_ANNOTATION]: scheduler };
    const model = buildModel([s], [slice('pick', [{ port: 8080 }], ['10.42.0.2', '10.42.0.3'].map(ep))], {
      ...opts,
      defaultScheduler: 'lc',
    });
    return serviceFragment(model[0], cfg).chains.get(serviceChainName(model[0]))!.at(-1)!;
  };
  assert.match(pick('rr'), /dnat ip to numgen inc mod 2 map/);
  assert.match(pick('sh'), new RegExp(`dnat ip to jhash ip saddr mod 2 seed ${HASH_SEED} map`));
  assert.match(pick('dh'), /dnat ip to jhash ip daddr mod 2 seed/);
  assert.match(pick(), /dnat ip to numgen random mod 2 map/, 'the cluster default (here lc) without an annotation');
  assert.match(pick('nonsense'), /numgen random/);
  const sticky = svc('sticky', {
    clusterIP: '10.43.0.46',
    sessionAffinity: 'ClientIP',
    ports: [{ port: 80 }],
  });
  sticky.metadata!.annotations = { [SCHEDULER_ANNOTATION]: 'sh' };
  const model = buildModel([sticky], [slice('sticky', [{ port: 8080 }], ['10.42.0.2', '10.42.0.3'].map(ep))], opts);
  const f = serviceFragment(model[0], cfg);
  assert.match(
    f.chains.get(serviceChainName(model[0]))!.at(-1)!,
    /^jhash ip saddr mod 2 seed \S+ vmap \{ 0 : goto endpoint-/,
  );
  nftAccepts(
    fullSync(cfg, [
      f,
      serviceFragment(
        buildModel(
          [svc('pick', { clusterIP: '10.43.0.45', ports: [{ port: 80 }] })],
          [slice('pick', [{ port: 8080 }], ['10.42.0.2', '10.42.0.3'].map(ep))],
          opts,
        )[0],
        cfg,
      ),
    ]),
  );
});

/** Runs `script` (an ES module) with node inside network namespace `ns`; resolves with its stdout. */
function nodeInNetns(ns: string, script: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`node in ${ns} exited ${code}: ${err}`));
    });
  });
}

test(
  'source hashing in the kernel: each client sticks to one endpoint, and the clients spread (root with nft, in a network namespace)',
  { skip: nftAccepts('') === undefined ? 'needs root and nft' : false },
  async () => {
    const { NftablesBackend } = await import('../../src/proxy/nftbackend.js');
    // A namespace of our own: its loopback carries the clients, the endpoints and (by a route) the
    // cluster IP, so nothing on the host changes. The output hook DNATs the clients' connections.
    const ns = `k8tsunitsh${process.pid}`;
    const ip = (...args: string[]) => {
      const r = spawnSync('ip', ['-n', ns, ...args], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
    };
    const clients = Array.from({ length: 12 }, (_, i) => `10.99.0.${i + 1}`);
    const endpoints = ['10.99.0.101', '10.99.0.102', '10.99.0.103'];
    assert.equal(spawnSync('ip', ['netns', 'add', ns]).status, 0, 'ip netns add');
    const backend = new NftablesBackend({ table: 'k8tsunitsh' }, ['ip', 'netns', 'exec', ns, 'nft']);
    try {
      ip('link', 'set', 'lo', 'up');
      for (const a of [...clients, ...endpoints]) ip('addr', 'add', `${a}/32`, 'dev', 'lo');
      ip('route', 'add', '10.43.0.0/16', 'dev', 'lo');
      const hashed = svc('hashed', { clusterIP: '10.43.0.50', ports: [{ name: 'http', port: 80 }] });
      hashed.metadata!.annotations = { [SCHEDULER_ANNOTATION]: 'sh' };
      await backend.sync(
        buildModel([hashed], [slice('hashed', [{ name: 'http', port: 8080 }], endpoints.map(ep))], opts),
      );
      // Each endpoint answers with its own address; each client connects five times.
      const out = await nodeInNetns(
        ns,
        `import net from 'node:net';
        const servers = await Promise.all(${JSON.stringify(endpoints)}.map((ip) => new Promise((r) => {
          const s = net.createServer((c) => c.end(ip)); s.listen(8080, ip, () => r(s)); })));
        const ask = (src) => new Promise((res, rej) => {
          const c = net.connect({ host: '10.43.0.50', port: 80, localAddress: src });
          let d = ''; c.on('data', (x) => (d += x)); c.on('end', () => res(d)); c.on('error', rej); });
        const seen = {};
        for (const src of ${JSON.stringify(clients)}) {
          seen[src] = [];
          for (let i = 0; i < 5; i++) seen[src].push(await ask(src));
        }
        console.log(JSON.stringify(seen));
        for (const s of servers) s.close();`,
      );
      const seen = JSON.parse(out) as Record<string, string[]>;
      for (const [client, answers] of Object.entries(seen))
        assert.equal(new Set(answers).size, 1, `${client} went to ${answers.join(', ')}`);
      const used = new Set(Object.values(seen).map((a) => a[0]));
      assert.ok(used.size >= 2, `12 clients all hashed to ${[...used].join(', ')}`);
      for (const a of used) assert.ok(endpoints.includes(a));
    } finally {
      await backend.cleanup().catch(() => undefined);
      spawnSync('ip', ['netns', 'del', ns]);
    }
  },
);
