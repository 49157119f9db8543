// Authentication: the token file's CSV, the chain's order and its 401/anonymous decisions,
// bootstrap token Secrets, legacy service-account tokens, and the OIDC flags' defaults.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import {
  AuthenticatorChain,
  BootstrapTokenAuthenticator,
  TokenFileAuthenticator,
  bearerToken,
  bootstrapTokenRemainingMs,
  oidcUsernamePrefix,
  parseCSV,
  parseTokenFile,
  validateOIDCOptions,
} from '../../src/apiserver/authn/index.js';
import { LegacyTokenAuthenticator, generateKeys, signLegacyToken } from '../../src/apiserver/serviceaccount/index.js';

test('CSV: quoted fields keep their commas, quotes and line breaks; blank lines are skipped', () => {
  assert.deepEqual(parseCSV('a,b,c\n\n"x,y","say ""hi""","two\nlines"\r\nlast'), [
    ['a', 'b', 'c'],
    ['x,y', 'say "hi"', 'two\nlines'],
    ['last'],
  ]);
  assert.throws(() => parseCSV('a"b,c'), /bare " in non-quoted-field/);
  assert.throws(() => parseCSV('"open,c'), /extraneous or missing " in quoted-field/);
});

test('token file: token,user,uid,"groups"; fewer than 3 columns is an error; empty and duplicate tokens warned of', () => {
  const warnings: string[] = [];
  const tokens = parseTokenFile(
    'tok1,alice,uid-1,"dev,ops"\n,nobody,uid-0\ntok2,bob,uid-2\ntok2,carol,uid-3\n',
    '/etc/tokens.csv',
    (m) => warnings.push(m),
  );
  assert.deepEqual(tokens.get('tok1'), { name: 'alice', uid: 'uid-1', groups: ['dev', 'ops'] });
  // A later line with the same token wins, as upstream's map assignment does.
  assert.deepEqual(tokens.get('tok2'), { name: 'carol', uid: 'uid-3', groups: [] });
  assert.deepEqual(warnings, [
    "empty token has been found in token file '/etc/tokens.csv', record number '2'",
    "duplicate token has been found in token file '/etc/tokens.csv', record number '4'",
  ]);
  assert.throws(
    () => parseTokenFile('tok,alice\n', '/f'),
    /token file '\/f' must have at least 3 columns \(token, user name, user uid\), found 2/,
  );
});

test('bearer tokens: scheme case-insensitive, an empty token is no token', () => {
  assert.equal(bearerToken('Bearer abc'), 'abc');
  assert.equal(bearerToken('bearer abc'), 'abc');
  assert.equal(bearerToken('Bearer '), undefined);
  assert.equal(bearerToken('Basic dXNlcjpwdw=='), undefined);
  assert.equal(bearerToken(undefined), undefined);
});

/** A request as the chain sees it: a TLS socket without a client certificate, and headers. */
function request(headers: Record<string, string> = {}): IncomingMessage {
  const socket = { authorized: false, getPeerCertificate: () => ({}) };
  return { socket, headers } as unknown as IncomingMessage;
}

test('chain: no credentials are anonymous (or 401 when off); a rejected token is 401, never anonymous', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'authn-'));
  writeFileSync(join(dir, 't.csv'), 'tok1,alice,uid-1,dev\n');
  const chain = new AuthenticatorChain();
  chain.tokens.push(TokenFileAuthenticator.load(join(dir, 't.csv')));
  assert.deepEqual(await chain.authenticate(request()), {
    user: { name: 'system:anonymous', groups: ['system:unauthenticated'] },
    anonymous: true,
  });
  assert.deepEqual(await chain.authenticate(request({ authorization: 'Bearer tok1' })), {
    user: { name: 'alice', uid: 'uid-1', groups: ['dev', 'system:authenticated'] },
    anonymous: false,
  });
  assert.equal(await chain.authenticate(request({ authorization: 'Bearer wrong' })), undefined);
  // A failing authenticator does not stop the next from accepting the token.
  chain.tokens.unshift({
    authenticate: () => {
      throw new Error('issuer unreachable');
    },
  });
  assert.equal((await chain.authenticate(request({ authorization: 'Bearer tok1' })))?.user.name, 'alice');
  chain.anonymous = false;
  assert.equal(await chain.authenticate(request()), undefined);
});

test('chain: a client certificate that failed verification is 401, not anonymous', async () => {
  const chain = new AuthenticatorChain();
  const socket = { authorized: false, getPeerCertificate: () => ({ subject: { CN: 'mallory' } }) };
  assert.equal(await chain.authenticate({ socket, headers: {} } as unknown as IncomingMessage), undefined);
  const good = { authorized: true, getPeerCertificate: () => ({ subject: { CN: 'jane', O: ['devs'] } }) };
  assert.deepEqual((await chain.authenticate({ socket: good, headers: {} } as unknown as IncomingMessage))?.user, {
    name: 'jane',
    groups: ['devs', 'system:authenticated'],
  });
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

function bootstrapSecret(data: Record<string, string>, type = 'bootstrap.kubernetes.io/token'): Secret {
  return {
    metadata: { name: 'bootstrap-token-abcdef', namespace: 'kube-system' },
    type,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

test('bootstrap tokens: id, secret, usage and expiry checked; groups sorted with system:bootstrappers', () => {
  const base = {
    'token-id': 'abcdef',
    'token-secret': '0123456789abcdef',
    'usage-bootstrap-authentication': 'true',
  };
  const authn = (s: Secret) =>
    new BootstrapTokenAuthenticator((name) => (name === 'bootstrap-token-abcdef' ? s : undefined)).authenticate(
      'abcdef.0123456789abcdef',
    );
  assert.deepEqual(
    authn(bootstrapSecret({ ...base, 'auth-extra-groups': 'system:bootstrappers:z,system:bootstrappers:a' })),
    {
      name: 'system:bootstrap:abcdef',
      groups: ['system:bootstrappers', 'system:bootstrappers:a', 'system:bootstrappers:z'],
    },
  );
  assert.equal(authn(bootstrapSecret({ ...base, 'token-secret': 'ffffffffffffffff' })), undefined);
  assert.equal(authn(bootstrapSecret({ ...base, 'usage-bootstrap-authentication': 'false' })), undefined);
  assert.equal(authn(bootstrapSecret(base, 'Opaque')), undefined);
  assert.equal(authn(bootstrapSecret({ ...base, 'auth-extra-groups': 'admins' })), undefined);
  assert.equal(authn(bootstrapSecret({ ...base, expiration: '2000-01-01T00:00:00Z' })), undefined);
  assert.equal(authn(bootstrapSecret({ ...base, expiration: 'tomorrow' })), undefined);
  assert.equal(
    authn(bootstrapSecret({ ...base, expiration: '2999-01-01T00:00:00Z' }))?.name,
    'system:bootstrap:abcdef',
  );
  assert.equal(
    new BootstrapTokenAuthenticator(() => bootstrapSecret(base)).authenticate('not-a-bootstrap-token'),
    undefined,
  );
  assert.equal(
    bootstrapTokenRemainingMs(
      bootstrapSecret({ expiration: '2030-01-01T00:00:10Z' }),
      Date.parse('2030-01-01T00:00:00Z'),
    ),
    10_000,
  );
  assert.equal(bootstrapTokenRemainingMs(bootstrapSecret({})), undefined);
});

test('legacy service-account tokens authenticate while their Secret holds them and the account keeps its uid', async () => {
  const keys = generateKeys();
  const sa: ServiceAccount = { metadata: { name: 'builder', namespace: 'ci', uid: 'sa-uid' } };
  const secret: Secret = {
    metadata: { name: 'builder-token', namespace: 'ci', uid: 'secret-uid' },
    type: 'kubernetes.io/service-account-token',
  };
  const token = await signLegacyToken(keys, sa, secret);
  const objects = new Map<string, unknown>([
    ['serviceaccounts/ci/builder', sa],
    ['secrets/ci/builder-token', { ...secret, data: { token: b64(token) } }],
  ]);
  const authn = new LegacyTokenAuthenticator(keys, (plural, ns, name) => objects.get(`${plural}/${ns}/${name}`));
  assert.deepEqual(await authn.authenticate(token), {
    name: 'system:serviceaccount:ci:builder',
    uid: 'sa-uid',
    groups: ['system:serviceaccounts', 'system:serviceaccounts:ci'],
  });
  // Signed by another key, or tampered with: refused.
  assert.equal(
    await new LegacyTokenAuthenticator(generateKeys(), (p, n, m) => objects.get(`${p}/${n}/${m}`)).authenticate(token),
    undefined,
  );
  // The Secret now holds another token: this one is revoked.
  objects.set('secrets/ci/builder-token', { ...secret, data: { token: b64('other') } });
  assert.equal(await authn.authenticate(token), undefined);
  objects.set('secrets/ci/builder-token', { ...secret, data: { token: b64(token) } });
  // The service account was recreated (new uid).
  objects.set('serviceaccounts/ci/builder', { metadata: { ...sa.metadata, uid: 'other-uid' } });
  assert.equal(await authn.authenticate(token), undefined);
  objects.set('serviceaccounts/ci/builder', sa);
  objects.delete('secrets/ci/builder-token');
  assert.equal(await authn.authenticate(token), undefined);
});

test('OIDC flags: prefixes default as upstream; issuer and client id go together, https only', () => {
  const issuerURL = 'https://issuer.example';
  assert.equal(oidcUsernamePrefix({ issuerURL }), 'https://issuer.example#');
  assert.equal(oidcUsernamePrefix({ issuerURL, usernameClaim: 'email' }), '');
  assert.equal(oidcUsernamePrefix({ issuerURL, usernamePrefix: '-' }), '');
  assert.equal(oidcUsernamePrefix({ issuerURL, usernamePrefix: 'oidc:' }), 'oidc:');
  assert.deepEqual(validateOIDCOptions({ issuerURL }), [
    'oidc-issuer-url and oidc-client-id must be specified together',
  ]);
  assert.deepEqual(validateOIDCOptions({ issuerURL: 'http://issuer.example', clientID: 'k' }), [
    'oidc-issuer-url (http://issuer.example) must use https scheme',
  ]);
  assert.deepEqual(validateOIDCOptions({ issuerURL, clientID: 'k' }), []);
});
