// Front-proxy (request header) authentication: how headers become a user, as upstream's
// headerrequest authenticator reads them, and the extension-apiserver-authentication data.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  RequestHeaderAuthenticator,
  requestHeaderOptions,
  type RequestHeaderOptions,
} from '../../src/apiserver/authn/requestheader.js';
import { authenticationConfigData } from '../../src/apiserver/aggregator/frontproxy.js';
import { loadOrCreateCA } from '../../src/machinery/pki.js';

/** A request's headers as Node's HTTP server hands them over (raw list and the joined map). */
function requestWith(raw: [string, string][]): IncomingMessage {
  const headers: Record<string, string> = {};
  for (const [k, v] of raw) {
    const key = k.toLowerCase();
    headers[key] = key in headers ? `${headers[key]}, ${v}` : v;
  }
  return { rawHeaders: raw.flat(), headers } as unknown as IncomingMessage;
}

const options = (o: Partial<RequestHeaderOptions> = {}): RequestHeaderOptions => ({
  clientCA: '',
  allowedNames: ['front-proxy'],
  usernameHeaders: ['X-Remote-User', 'X-Other-User'],
  uidHeaders: ['X-Remote-Uid'],
  groupHeaders: ['X-Remote-Group'],
  extraHeaderPrefixes: ['X-Remote-Extra-'],
  ...o,
});

test('the user, uid, every group value and extras (keys lowercased and unescaped) come from headers', () => {
  const a = new RequestHeaderAuthenticator(options());
  const req = requestWith([
    ['x-remote-user', ''],
    ['X-Other-User', 'jane'],
    ['X-Remote-Uid', 'u-1'],
    ['X-Remote-Group', 'a'],
    ['x-remote-group', ''],
    ['X-Remote-Group', 'b, c'],
    ['X-Remote-Extra-Acme.com%2FProject', 'p1'],
    ['X-Remote-Extra-acme.com%2fproject', 'p2'],
    ['X-Remote-Extra-Bad%zz', 'v'],
    ['Accept', 'application/json'],
  ]);
  assert.deepEqual(a.authenticate(req, 'front-proxy'), {
    name: 'jane',
    uid: 'u-1',
    groups: ['a', 'b, c'],
    extra: { 'acme.com/project': ['p1', 'p2'], 'bad%zz': ['v'] },
  });
  // The identity headers are gone from the request, the others stay.
  assert.deepEqual(req.rawHeaders, ['Accept', 'application/json']);
  assert.deepEqual(Object.keys(req.headers), ['accept']);
});

test('no user header, or a common name not allowed: nobody (headers left alone)', () => {
  const a = new RequestHeaderAuthenticator(options());
  assert.equal(a.authenticate(requestWith([['X-Remote-Group', 'system:masters']]), 'front-proxy'), undefined);
  const req = requestWith([['X-Remote-User', 'jane']]);
  assert.equal(a.authenticate(req, 'intruder'), undefined);
  assert.equal(req.headers['x-remote-user'], 'jane');
  const any = new RequestHeaderAuthenticator(options({ allowedNames: [] }));
  assert.equal(any.authenticate(requestWith([['X-Remote-User', 'jane']]), 'anyone')?.name, 'jane');
});

test('defaults: the own CA with its proxy name; a CA file allows any name unless names are given', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-rh-'));
  try {
    const ca = await loadOrCreateCA(dir, 'rh');
    const own = { caPem: ca.certPem, commonName: 'system:auth-proxy' };
    const read = () => ca.certPem;
    const d = requestHeaderOptions({}, own, read);
    assert.deepEqual(d.allowedNames, ['system:auth-proxy']);
    assert.deepEqual(d.usernameHeaders, ['X-Remote-User']);
    assert.deepEqual(d.groupHeaders, ['X-Remote-Group']);
    assert.deepEqual(d.extraHeaderPrefixes, ['X-Remote-Extra-']);
    assert.deepEqual(d.uidHeaders, []);
    assert.deepEqual(requestHeaderOptions({ clientCAFile: 'f' }, own, read).allowedNames, []);
    assert.deepEqual(requestHeaderOptions({ clientCAFile: 'f', allowedNames: ['p'] }, own, read).allowedNames, ['p']);
    assert.throws(() => requestHeaderOptions({ usernameHeaders: [' '] }, own, read), /empty header/);
    assert.throws(() => requestHeaderOptions({ clientCAFile: 'f' }, own, () => 'nothing'), /no certificate/);

    // The ConfigMap's data: lists as JSON, joined with what another server already published.
    const other = await loadOrCreateCA(dir, 'other', 'other');
    const data = authenticationConfigData(ca.certPem, d, {
      'requestheader-allowed-names': '["other-proxy"]',
      'requestheader-client-ca-file': other.certPem,
      'client-ca-file': ca.certPem,
    });
    assert.equal(data['requestheader-allowed-names'], '["other-proxy","system:auth-proxy"]');
    assert.equal(data['requestheader-username-headers'], '["X-Remote-User"]');
    assert.equal(data['requestheader-uid-headers'], '[]');
    assert.equal(data['client-ca-file'].trim(), ca.certPem.trim());
    assert.equal(data['requestheader-client-ca-file'], `${other.certPem.trim()}\n${ca.certPem.trim()}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
