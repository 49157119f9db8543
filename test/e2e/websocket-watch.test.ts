// End-to-end: watches over WebSocket (as some clients make them): one JSON event per message,
// with the kubeconfig's client certificate for authentication.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import WebSocket from 'ws';
import { startCluster, type Cluster } from './harness.js';

interface Creds {
  base: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

function credsOf(kubeconfig: string): Creds {
  const cfg = YAML.parse(readFileSync(kubeconfig, 'utf8'));
  const b64 = (s: string) => Buffer.from(s, 'base64');
  return {
    base: cfg.clusters[0].cluster.server,
    ca: b64(cfg.clusters[0].cluster['certificate-authority-data']),
    cert: b64(cfg.users[0].user['client-certificate-data']),
    key: b64(cfg.users[0].user['client-key-data']),
  };
}

interface WsWatch {
  ws: WebSocket;
  events: any[];
  readonly binaryFrames: number;
  opened: Promise<void>;
  closed: Promise<{ code: number }>;
  waitFor(n: number, timeoutMs?: number): Promise<any[]>;
}

function wsWatch(c: Creds, path: string, opts: { protocols?: string[]; anonymous?: boolean } = {}): WsWatch {
  const url = c.base.replace(/^https:/, 'wss:') + path;
  const ws = new WebSocket(url, opts.protocols ?? [], {
    ca: c.ca,
    cert: opts.anonymous ? undefined : c.cert,
    key: opts.anonymous ? undefined : c.key,
    handshakeTimeout: 10_000,
  });
  const events: any[] = [];
  let binaryFrames = 0;
  const waiters = new Set<() => void>();
  ws.on('message', (data, isBinary) => {
    // As upstream: JSON events in text frames, whatever subprotocol was negotiated.
    if (isBinary) binaryFrames++;
    events.push(JSON.parse((data as Buffer).toString()));
    for (const w of [...waiters]) w();
  });
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () =>
        reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })),
      );
    });
    ws.once('error', reject);
  });
  opened.catch(() => {});
  const closed = new Promise<{ code: number }>((resolve) => ws.once('close', (code) => resolve({ code })));
  return {
    ws,
    events,
    get binaryFrames() {
      return binaryFrames;
    },
    opened,
    closed,
    waitFor(n, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (events.length >= n) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve(events);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${n} events, have ${JSON.stringify(events.map((e) => [e.type, e.object?.metadata?.name]))}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
  };
}

describe('watch over WebSocket', { timeout: 60_000 }, () => {
  let cluster: Cluster;
  let creds: Creds;

  before(async () => {
    cluster = await startCluster();
    creds = credsOf(cluster.kubeconfig);
  });
  after(async () => {
    await cluster?.cleanup();
  });

  it('streams events for changes made after it opened', async () => {
    const w = wsWatch(creds, '/api/v1/namespaces/default/configmaps?watch=true');
    await w.opened;
    try {
      // The initial state (kube-root-ca.crt, if published) may come first; count from here.
      await new Promise((r) => setTimeout(r, 100));
      const base = w.events.length;
      await cluster.k(['create', 'configmap', 'ws-one', '--from-literal=a=1']);
      await cluster.k(['label', 'configmap', 'ws-one', 'x=y']);
      await cluster.k(['delete', 'configmap', 'ws-one']);
      const evs = (await w.waitFor(base + 3)).slice(base);
      assert.deepEqual(
        evs.map((e) => [e.type, e.object.kind, e.object.apiVersion, e.object.metadata.name]),
        [
          ['ADDED', 'ConfigMap', 'v1', 'ws-one'],
          ['MODIFIED', 'ConfigMap', 'v1', 'ws-one'],
          ['DELETED', 'ConfigMap', 'v1', 'ws-one'],
        ],
      );
      assert.deepEqual(evs[1].object.metadata.labels, { x: 'y' });
    } finally {
      w.ws.close();
    }
    assert.equal((await w.closed).code, 1005);
  });

  it('resumes from a resourceVersion, applies selectors, and honours timeoutSeconds', async () => {
    await cluster.k(['create', 'configmap', 'ws-a']);
    const rv = JSON.parse(await cluster.k(['get', 'configmap', 'ws-a', '-o', 'json'])).metadata.resourceVersion;
    await cluster.k(['create', 'configmap', 'ws-b']);
    await cluster.k(['label', 'configmap', 'ws-b', 'pick=1']);
    await cluster.k(['label', 'configmap', 'ws-a', 'pick=1']);
    const w = wsWatch(
      creds,
      `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&labelSelector=pick%3D1&timeoutSeconds=2`,
    );
    await w.opened;
    const evs = await w.waitFor(2);
    assert.deepEqual(
      evs.map((e) => [e.type, e.object.metadata.name]),
      [
        ['ADDED', 'ws-b'],
        ['ADDED', 'ws-a'],
      ],
    );
    assert.ok(Number(evs[0].object.metadata.resourceVersion) > Number(rv));
    // The server ends the watch at timeoutSeconds with a normal close.
    const started = Date.now();
    const { code } = await w.closed;
    assert.equal(code, 1000);
    assert.ok(Date.now() - started < 4000);
  });

  it('accepts a subprotocol (events stay JSON text, as upstream) and watches cluster-scoped resources', async () => {
    const w = wsWatch(creds, '/api/v1/namespaces?watch=true&fieldSelector=metadata.name%3Dws-ns', {
      protocols: ['base64.binary.k8s.io'],
    });
    await w.opened;
    try {
      await cluster.k(['create', 'namespace', 'ws-ns']);
      const evs = await w.waitFor(1);
      assert.equal(evs[0].type, 'ADDED');
      assert.equal(evs[0].object.kind, 'Namespace');
      assert.equal(evs[0].object.metadata.name, 'ws-ns');
      assert.equal(w.ws.protocol, 'base64.binary.k8s.io');
      assert.equal(w.binaryFrames, 0);
    } finally {
      w.ws.close();
    }
  });

  it('rejects anonymous and malformed watch upgrades with a Status', async () => {
    // No credentials: system:anonymous, who may not watch configmaps.
    const anon = wsWatch(creds, '/api/v1/namespaces/default/configmaps?watch=true', { anonymous: true });
    await assert.rejects(anon.opened, (err: any) => err.status === 403 && JSON.parse(err.body).reason === 'Forbidden');
    const bad = wsWatch(creds, '/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=abc');
    // Either the upgrade is refused with 400, or the socket carries one ERROR event and closes.
    try {
      await bad.opened;
      const [ev] = await bad.waitFor(1);
      assert.equal(ev.type, 'ERROR');
      assert.equal(ev.object.code, 400);
    } catch (err: any) {
      assert.equal(err.status, 400, String(err));
    }
    bad.ws.terminate();
    const missing = wsWatch(creds, '/api/v1/namespaces/default/nosuchthings?watch=true');
    await assert.rejects(missing.opened, (err: any) => err.status === 404);
  });
});
