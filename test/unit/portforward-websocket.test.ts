// Port-forward over a plain WebSocket (agent/streaming/portforward-websocket.ts), as the Python
// client speaks it: a real WebSocket on localhost, forwarded to a real TCP server.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { servePortForwardWebSocket } from '../../src/agent/streaming/portforward-websocket.js';
import type { PortForwardHandler } from '../../src/agent/streaming/portforward.js';

let pod: net.Server;
let podPort = 0;
let server: http.Server;
let url = '';
const ports: number[] = [];
let protocol = '';

/** Bridges to localhost, as the process runtime does (the "pod" here answers "pong:<input>" and closes). */
const forward: PortForwardHandler = (port, stream) =>
  new Promise((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    sock.once('error', reject);
    sock.once('connect', () => {
      stream.pipe(sock);
      sock.pipe(stream);
      stream.once('close', () => sock.destroy());
      sock.once('close', () => resolve());
    });
  });

before(async () => {
  pod = net.createServer((s) => s.once('data', (d) => s.end(`pong:${d.toString()}`)));
  await new Promise<void>((r) => pod.listen(0, '127.0.0.1', () => r()));
  podPort = (pod.address() as AddressInfo).port;
  server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, handleProtocols: (p) => (p.has(protocol) ? protocol : false) });
  server.on('upgrade', (req, socket, head) =>
    wss.handleUpgrade(
      req,
      socket,
      head,
      (ws) => void servePortForwardWebSocket(ws, protocol, ports, forward, 'p, uid '),
    ),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

after(() => {
  pod.close();
  server.close();
});

/** Opens a session, sends `input` on the first data channel, collects every message until the server closes. */
async function session(
  p: string,
  list: number[],
  input: (ws: WebSocket) => void,
): Promise<{ messages: (Buffer | string)[]; code: number }> {
  protocol = p;
  ports.splice(0, ports.length, ...list);
  const ws = new WebSocket(url, p);
  const messages: (Buffer | string)[] = [];
  ws.on('message', (m: Buffer, binary: boolean) => messages.push(binary ? m : m.toString()));
  await new Promise((r) => ws.once('open', r));
  input(ws);
  const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
  return { messages, code };
}

const le = (port: number) => Buffer.from([port & 0xff, port >> 8]);

test('binary: each channel opens with its port (LE uint16), data flows both ways, then a normal close', async () => {
  const { messages, code } = await session('v4.channel.k8s.io', [podPort], (ws) =>
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping')])),
  );
  assert.deepEqual(messages.slice(0, 2), [
    Buffer.concat([Buffer.from([0]), le(podPort)]),
    Buffer.concat([Buffer.from([1]), le(podPort)]),
  ]);
  const data = Buffer.concat(messages.slice(2).map((m) => (m as Buffer).subarray(1)));
  assert.equal(data.toString(), 'pong:ping');
  assert.ok(messages.slice(2).every((m) => (m as Buffer)[0] === 0));
  assert.equal(code, 1000);
});

test('base64: text messages, the channel as a digit', async () => {
  const { messages } = await session('v4.base64.channel.k8s.io', [podPort], (ws) =>
    ws.send('0' + Buffer.from('b64').toString('base64')),
  );
  assert.equal(messages[0], '0' + le(podPort).toString('base64'));
  assert.equal(messages[1], '1' + le(podPort).toString('base64'));
  assert.equal(
    messages
      .slice(2)
      .map((m) => Buffer.from((m as string).slice(1), 'base64').toString())
      .join(''),
    'pong:b64',
  );
});

test('a port that refuses: the error on its error channel, the other port still served', async () => {
  const closed = net.createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', () => r()));
  const deadPort = (closed.address() as AddressInfo).port;
  await new Promise<void>((r) => closed.close(() => r()));
  const { messages, code } = await session('v4.channel.k8s.io', [deadPort, podPort], (ws) =>
    ws.send(Buffer.concat([Buffer.from([2]), Buffer.from('two')])),
  );
  const on = (ch: number) =>
    Buffer.concat(messages.filter((m) => (m as Buffer)[0] === ch).map((m) => (m as Buffer).subarray(1)));
  assert.match(
    on(1).subarray(2).toString(),
    new RegExp(`^error forwarding port ${deadPort} to pod p, uid : connect ECONNREFUSED`),
  );
  assert.equal(on(2).subarray(2).toString(), 'pong:two');
  assert.equal(code, 1000);
});
