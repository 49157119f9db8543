// The ingress's HTTP/1.1 fast path (src/ingress/http1): the strict head parser, the chunked-body
// tracker, and client connections relayed to a real node:http backend over pooled connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { ChunkedTracker, parseRequestHead, parseResponseHead } from '../../src/ingress/http1/parser.js';
import { FastConnection, type FastContext } from '../../src/ingress/http1/fastpath.js';
import { UpstreamPool } from '../../src/ingress/http1/upstreampool.js';

const req = (s: string) => parseRequestHead(Buffer.from(s, 'latin1'));
const head = (s: string) => {
  const r = req(s);
  assert.ok(r && !('error' in r), `parsed: ${JSON.stringify(r)}`);
  return r;
};
const error = (s: string) => {
  const r = req(s);
  return r && 'error' in r ? r.error : undefined;
};

test('request heads: fields as node:http presents them, framing and keep-alive', () => {
  const text =
    'GET /a?b=1 HTTP/1.1\r\nHost: x.example\r\nX-A: 1\r\nx-a: 2\r\nCookie: a=1\r\nCookie: b=2\r\n' +
    'User-Agent: one\r\nUser-Agent: two\r\nAccept:  text/plain \t\r\n\r\nrest';
  const h = head(text);
  assert.equal(h.method, 'GET');
  assert.equal(h.target, '/a?b=1');
  assert.deepEqual(h.headers, {
    host: 'x.example',
    'x-a': '1, 2',
    cookie: 'a=1; b=2',
    'user-agent': 'one',
    accept: 'text/plain',
  });
  assert.equal(h.contentLength, -1);
  assert.equal(h.keepAlive, true);
  assert.equal(h.headLength, text.length - 'rest'.length);
  assert.equal(h.handoff, undefined);
  const post = head('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n');
  assert.equal(post.contentLength, 5);
  assert.equal(post.keepAlive, false);
  assert.equal(head('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n').chunked, true);
  // Empty lines before the request line are skipped (RFC 9112 2.2).
  assert.equal(head('\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n').target, '/');
  assert.equal(req('GET / HTTP/1.1\r\nHost: x\r\n'), undefined, 'incomplete');
});

test('request heads: smuggling-prone and malformed ones are 400, huge ones 431', () => {
  assert.equal(error('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'), 400);
  assert.equal(error('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'), 400);
  assert.equal(error('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n'), 400);
  assert.equal(error('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1,1\r\n\r\n'), 400);
  assert.equal(head('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n').contentLength, 3);
  assert.equal(error('GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n folded\r\n\r\n'), 400, 'obs-fold');
  assert.equal(error('GET / HTTP/1.1\nHost: x\n\n'), 400, 'bare LF');
  assert.equal(error('GET / HTTP/1.1\r\nHost: x\nX: 1\r\n\r\n'), 400, 'bare LF inside');
  assert.equal(error('GET / HTTP/1.1\r\nHost : x\r\n\r\n'), 400, 'space before colon');
  assert.equal(error('GET / HTTP/1.1\r\nX-A: a\x00b\r\nHost: x\r\n\r\n'), 400, 'NUL in a value');
  assert.equal(error('GET / HTTP/1.1\r\n\r\n'), 400, 'no Host');
  assert.equal(error('GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n'), 400, 'two Hosts');
  assert.equal(error('GET  / HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'two spaces');
  assert.equal(error('G(T / HTTP/1.1\r\nHost: x\r\n\r\n'), 400, 'method not a token');
  assert.equal(error('GET / HTTX/1.1\r\nHost: x\r\n\r\n'), 400);
  const big = `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(17_000)}`;
  assert.equal(error(big), 431, 'incomplete and over the limit');
  assert.equal(error(big + '\r\n\r\n'), 431);
});

test('request heads: well-formed ones the fast path does not serve are handed off', () => {
  const reason = (s: string) => head(s).handoff;
  assert.equal(reason('GET / HTTP/1.0\r\n\r\n'), 'version');
  assert.ok(reason('GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n'));
  assert.ok(reason('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'));
  assert.ok(reason('GET / HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n'));
  assert.ok(reason('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n'));
  assert.ok(reason('POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n'));
});

test('response heads: framing, keep-alive and upstream errors (502)', () => {
  const r = parseResponseHead(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nSet-Cookie: a\r\n\r\nok'));
  assert.ok(r && !('error' in r));
  assert.equal(r.status, 200);
  assert.equal(r.reason, 'OK');
  assert.equal(r.contentLength, 2);
  assert.equal(r.keepAlive, true);
  assert.deepEqual(r.fields, [
    ['content-length', '2'],
    ['set-cookie', 'a'],
  ]);
  const c = parseResponseHead(
    Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n'),
  );
  assert.ok(c && !('error' in c));
  assert.equal(c.chunked, true);
  assert.equal(c.keepAlive, false, 'both framings: not reused');
  const old = parseResponseHead(Buffer.from('HTTP/1.0 200 OK\r\n\r\n'));
  assert.ok(old && !('error' in old));
  assert.equal(old.keepAlive, false);
  assert.equal(old.contentLength, -1);
  const bad = parseResponseHead(Buffer.from('HTTP/1.1 2000 OK\r\n\r\n'));
  assert.equal(bad && 'error' in bad && bad.error, 502);
});

test('chunked bodies: the end is found across any split, extensions and trailers passed over', () => {
  const body = Buffer.from('5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nNEXT');
  for (let cut = 1; cut < body.length; cut++) {
    const t = new ChunkedTracker();
    const a = t.feed(body.subarray(0, cut));
    const end = a >= 0 ? a : cut + t.feed(body.subarray(cut));
    assert.equal(end, body.length - 4, `split at ${cut}`);
    assert.equal(t.payload, 11);
  }
  assert.equal(new ChunkedTracker().feed(Buffer.from('zz\r\n')), -2);
  assert.equal(new ChunkedTracker().feed(Buffer.from('1\r\nab\r\n')), -2, 'data longer than its size');
  assert.equal(new ChunkedTracker().feed(Buffer.from('1\nab')), -2, 'bare LF');
});

/** A node:http backend that echoes what it got, and a fast-path front forwarding every request to it. */
async function fixture(t: { after(fn: () => void | Promise<void>): void }) {
  const backend: Server = createHttpServer((rq, rs) => {
    const chunks: Buffer[] = [];
    rq.on('data', (c: Buffer) => chunks.push(c));
    rq.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      if (rq.url === '/chunked') {
        rs.writeHead(200, { 'x-kind': 'chunked' });
        rs.write('part1-');
        setTimeout(() => rs.end('part2'), 5);
        return;
      }
      rs.writeHead(200, { 'content-type': 'text/plain', 'set-cookie': ['a=1', 'b=2'] });
      rs.end(JSON.stringify({ method: rq.method, url: rq.url, body, headers: rq.headers }));
    });
  });
  await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
  const port = (backend.address() as AddressInfo).port;
  const pool = new UpstreamPool();
  const handedOff: string[] = [];
  const done: number[] = [];
  const ctx: FastContext = {
    pool,
    forward: (h) =>
      h.target === '/full'
        ? undefined
        : {
            endpoint: { address: '127.0.0.1', port },
            head: `${h.method} ${h.target} HTTP/1.1\r\nhost: ${String(h.headers.host)}\r\n${
              h.contentLength >= 0 ? `content-length: ${h.contentLength}\r\n` : ''
            }`,
            connectTimeoutMs: 1000,
            readTimeoutMs: 2000,
            sendTimeoutMs: 2000,
            maxBodyBytes: 100,
            editResponse: (hs) => void (hs['x-edited'] = 'yes'),
            retry: () => undefined,
            done: (status) => void done.push(status),
          },
    handoff: (socket, buffered) => {
      handedOff.push(buffered?.toString('latin1') ?? '');
      socket.end('HTTP/1.1 299 Handed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n');
    },
  };
  const front = createNetServer((s) => new FastConnection(s, ctx));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  const sockets = new Set<Socket>();
  front.on('connection', (s: Socket) => sockets.add(s));
  t.after(async () => {
    pool.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => front.close(r));
    backend.closeAllConnections();
    await new Promise((r) => backend.close(r));
  });
  /** Sends raw bytes on one connection; resolves with all it got once `until` matches or it closes. */
  const exchange = (bytes: string | string[], until: RegExp) =>
    new Promise<string>((resolve, reject) => {
      const c = connect((front.address() as AddressInfo).port, '127.0.0.1');
      let got = '';
      const timer = setTimeout(() => {
        c.destroy();
        reject(new Error(`no answer; got ${JSON.stringify(got)}`));
      }, 5000);
      const finish = () => {
        clearTimeout(timer);
        c.destroy();
        resolve(got);
      };
      c.on('data', (d) => {
        got += d.toString('latin1');
        if (until.test(got)) finish();
      });
      c.on('close', finish);
      c.on('error', () => undefined);
      const parts = Array.isArray(bytes) ? bytes : [bytes];
      let i = 0;
      const send = () => {
        if (i < parts.length) c.write(parts[i++], () => setTimeout(send, 5));
      };
      send();
    });
  return { exchange, handedOff, done };
}

test('fast path: keep-alive and pipelined requests, bodies by length and chunked, response edits', async (t) => {
  const { exchange, done } = await fixture(t);
  // Two pipelined requests in one write, the second with a body split over writes.
  const got = await exchange(
    ['GET /one HTTP/1.1\r\nHost: a\r\n\r\nPOST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 7\r\n\r\nbo', 'dy-xx'],
    /"url":"\/two"[^]*\r\n0\r\n\r\n$/,
  );
  const answers = got.split(/(?=HTTP\/1\.1 )/);
  assert.equal(answers.length, 2, got);
  assert.match(answers[0], /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(answers[0], /\r\nset-cookie: a=1\r\nset-cookie: b=2\r\n/);
  assert.match(answers[0], /\r\nx-edited: yes\r\n/);
  assert.match(answers[0], /"url":"\/one"/);
  assert.match(answers[1], /"body":"body-xx"/);
  // A chunked request body, sent in pieces, relayed as it is; a chunked response relayed whole.
  const chunked = await exchange(
    ['POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab', 'c\r\n2\r\nde\r\n0\r\n\r\n'],
    /\r\n0\r\n\r\n$/,
  );
  assert.match(chunked, /"body":"abcde"/);
  const streamed = await exchange('GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n', /0\r\n\r\n$/);
  assert.match(streamed, /transfer-encoding: chunked\r\n/);
  assert.match(streamed, /part1-/);
  assert.match(streamed, /part2/);
  assert.ok(done.length >= 4 && done.every((s) => s === 200), String(done));
});

test('fast path: malformed heads answered 400, too large a chunked body 413, the rest handed off', async (t) => {
  const { exchange, handedOff } = await fixture(t);
  assert.match(
    await exchange('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', /\r\n\r\n/),
    /^HTTP\/1\.1 400 /,
  );
  assert.match(
    await exchange(
      `POST /big HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n${'ff\r\n' + 'x'.repeat(255) + '\r\n'}`,
      /<\/html>/,
    ),
    /^HTTP\/1\.1 413 /,
  );
  // A first request served fast, then one the fast path does not take: node:http gets the connection with it.
  const mixed = await exchange(
    'GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n',
    /299 Handed/,
  );
  assert.match(mixed, /^HTTP\/1\.1 200 OK/);
  assert.equal(handedOff.at(-1), 'GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  await exchange('GET /full HTTP/1.1\r\nHost: a\r\n\r\n', /299 Handed/);
  assert.equal(handedOff.at(-1), 'GET /full HTTP/1.1\r\nHost: a\r\n\r\n');
});
