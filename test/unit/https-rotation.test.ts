// HttpsTransport.setClientCertificate (the agent's certificate rotation): requests after the swap
// present the new certificate on new connections, and a watch open on the old ones ends cleanly
// (as a server timeout would), so its informer resumes with the new certificate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { issue, loadOrCreateCA } from '../../src/machinery/pki.js';
import { HttpsTransport } from '../../src/client/https.js';
import { R } from '../../src/client/client.js';
import type { Node } from 'kubernetes-types/core/v1.js';

const nameOf = (o: unknown) => (o as Node).metadata?.name ?? '';

test('after setClientCertificate new requests present the new certificate; old watches end cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-https-rotation-'));
  const ca = await loadOrCreateCA(dir);
  const serving = await issue(ca, { commonName: 'server', sans: ['127.0.0.1'], server: true });
  const first = await issue(ca, { commonName: 'system:node:first', client: true });
  const second = await issue(ca, { commonName: 'system:node:second', client: true });
  const server: Server = createServer(
    { cert: serving.certPem, key: serving.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
    (req, res) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate().subject.CN;
      res.writeHead(200, { 'content-type': 'application/json' });
      if (req.url?.includes('watch=1')) {
        // A watch stream that stays open until the client goes.
        res.write(`${JSON.stringify({ type: 'ADDED', object: { kind: 'Node', metadata: { name: cn } } })}\n`);
        return;
      }
      res.end(JSON.stringify({ kind: 'Node', metadata: { name: cn } }));
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const transport = new HttpsTransport(
    { server: url, ca: ca.certPem, cert: first.certPem, key: first.keyPem },
    { fieldManager: 'test' },
  );
  try {
    const target = { resource: R.nodes, name: 'x' };
    assert.equal(nameOf(await transport.get(target)), 'system:node:first');
    const seen: string[] = [];
    const watch = transport.watch({ resource: R.nodes }, {}, (ev) => seen.push(nameOf(ev.object)));
    while (!seen.length) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(seen, ['system:node:first']);

    transport.setClientCertificate(second.certPem, second.keyPem);
    assert.deepEqual(await watch.done, {}, 'the old watch ended without an error');
    assert.equal(nameOf(await transport.get(target)), 'system:node:second');
    const again: string[] = [];
    const w2 = transport.watch({ resource: R.nodes }, {}, (ev) => again.push(nameOf(ev.object)));
    while (!again.length) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(again, ['system:node:second']);
    w2.stop();
  } finally {
    await transport.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  }
});
