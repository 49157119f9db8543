// The API proxies' pure parts (apiserver/proxy/): upstream's [scheme:]name[:port] ids, which pod
// IPs may be proxied to, where the proxied path starts, and how backend redirects are rewritten.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isGlobalUnicast, splitSchemeNamePort } from '../../src/apiserver/proxy/location.js';
import { rewriteLocation } from '../../src/apiserver/proxy/forward.js';
import { splitProxyPath } from '../../src/apiserver/proxy/index.js';

test('splitSchemeNamePort: name, name:port, scheme:name:port; anything else is invalid', () => {
  assert.deepEqual(splitSchemeNamePort('web'), { scheme: '', name: 'web', port: '' });
  assert.deepEqual(splitSchemeNamePort('web:8080'), { scheme: '', name: 'web', port: '8080' });
  assert.deepEqual(splitSchemeNamePort('web:http'), { scheme: '', name: 'web', port: 'http' });
  assert.deepEqual(splitSchemeNamePort('https:web:443'), { scheme: 'https', name: 'web', port: '443' });
  assert.deepEqual(splitSchemeNamePort('https:web:'), { scheme: 'https', name: 'web', port: '' });
  assert.equal(splitSchemeNamePort('ftp:web:21'), undefined);
  assert.equal(splitSchemeNamePort(':80'), undefined);
  assert.equal(splitSchemeNamePort('a:b:c:d'), undefined);
});

test('isGlobalUnicast: as Go decides which pod IPs may be proxied to', () => {
  for (const ip of ['10.1.2.3', '192.0.2.2', '172.17.0.4', '2001:db8::1', 'fd00::5'])
    assert.equal(isGlobalUnicast(ip), true, ip);
  for (const ip of [
    '',
    '0.0.0.0',
    '127.0.0.1',
    '169.254.1.1',
    '224.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'ff02::1',
    'web',
  ])
    assert.equal(isGlobalUnicast(ip), false, ip);
});

test('splitProxyPath: the raw path after /proxy, escapes and trailing slash kept', () => {
  const svc = {
    kind: 'resource' as const,
    group: '',
    version: 'v1',
    namespace: 'ns',
    resource: 'services',
    name: 'web:80',
    subresource: 'proxy',
  };
  assert.deepEqual(splitProxyPath('/api/v1/namespaces/ns/services/web:80/proxy/a%2Fb/c/', svc), {
    prefix: '/api/v1/namespaces/ns/services/web:80/proxy',
    path: '/a%2Fb/c/',
  });
  assert.deepEqual(splitProxyPath('/api/v1/namespaces/ns/services/web:80/proxy/', svc).path, '/');
  assert.deepEqual(splitProxyPath('/api/v1/namespaces/ns/services/web:80/proxy', svc).path, '');
  const node = {
    kind: 'resource' as const,
    group: '',
    version: 'v1',
    resource: 'nodes',
    name: 'n1',
    subresource: 'proxy',
  };
  assert.deepEqual(splitProxyPath('/api/v1/nodes/n1/proxy/healthz', node), {
    prefix: '/api/v1/nodes/n1/proxy',
    path: '/healthz',
  });
});

test('rewriteLocation: redirects to the backend itself stay inside the proxy', () => {
  const loc = { scheme: 'http' as const, host: '10.0.0.5', port: 8080 };
  const prefix = '/api/v1/namespaces/ns/pods/web/proxy';
  assert.equal(rewriteLocation('/login?next=/', loc, prefix), `${prefix}/login?next=/`);
  assert.equal(rewriteLocation('http://10.0.0.5:8080/x/', loc, prefix), `${prefix}/x/`);
  assert.equal(rewriteLocation(`${prefix}/already`, loc, prefix), `${prefix}/already`);
  assert.equal(rewriteLocation('http://example.com/x', loc, prefix), 'http://example.com/x');
  assert.equal(rewriteLocation('relative/path', loc, prefix), 'relative/path');
});
