// HttpsTransport's connections: a burst of requests shares a bounded set of keep-alive
// connections (unbounded, 5,000 simulated kubelets' heartbeats opened a TLS connection per request
// in flight and a busy server timed their handshakes out), and open watches, each holding its
// connection, never take the requests' connections.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';
import { HttpsTransport } from '../../src/client/https.js';
import { R } from '../../src/client/client.js';

test('a burst of requests uses at most maxConnections connections; watches use their own', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-https-connections-'));
  const ca = await loadOrCreateCA(dir);
  const serving = await issue(ca, { commonName: 'server', sans: ['127.0.0.1'], server: true });
  const client = await issue(ca, { commonName: 'client', client: true });
  let handshakes = 0;
  let inFlight = 0;
  let mostInFlight = 0;
  const server: Server = createServer(
    { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.includes('watch=1')) {
        res.write(`${JSON.stringify({ type: 'ADDED', object: { kind: 'Node', metadata: { name: 'w' } } })}\n`);
        return; // open until the client goes
      }
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      setTimeout(() => {
        inFlight--;
        res.end(JSON.stringify({ kind: 'Node', metadata: { name: 'n' } }));
      }, 20);
    },
  );
  server.on('secureConnection', () => handshakes++);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const transport = new HttpsTransport(
    { server: url, ca: ca.certPem, cert: client.certPem, key: client.keyPem },
    { fieldManager: 'test', maxConnections: 4 },
  );
  try {
    // Six watches: more than the requests' four connections.
    let events = 0;
    const watches = Array.from({ length: 6 }, () => transport.watch({ resource: R.nodes }, {}, () => events++));
    while (events < watches.length) await new Promise((r) => setTimeout(r, 10));
    assert.equal(handshakes, 6);

    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => transport.get({ resource: R.nodes, name: `n${i}` })),
    );
    assert.equal(answers.length, 200);
    assert.ok(mostInFlight <= 4, `at most 4 requests in flight at once, saw ${mostInFlight}`);
    assert.equal(handshakes, 6 + 4, 'the requests opened four connections and reused them');
    for (const w of watches) w.stop();
  } finally {
    await transport.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});
