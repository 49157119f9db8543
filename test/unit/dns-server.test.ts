// The DNS listener over real sockets: UDP and TCP, EDNS0 sizes and truncation, FORMERR/NOTIMP
// for bad input, AXFR with `transfer to`, forwarding to an upstream (another instance of this
// server) with the cache and serve-stale, and a fuzz run of 100,000 random and mutated packets.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import type { Service } from 'kubernetes-types/core/v1.js';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { DnsServer } from '../../src/dns/server.js';
import { buildConfig } from '../../src/dns/build.js';
import { parseCorefile } from '../../src/dns/corefile.js';
import { ZoneTransfer } from '../../src/dns/transfer.js';
import { decodeReply, encodeQuery, RCODE, type RecordType } from '../../src/dns/message.js';
import { staticView } from '../../src/dns/view.js';

const logger = pino({ level: 'silent' });

function udpQuery(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const t = setTimeout(() => done(undefined), timeoutMs);
    const done = (b: Buffer | undefined) => {
      clearTimeout(t);
      s.close();
      resolve(b);
    };
    s.on('message', (b) => done(b));
    s.send(msg, port, '127.0.0.1');
  });
}

/** Sends messages over one TCP connection; resolves with every reply message until `count` arrived or the server closed. */
function tcpQuery(
  port: number,
  msgs: Buffer[],
  until: (replies: Buffer[]) => boolean,
  timeoutMs = 3000,
): Promise<Buffer[]> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    const replies: Buffer[] = [];
    let buf = Buffer.alloc(0);
    const t = setTimeout(() => finish(), timeoutMs);
    const finish = () => {
      clearTimeout(t);
      s.destroy();
      resolve(replies);
    };
    s.on('connect', () => {
      for (const m of msgs) {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        s.write(Buffer.concat([len, m]));
      }
    });
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        replies.push(buf.subarray(2, 2 + buf.readUInt16BE(0)));
        buf = buf.subarray(2 + buf.readUInt16BE(0));
      }
      if (until(replies)) finish();
    });
    s.on('error', finish);
    s.on('close', finish);
  });
}

const q = (name: string, type: RecordType, opts: { udpSize?: number } = {}) =>
  encodeQuery(0x1234, { name, type, class: 'IN' }, opts);

// A headless service with many endpoints: its A reply does not fit in 512 bytes.
const bigSlice: EndpointSlice = {
  metadata: { namespace: 'default', name: 'big-1', labels: { 'kubernetes.io/service-name': 'big' } },
  addressType: 'IPv4',
  endpoints: Array.from({ length: 60 }, (_, i) => ({ addresses: [`10.42.1.${i + 1}`], conditions: { ready: true } })),
  ports: [{ name: 'http', port: 80, protocol: 'TCP' }],
};
const services: Service[] = [
  {
    metadata: { namespace: 'default', name: 'web' },
    spec: { clusterIP: '10.43.0.20', ports: [{ name: 'http', port: 80, protocol: 'TCP' }] },
  },
  { metadata: { namespace: 'default', name: 'big' }, spec: { clusterIP: 'None' } },
];

describe('dns server', () => {
  let upstream: DnsServer;
  let server: DnsServer;
  let upstreamBuilt: ReturnType<typeof buildConfig>;
  let built: ReturnType<typeof buildConfig>;

  before(async () => {
    // The upstream: a server answering a few external names from a hosts table.
    const up = parseCorefile('. {\n  hosts {\n    192.0.2.53 www.example.com\n  }\n}\n');
    assert.deepEqual(up.problems, []);
    upstreamBuilt = buildConfig(up.blocks, {
      view: staticView({}),
      logger,
      resolvConf: '',
      ownAddresses: [],
      hostSearch: [],
    });
    upstream = new DnsServer({ address: '127.0.0.1', port: 0, handler: { current: upstreamBuilt.handler }, logger });
    await upstream.start();
    const corefile = `.:53 {
      errors
      kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
      }
      forward . 127.0.0.1:${upstream.port}
      cache 30 {
        serve_stale 1h
      }
      transfer cluster.local {
        to 127.0.0.1
      }
    }`;
    const parsed = parseCorefile(corefile);
    assert.deepEqual(parsed.problems, []);
    built = buildConfig(parsed.blocks, {
      view: staticView({ namespaces: ['default'], services, slices: [bigSlice] }),
      logger,
      resolvConf: '',
      ownAddresses: [],
      hostSearch: [],
    });
    const handler = { current: built.handler };
    server = new DnsServer({
      address: '127.0.0.1',
      port: 0,
      handler,
      transfer: new ZoneTransfer(
        () => built.kubernetes,
        () => built.transferTo,
      ),
      logger,
    });
    await server.start();
  });

  after(async () => {
    await server.stop();
    await upstream.stop();
    built.close();
    upstreamBuilt.close();
  });

  test('UDP and TCP answer the same question', async () => {
    const u = decodeReply((await udpQuery(server.port, q('web.default.svc.cluster.local', 'A')))!);
    assert.equal(u.id, 0x1234);
    assert.equal((u as { flag_aa?: boolean }).flag_aa, true);
    assert.deepEqual(
      u.answers?.map((a) => (a as { data: string }).data),
      ['10.43.0.20'],
    );
    const [t] = await tcpQuery(server.port, [q('web.default.svc.cluster.local', 'A')], (r) => r.length === 1);
    assert.deepEqual(
      decodeReply(t).answers?.map((a) => (a as { data: string }).data),
      ['10.43.0.20'],
    );
  });

  test('a reply too large for UDP is truncated (TC), complete over TCP; EDNS0 raises the limit', async () => {
    const small = decodeReply((await udpQuery(server.port, q('big.default.svc.cluster.local', 'A')))!);
    assert.equal(small.truncated, true);
    assert.equal(small.answers?.length ?? 0, 0);
    const edns = await udpQuery(server.port, q('big.default.svc.cluster.local', 'A', { udpSize: 4096 }));
    const e = decodeReply(edns!);
    assert.equal(e.truncated, false);
    assert.equal(e.answers?.length, 60);
    assert.equal(
      e.additionals?.some((a) => a.type === 'OPT'),
      true,
    );
    const [t] = await tcpQuery(server.port, [q('big.default.svc.cluster.local', 'A')], (r) => r.length === 1);
    assert.equal(decodeReply(t).answers?.length, 60);
  });

  test('bad input: FORMERR, NOTIMP, BADVERS, or nothing', async () => {
    // Two questions.
    const two = q('a.example', 'A');
    two.writeUInt16BE(2, 4);
    assert.equal(decodeReply((await udpQuery(server.port, two))!).rcode, RCODE.FORMERR);
    // A question cut in half.
    const cut = q('web.default.svc.cluster.local', 'A').subarray(0, 20);
    const r = decodeReply((await udpQuery(server.port, cut))!);
    assert.equal(r.rcode, RCODE.FORMERR);
    assert.equal(r.id, 0x1234);
    // Opcode STATUS.
    const status = q('a.example', 'A');
    status.writeUInt16BE(status.readUInt16BE(2) | (2 << 11), 2);
    assert.equal(decodeReply((await udpQuery(server.port, status))!).rcode, RCODE.NOTIMP);
    // EDNS version 1: BADVERS (extended rcode 1 in the OPT record).
    const v1 = q('web.default.svc.cluster.local', 'A', { udpSize: 1232 });
    v1[v1.length - 5] = 1; // the OPT TTL's version byte (before 2 flag and 2 length bytes)
    const bv = decodeReply((await udpQuery(server.port, v1))!);
    assert.equal(
      (bv.additionals?.find((a) => a.type === 'OPT') as { extendedRcode?: number } | undefined)?.extendedRcode,
      1,
    );
    // Too short for a header, or a response: dropped.
    assert.equal(await udpQuery(server.port, Buffer.from([1, 2, 3]), 300), undefined);
    const resp = q('a.example', 'A');
    resp.writeUInt16BE(resp.readUInt16BE(2) | 0x8000, 2);
    assert.equal(await udpQuery(server.port, resp, 300), undefined);
    // AXFR over UDP: refused.
    assert.equal(decodeReply((await udpQuery(server.port, q('cluster.local', 'AXFR')))!).rcode, RCODE.REFUSED);
  });

  test('AXFR over TCP: SOA, the records, SOA', async () => {
    const replies = await tcpQuery(server.port, [q('cluster.local', 'AXFR')], (r) => {
      const last = r.length ? (decodeReply(r[r.length - 1]).answers ?? []) : [];
      return (
        r.length > 0 && last.length > 0 && last[last.length - 1].type === 'SOA' && (r.length > 1 || last.length > 1)
      );
    });
    const records = replies.flatMap((b) => decodeReply(b).answers ?? []);
    assert.equal(records[0].type, 'SOA');
    assert.equal(records[records.length - 1].type, 'SOA');
    const names = records.map((a) => `${a.name} ${a.type}`);
    assert.ok(names.includes('web.default.svc.cluster.local A'));
    assert.ok(names.includes('_http._tcp.web.default.svc.cluster.local SRV'));
    assert.ok(names.includes('10-42-1-7.big.default.svc.cluster.local A'));
    assert.ok(replies.length > 1, 'streamed in several messages');
  });

  test('AXFR from an address `transfer to` does not list: REFUSED', async () => {
    const { ZoneTransfer: ZT } = await import('../../src/dns/transfer.js');
    const other = new DnsServer({
      address: '127.0.0.1',
      port: 0,
      handler: { current: built.handler },
      transfer: new ZT(
        () => built.kubernetes,
        () => ['10.9.9.9'],
      ),
      logger,
    });
    await other.start();
    try {
      const [r] = await tcpQuery(other.port, [q('cluster.local', 'AXFR')], (r) => r.length === 1);
      assert.equal(decodeReply(r).rcode, RCODE.REFUSED);
    } finally {
      await other.stop();
    }
  });

  test('other names are forwarded, cached, and served stale when the upstream is gone', async () => {
    const r = decodeReply((await udpQuery(server.port, q('www.example.com', 'A')))!);
    assert.equal(r.rcode, RCODE.NOERROR);
    assert.equal((r as { flag_aa?: boolean }).flag_aa, false);
    assert.deepEqual(
      r.answers?.map((a) => (a as { data: string }).data),
      ['192.0.2.53'],
    );
    const neg = decodeReply((await udpQuery(server.port, q('nothing.example.com', 'A')))!);
    assert.equal(neg.rcode, RCODE.NXDOMAIN);
    await upstream.stop();
    const cached = decodeReply((await udpQuery(server.port, q('www.example.com', 'A')))!);
    assert.deepEqual(
      cached.answers?.map((a) => (a as { data: string }).data),
      ['192.0.2.53'],
    );
  });

  test('fuzz: 100,000 random and mutated packets never crash or stall the server', async () => {
    const seeds = [
      q('web.default.svc.cluster.local', 'A'),
      q('_http._tcp.web.default.svc.cluster.local', 'SRV', { udpSize: 4096 }),
      q('big.default.svc.cluster.local', 'A', { udpSize: 1232 }),
      q('20.0.43.10.in-addr.arpa', 'PTR'),
      q('cluster.local', 'AXFR'),
    ];
    // Its own server without forward: mutated names are answered at once, not after an upstream's timeout.
    const local = buildConfig(parseCorefile('. {\n kubernetes cluster.local\n transfer {\n to *\n }\n}').blocks, {
      view: staticView({ namespaces: ['default'], services, slices: [bigSlice] }),
      logger,
      resolvConf: '',
      ownAddresses: [],
      hostSearch: [],
    });
    const fuzzed = new DnsServer({
      address: '127.0.0.1',
      port: 0,
      handler: { current: local.handler },
      transfer: new ZoneTransfer(
        () => local.kubernetes,
        () => local.transferTo,
      ),
      logger,
    });
    await fuzzed.start();
    after(() => fuzzed.stop());
    const t0 = Date.now();
    let answered = 0;
    for (let i = 0; i < 100_000; i++) {
      let msg: Buffer;
      if (i % 4 === 0) msg = randomBytes(Math.floor(Math.random() * 600));
      else {
        msg = Buffer.from(seeds[i % seeds.length]);
        const flips = 1 + Math.floor(Math.random() * 8);
        for (let f = 0; f < flips; f++) msg[Math.floor(Math.random() * msg.length)] = Math.floor(Math.random() * 256);
        if (i % 7 === 0) msg = msg.subarray(0, Math.floor(Math.random() * msg.length));
        // Compression pointers to themselves and forward: a classic loop.
        if (i % 11 === 0 && msg.length > 14) msg.writeUInt16BE(0xc00c, 12);
        if (i % 2 === 1) msg[2] &= 0x7f; // keep it a query most of the time
      }
      const out = await fuzzed.respond(msg, i % 3 === 0 ? 'tcp' : 'udp', '127.0.0.1');
      if (out) {
        answered++;
        assert.equal(out.readUInt16BE(0), msg.readUInt16BE(0), 'a reply carries the query ID');
        assert.ok(out.length <= 65535);
      }
    }
    assert.ok(Date.now() - t0 < 120_000, `took ${Date.now() - t0} ms`);
    assert.ok(answered > 10_000);
    // And over the sockets: a burst of garbage, then a good question still gets its answer.
    const sender = createSocket('udp4');
    for (let i = 0; i < 2000; i++) sender.send(randomBytes(1 + (i % 700)), fuzzed.port, '127.0.0.1');
    await tcpQuery(fuzzed.port, [randomBytes(300), randomBytes(5)], () => false, 300);
    sender.close();
    const ok = decodeReply((await udpQuery(fuzzed.port, q('web.default.svc.cluster.local', 'A')))!);
    assert.deepEqual(
      ok.answers?.map((a) => (a as { data: string }).data),
      ['10.43.0.20'],
    );
  });
});
