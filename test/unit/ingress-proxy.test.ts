// Pieces of the ingress data path (src/ingress/proxy.ts) that need no sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { grpcStatusFor, isGrpcRequest, requestId } from '../../src/ingress/proxy.js';

test('request ids are 32 hex digits and stay unique across refills of the random pool', () => {
  const seen = new Set<string>();
  // 4096-byte pool, 16 bytes an id: 1,000 ids refill it several times.
  for (let i = 0; i < 1000; i++) {
    const id = requestId();
    assert.match(id, /^[0-9a-f]{32}$/);
    assert.ok(!seen.has(id), `id ${id} repeated after ${i} ids`);
    seen.add(id);
  }
});

test('errors the proxy answers itself map to gRPC statuses as gRPC documents it', () => {
  assert.equal(grpcStatusFor(404), 12); // UNIMPLEMENTED: no route for the method
  assert.equal(grpcStatusFor(503), 14);
  assert.equal(grpcStatusFor(504), 14);
  assert.equal(grpcStatusFor(401), 16);
  assert.equal(grpcStatusFor(403), 7);
  assert.equal(grpcStatusFor(413), 2);
});

test('gRPC requests are told apart by content type; gRPC-Web is not one', () => {
  assert.ok(isGrpcRequest({ 'content-type': 'application/grpc' }));
  assert.ok(isGrpcRequest({ 'content-type': 'application/grpc+proto' }));
  assert.ok(!isGrpcRequest({ 'content-type': 'application/grpc-web+proto' }));
  assert.ok(!isGrpcRequest({ 'content-type': 'application/json' }));
  assert.ok(!isGrpcRequest({}));
});
