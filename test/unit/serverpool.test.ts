import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ServerPool, serverURLs } from '../../src/client/serverpool.js';
import { leaseExpiry, parseHostPort, subsetsFor } from '../../src/server/endpointreconciler.js';

test('the pool stays on its server until it fails, then moves on; the list survives a restart', () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-pool-'));
  try {
    const file = join(dir, 'etc', 'servers.json');
    const switches: string[] = [];
    const pool = new ServerPool('https://a:6443', file, (from, to) => switches.push(`${from}>${to}`));
    assert.equal(pool.current, 'https://a:6443');
    pool.failed('https://a:6443'); // alone: nowhere to go
    assert.equal(pool.current, 'https://a:6443');
    pool.update(['https://c:6443', 'https://a:6443', 'https://b:6443']);
    assert.deepEqual(pool.all, ['https://a:6443', 'https://b:6443', 'https://c:6443']);
    assert.equal(pool.current, 'https://a:6443');
    pool.failed('https://a:6443');
    assert.equal(pool.current, 'https://b:6443');
    pool.failed('https://a:6443'); // a stale failure of a server no longer in use changes nothing
    assert.equal(pool.current, 'https://b:6443');
    pool.update(['https://b:6443', 'https://c:6443']); // a dropped out, but the given one stays
    assert.equal(pool.current, 'https://b:6443');
    assert.deepEqual(switches, ['https://a:6443>https://b:6443']);
    assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), {
      servers: ['https://a:6443', 'https://b:6443', 'https://c:6443'],
    });
    const restarted = new ServerPool('https://a:6443', file);
    assert.deepEqual(restarted.all, ['https://a:6443', 'https://b:6443', 'https://c:6443']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('server URLs from the kubernetes EndpointSlices; Endpoints subsets from the live leases', () => {
  assert.deepEqual(
    serverURLs([
      {
        addressType: 'IPv4',
        endpoints: [{ addresses: ['10.0.0.1'] }, { addresses: ['10.0.0.2'], conditions: { ready: false } }],
        ports: [{ name: 'https', port: 6443 }],
      },
      { addressType: 'IPv6', endpoints: [{ addresses: ['fd00::1'] }], ports: [{ name: 'https', port: 6443 }] },
    ]),
    ['https://10.0.0.1:6443', 'https://[fd00::1]:6443'],
  );
  assert.deepEqual(parseHostPort('[fd00::1]:6443'), { address: 'fd00::1', port: 6443 });
  assert.deepEqual(parseHostPort('10.0.0.1:6443'), { address: '10.0.0.1', port: 6443 });
  assert.deepEqual(
    subsetsFor([
      { address: '10.0.0.2', port: 6443 },
      { address: '10.0.0.1', port: 6443 },
      { address: '10.0.0.9', port: 7443 },
    ]),
    [
      { addresses: [{ ip: '10.0.0.1' }, { ip: '10.0.0.2' }], ports: [{ name: 'https', port: 6443, protocol: 'TCP' }] },
      { addresses: [{ ip: '10.0.0.9' }], ports: [{ name: 'https', port: 7443, protocol: 'TCP' }] },
    ],
  );
  const renewTime = '2026-01-01T00:00:00.000000Z';
  assert.equal(leaseExpiry({ spec: { renewTime, leaseDurationSeconds: 15 } }), Date.parse(renewTime) + 15_000);
  assert.equal(leaseExpiry({ spec: {} }), 0);
});
