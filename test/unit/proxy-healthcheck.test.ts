// The health check ports of Services with externalTrafficPolicy Local (kube-proxy's service
// health server), served on loopback by a real HTTP server and read with fetch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import type { Endpoint as SliceEndpoint } from 'kubernetes-types/discovery/v1.js';
import { buildModel } from '../../src/proxy/model.js';
import { ServiceHealthServer, healthChecks } from '../../src/proxy/healthcheck.js';
import { svc, slice } from './proxy-fixtures.js';
import { freePort } from '../support/ports.js';

const opts = { nodeName: 'node-a', defaultScheduler: 'rr' as const };
const ep = (ip: string, nodeName: string): SliceEndpoint => ({
  addresses: [ip],
  conditions: { ready: true },
  nodeName,
});

/** A port nobody listens on (the kernel's pick, released again). */

const local = (port: number, endpoints: SliceEndpoint[], policy: 'Local' | 'Cluster' = 'Local') =>
  buildModel(
    [
      svc('web', {
        type: 'LoadBalancer',
        externalTrafficPolicy: policy,
        healthCheckNodePort: port,
        ports: [
          { name: 'http', port: 80, targetPort: 8080, nodePort: 30080 },
          { name: 'alt', port: 81, targetPort: 8080, nodePort: 30081 },
        ],
      }),
    ],
    [
      slice(
        'web',
        [
          { name: 'http', port: 8080 },
          { name: 'alt', port: 8080 },
        ],
        endpoints,
      ),
    ],
    opts,
  );

test('only Local services are checked; endpoints count once per address, local ones only', () => {
  assert.equal(healthChecks(local(32000, [ep('10.42.0.2', 'node-a')], 'Cluster')).size, 0);
  const checks = healthChecks(local(32000, [ep('10.42.0.2', 'node-a'), ep('10.42.0.3', 'node-b')]));
  assert.deepEqual(checks.get(32000), { namespace: 'default', name: 'web', localEndpoints: 1 });
});

test('the port answers 200 with the local endpoint count, 503 without one, and closes when the service goes', async () => {
  const port = await freePort();
  const server = new ServiceHealthServer(pino({ level: 'silent' }), '127.0.0.1');
  try {
    server.sync(local(port, [ep('10.42.0.2', 'node-a'), ep('10.42.0.4', 'node-a'), ep('10.42.0.3', 'node-b')]));
    await new Promise((r) => setTimeout(r, 50));
    const ok = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('x-load-balancing-endpoint-weight'), '2');
    assert.equal(ok.headers.get('content-type'), 'application/json');
    assert.deepEqual(await ok.json(), {
      service: { namespace: 'default', name: 'web' },
      localEndpoints: 2,
      serviceProxyHealthy: true,
    });

    server.sync(local(port, [ep('10.42.0.3', 'node-b')]));
    const none = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(none.status, 503);
    assert.equal(((await none.json()) as { localEndpoints: number }).localEndpoints, 0);

    server.sync([]);
    await new Promise((r) => setTimeout(r, 50));
    await assert.rejects(fetch(`http://127.0.0.1:${port}/`));
  } finally {
    server.close();
  }
});
