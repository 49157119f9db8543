// Exec/attach over WebSocket translated to SPDY by the API server (apiserver/streamtranslator.ts):
// a real WebSocket client on one side, the agent's streaming server (SPDY only here, as
// containerd 1.6 is) running real local processes on the other.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { WebSocket } from 'ws';
import { StreamingServer, type StreamingRuntime } from '../../src/agent/streaming/server.js';
import type { CommandIO, CommandResult } from '../../src/agent/streaming/remotecommand.js';
import {
  exitCodeStatus,
  statusFromErrorStream,
  translateRemoteCommand,
  translatedProtocol,
  type ExecStatus,
  type RemoteCommandOptions,
} from '../../src/apiserver/streamtranslator.js';

/** Runs commands as local processes; "resize-echo" prints every terminal size it gets instead. */
const runtime: StreamingRuntime = {
  exec(_id: string, cmd: string[], io: CommandIO): Promise<CommandResult> {
    if (cmd[0] === 'resize-echo')
      return new Promise((resolve) => {
        io.resize.on('resize', (s) => {
          io.stdout?.write(`size ${s.width}x${s.height}\n`);
          if (s.width === 0 || s.height === 7) resolve({ exitCode: 0 });
        });
      });
    return new Promise((resolve) => {
      const p = spawn(cmd[0], cmd.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
      if (io.stdin) io.stdin.pipe(p.stdin);
      else p.stdin.end();
      p.stdout.on('data', (d: Buffer) => io.stdout?.write(d));
      p.stderr.on('data', (d: Buffer) => io.stderr?.write(d));
      p.once('error', (err) => resolve({ error: err.message }));
      p.once('close', (code) => resolve({ exitCode: code ?? 1 }));
    });
  },
  attach: () => Promise.resolve({ error: 'attach is not used here' }),
  portForward: () => Promise.resolve(),
};

const streaming = new StreamingServer(runtime);
let apiserver: http.Server;
let apiURL = '';
// The session the next upgrade runs: what the API server would resolve from the pod.
let next: { path: string; opts: RemoteCommandOptions } = { path: '/', opts: {} as RemoteCommandOptions };

before(async () => {
  await streaming.start();
  const backendPort = Number(new URL(streaming.baseURL).port);
  apiserver = http.createServer();
  apiserver.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    assert.ok(translatedProtocol(req));
    translateRemoteCommand(
      req,
      socket,
      head,
      {
        host: `127.0.0.1:${backendPort}`,
        path: next.path,
        dial: () =>
          new Promise((resolve, reject) => {
            const s = net.connect({ host: '127.0.0.1', port: backendPort }, () => resolve(s));
            s.once('error', reject);
          }),
      },
      next.opts,
    );
  });
  await new Promise<void>((r) => apiserver.listen(0, '127.0.0.1', () => r()));
  apiURL = `ws://127.0.0.1:${(apiserver.address() as AddressInfo).port}/exec`;
});

after(async () => {
  apiserver.close();
  await streaming.stop();
});

interface Session {
  /** Data per channel, concatenated. */
  channels: Map<number, Buffer>;
  /** Channel numbers in the order messages came (the first is the empty "up" marker). */
  order: number[];
  status?: ExecStatus;
  closeCode: number;
  protocol: string;
}

/** Registers an exec on the streaming server, opens the WebSocket and runs `drive` on it; resolves when closed. */
async function execSession(
  cmd: string[],
  opts: Partial<RemoteCommandOptions>,
  protocol: string,
  drive: (ws: WebSocket) => void = () => {},
): Promise<Session> {
  const full = { stdin: false, stdout: true, stderr: true, tty: false, ...opts };
  const url = new URL(await streaming.getExec({ containerId: 'c', cmd, ...full }));
  next = { path: url.pathname, opts: full };
  const ws = new WebSocket(apiURL, protocol);
  const s: Session = { channels: new Map(), order: [], closeCode: 0, protocol: '' };
  ws.on('message', (m: Buffer) => {
    s.order.push(m[0]);
    s.channels.set(m[0], Buffer.concat([s.channels.get(m[0]) ?? Buffer.alloc(0), m.subarray(1)]));
  });
  await new Promise((r) => ws.once('open', r));
  s.protocol = ws.protocol;
  drive(ws);
  s.closeCode = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
  const err = s.channels.get(3);
  if (err?.length) s.status = JSON.parse(err.toString()) as ExecStatus;
  return s;
}

const text = (s: Session, ch: number) => s.channels.get(ch)?.toString() ?? '';

test('v5: stdout and stderr on their channels, a non-zero exit as NonZeroExitCode with an ExitCode cause', async () => {
  const s = await execSession(['sh', '-c', 'echo out; echo err >&2; exit 3'], {}, 'v5.channel.k8s.io');
  assert.equal(s.protocol, 'v5.channel.k8s.io');
  assert.equal(s.order[0], 1, 'the empty marker comes first, on stdout');
  assert.equal(text(s, 1), 'out\n');
  assert.equal(text(s, 2), 'err\n');
  assert.deepEqual(s.status, exitCodeStatus(3));
  assert.deepEqual(s.status?.details?.causes, [{ reason: 'ExitCode', message: '3' }]);
  assert.equal(s.order.at(-1), 3, 'the status is the last message');
  assert.equal(s.closeCode, 1000);
});

test('v5: stdin reaches the command and the close signal (255, 0) ends it; success is a Success status', async () => {
  const s = await execSession(['tr', 'a-z', 'A-Z'], { stdin: true }, 'v5.channel.k8s.io', (ws) => {
    ws.send(Buffer.from('\x00piped\n'));
    ws.send(Buffer.from([255, 0]));
  });
  assert.equal(text(s, 1), 'PIPED\n');
  assert.deepEqual(s.status, { metadata: {}, status: 'Success' });
});

test('v4 (the Python client): stdin sent as text frames, no close signal', async () => {
  const s = await execSession(['head', '-c', '6'], { stdin: true, stderr: false }, 'v4.channel.k8s.io', (ws) =>
    ws.send('\x00hello\n'),
  );
  assert.equal(s.protocol, 'v4.channel.k8s.io');
  assert.equal(text(s, 1), 'hello\n');
  assert.equal(s.status?.status, 'Success');
});

test('v5 tty: resize events on channel 4 reach the runtime', async () => {
  const s = await execSession(['resize-echo'], { stdin: true, tty: true, stderr: false }, 'v5.channel.k8s.io', (ws) => {
    ws.send(Buffer.from('\x04{"Width":80,"Height":24}'));
    ws.send(Buffer.from('\x04{"Width":100,"Height":7}'));
  });
  assert.equal(text(s, 1), 'size 80x24\nsize 100x7\n');
  assert.equal(s.status?.status, 'Success');
});

test('a command that cannot start is an InternalError status', async () => {
  const s = await execSession(['/nonexistent/binary'], {}, 'v5.channel.k8s.io');
  assert.equal(s.status?.status, 'Failure');
  assert.equal(s.status?.reason, 'InternalError');
  assert.equal(s.status?.code, 500);
  assert.match(s.status?.message ?? '', /^Internal error occurred: Internal error occurred: error executing command/);
});

test('a refused upgrade reaches the client as a status on the error channel', async () => {
  next = { path: '/exec/unknown-token', opts: { stdin: false, stdout: true, stderr: true, tty: false } };
  const ws = new WebSocket(apiURL, 'v5.channel.k8s.io');
  const messages: Buffer[] = [];
  ws.on('message', (m: Buffer) => messages.push(m));
  await new Promise((r) => ws.once('close', r));
  const last = messages.at(-1)!;
  assert.equal(last[0], 3);
  const status = JSON.parse(last.subarray(1).toString()) as ExecStatus;
  assert.equal(status.message, 'Internal error occurred: unable to upgrade connection: 404 page not found');
  assert.equal(status.reason, 'InternalError');
});

test("statusFromErrorStream reads the node's v4 error stream as client-go does", () => {
  assert.deepEqual(statusFromErrorStream(Buffer.alloc(0)), { metadata: {}, status: 'Success' });
  const exited = {
    status: 'Failure',
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: '42' }] },
  };
  assert.deepEqual(statusFromErrorStream(Buffer.from(JSON.stringify(exited))), exitCodeStatus(42));
  assert.equal(
    statusFromErrorStream(Buffer.from('{"status":"Failure","message":"boom"}')).message,
    'Internal error occurred: boom',
  );
  assert.match(statusFromErrorStream(Buffer.from('not json')).message ?? '', /error stream protocol error/);
});
