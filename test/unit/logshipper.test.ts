// The log shipper over a kubelet-layout log folder written by the test: CRI records (partial
// lines joined), rotated files read before the live one, positions surviving a restart, and the
// Elasticsearch bulk and Loki push sinks against small servers the test runs, one of them down
// for a while (the batch is retried, nothing is lost).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LogShipper } from '../../src/agent/logging/shipper.js';
import { ElasticsearchSink, LokiSink, parseSink, type LogEntry, type Sink } from '../../src/agent/logging/sinks.js';
import { renderFamilies } from '../../src/kubestate/index.js';
import { until } from '../support/until.js';

class MemorySink implements Sink {
  readonly name = 'memory';
  entries: LogEntry[] = [];
  failing = 0;
  send(entries: LogEntry[]): Promise<void> {
    if (this.failing > 0) {
      this.failing--;
      return Promise.reject(new Error('sink down'));
    }
    this.entries.push(...entries);
    return Promise.resolve();
  }
}

function layout() {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-logship-'));
  const container = join(dir, 'pods', 'default_web-1_uid-1', 'app');
  mkdirSync(container, { recursive: true });
  return { dir, live: join(container, '0.log') };
}

const record = (i: number, tag = 'F', text = `line ${i}`) =>
  `2026-12-06T18:00:00.${String(i).padStart(9, '0')}Z stdout ${tag} ${text}\n`;

test('lines with metadata, partial records joined, rotated file first, positions kept across a restart', async () => {
  const { dir, live } = layout();
  try {
    let body = '';
    for (let i = 1; i <= 50; i++) body += record(i);
    appendFileSync(live, body);
    // Rotated: the old file keeps its inode, a new live file starts.
    renameSync(live, `${live}.20261206-180000`);
    appendFileSync(live, record(51, 'P', 'half ') + record(51, 'F', 'and half') + record(52));
    const sink = new MemorySink();
    const opts = {
      logDir: dir,
      nodeName: 'n1',
      sinks: [sink],
      positionFile: join(dir, 'positions.json'),
      podLabels: () => ({ app: 'web' }),
      batchLines: 20,
    };
    let shipper = new LogShipper(opts);
    while (await shipper.once());
    assert.deepEqual(
      sink.entries.map((e) => e.log),
      [...Array.from({ length: 50 }, (_, i) => `line ${i + 1}`), 'half and half', 'line 52'],
    );
    assert.deepEqual(sink.entries[0].kubernetes, {
      namespace_name: 'default',
      pod_name: 'web-1',
      pod_id: 'uid-1',
      container_name: 'app',
      host: 'n1',
      labels: { app: 'web' },
    });
    // A restart: nothing is sent twice, new lines are.
    appendFileSync(live, record(53));
    shipper = new LogShipper(opts);
    await shipper.once();
    assert.deepEqual(
      sink.entries.slice(52).map((e) => e.log),
      ['line 53'],
    );
    // A sink down: the batch is retried until taken, positions move only then.
    appendFileSync(live, record(54));
    sink.failing = 2;
    await shipper.once();
    assert.deepEqual(
      sink.entries.slice(53).map((e) => e.log),
      ['line 54'],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

async function serve(
  handler: (req: IncomingMessage, body: string) => [number, string],
): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const [code, answer] = handler(req, body);
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(answer);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

test('Elasticsearch bulk and Loki push sinks receive every line; a down endpoint is retried', async () => {
  const { dir, live } = layout();
  const es: string[] = [];
  const loki: any[] = [];
  let lokiDown = 3;
  const esServer = await serve((req, body) => {
    assert.equal(req.url, '/_bulk');
    assert.equal(req.headers['content-type'], 'application/x-ndjson');
    const lines = body.trim().split('\n');
    for (let i = 0; i < lines.length; i += 2) {
      assert.deepEqual(JSON.parse(lines[i]), { create: { _index: 'k8ts-logs' } });
      es.push(JSON.parse(lines[i + 1]).log);
    }
    return [200, JSON.stringify({ errors: false, items: [] })];
  });
  const lokiServer = await serve((req, body) => {
    assert.equal(req.url, '/loki/api/v1/push');
    if (lokiDown-- > 0) return [503, '{}'];
    loki.push(...JSON.parse(body).streams);
    return [204, ''];
  });
  const shipper = new LogShipper({
    logDir: dir,
    nodeName: 'n1',
    sinks: [parseSink(`elasticsearch:${esServer.url}`), parseSink(`loki:${lokiServer.url}`)],
    positionFile: join(dir, 'positions.json'),
    pollMs: 50,
  });
  try {
    assert.ok(parseSink(`elasticsearch:${esServer.url}`) instanceof ElasticsearchSink);
    assert.ok(parseSink(`loki:${lokiServer.url}`) instanceof LokiSink);
    assert.throws(() => parseSink('ftp:x'), /--log-sink/);
    appendFileSync(live, record(1) + record(2) + record(3));
    shipper.start();
    await until('Loki took the lines after its outage', () => loki.length > 0, 30_000, 50);
    assert.deepEqual(loki[0].stream, {
      namespace: 'default',
      job: 'k8ts/logs',
      pod: 'web-1',
      container: 'app',
      node: 'n1',
      stream: 'stdout',
    });
    assert.deepEqual(
      loki[0].values.map((v: [string, string]) => v[1]),
      ['line 1', 'line 2', 'line 3'],
    );
    assert.equal(loki[0].values[0][0], `${BigInt(Date.parse('2026-12-06T18:00:00Z')) * 1_000_000n + 1n}`);
    // Elasticsearch took the batch once, not once per Loki retry.
    assert.deepEqual(es, ['line 1', 'line 2', 'line 3']);
  } finally {
    await shipper.stop();
    esServer.server.close();
    lokiServer.server.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('kube-state families render upstream names and labels', () => {
  const text = renderFamilies((k) =>
    k.spec.plural === 'deployments'
      ? [
          {
            metadata: { name: 'web', namespace: 'default' },
            spec: { replicas: 3 },
            status: { replicas: 3, availableReplicas: 2 },
          },
        ]
      : k.spec.plural === 'pods'
        ? [
            {
              metadata: { name: 'p"1', namespace: 'default', uid: 'u1' },
              spec: { containers: [] },
              status: { phase: 'Running' },
            },
          ]
        : [],
  );
  assert.match(text, /^# TYPE kube_deployment_status_replicas_available gauge$/m);
  assert.match(text, /^kube_deployment_status_replicas_available\{namespace="default",deployment="web"\} 2$/m);
  assert.match(text, /^kube_deployment_spec_replicas\{namespace="default",deployment="web"\} 3$/m);
  assert.match(text, /^kube_pod_status_phase\{namespace="default",pod="p\\"1",uid="u1",phase="Running"\} 1$/m);
  assert.match(text, /^kube_pod_status_phase\{namespace="default",pod="p\\"1",uid="u1",phase="Pending"\} 0$/m);
});
