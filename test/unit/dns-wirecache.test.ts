// The wire cache: a repeated question is answered with the bytes of the first reply (new ID),
// until the cluster data changes, the TTL passes (a second at most for forwarded answers) or
// the chain is reloaded; per-query plugins (metrics, loadbalance) still act on every reply.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Answer } from 'dns-packet';
import { DnsServer, type HandlerRef } from '../../src/dns/server.js';
import { decodeReply, encodeQuery, RCODE, reply, type DnsReply } from '../../src/dns/message.js';
import type { DnsRequest } from '../../src/dns/plugin.js';
import { LoadBalancePlugin } from '../../src/dns/plugins.js';
import { chain } from '../../src/dns/plugin.js';
import { WireCache } from '../../src/dns/wirecache.js';

const a = (name: string, ip: string, ttl = 5): Answer => ({ type: 'A', name, ttl, class: 'IN', data: ip });
/** The data of an answer record (not an OPT). */
const dataOf = (x: Answer | undefined): string | undefined =>
  x && 'data' in x && typeof x.data === 'string' ? x.data : undefined;

/** A server whose chain counts the queries it computes; `answer` decides each reply. */
function rig(answer: (req: DnsRequest) => DnsReply, opts: { perClient?: boolean } = {}) {
  let clock = 1_000_000;
  let generation = 0;
  const computed: string[] = [];
  const hooks = { runs: 0 };
  const handler: HandlerRef = {
    current: (req) => {
      computed.push(req.query.qname);
      req.notes?.hooks.push(() => hooks.runs++);
      return Promise.resolve(answer(req));
    },
  };
  handler.wire = new WireCache({
    capacity: 3,
    generation: () => generation,
    perClient: opts.perClient ?? false,
    now: () => clock,
  });
  const server = new DnsServer({ address: '127.0.0.1', port: 0, handler });
  return {
    server,
    handler,
    computed,
    hooks,
    tick: (ms: number) => (clock += ms),
    change: () => generation++,
    ask: async (id: number, name: string, remote = '10.0.0.1') =>
      decodeReply((await server.respond(encodeQuery(id, { type: 'A', name, class: 'IN' }), 'udp', remote))!),
  };
}

test('a repeated question is answered from the first reply, with its own ID', async () => {
  const r = rig((req) => reply(RCODE.NOERROR, [a(req.query.question.name, '10.43.0.10')]));
  const first = await r.ask(1, 'web.default.svc.cluster.local');
  const second = await r.ask(2, 'web.default.svc.cluster.local');
  assert.deepEqual(r.computed, ['web.default.svc.cluster.local']);
  assert.equal(first.id, 1);
  assert.equal(second.id, 2);
  assert.deepEqual(second.answers, first.answers);
  // Plugins' per-query hooks ran for the cached reply as well.
  assert.equal(r.hooks.runs, 1);
  // A different spelling (0x20 case) is another question: its reply echoes its own case.
  const upper = await r.ask(3, 'WEB.default.svc.cluster.local');
  assert.equal(upper.answers![0].name, 'WEB.default.svc.cluster.local');
  assert.equal(r.computed.length, 2);
});

test('a change of the data, the TTL, or a new chain ends an entry', async () => {
  let ip = '10.43.0.10';
  const r = rig((req) => reply(RCODE.NOERROR, [a(req.query.question.name, ip, 5)]));
  const name = 'db.default.svc.cluster.local';
  await r.ask(1, name);
  ip = '10.43.0.11';
  r.change();
  assert.equal(dataOf((await r.ask(2, name)).answers![0]), '10.43.0.11');
  r.tick(4_999);
  await r.ask(3, name);
  assert.equal(r.computed.length, 2);
  r.tick(2);
  await r.ask(4, name);
  assert.equal(r.computed.length, 3, 'expired after its 5 s TTL');
  r.handler.wire = new WireCache({ capacity: 3, generation: () => 0, perClient: false });
  await r.ask(5, name);
  assert.equal(r.computed.length, 4, 'a reloaded chain starts with an empty cache');
});

test('forwarded answers are reused for one second at most; failures never', async () => {
  let rcode: number = RCODE.NOERROR;
  const r = rig((req) => ({ ...reply(rcode, [a(req.query.question.name, '192.0.2.1', 300)]), authoritative: false }));
  await r.ask(1, 'example.org');
  r.tick(999);
  await r.ask(2, 'example.org');
  assert.equal(r.computed.length, 1);
  r.tick(2);
  await r.ask(3, 'example.org');
  assert.equal(r.computed.length, 2);
  rcode = RCODE.SERVFAIL;
  r.tick(1_001);
  await r.ask(4, 'example.org');
  await r.ask(5, 'example.org');
  assert.equal(r.computed.length, 4);
});

test('per client when answers depend on who asks; the capacity bounds the entries', async () => {
  const r = rig((req) => reply(RCODE.NOERROR, [a(req.query.question.name, req.remoteAddress)]), { perClient: true });
  assert.equal(dataOf((await r.ask(1, 'x.cluster.local', '10.0.0.1')).answers![0]), '10.0.0.1');
  assert.equal(dataOf((await r.ask(2, 'x.cluster.local', '10.0.0.2')).answers![0]), '10.0.0.2');
  for (const n of ['a', 'b', 'c', 'd']) await r.ask(3, `${n}.cluster.local`);
  assert.ok(r.handler.wire!.size <= 3);
});

test('a full cache keeps its live entries: a client cycling through more names than it holds still hits', async () => {
  const r = rig((req) => reply(RCODE.NOERROR, [a(req.query.question.name, '10.43.0.10')]));
  const names = ['a', 'b', 'c', 'd'].map((n) => `${n}.cluster.local`);
  for (let round = 0; round < 3; round++) for (const n of names) await r.ask(1, n);
  // a, b and c were kept from the first round on; only d, which found the cache full, is computed each time.
  assert.deepEqual(r.computed, [...names, 'd.cluster.local', 'd.cluster.local']);
  // Once the kept entries are stale (the data changed), new replies take their place.
  r.change();
  await r.ask(2, 'd.cluster.local');
  await r.ask(3, 'd.cluster.local');
  assert.deepEqual(r.computed.slice(-1), ['d.cluster.local'], 'd computed once more, then kept');
  assert.ok(r.handler.wire!.size <= 3);
});

test('loadbalance still shuffles addresses on cached replies, keeping every record whole', async () => {
  const ips = Array.from({ length: 8 }, (_, i) => `10.42.0.${i + 1}`);
  const lb = new LoadBalancePlugin();
  const last = (req: DnsRequest) =>
    Promise.resolve(
      reply(RCODE.NOERROR, [
        { type: 'CNAME', name: req.query.question.name, ttl: 5, class: 'IN', data: 'pods.default.svc.cluster.local' },
        ...ips.map((ip) => a('pods.default.svc.cluster.local', ip)),
      ]),
    );
  const r = rig(() => reply(RCODE.NOERROR));
  r.handler.current = chain([lb], last);
  const orders = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const got = await r.ask(i, 'alias.default.svc.cluster.local');
    assert.equal(got.answers![0].type, 'CNAME');
    const addresses = got.answers!.slice(1).map((x) => dataOf(x) ?? '');
    assert.deepEqual([...addresses].sort(), [...ips].sort());
    orders.add(addresses.join(','));
  }
  assert.ok(orders.size > 5, `only ${orders.size} distinct orders in 20 replies`);
});
