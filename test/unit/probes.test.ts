// Container probes: the one-shot runners against real local servers, and the ProbeManager's
// thresholds, gating and timing with a scripted runner and shrunken "seconds".

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Container, Pod, Probe } from 'kubernetes-types/core/v1.js';
import { runProbe } from '../../src/agent/probes/run.js';
import { expandStatic } from '../../src/agent/probes/exec.js';
import { goDuration } from '../../src/agent/probes/goerrors.js';
import { probeResultEvent, probeKillingEvent } from '../../src/agent/probes/events.js';
import { ProbeManager, type ProbeEvents } from '../../src/agent/probes/manager.js';
import type { ExecSyncFn, ProbeContext, ProbeKind, ProbeOutcome } from '../../src/agent/probes/types.js';
import type { ExecSyncResult } from '../../src/agent/runtime/types.js';
import { until } from '../support/until.js';

const noExec: ExecSyncFn = () => Promise.reject(new Error('no exec in this test'));

function ctx(container: Partial<Container> = {}, timeoutMs = 1000, execSync: ExecSyncFn = noExec): ProbeContext {
  return { podIP: '127.0.0.1', container: { name: 'app', ...container }, execSync, timeoutMs };
}

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)),
  );
}

/** A port nothing listens on: bind, note, close. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise((r) => s.close(r));
  return port;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Probe windows are short (SECOND is a few ms): look often. */
const waitFor = (cond: () => boolean, timeoutMs = 2000) => until('condition', cond, timeoutMs, 5);

describe('httpGet probe', () => {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/ok') res.end('ok');
    else if (url === '/fail') {
      res.statusCode = 500;
      res.end('boom');
    } else if (url === '/redirect-local') {
      res.statusCode = 302;
      res.setHeader('Location', '/ok');
      res.end();
    } else if (url === '/redirect-away') {
      res.statusCode = 302;
      res.setHeader('Location', 'http://example.invalid/x');
      res.end('moved');
    } else if (url === '/loop') {
      res.statusCode = 302;
      res.setHeader('Location', '/loop');
      res.end();
    } else if (url === '/headers') res.end(JSON.stringify(req.headers));
    else if (url === '/big') res.end('x'.repeat(20000));
    else if (url === '/slow') {
      /* never answers */
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  let port = 0;
  before(async () => {
    port = await listen(server);
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const get = (
    path: string,
    extra: Partial<Probe['httpGet']> = {},
    timeoutMs = 1000,
    container: Partial<Container> = {},
  ): Promise<ProbeOutcome> => runProbe({ httpGet: { port, path, ...extra } }, ctx(container, timeoutMs));

  test('2xx succeeds with the body as output; 500 fails with the upstream message', async () => {
    assert.deepEqual(await get('/ok'), { result: 'success', output: 'ok' });
    assert.deepEqual(await get('/fail'), { result: 'failure', output: 'HTTP probe failed with statuscode: 500' });
  });

  test('same-host redirects are followed; another host ends with a warning; loops stop after 10', async () => {
    assert.deepEqual(await get('/redirect-local'), { result: 'success', output: 'ok' });
    assert.deepEqual(await get('/redirect-away'), {
      result: 'warning',
      output: 'Probe terminated redirects, Response body: moved',
    });
    const loop = await get('/loop');
    assert.equal(loop.result, 'failure');
    assert.equal(loop.output, `Get "http://127.0.0.1:${port}/loop": stopped after 10 redirects`);
  });

  test('named ports resolve against the container; unknown names cannot run', async () => {
    const ports = [{ name: 'web', containerPort: port }];
    const named = await runProbe({ httpGet: { port: 'web', path: '/ok' } }, ctx({ ports }));
    assert.deepEqual(named, { result: 'success', output: 'ok' });
    const numeric = await runProbe({ httpGet: { port: String(port), path: '/ok' } }, ctx());
    assert.equal(numeric.result, 'success');
    const missing = await runProbe({ httpGet: { port: 'nope', path: '/ok' } }, ctx({ ports }));
    assert.deepEqual(missing, { result: 'error', output: 'strconv.Atoi: parsing "nope": invalid syntax' });
  });

  test('sends kube-probe User-Agent, Accept */*, user headers and a Host override', async () => {
    const plain = JSON.parse((await get('/headers')).output) as Record<string, string>;
    assert.equal(plain['user-agent'], 'kube-probe/1.30');
    assert.equal(plain.accept, '*/*');
    assert.equal(plain.host, `127.0.0.1:${port}`);
    assert.equal(plain.connection, 'close');
    const custom = JSON.parse(
      (
        await get('/headers', {
          httpHeaders: [
            { name: 'x-custom', value: 'a' },
            { name: 'Host', value: 'example.com' },
            { name: 'Accept', value: 'application/json' },
            { name: 'User-Agent', value: 'mine' },
          ],
        })
      ).output,
    ) as Record<string, string>;
    assert.equal(custom['x-custom'], 'a');
    assert.equal(custom.host, 'example.com');
    assert.equal(custom.accept, 'application/json');
    assert.equal(custom['user-agent'], 'mine');
    const noAccept = JSON.parse(
      (await get('/headers', { httpHeaders: [{ name: 'accept', value: '' }] })).output,
    ) as Record<string, string>;
    assert.equal(noAccept.accept, undefined);
  });

  test('reads at most 10 KiB of the body', async () => {
    const big = await get('/big');
    assert.equal(big.result, 'success');
    assert.equal(big.output.length, 10 * 1024);
  });

  test('timeout and refused connections fail with Go-style messages', async () => {
    const started = Date.now();
    const slow = await get('/slow', {}, 200);
    assert.ok(Date.now() - started < 1000);
    assert.deepEqual(slow, {
      result: 'failure',
      output: `Get "http://127.0.0.1:${port}/slow": context deadline exceeded (Client.Timeout exceeded while awaiting headers)`,
    });
    const closed = await closedPort();
    const refused = await runProbe({ httpGet: { port: closed, path: '/healthz' } }, ctx());
    assert.deepEqual(refused, {
      result: 'failure',
      output: `Get "http://127.0.0.1:${closed}/healthz": dial tcp 127.0.0.1:${closed}: connect: connection refused`,
    });
  });

  test('HTTPS does not verify the certificate', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'probe-tls-'));
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          join(dir, 'k.pem'),
          '-out',
          join(dir, 'c.pem'),
          '-days',
          '1',
          '-subj',
          '/CN=probe-test',
        ],
        { stdio: 'ignore' },
      );
    } catch {
      rmSync(dir, { recursive: true, force: true });
      return; // no openssl on this machine
    }
    const tls = https.createServer(
      { key: readFileSync(join(dir, 'k.pem')), cert: readFileSync(join(dir, 'c.pem')) },
      (_req, res) => res.end('secure'),
    );
    const tlsPort = await listen(tls);
    try {
      const out = await runProbe({ httpGet: { port: tlsPort, path: '/', scheme: 'HTTPS' } }, ctx());
      assert.deepEqual(out, { result: 'success', output: 'secure' });
    } finally {
      tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('tcpSocket probe', () => {
  test('open port succeeds, closed port is refused', async () => {
    const server = net.createServer((s) => s.destroy());
    const port = await listen(server);
    try {
      assert.deepEqual(await runProbe({ tcpSocket: { port } }, ctx()), { result: 'success', output: '' });
    } finally {
      server.close();
    }
    const closed = await closedPort();
    assert.deepEqual(await runProbe({ tcpSocket: { port: closed } }, ctx()), {
      result: 'failure',
      output: `dial tcp 127.0.0.1:${closed}: connect: connection refused`,
    });
  });
});

describe('exec probe', () => {
  const result = (exitCode: number, stdout = '', stderr = ''): ExecSyncResult => ({
    exitCode,
    stdout: Buffer.from(stdout),
    stderr: Buffer.from(stderr),
  });

  test('exit 0 succeeds, non-zero fails with stdout then stderr', async () => {
    const seen: string[][] = [];
    const ok: ExecSyncFn = (cmd) => {
      seen.push(cmd);
      return Promise.resolve(result(0, 'fine\n'));
    };
    assert.deepEqual(await runProbe({ exec: { command: ['cat', '/tmp/healthy'] } }, ctx({}, 1000, ok)), {
      result: 'success',
      output: 'fine\n',
    });
    assert.deepEqual(seen, [['cat', '/tmp/healthy']]);
    const bad: ExecSyncFn = () => Promise.resolve(result(1, 'out ', 'cat: /tmp/healthy: No such file or directory\n'));
    assert.deepEqual(await runProbe({ exec: { command: ['cat', '/tmp/healthy'] } }, ctx({}, 1000, bad)), {
      result: 'failure',
      output: 'out cat: /tmp/healthy: No such file or directory\n',
    });
  });

  test('a command outliving the timeout fails; runtime deadline errors read the same', async () => {
    const hang: ExecSyncFn = () => new Promise(() => {});
    const hung = await runProbe({ exec: { command: ['sh', '-c', 'sleep 10'] } }, ctx({}, 100, hang));
    assert.deepEqual(hung, { result: 'failure', output: 'command "sh -c sleep 10" timed out' });
    const deadline: ExecSyncFn = () => Promise.reject(Object.assign(new Error('DEADLINE_EXCEEDED'), { code: 4 }));
    assert.deepEqual(await runProbe({ exec: { command: ['x'] } }, ctx({}, 1000, deadline)), {
      result: 'failure',
      output: 'command "x" timed out',
    });
    const broken: ExecSyncFn = () => Promise.reject(new Error('container not running'));
    assert.deepEqual(await runProbe({ exec: { command: ['x'] } }, ctx({}, 1000, broken)), {
      result: 'error',
      output: 'container not running',
    });
  });

  test('$(VAR) expands from literal env values only', () => {
    const env = [
      { name: 'A', value: '1' },
      { name: 'B', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ];
    assert.equal(expandStatic('$(A)-$(B)-$(C)-$$(A)-$x-$', env), '1--$(C)-$(A)-$x-$');
  });
});

describe('grpc probe', () => {
  let child: ChildProcess;
  let port = 0;
  const fixture = fileURLToPath(new URL('../../../test/fixtures/grpc-health-server.mjs', import.meta.url));
  before(async () => {
    child = spawn(process.execPath, [fixture, '0', '127.0.0.1', 'down=NOT_SERVING'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    port = await new Promise<number>((resolve, reject) => {
      child.stdout!.once('data', (d: Buffer) => resolve(Number(/:(\d+)\s*$/.exec(String(d))![1])));
      child.once('exit', (code) => reject(new Error(`fixture exited ${code}`)));
    });
  });
  after(async () => {
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0, 'fixture exits 0 on SIGTERM');
  });

  test('SERVING succeeds, NOT_SERVING fails with the upstream message', async () => {
    assert.deepEqual(await runProbe({ grpc: { port } }, ctx()), { result: 'success', output: 'service healthy' });
    assert.deepEqual(await runProbe({ grpc: { port, service: 'down' } }, ctx()), {
      result: 'failure',
      output: 'service unhealthy (responded with "NOT_SERVING")',
    });
    const unknown = await runProbe({ grpc: { port, service: 'other' } }, ctx());
    assert.deepEqual(unknown, {
      result: 'failure',
      output: 'error: health rpc probe failed: rpc error: code = NotFound desc = unknown service',
    });
  });

  test('an unreachable server fails after the timeout', async () => {
    const closed = await closedPort();
    const out = await runProbe({ grpc: { port: closed } }, ctx({}, 300));
    assert.deepEqual(out, {
      result: 'failure',
      output: `timeout: failed to connect service "127.0.0.1:${closed}" within 300ms: context deadline exceeded`,
    });
  });
});

describe('probe messages', () => {
  test('event texts and durations follow upstream', () => {
    assert.deepEqual(
      probeResultEvent('liveness', { result: 'failure', output: 'HTTP probe failed with statuscode: 500' }),
      {
        type: 'Warning',
        reason: 'Unhealthy',
        message: 'Liveness probe failed: HTTP probe failed with statuscode: 500',
      },
    );
    assert.equal(probeResultEvent('readiness', { result: 'success', output: '' }), undefined);
    assert.equal(probeResultEvent('readiness', { result: 'warning', output: 'x' })?.reason, 'ProbeWarning');
    assert.equal(
      probeKillingEvent('liveness', 'web').message,
      'Container web failed liveness probe, will be restarted',
    );
    assert.deepEqual(
      ['1s', '500ms', '1.5s', '1m30s'],
      [goDuration(1000), goDuration(500), goDuration(1500), goDuration(90000)],
    );
  });
});

// ---- manager ----

/** Scripted probe results: per probe kind, a function of the call number (1-based). */
type Script = Partial<Record<ProbeKind, (n: number) => ProbeOutcome | Promise<ProbeOutcome>>>;

const OK: ProbeOutcome = { result: 'success', output: '' };
const BAD: ProbeOutcome = { result: 'failure', output: 'nope' };
const SECOND = 20; // ms per probe "second" in these tests

function harness(container: Container, script: Script) {
  const calls: Record<ProbeKind, number[]> = { liveness: [], readiness: [], startup: [] };
  const log: string[] = [];
  const statusAt: number[] = [];
  const kindOf = (probe: Probe): ProbeKind =>
    probe === container.livenessProbe ? 'liveness' : probe === container.readinessProbe ? 'readiness' : 'startup';
  const t0 = Date.now();
  const events: ProbeEvents = {
    onResult: (_uid, _name, kind, outcome) => log.push(`${kind}:${outcome.result}`),
    onLivenessFailure: (_uid, name, id, message) => log.push(`liveness-failed:${name}:${id}:${message}`),
    onStartupFailure: (_uid, name, id) => log.push(`startup-failed:${name}:${id}`),
    onStatusChanged: (_uid, name) => {
      statusAt.push(Date.now() - t0);
      log.push(`status:${name}`);
    },
  };
  const manager = new ProbeManager(events, {
    secondMs: SECOND,
    runner: async (probe) => {
      const kind = kindOf(probe);
      calls[kind].push(Date.now() - t0);
      return script[kind]?.(calls[kind].length) ?? OK;
    },
  });
  const pod: Pod = { metadata: { name: 'p', namespace: 'default', uid: 'uid-1' }, spec: { containers: [container] } };
  const target = { podIP: '127.0.0.1', execSync: noExec };
  return { manager, calls, log, statusAt, pod, target, t0 };
}

describe('ProbeManager', () => {
  test('readiness: false until successThreshold successes, false again after failureThreshold failures', async () => {
    const container: Container = {
      name: 'c',
      readinessProbe: { exec: { command: ['x'] }, periodSeconds: 1, successThreshold: 2, failureThreshold: 2 },
    };
    const h = harness(container, { readiness: (n) => (n <= 3 ? OK : BAD) });
    try {
      h.manager.addContainer(h.pod, container, 'id1', h.target);
      assert.equal(h.manager.isStarted('uid-1', 'c'), true);
      assert.equal(h.manager.isReady('uid-1', 'c'), false);
      await waitFor(() => h.calls.readiness.length >= 1);
      assert.equal(h.manager.isReady('uid-1', 'c'), false, 'one success is below successThreshold 2');
      await waitFor(() => h.manager.isReady('uid-1', 'c'));
      await waitFor(() => !h.manager.isReady('uid-1', 'c'));
      // Callbacks run synchronously after each probe, so their order is exact.
      assert.deepEqual(h.log.slice(0, 7), [
        'readiness:success',
        'readiness:success',
        'status:c',
        'readiness:success',
        'readiness:failure',
        'readiness:failure',
        'status:c',
      ]);
    } finally {
      h.manager.stop();
    }
  });

  test('no readiness probe: ready at once; unknown containers are not ready', () => {
    const container: Container = { name: 'c' };
    const h = harness(container, {});
    h.manager.addContainer(h.pod, container, 'id1', h.target);
    assert.equal(h.manager.isReady('uid-1', 'c'), true);
    assert.equal(h.manager.isReady('uid-1', 'other'), false);
    h.manager.removeContainer('uid-1', 'c');
    assert.equal(h.manager.isReady('uid-1', 'c'), false);
    h.manager.stop();
  });

  test('liveness calls back once after failureThreshold failures, then holds until a new container id', async () => {
    const container: Container = {
      name: 'c',
      livenessProbe: { httpGet: { port: 1 }, periodSeconds: 1, failureThreshold: 3 },
    };
    const h = harness(container, { liveness: (n) => (n === 1 ? OK : BAD) });
    try {
      h.manager.addContainer(h.pod, container, 'id1', h.target);
      await waitFor(() => h.log.some((l) => l.startsWith('liveness-failed')));
      assert.equal(h.calls.liveness.length, 4, 'one success then three failures');
      assert.deepEqual(
        h.log.filter((l) => l.startsWith('liveness-failed')),
        ['liveness-failed:c:id1:nope'],
      );
      await sleep(5 * SECOND);
      assert.equal(h.calls.liveness.length, 4, 'no probing while the container is being restarted');
      h.manager.addContainer(h.pod, container, 'id1', h.target); // same id: no-op
      await sleep(3 * SECOND);
      assert.equal(h.calls.liveness.length, 4);
      h.manager.addContainer(h.pod, container, 'id2', h.target);
      await waitFor(() => h.calls.liveness.length >= 5);
      assert.equal(h.manager.containerId('uid-1', 'c'), 'id2');
    } finally {
      h.manager.stop();
    }
  });

  test('startup probe gates liveness and readiness, then readiness runs at once', async () => {
    const container: Container = {
      name: 'c',
      startupProbe: { exec: { command: ['s'] }, periodSeconds: 1, failureThreshold: 10 },
      livenessProbe: { exec: { command: ['l'] }, periodSeconds: 1 },
      readinessProbe: { exec: { command: ['r'] }, periodSeconds: 50 },
    };
    const h = harness(container, { startup: (n) => (n < 3 ? BAD : OK) });
    try {
      h.manager.addContainer(h.pod, container, 'id1', h.target);
      assert.equal(h.manager.isStarted('uid-1', 'c'), false);
      await waitFor(() => h.manager.isStarted('uid-1', 'c'));
      assert.equal(h.calls.startup.length, 3);
      // The readiness period is 50 "seconds" (1s), yet it runs right after startup succeeds.
      await waitFor(() => h.manager.isReady('uid-1', 'c'), 500);
      await waitFor(() => h.calls.liveness.length >= 1);
      const startedAt = h.statusAt[0];
      assert.ok(
        [...h.calls.liveness, ...h.calls.readiness].every((t) => t >= startedAt),
        'nothing ran before started',
      );
      assert.ok(h.calls.readiness[0] - startedAt < 2 * SECOND);
      await sleep(3 * SECOND);
      assert.equal(h.calls.startup.length, 3, 'the startup probe stops once it passed');
    } finally {
      h.manager.stop();
    }
  });

  test('startup failure calls back and stops the probe', async () => {
    const container: Container = {
      name: 'c',
      startupProbe: { exec: { command: ['s'] }, periodSeconds: 1, failureThreshold: 2 },
    };
    const h = harness(container, { startup: () => BAD });
    try {
      h.manager.addContainer(h.pod, container, 'id1', h.target);
      await waitFor(() => h.log.includes('startup-failed:c:id1'));
      await sleep(3 * SECOND);
      assert.equal(h.calls.startup.length, 2);
      assert.equal(h.manager.isReady('uid-1', 'c'), false);
    } finally {
      h.manager.stop();
    }
  });

  test('initialDelaySeconds counts from startedAt', async () => {
    const container: Container = {
      name: 'c',
      readinessProbe: { exec: { command: ['r'] }, initialDelaySeconds: 10, periodSeconds: 1 },
    };
    const h = harness(container, {});
    try {
      h.manager.addContainer(h.pod, container, 'id1', { ...h.target, startedAt: Date.now() });
      await waitFor(() => h.calls.readiness.length >= 1);
      assert.ok(h.calls.readiness[0] >= 10 * SECOND - 2, `first probe at ${h.calls.readiness[0]}ms`);
      // A container that started long ago is probed right away.
      const other: Container = { ...container, name: 'd' };
      const h2 = harness(other, {});
      h2.manager.addContainer(h2.pod, other, 'id2', { ...h2.target, startedAt: Date.now() - 60_000 });
      await waitFor(() => h2.calls.readiness.length >= 1);
      assert.ok(h2.calls.readiness[0] < 7 * SECOND, `first probe at ${h2.calls.readiness[0]}ms`);
      h2.manager.stop();
    } finally {
      h.manager.stop();
    }
  });

  test('a slow probe never overlaps itself, and stop() ends probing', async () => {
    let active = 0;
    let maxActive = 0;
    const container: Container = {
      name: 'c',
      livenessProbe: { exec: { command: ['l'] }, periodSeconds: 1, timeoutSeconds: 5 },
    };
    const h = harness(container, {
      liveness: async () => {
        active += 1;
        maxActive = Math.max(maxActive, active);
        await sleep(3 * SECOND);
        active -= 1;
        return OK;
      },
    });
    h.manager.addContainer(h.pod, container, 'id1', h.target);
    await waitFor(() => h.calls.liveness.length >= 3);
    h.manager.stop();
    const count = h.calls.liveness.length;
    await sleep(6 * SECOND);
    assert.equal(maxActive, 1);
    assert.equal(h.calls.liveness.length, count, 'no probe after stop()');
    assert.equal(h.manager.isReady('uid-1', 'c'), false);
  });

  test('real httpGet readiness through the manager', async () => {
    let healthy = false;
    const server = http.createServer((_req, res) => {
      res.statusCode = healthy ? 200 : 503;
      res.end();
    });
    const port = await listen(server);
    const container: Container = {
      name: 'web',
      ports: [{ name: 'http', containerPort: port }],
      readinessProbe: { httpGet: { port: 'http', path: '/ready' }, periodSeconds: 1, timeoutSeconds: 25 },
    };
    const outcomes: string[] = [];
    const manager = new ProbeManager(
      {
        onResult: (_u, _n, kind, o) => {
          const ev = probeResultEvent(kind, o);
          if (ev) outcomes.push(ev.message);
        },
        onLivenessFailure: () => {},
        onStartupFailure: () => {},
        onStatusChanged: () => {},
      },
      { secondMs: SECOND },
    );
    try {
      manager.addContainer({ metadata: { uid: 'u' } }, container, 'id', { podIP: '127.0.0.1', execSync: noExec });
      await waitFor(() => outcomes.length >= 1);
      assert.equal(outcomes[0], 'Readiness probe failed: HTTP probe failed with statuscode: 503');
      assert.equal(manager.isReady('u', 'web'), false);
      healthy = true;
      await waitFor(() => manager.isReady('u', 'web'));
    } finally {
      manager.stop();
      server.close();
    }
  });
});
