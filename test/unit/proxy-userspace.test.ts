import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { createSocket } from 'node:dgram';
import pino from 'pino';
import { buildModel, type Scheduler } from '../../src/proxy/model.js';
import { makeScheduler, type Backend } from '../../src/proxy/schedulers.js';
import { PortBalancer, UserspaceBackend } from '../../src/proxy/userspace.js';
import { createHash } from 'node:crypto';
import { svc, slice } from './proxy-fixtures.js';

const log = pino({ level: 'silent' });

/** Backends that greet every connection with their name and keep it open until the client closes. */
async function greeters(n: number): Promise<{ servers: Server[]; ports: number[] }> {
  const servers: Server[] = [];
  const ports: number[] = [];
  for (let i = 0; i < n; i++) {
    const s = createServer((c) => {
      c.on('error', () => undefined);
      c.write(`b${i}`);
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    servers.push(s);
    ports.push((s.address() as { port: number }).port);
  }
  return { servers, ports };
}

/** Connects through the proxy; resolves with the greeting and the open socket. */
function open(port: number, localAddress = '127.0.0.1'): Promise<{ name: string; socket: Socket }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    socket.once('data', (d) => resolve({ name: String(d), socket }));
    socket.once('error', reject);
  });
}

const model = (ports: number[], scheduler: Scheduler, extra: object = {}) =>
  buildModel(
    [
      svc(
        'web',
        { ports: [{ port: 80 }], ...extra },
        { metadata: { name: 'web', annotations: { 'k8ts.io/lb-scheduler': scheduler } } },
      ),
    ],
    ports.map((p, i) =>
      slice('web', [{ port: p }], [{ addresses: ['127.0.0.1'], conditions: { ready: true } }], `s${i}`),
    ),
    { nodeName: 'n', defaultScheduler: 'rr' },
  );

const cleanups: (() => unknown)[] = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function proxyFor(scheduler: Scheduler, n = 3, extra: object = {}) {
  const { servers, ports } = await greeters(n);
  const backend = new UserspaceBackend('unused', log, false);
  await backend.sync(model(ports, scheduler, extra));
  cleanups.push(
    () => backend.stop(),
    () => servers.forEach((s) => s.close()),
  );
  return { backend, port: backend.listenerPort('default/web:')!, ports };
}

test('rr spreads connections over every backend in turn', async () => {
  const { port } = await proxyFor('rr');
  const names = [];
  for (let i = 0; i < 6; i++) {
    const c = await open(port);
    names.push(c.name);
    c.socket.destroy();
  }
  assert.equal(new Set(names.slice(0, 3)).size, 3);
  assert.deepEqual(names.slice(3), names.slice(0, 3));
});

test('lc sends a new connection to the backend with the fewest open ones', async () => {
  const { port } = await proxyFor('lc');
  const a = await open(port);
  const b = await open(port);
  const c = await open(port);
  assert.equal(new Set([a.name, b.name, c.name]).size, 3);
  // b's connection ends: its backend is now the least busy.
  b.socket.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const d = await open(port);
  assert.equal(d.name, b.name);
  // Now all have one open connection; the one with a recently closed connection is the busiest.
  const e = await open(port);
  assert.notEqual(e.name, b.name);
  for (const x of [a, c, d, e]) x.socket.destroy();
});

test('sh pins a client address to one backend; other addresses spread', async () => {
  const { port } = await proxyFor('sh');
  const byClient = new Map<string, Set<string>>();
  for (const addr of ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6']) {
    for (let i = 0; i < 4; i++) {
      const c = await open(port, addr);
      byClient.set(addr, (byClient.get(addr) ?? new Set()).add(c.name));
      c.socket.destroy();
    }
  }
  for (const [addr, names] of byClient) assert.equal(names.size, 1, `${addr} went to ${[...names].join(',')}`);
  assert.ok(
    new Set([...byClient.values()].map((s) => [...s][0])).size >= 2,
    'different clients use different backends',
  );
});

test('sessionAffinity ClientIP pins a client under rr too', async () => {
  const { port } = await proxyFor('rr', 3, { sessionAffinity: 'ClientIP' });
  const names = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const c = await open(port);
    names.add(c.name);
    c.socket.destroy();
  }
  assert.equal(names.size, 1);
});

test('no endpoints: the connection is reset at once', async () => {
  const backend = new UserspaceBackend('unused', log, false);
  await backend.sync(model([], 'rr'));
  cleanups.push(() => backend.stop());
  await assert.rejects(
    open(backend.listenerPort('default/web:')!),
    (err: NodeJS.ErrnoException) => err.code === 'ECONNRESET',
  );
});

test('UDP datagrams go to a backend and replies come back', async () => {
  const echo = createSocket('udp4');
  echo.on('message', (m, r) => echo.send(`echo:${m.toString()}`, r.port, r.address));
  await new Promise<void>((r) => echo.bind(0, '127.0.0.1', () => r()));
  const backend = new UserspaceBackend('unused', log, false);
  const sp = buildModel(
    [svc('dns', { ports: [{ port: 53, protocol: 'UDP' }] })],
    [slice('dns', [{ port: echo.address().port, protocol: 'UDP' }], [{ addresses: ['127.0.0.1'] }])],
    { nodeName: 'n', defaultScheduler: 'rr' },
  );
  await backend.sync(sp);
  cleanups.push(
    () => backend.stop(),
    () => echo.close(),
  );
  const client = createSocket('udp4');
  const reply = new Promise<string>((r) => client.once('message', (m) => r(String(m))));
  client.send('hello', backend.listenerPort('default/dns:', 'UDP'), '127.0.0.1');
  assert.equal(await reply, 'echo:hello');
  client.close();
});

test('the other IPVS schedulers: wrr by weight, sed and nq by expected delay, dh by destination', () => {
  const b = (id: string, weight: number, active = 0, inactive = 0): Backend => ({ id, weight, active, inactive });
  const wrr = makeScheduler('wrr');
  const bs = [b('a', 3), b('b', 1)];
  assert.deepEqual(
    Array.from({ length: 8 }, () => wrr(bs, '', '')!.id),
    ['a', 'a', 'a', 'b', 'a', 'a', 'a', 'b'],
  );
  // wlc: overhead per weight; a weight-4 backend takes 4 connections for each of a weight-1 one.
  assert.equal(makeScheduler('wlc')([b('a', 4, 3), b('b', 1, 1)], '', '')!.id, 'a');
  // sed: (active+1)/weight — 3/4 < 2/1.
  assert.equal(makeScheduler('sed')([b('a', 1, 1), b('b', 4, 2)], '', '')!.id, 'b');
  // nq: an idle backend first, whatever the weights.
  assert.equal(makeScheduler('nq')([b('a', 10, 1), b('b', 1, 0)], '', '')!.id, 'b');
  // lc counts inactive connections too (256 inactive weigh one active).
  assert.equal(makeScheduler('lc')([b('a', 1, 1, 0), b('b', 1, 0, 300)], '', '')!.id, 'a');
  const dh = makeScheduler('dh');
  const three = [b('a', 1), b('b', 1), b('c', 1)];
  const first = dh(three, '1.1.1.1', '10.43.0.1')!.id;
  for (const client of ['2.2.2.2', '3.3.3.3']) assert.equal(dh(three, client, '10.43.0.1')!.id, first);
  // A weight of 0 takes a backend out of rotation.
  assert.equal(makeScheduler('rr')([b('a', 0), b('b', 1)], '', '')!.id, 'b');
});

test('bulk data both ways arrives whole (back-pressure); a backend closing after its reply ends the client', async () => {
  // An echo backend, and one that answers and closes at once (busybox httpd's pattern).
  const echo = createServer((c) => {
    c.on('error', () => undefined);
    c.pipe(c);
  });
  const once = createServer((c) => {
    c.on('error', () => undefined);
    c.end('bye');
  });
  for (const s of [echo, once]) await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const portOf = (s: Server) => (s.address() as { port: number }).port;
  const backend = new UserspaceBackend('unused', log, false);
  await backend.sync([
    ...model([portOf(echo)], 'rr'),
    ...buildModel(
      [svc('once', { ports: [{ port: 80 }] })],
      [slice('once', [{ port: portOf(once) }], [{ addresses: ['127.0.0.1'], conditions: { ready: true } }])],
      { nodeName: 'n', defaultScheduler: 'rr' },
    ),
  ]);
  cleanups.push(
    () => backend.stop(),
    () => echo.close(),
    () => once.close(),
  );
  const payload = Buffer.alloc(16 * 1024 * 1024);
  for (let i = 0; i < payload.length; i += 4) payload.writeUInt32LE((i * 2_654_435_761) >>> 0, i);
  const received = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ port: backend.listenerPort('default/web:')!, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    let got = 0;
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      got += d.length;
      if (got >= payload.length) socket.end();
    });
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
    socket.write(payload);
  });
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  assert.equal(received.length, payload.length);
  assert.equal(sha(received), sha(payload));
  for (let i = 0; i < 20; i++) {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect({ port: backend.listenerPort('default/once:')!, host: '127.0.0.1' });
      let text = '';
      socket.on('data', (d) => (text += String(d)));
      socket.on('end', () => resolve(text));
      socket.on('error', reject);
    });
    assert.equal(reply, 'bye');
  }
});

test('a closed connection counts as inactive for the lc family until its time is up', async () => {
  const [sp] = model([1, 2], 'lc');
  const balancer = new PortBalancer(sp, 100);
  balancer.update(sp);
  const first = balancer.choose('', '')!;
  balancer.opened(first);
  balancer.closed(first);
  assert.deepEqual(
    balancer.backends.map((b) => [b.active, b.inactive]),
    [first === balancer.backends[0] ? [0, 1] : [0, 0], first === balancer.backends[0] ? [0, 0] : [0, 1]],
  );
  assert.notEqual(balancer.choose('', ''), first, 'the recently closed one weighs more');
  await new Promise((r) => setTimeout(r, 150));
  balancer.choose('', '');
  assert.deepEqual(
    balancer.backends.map((b) => b.inactive),
    [0, 0],
  );
});
