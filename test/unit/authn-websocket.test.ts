// The WebSocket bearer subprotocol (`base64url.bearer.authorization.k8s.io.<token>`), which
// browsers use for exec and watches because they cannot set Authorization on a WebSocket.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { AuthenticatorChain, websocketBearerToken } from '../../src/apiserver/authn/chain.js';
import { TokenFileAuthenticator } from '../../src/apiserver/authn/tokenfile.js';

const upgrade = { connection: 'Upgrade', upgrade: 'websocket' };
const bearer = (token: string) => `base64url.bearer.authorization.k8s.io.${Buffer.from(token).toString('base64url')}`;

function request(headers: Record<string, string>): IncomingMessage {
  const socket = { authorized: false, getPeerCertificate: () => ({}) };
  return { socket, headers } as unknown as IncomingMessage;
}

test('websocket bearer protocol: read only from WebSocket upgrades, padded or repeated tokens refused', () => {
  const ws = (protocols: string, headers: Record<string, string> = upgrade) =>
    websocketBearerToken(request({ ...headers, 'sec-websocket-protocol': protocols }));
  // The refusal's message (an Error is expected).
  const refusal = (protocols: string) => {
    const r = ws(protocols);
    return r instanceof Error ? r.message : `no error: ${JSON.stringify(r)}`;
  };
  assert.deepEqual(ws(`v5.channel.k8s.io, ${bearer('tok1')}, v4.channel.k8s.io`), {
    token: 'tok1',
    rest: ['v5.channel.k8s.io', 'v4.channel.k8s.io'],
  });
  assert.equal(ws(`v5.channel.k8s.io,${bearer('tok1')}`, {}), undefined, 'not an upgrade');
  assert.equal(ws('v5.channel.k8s.io'), undefined);
  assert.match(refusal(bearer('tok1')), /missing additional subprotocol/);
  assert.match(refusal(`a,${bearer('x')},${bearer('y')}`), /multiple/);
  assert.match(refusal('a,base64url.bearer.authorization.k8s.io.dG9rMQ=='), /encoding/);
  assert.match(
    refusal('a,base64url.bearer.authorization.k8s.io.' + Buffer.from([0xff, 0xfe]).toString('base64url')),
    /token$/,
  );
  // An empty token is no token.
  assert.equal(ws('a,base64url.bearer.authorization.k8s.io.'), undefined);
});

test('chain: a WebSocket bearer protocol authenticates, and is removed from the offered protocols', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'authn-ws-'));
  writeFileSync(join(dir, 't.csv'), 'tok1,alice,uid-1,dev\n');
  const chain = new AuthenticatorChain();
  chain.tokens.push(TokenFileAuthenticator.load(join(dir, 't.csv')));
  const req = request({ ...upgrade, 'sec-websocket-protocol': `v5.channel.k8s.io,${bearer('tok1')}` });
  assert.deepEqual(await chain.authenticate(req), {
    user: { name: 'alice', uid: 'uid-1', groups: ['dev', 'system:authenticated'] },
    anonymous: false,
  });
  assert.equal(req.headers['sec-websocket-protocol'], 'v5.channel.k8s.io');
  // A token nobody accepts, or a malformed offer, is a 401 (never anonymous).
  const wrong = request({ ...upgrade, 'sec-websocket-protocol': `v5.channel.k8s.io,${bearer('nope')}` });
  assert.equal(await chain.authenticate(wrong), undefined);
  assert.equal(await chain.authenticate(request({ ...upgrade, 'sec-websocket-protocol': bearer('tok1') })), undefined);
  // Without an upgrade the protocol header means nothing: anonymous.
  const plain = request({ 'sec-websocket-protocol': `v5.channel.k8s.io,${bearer('tok1')}` });
  assert.equal((await chain.authenticate(plain))?.anonymous, true);
});
