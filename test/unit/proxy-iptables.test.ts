import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { buildModel, SCHEDULER_ANNOTATION } from '../../src/proxy/model.js';
import {
  CHAINS_PER_RESTORE,
  IptablesBackend,
  SH_PIN_SECONDS,
  cleanUpIptables,
  renderIptables,
  restoreInputs,
} from '../../src/proxy/iptables.js';
import { svc, slice } from './proxy-fixtures.js';

const cfg = { prefix: 'K8TSTEST', clusterCIDR: '10.42.0.0/16' };
const opts = { nodeName: 'node-a', defaultScheduler: 'rr' as const };
const ep = (ip: string) => ({ addresses: [ip], conditions: { ready: true }, nodeName: 'node-a' });
const web = svc('web', {
  type: 'NodePort',
  sessionAffinity: 'ClientIP',
  sessionAffinityConfig: { clientIP: { timeoutSeconds: 30 } },
  ports: [{ name: 'http', port: 80, nodePort: 30080 }],
});
const empty = svc('empty', { clusterIP: '10.43.0.30', ports: [{ port: 53, protocol: 'UDP' }] });
const plain = svc('plain', { clusterIP: '10.43.0.40', ports: [{ name: 'http', port: 80 }] });
const model = (...ips: string[]) =>
  buildModel(
    [web, empty, plain],
    ips.length
      ? [
          slice('web', [{ name: 'http', port: 8080 }], ips.map(ep)),
          slice('plain', [{ name: 'http', port: 8080 }], ips.map(ep)),
        ]
      : [],
    opts,
  );
const restoreInput = (
  before: ReturnType<typeof renderIptables> | undefined,
  after: ReturnType<typeof renderIptables>,
) => restoreInputs(before, after).join('');

test('iptables rules: own chains, rr turns per endpoint, recent for affinity, REJECT without endpoints', () => {
  const text = restoreInput(undefined, renderIptables(model('10.42.0.2', '10.42.0.3'), cfg));
  const lines = text.split('\n');
  assert.ok(
    lines.every((l) => !l.startsWith('-A ') || l.startsWith('-A K8TSTEST-')),
    'only chains of our own',
  );
  assert.ok(
    lines.some((l) =>
      /^-A K8TSTEST-SERVICES -m comment --comment "default\/web:http" -d 10\.43\.0\.20\/32 -p tcp --dport 80 -j K8TSTEST-SVC-\w+$/.test(
        l,
      ),
    ),
  );
  assert.ok(lines.some((l) => /-m statistic --mode nth --every 2 --packet 0 -j K8TSTEST-SEP-/.test(l)));
  assert.ok(lines.some((l) => /--rcheck --seconds 30 --reap -j K8TSTEST-SEP-/.test(l)));
  assert.ok(
    lines.some((l) =>
      /-p tcp -m recent --name K8TSTEST-SEP-\w+ --mask 255\.255\.255\.255 --rsource --set -j DNAT --to-destination 10\.42\.0\.3:8080$/.test(
        l,
      ),
    ),
  );
  assert.ok(lines.some((l) => /^-A K8TSTEST-NODEPORTS .* -p tcp --dport 30080 -j K8TSTEST-EXT-/.test(l)));
  assert.ok(
    lines.includes(
      '-A K8TSTEST-REJECTS -m comment --comment "default/empty:" -d 10.43.0.30/32 -p udp --dport 53 -j REJECT',
    ),
  );
  for (const l of lines.filter((x) => x.startsWith(':')))
    assert.ok(l.slice(1).split(' ')[0].length <= 28, `${l}: chain names fit iptables' 28 characters`);
  // A later sync rewrites only what changed and deletes the chain of the endpoint that went.
  const partial = restoreInput(
    renderIptables(model('10.42.0.2', '10.42.0.3'), cfg),
    renderIptables(model('10.42.0.3'), cfg),
  );
  assert.ok(!partial.includes('*filter'), 'the filter table is unchanged');
  assert.equal(
    partial.split('\n').filter((l) => l.startsWith('-X ')).length,
    1,
    'the affinity endpoint chain that went',
  );
  assert.equal(restoreInput(renderIptables(model('10.42.0.3'), cfg), renderIptables(model('10.42.0.3'), cfg)), '');
});

test('without session affinity a Service chain marks hairpin sources and DNATs itself: no endpoint chains', () => {
  const rules = renderIptables(model('10.42.0.2', '10.42.0.3'), cfg);
  const svcChain = [...rules.nat.keys()].find(
    (name) => name.startsWith('K8TSTEST-SVC-') && rules.nat.get(name)!.some((r) => r.includes('10.43.0.40')),
  )!;
  assert.deepEqual(rules.nat.get(svcChain), [
    '! -s 10.42.0.0/16 -d 10.43.0.40/32 -p tcp --dport 80 -j MARK --or-mark 0x4000',
    '-s 10.42.0.2/32 -j MARK --or-mark 0x4000',
    '-s 10.42.0.3/32 -j MARK --or-mark 0x4000',
    '-m statistic --mode nth --every 2 --packet 0 -p tcp -j DNAT --to-destination 10.42.0.2:8080',
    '-p tcp -j DNAT --to-destination 10.42.0.3:8080',
  ]);
  // Endpoint chains only for the sessionAffinity Service (web): two endpoints.
  assert.equal([...rules.nat.keys()].filter((name) => name.includes('-SEP-')).length, 2);
});

const scheduled = (scheduler: string, ...ips: string[]) => {
  const s = svc(
    'sched',
    { clusterIP: '10.43.0.50', ports: [{ port: 80 }] },
    {
      metadata: { name: 'sched', annotations: { [SCHEDULER_ANNOTATION]: scheduler } },
    },
  );
  const rules = renderIptables(buildModel([s], [slice('sched', [{ port: 8080 }], ips.map(ep))], opts), cfg);
  const chain = (part: string) => [...rules.nat].filter(([name]) => name.includes(part));
  return { svcChain: chain('-SVC-')[0][1], sepChains: chain('-SEP-') };
};

test('the Service scheduler picks in iptables: rr takes turns (nth cascade), sh pins clients (recent), lc is random', () => {
  const ips = ['10.42.0.2', '10.42.0.3', '10.42.0.4'];
  assert.deepEqual(scheduled('rr', ...ips).svcChain.slice(-3), [
    '-m statistic --mode nth --every 3 --packet 0 -p tcp -j DNAT --to-destination 10.42.0.2:8080',
    '-m statistic --mode nth --every 2 --packet 0 -p tcp -j DNAT --to-destination 10.42.0.3:8080',
    '-p tcp -j DNAT --to-destination 10.42.0.4:8080',
  ]);
  assert.deepEqual(scheduled('lc', ...ips).svcChain.slice(-3), [
    '-m statistic --mode random --probability 0.3333333333 -p tcp -j DNAT --to-destination 10.42.0.2:8080',
    '-m statistic --mode random --probability 0.5000000000 -p tcp -j DNAT --to-destination 10.42.0.3:8080',
    '-p tcp -j DNAT --to-destination 10.42.0.4:8080',
  ]);
  // sh: a client found in an endpoint's recent list goes back to it; a new one is placed at random
  // and recorded by the endpoint chain, for SH_PIN_SECONDS.
  const sh = scheduled('sh', ...ips);
  assert.equal(sh.sepChains.length, 3);
  assert.equal(
    sh.svcChain.filter((r) => r.includes(`--rcheck --seconds ${SH_PIN_SECONDS} --reap -j K8TSTEST-SEP-`)).length,
    3,
  );
  assert.ok(
    sh.svcChain.some((r) => /^-m statistic --mode random --probability 0\.3333333333 -j K8TSTEST-SEP-/.test(r)),
  );
  for (const [, rules] of sh.sepChains)
    assert.ok(rules.some((r) => /-m recent --name K8TSTEST-SEP-\w+ .*--set -j DNAT/.test(r)));
});

test('a large sync is split into runs of bounded size: leaves before what jumps to them, top-level chains, deletions last', () => {
  const n = Math.ceil(CHAINS_PER_RESTORE * 1.5);
  const services = Array.from({ length: n }, (_, i) =>
    svc(`s${i}`, {
      type: 'NodePort',
      clusterIP: `10.43.${i >> 8}.${i & 255}`,
      ports: [{ name: 'http', port: 80, nodePort: 30000 + i }],
      ...(i % 7 === 0 ? { sessionAffinity: 'ClientIP' } : {}),
    }),
  );
  const slices = services.map((s, i) =>
    slice(s.metadata!.name!, [{ name: 'http', port: 8080 }], [ep(`10.42.${i >> 8}.${i & 255}`)]),
  );
  const all = renderIptables(buildModel(services, slices, opts), cfg);
  const runs = restoreInputs(undefined, all);
  const declared = (run: string) =>
    run
      .split('\n')
      .filter((l) => l.startsWith(':'))
      .map((l) => l.slice(1).split(' ')[0]);
  assert.ok(runs.length >= 4, `${runs.length} runs`);
  for (const run of runs) assert.ok(declared(run).length <= CHAINS_PER_RESTORE);
  // Every jump target is declared in the same run or an earlier one.
  const seen = new Set<string>();
  for (const run of runs) {
    for (const name of declared(run)) seen.add(name);
    for (const m of run.matchAll(/-j (K8TSTEST-\S+)/g))
      assert.ok(seen.has(m[1]), `${m[1]} written before it is jumped to`);
  }
  assert.match(runs.at(-1)!, /^\*nat\n:K8TSTEST-POSTROUTING/, 'the top-level chains come last');
  // Removing every Service: the top-level chains first, then the deletions in runs.
  const removal = restoreInputs(all, renderIptables([], cfg));
  assert.ok(!removal[0].includes('-X '), 'nothing is deleted while SERVICES may still jump to it');
  assert.equal(
    removal
      .slice(1)
      .join('')
      .split('\n')
      .filter((l) => l.startsWith('-X ')).length,
    all.nat.size - 3,
  );
});

const root =
  process.getuid?.() === 0 && spawnSync('sh', ['-c', 'command -v iptables-restore'], { stdio: 'ignore' }).status === 0;

test(
  'iptables-restore takes the rules, partial syncs after them, and cleanup leaves nothing',
  { skip: root ? false : 'needs root and iptables' },
  async () => {
    const prefix = `K8TSU${process.pid % 100000}`;
    const backend = new IptablesBackend({ prefix, clusterCIDR: '10.42.0.0/16' });
    try {
      for (const ips of [['10.42.0.2', '10.42.0.3'], ['10.42.0.3'], [], ['10.42.0.4']])
        await backend.sync(model(...ips));
      const nat = spawnSync('iptables', ['-w', '5', '-t', 'nat', '-S'], { encoding: 'utf8' }).stdout;
      assert.match(nat, /--to-destination 10\.42\.0\.4:8080/);
      assert.match(nat, /-s 10\.42\.0\.4\/32 -j MARK --set-xmark 0x4000\/0x4000/);
      assert.doesNotMatch(nat, /10\.42\.0\.[23]:8080/);
      assert.match(nat, new RegExp(`-A PREROUTING -j ${prefix}-SERVICES`));
    } finally {
      cleanUpIptables(prefix);
    }
    for (const table of ['nat', 'filter'])
      assert.doesNotMatch(
        spawnSync('iptables', ['-w', '5', '-t', table, '-S'], { encoding: 'utf8' }).stdout,
        new RegExp(prefix),
      );
  },
);
