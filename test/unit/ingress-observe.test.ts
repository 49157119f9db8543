// Access log lines of the ingress (src/ingress/observe.ts): nginx's "combined" format and JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { combinedLine, jsonLine, type RequestRecord } from '../../src/ingress/observe.js';

const record: RequestRecord = {
  start: new Date('2026-12-06T15:04:05.123Z'),
  clientIP: '192.0.2.7',
  method: 'GET',
  host: 'web.test',
  url: '/a?b=1',
  httpVersion: '1.1',
  status: 200,
  bytes: 12,
  durationMs: 3.5,
  userAgent: 'curl/8.5.0 "quoted"',
  namespace: 'default',
  ingress: 'web',
  kind: 'Ingress',
  service: 'web',
  upstreamAddr: '10.42.0.5:8080',
  upstreamStatus: 200,
  upstreamMs: 2,
};

test('combined: the line nginx writes with log_format combined', () => {
  assert.equal(
    combinedLine(record),
    '192.0.2.7 - - [06/Dec/2026:15:04:05 +0000] "GET /a?b=1 HTTP/1.1" 200 12 "-" "curl/8.5.0 \\"quoted\\""',
  );
});

test('json: one object per line, times in seconds, the route and the upstream', () => {
  const line = jsonLine(record);
  assert.ok(!line.includes('\n'));
  assert.deepEqual(JSON.parse(line), {
    time: '2026-12-06T15:04:05.123Z',
    remote_addr: '192.0.2.7',
    method: 'GET',
    host: 'web.test',
    uri: '/a?b=1',
    protocol: 'HTTP/1.1',
    status: 200,
    bytes_sent: 12,
    request_time: 0.0035,
    http_user_agent: 'curl/8.5.0 "quoted"',
    namespace: 'default',
    ingress_name: 'web',
    ingress_kind: 'Ingress',
    service_name: 'web',
    upstream_addr: '10.42.0.5:8080',
    upstream_status: 200,
    upstream_response_time: 0.002,
  });
});
