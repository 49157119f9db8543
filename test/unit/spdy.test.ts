// SPDY/3.1 framing and header compression (agent/streaming/spdy.ts), and the remotecommand and
// port-forward protocols over it, driven by a minimal client written here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import net from 'node:net';
import zlib from 'node:zlib';
import {
  FLAG_FIN,
  FrameParser,
  FrameType,
  HeaderCompressor,
  HeaderDecompressor,
  SPDY3_DICTIONARY,
  SpdyConnection,
  decodeHeaderBlock,
  decodeSettings,
  encodeDataFrame,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynStream,
  encodeWindowUpdate,
  type ControlFrame,
  type DataFrame,
  type Frame,
} from '../../src/machinery/streaming/spdy.js';
import {
  ResizeDecoder,
  commandStatus,
  serveRemoteCommandSpdy,
  StreamProtocolV4,
} from '../../src/agent/streaming/remotecommand.js';
import { servePortForwardSpdy } from '../../src/agent/streaming/portforward.js';
import { negotiate } from '../../src/agent/streaming/server.js';

test('the SPDY/3 dictionary is the published one', () => {
  assert.equal(SPDY3_DICTIONARY.length, 1423);
  assert.equal(
    createHash('sha256').update(SPDY3_DICTIONARY).digest('hex'),
    '51d27341373f923f3cd88e1eb7162aeaa3723d7585ff2399201dc06498407f02',
  );
});

test('header blocks: encode/decode, multiple values, lowercase names', () => {
  const block = encodeHeaderBlock({ StreamType: 'stdout', port: ['80', '81'] });
  assert.equal(block.readUInt32BE(0), 2);
  const h = decodeHeaderBlock(block);
  assert.deepEqual(h.get('streamtype'), ['stdout']);
  assert.deepEqual(h.get('port'), ['80', '81']);
  assert.throws(() => decodeHeaderBlock(block.subarray(0, block.length - 1)), /truncated/);
});

test('header compression: one context per direction, sync-flushed, seeded with the dictionary', async () => {
  const c = new HeaderCompressor();
  const d = new HeaderDecompressor();
  const first = await c.compress({ streamtype: 'error', 'content-type': 'text/plain' });
  // zlib header says a preset dictionary is used, and that it is the SPDY one (adler32 in bytes 2..5).
  assert.equal(first[0] & 0x0f, 8);
  assert.ok(first[1] & 0x20, 'FDICT set');
  // The block ends on a sync flush marker, so it inflates on its own.
  assert.deepEqual([...first.subarray(-4)], [0, 0, 0xff, 0xff]);
  const alone = zlib.inflateSync(first, { dictionary: SPDY3_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
  assert.deepEqual(decodeHeaderBlock(alone).get('streamtype'), ['error']);
  const second = await c.compress({ streamtype: 'error', port: '8080' });
  // The second block reuses the first's history: it has no zlib header and is shorter.
  assert.ok(second.length < first.length);
  assert.deepEqual((await d.decompress(first)).get('content-type'), ['text/plain']);
  const h2 = await d.decompress(second);
  assert.deepEqual(h2.get('port'), ['8080']);
  assert.deepEqual(h2.get('streamtype'), ['error']);
  // Empty header blocks (SYN_REPLY of this server) round-trip too.
  assert.equal((await d.decompress(await c.compress({}))).size, 0);
  c.close();
  d.close();
});

test('frames: encode and parse control and data frames, split anywhere', () => {
  const frames = Buffer.concat([
    encodeSynStream(1, FLAG_FIN, Buffer.from('hdrs'), 3),
    encodeDataFrame(1, FLAG_FIN, Buffer.from('hello')),
    encodeRstStream(3, 5),
    encodePing(7),
    encodeGoAway(9, 0),
    encodeWindowUpdate(1, 65536),
    encodeSettings([{ id: 7, value: 1 << 20, flags: 1 }]),
  ]);
  const p = new FrameParser();
  const out: Frame[] = [];
  for (let i = 0; i < frames.length; i += 5) out.push(...p.push(frames.subarray(i, i + 5)));
  assert.equal(out.length, 7);
  const syn = out[0] as ControlFrame;
  assert.equal(syn.control, true);
  assert.equal(syn.version, 3);
  assert.equal(syn.type, FrameType.SYN_STREAM);
  assert.equal(syn.flags, FLAG_FIN);
  assert.equal(syn.payload.readUInt32BE(0), 1);
  assert.equal(syn.payload[8] >> 5, 3);
  assert.equal(syn.payload.subarray(10).toString(), 'hdrs');
  const data = out[1] as DataFrame;
  assert.deepEqual([data.control, data.streamId, data.flags, data.data.toString()], [false, 1, FLAG_FIN, 'hello']);
  const rst = out[2] as ControlFrame;
  assert.deepEqual([rst.type, rst.payload.readUInt32BE(0), rst.payload.readUInt32BE(4)], [FrameType.RST_STREAM, 3, 5]);
  assert.equal((out[3] as ControlFrame).payload.readUInt32BE(0), 7);
  assert.equal((out[4] as ControlFrame).type, FrameType.GOAWAY);
  assert.equal((out[5] as ControlFrame).payload.readUInt32BE(4), 65536);
  assert.deepEqual(decodeSettings((out[6] as ControlFrame).payload), [{ flags: 1, id: 7, value: 1 << 20 }]);
});

test('resize events and statuses as the kubelet writes them', () => {
  const sizes: unknown[] = [];
  const dec = new ResizeDecoder((s) => sizes.push(s));
  dec.push('{"Width":80,"Height":24}\n{"Width":1');
  dec.push('00,"Height":40}');
  assert.deepEqual(sizes, [
    { width: 80, height: 24 },
    { width: 100, height: 40 },
  ]);
  assert.deepEqual(commandStatus({ exitCode: 0 }), { metadata: {}, status: 'Success' });
  const failed = commandStatus({ exitCode: 3 }, ['sh', '-c', 'exit 3']);
  assert.equal(failed.reason, 'NonZeroExitCode');
  assert.deepEqual(failed.details, { causes: [{ reason: 'ExitCode', message: '3' }] });
  assert.equal(
    negotiate(
      ['v5.channel.k8s.io', 'v4.channel.k8s.io', 'v3.channel.k8s.io'],
      ['v4.channel.k8s.io', 'v3.channel.k8s.io'],
    ),
    'v4.channel.k8s.io',
  );
  assert.equal(negotiate(['channel.k8s.io'], ['v4.channel.k8s.io']), undefined);
});

/** A tiny SPDY client: opens streams, collects frames per stream. */
class Client {
  readonly frames: Frame[] = [];
  private readonly parser = new FrameParser();
  private readonly comp = new HeaderCompressor();
  readonly decomp = new HeaderDecompressor();
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly sock: net.Socket) {
    sock.on('data', (d) => {
      this.frames.push(...this.parser.push(d));
      for (const w of this.waiters.splice(0)) w();
    });
    sock.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async open(id: number, headers: Record<string, string>, fin = false): Promise<void> {
    this.sock.write(encodeSynStream(id, fin ? FLAG_FIN : 0, await this.comp.compress(headers)));
  }
  send(id: number, data: string, fin = false): void {
    this.sock.write(encodeDataFrame(id, fin ? FLAG_FIN : 0, Buffer.from(data)));
  }
  async until(pred: () => boolean, what: string): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!pred()) {
      if (Date.now() > deadline || this.closed) {
        if (pred()) return;
        throw new Error(`timed out waiting for ${what}`);
      }
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }
  /** Data received on a stream, and whether it was FIN'd. */
  stream(id: number): { data: string; fin: boolean } {
    const fs = this.frames.filter((f): f is DataFrame => !f.control && f.streamId === id);
    return { data: Buffer.concat(fs.map((f) => f.data)).toString(), fin: fs.some((f) => (f.flags & FLAG_FIN) !== 0) };
  }
  replied(id: number): boolean {
    return this.frames.some((f) => f.control && f.type === FrameType.SYN_REPLY && f.payload.readUInt32BE(0) === id);
  }
}

async function pair(serve: (conn: SpdyConnection) => void): Promise<{ client: Client; done: () => void }> {
  const server = net.createServer((s) => serve(new SpdyConnection(s)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const sock = net.connect(port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  return {
    client: new Client(sock),
    done: () => {
      sock.destroy();
      server.close();
    },
  };
}

test('remotecommand v4 over SPDY: streams, stdin to stdout, exit code status, goodbye', async () => {
  const { client, done } = await pair((conn) => {
    void serveRemoteCommandSpdy(
      conn,
      StreamProtocolV4,
      { stdin: true, stdout: true, stderr: true, tty: false },
      async (io) => {
        let input = '';
        for await (const chunk of io.stdin!) input += chunk;
        io.stdout!.write(`got ${input}`);
        io.stderr!.write('warning');
        return { exitCode: 3 };
      },
    );
  });
  try {
    await client.open(1, { streamtype: 'error' });
    await client.open(3, { streamtype: 'stdin' });
    await client.open(5, { streamtype: 'stdout' });
    await client.open(7, { streamtype: 'stderr' });
    await client.until(() => [1, 3, 5, 7].every((id) => client.replied(id)), 'SYN_REPLY for every stream');
    client.send(3, 'hello');
    client.send(3, ' world', true);
    client.sock.write(encodePing(1));
    await client.until(() => client.stream(1).fin, 'the error stream to end');
    assert.deepEqual(client.stream(5), { data: 'got hello world', fin: true });
    assert.deepEqual(client.stream(7), { data: 'warning', fin: true });
    const status = JSON.parse(client.stream(1).data);
    assert.equal(status.status, 'Failure');
    assert.equal(status.reason, 'NonZeroExitCode');
    assert.equal(status.details.causes[0].message, '3');
    assert.ok(
      client.frames.some((f) => f.control && f.type === FrameType.PING && f.payload.readUInt32BE(0) === 1),
      'ping echoed',
    );
    await client.until(() => client.frames.some((f) => f.control && f.type === FrameType.GOAWAY), 'GOAWAY');
    // The reply header blocks decode with the client's own inflate context.
    for (const f of client.frames)
      if (f.control && f.type === FrameType.SYN_REPLY) await client.decomp.decompress(f.payload.subarray(4));
  } finally {
    done();
  }
});

test('port-forward over SPDY: a stream pair per connection, errors as text', async () => {
  const echo = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  const echoPort = (echo.address() as net.AddressInfo).port;
  const { client, done } = await pair((conn) => {
    void servePortForwardSpdy(
      conn,
      (port, data) =>
        new Promise((resolve, reject) => {
          if (port !== echoPort) return reject(new Error('connection refused'));
          const s = net.connect(port, '127.0.0.1');
          s.once('error', reject);
          data.pipe(s);
          s.pipe(data);
          s.once('close', () => resolve());
        }),
      'pod-1',
    );
  });
  try {
    await client.open(1, { streamtype: 'error', port: String(echoPort), requestid: '0' }, true);
    await client.open(3, { streamtype: 'data', port: String(echoPort), requestid: '0' });
    client.send(3, 'ping', true);
    await client.until(() => client.stream(1).fin && client.stream(3).fin, 'both streams to end');
    assert.deepEqual(client.stream(3), { data: 'ping', fin: true });
    assert.equal(client.stream(1).data, '');
    // A port nobody listens on: the error stream says so.
    await client.open(5, { streamtype: 'error', port: '1', requestid: '1' }, true);
    await client.open(7, { streamtype: 'data', port: '1', requestid: '1' });
    await client.until(() => client.stream(5).fin, 'the error stream to end');
    assert.match(client.stream(5).data, /^error forwarding port 1 to pod pod-1: connection refused/);
    // A stream without a port is reset.
    await client.open(9, { streamtype: 'data' });
    await client.until(
      () => client.frames.some((f) => f.control && f.type === FrameType.RST_STREAM && f.payload.readUInt32BE(0) === 9),
      'RST_STREAM',
    );
  } finally {
    done();
    echo.close();
  }
});
