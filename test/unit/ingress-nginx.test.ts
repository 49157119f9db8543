// The NGINX data plane's renderer (src/ingress/nginx/render.ts): which hosts are native, the
// config text for each feature, and `nginx -t` on what it renders; the JS proxy's side of the
// handshake with NGINX (X-K8ts-Front, the PROXY protocol line).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ing } from '../support/ingress.js';
import { buildRouteTable } from '../../src/ingress/routeindex.js';
import type { RouteTable, ServiceBackend } from '../../src/ingress/routes.js';
import { RenderCache, renderNginxConfig, wildcardRegex, type RenderInput } from '../../src/ingress/nginx/render.js';
import { nginxAvailable, NGINX_BINARY, STREAM_MODULE } from '../../src/ingress/nginx/supervisor.js';
import { frontClient, parseProxyLine } from '../../src/ingress/proxy.js';
import { selfSignedCertificate } from '../../src/ingress/tls.js';
import { parseNginxLog } from '../../src/ingress/nginx/accesslog.js';
import { md5Crypt } from '../../src/ingress/htpasswd.js';

const A = 'nginx.ingress.kubernetes.io/';

async function input(table: RouteTable, over: Partial<RenderInput> = {}): Promise<RenderInput> {
  const cert = await selfSignedCertificate('test');
  return {
    table,
    passthrough: [],
    certificate: (name) => (table.tlsFor(name) ? cert : undefined),
    endpoints: (b: ServiceBackend) =>
      b.service === 'empty'
        ? []
        : [
            { address: '10.0.0.1', port: 8080 },
            { address: '10.0.0.2', port: 8080 },
          ],
    defaultCertificate: cert,
    bindAddress: '127.0.0.1',
    httpPort: 8080,
    httpsPort: 8443,
    jsHttpPort: 40001,
    jsHttpsPort: 40002,
    token: 'secret-token',
    dir: '/tmp/k8ts-nginx',
    streamModule: STREAM_MODULE,
    workers: 1,
    ...over,
  };
}

/** The server block(s) whose server_name is this name, as text. */
function serverBlocks(text: string, name: string): string[] {
  return text.split(/\n {2}server \{\n/).filter((b) => b.includes(`server_name ${name};`));
}

test('plain Ingress hosts are native: a location per path, Exact and element-wise Prefix', async () => {
  const table = buildRouteTable([
    ing('a', {
      'a.test': [
        ['/', 'Prefix', 'web'],
        ['/api', 'Prefix', 'api'],
        ['/api', 'Exact', 'exact'],
        ['/docs/', 'ImplementationSpecific', 'docs'],
      ],
    }),
  ]);
  const r = renderNginxConfig(await input(table));
  assert.deepEqual(r.nativeHttp, ['a.test']);
  const [plain] = serverBlocks(r.text, 'a.test');
  assert.match(plain, /listen 127\.0\.0\.1:8080;/);
  assert.match(plain, /location = \/api \{[^}]*proxy_pass http:\/\/k8ts_\w+;/);
  assert.match(plain, /location \^~ \/api\/ \{/);
  assert.match(plain, /location = \/docs \{/);
  assert.match(plain, /location \^~ \/docs\/ \{/);
  assert.match(plain, /location \/ \{/);
  // Exact /api wins over the Prefix /api's own `= /api`: one such location only.
  assert.equal(plain.match(/location = \/api \{/g)?.length, 1);
  // Upstreams are the endpoints, with keep-alive.
  assert.match(
    r.text,
    /upstream k8ts_\w+ \{\n\s+server 10\.0\.0\.1:8080 max_fails=0;\n\s+server 10\.0\.0\.2:8080 max_fails=0;\n\s+keepalive 64;/,
  );
  // Forwarded headers as the JS proxy sets them; retries on connection errors.
  for (const h of [
    'X-Forwarded-For $proxy_add_x_forwarded_for',
    'X-Real-IP $remote_addr',
    'X-Forwarded-Host $host',
    'X-Forwarded-Proto $scheme',
    'X-Request-ID $k8ts_request_id',
  ])
    assert.ok(r.text.includes(`proxy_set_header ${h};`), h);
  assert.match(r.text, /proxy_next_upstream error;\n\s+proxy_next_upstream_tries 3;/);
  assert.match(r.text, /access_log off;/);
});

test('hosts NGINX cannot express exactly go to the JS proxy; so do unknown hosts', async () => {
  const table = buildRouteTable([
    ing('plain', { 'plain.test': [['/', 'Prefix', 'web']] }),
    ing(
      'auth',
      { 'auth.test': [['/', 'Prefix', 'web']] },
      { annotations: { [A + 'auth-type']: 'basic', [A + 'auth-secret']: 's' } },
    ),
    ing(
      'rw',
      { 'rw.test': [['/x(/|$)(.*)', 'ImplementationSpecific', 'web']] },
      { annotations: { [A + 'rewrite-target']: '/$2' } },
    ),
    ing('grpc', { 'grpc.test': [['/', 'Prefix', 'web']] }, { annotations: { [A + 'backend-protocol']: 'GRPC' } }),
    ing('anyhost', { '': [['/', 'Prefix', 'web']] }),
  ]);
  const r = renderNginxConfig(await input(table));
  assert.deepEqual(r.nativeHttp, ['plain.test']);
  // They need no block of their own (the default server sends them to the JS proxy)...
  for (const host of ['auth.test', 'rw.test', 'grpc.test']) assert.equal(serverBlocks(r.text, host).length, 0, host);
  // ...except where a native wildcard would take them: exact names win, as in the JS proxy.
  const wild = buildRouteTable([
    ing('w', { '*.w.test': [['/', 'Prefix', 'web']] }, { tls: ['*.w.test'] }),
    ing('x', { 'x.w.test': [['/', 'Prefix', 'web']] }, { annotations: { [A + 'enable-cors']: 'true' } }),
  ]);
  const w = renderNginxConfig(await input(wild));
  const [block] = serverBlocks(w.text, 'x.w.test');
  assert.match(block, /proxy_pass http:\/\/k8ts_js;/);
  assert.match(block, /proxy_set_header X-K8ts-Front "secret-token \$remote_addr \$remote_port \$scheme";/);
  // With the stream relay its TLS goes to the JS proxy by name.
  assert.match(renderNginxConfig(await input(wild, { relay: true })).text, /\n\s+x\.w\.test 127\.0\.0\.1:40002;/);
  // The default server (every other Host) goes to the JS proxy too.
  assert.match(r.text, /listen 127\.0\.0\.1:8080 default_server;[\s\S]*?proxy_pass http:\/\/k8ts_js;/);
  assert.match(r.text, /upstream k8ts_js \{\n\s+server 127\.0\.0\.1:40001;/);
  // With access log or metrics on, nothing is native (the JS proxy records every request).
  assert.deepEqual(renderNginxConfig(await input(table, { noNative: true })).nativeHttp, []);
});

test('relay TLS: native hosts with a certificate by SNI through the stream map; redirect to HTTPS with 308', async () => {
  const table = buildRouteTable([
    ing('secure', { 'secure.test': [['/', 'Prefix', 'web']] }, { tls: ['secure.test'] }),
    ing(
      'noredirect',
      { 'nr.test': [['/', 'Prefix', 'web']] },
      { tls: ['nr.test'], annotations: { [A + 'ssl-redirect']: 'false' } },
    ),
    ing('forced', { 'forced.test': [['/', 'Prefix', 'web']] }, { annotations: { [A + 'force-ssl-redirect']: 'true' } }),
    ing('wild', { '*.wild.test': [['/', 'Prefix', 'web']] }, { tls: ['*.wild.test'] }),
  ]);
  const r = renderNginxConfig(await input(table, { relay: true }));
  assert.equal(r.tlsMode, 'relay');
  assert.deepEqual(r.nativeTls.sort(), ['*.wild.test', 'nr.test', 'secure.test']);
  const [plain, tls] = serverBlocks(r.text, 'secure.test');
  assert.match(plain, /return 308 https:\/\/\$host:8443\$request_uri;/);
  assert.match(tls, /listen unix:\/tmp\/k8ts-nginx\/https\.sock ssl http2 proxy_protocol;/);
  assert.match(tls, /ssl_certificate \/tmp\/k8ts-nginx\/tls-\w+\.pem;/);
  assert.doesNotMatch(tls, /return 308/);
  assert.doesNotMatch(serverBlocks(r.text, 'nr.test')[0], /return 308/);
  assert.match(serverBlocks(r.text, 'forced.test')[0], /return 308/);
  // SNI: native names to NGINX's TLS server, the rest (default) to the JS proxy with PROXY protocol.
  assert.match(r.text, /\n\s+secure\.test unix:\/tmp\/k8ts-nginx\/https\.sock;/);
  assert.ok(r.text.includes(`${wildcardRegex('*.wild.test')} unix:/tmp/k8ts-nginx/https.sock;`));
  // No server name: NGINX's TLS server (default certificate, routed by Host), as the JS proxy does.
  assert.match(r.text, /\n\s+"" unix:\/tmp\/k8ts-nginx\/https\.sock;/);
  // Non-native names (forced.test has no certificate) take the default: the JS proxy.
  assert.doesNotMatch(r.text, /\n\s+forced\.test 127/);
  assert.match(r.text, /default 127\.0\.0\.1:40002;[\s\S]*ssl_preread on;[\s\S]*proxy_protocol on;/);
  // One label only, as upstream's wildcard.
  assert.ok(new RegExp(wildcardRegex('*.wild.test').slice(1)).test('a.wild.test'));
  assert.ok(!new RegExp(wildcardRegex('*.wild.test').slice(1)).test('a.b.wild.test'));
  // Certificates are files of their own (written 0600 by the supervisor).
  assert.ok([...r.files.keys()].every((f) => /^tls-\w+\.pem$/.test(f)));
});

test('direct TLS without passthrough: NGINX terminates every name, non-native hosts go to the JS proxy as https', async () => {
  const table = buildRouteTable([
    ing('secure', { 'secure.test': [['/', 'Prefix', 'web']] }, { tls: ['secure.test'] }),
    ing('plain', { 'plain.test': [['/', 'Prefix', 'web']] }),
    ing(
      'cors',
      { 'cors.test': [['/', 'Prefix', 'web']] },
      { tls: ['cors.test'], annotations: { [A + 'enable-cors']: 'true' } },
    ),
    ing('other', { 'other.test': [['/', 'Prefix', 'web']] }, { annotations: { [A + 'enable-cors']: 'true' } }),
    ing('lone', { 'secure.test': [['/lone', 'Prefix', 'web']] }, { tls: ['lone.test'] }),
  ]);
  const pairs = new Map<string, Awaited<ReturnType<typeof selfSignedCertificate>>>();
  for (const n of ['secure.test', 'cors.test', 'lone.test']) pairs.set(n, await selfSignedCertificate(n));
  const certFile = (text: string) => /ssl_certificate \/tmp\/k8ts-nginx\/(tls-\w+\.pem);/.exec(text)?.[1];
  const r = renderNginxConfig(await input(table, { certificate: (n) => pairs.get(n) }));
  assert.equal(r.tlsMode, 'direct');
  // No stream relay, no unix socket, no PROXY protocol: the HTTPS port is NGINX's http server's.
  assert.doesNotMatch(r.text, /stream \{|ssl_preread|https\.sock|proxy_protocol/);
  assert.match(r.text, /listen 127\.0\.0\.1:8443 ssl http2 default_server;/);
  // Native hosts: a TLS server each, their own certificate or the default one (as the JS proxy serves).
  assert.deepEqual(r.nativeTls.sort(), ['plain.test', 'secure.test']);
  const [, secureTls] = serverBlocks(r.text, 'secure.test');
  assert.match(secureTls, /listen 127\.0\.0\.1:8443 ssl http2;/);
  assert.equal(r.files.get(certFile(secureTls)!)?.startsWith(pairs.get('secure.test')!.cert.trim()), true);
  const [, plainTls] = serverBlocks(r.text, 'plain.test');
  assert.equal(certFile(plainTls), certFile(r.text.slice(r.text.indexOf('default_server'))));
  // A non-native host with a certificate: a TLS server with it, everything to the JS proxy with scheme https.
  const [cors] = serverBlocks(r.text, 'cors.test');
  assert.doesNotMatch(cors, /listen 127\.0\.0\.1:8080/);
  assert.equal(r.files.get(certFile(cors)!)?.startsWith(pairs.get('cors.test')!.cert.trim()), true);
  assert.match(cors, /proxy_pass http:\/\/k8ts_js;/);
  assert.match(cors, /proxy_set_header X-K8ts-Front "secret-token \$remote_addr \$remote_port \$scheme";/);
  // HTTP/2 (gRPC, trailers) goes on as h2c to the same listener (its own upstream: no HTTP/1.1 keep-alive reuse).
  assert.match(cors, /if \(\$k8ts_h2\) \{ return 418; \}/);
  assert.match(
    cors,
    /location @k8ts_h2 \{\s+grpc_pass grpc:\/\/k8ts_js_h2;\s+grpc_set_header Host \$http_host;\s+grpc_set_header X-K8ts-Front "secret-token/,
  );
  assert.match(r.text, /upstream k8ts_js_h2 \{\n\s+server 127\.0\.0\.1:40001;/);
  assert.match(r.text, /map \$server_protocol \$k8ts_h2 \{\s+default 0;\s+HTTP\/2\.0 1;/);
  // Without a certificate it needs no server of its own (the default server: default certificate, the JS proxy).
  assert.equal(serverBlocks(r.text, 'other.test').length, 0);
  // A certificate no rule uses is still served for its name.
  assert.equal(
    r.files.get(certFile(serverBlocks(r.text, 'lone.test')[0])!)?.startsWith(pairs.get('lone.test')!.cert.trim()),
    true,
  );
  // Unchanged from the relay: port 80's servers.
  assert.match(serverBlocks(r.text, 'secure.test')[0], /listen 127\.0\.0\.1:8080;[\s\S]*return 308/);
});

test('relay TLS while a route needs the raw connection or a certificate name NGINX cannot write', async () => {
  const table = buildRouteTable([ing('secure', { 'secure.test': [['/', 'Prefix', 'web']] }, { tls: ['secure.test'] })]);
  const passthrough = [
    {
      route: { namespace: 'default', name: 'pt' },
      kind: 'HTTPProxy' as const,
      hosts: ['pt.test'],
      backends: [],
    },
  ];
  const relay = renderNginxConfig(await input(table, { passthrough }));
  assert.equal(relay.tlsMode, 'relay');
  assert.match(relay.text, /ssl_preread on;/);
  assert.match(relay.text, /listen unix:\/tmp\/k8ts-nginx\/https\.sock ssl http2 proxy_protocol default_server;/);
  // And back when the route goes.
  assert.equal(renderNginxConfig(await input(table)).tlsMode, 'direct');
  const odd = buildRouteTable([ing('odd', { 'a_b.test': [['/', 'Prefix', 'web']] }, { tls: ['a_b.test'] })]);
  assert.equal(renderNginxConfig(await input(odd)).tlsMode, 'relay');
  // A name whose Secret is unusable serves the default certificate anyway: no reason to relay.
  assert.equal(renderNginxConfig(await input(odd, { certificate: () => undefined })).tlsMode, 'direct');
});

test('503 without endpoints; body size and timeouts from annotations; the host default backend', async () => {
  const table = buildRouteTable([
    ing('e', { 'empty.test': [['/', 'Prefix', 'empty']] }),
    ing(
      'opts',
      { 'opts.test': [['/a', 'Prefix', 'web']] },
      {
        defaultBackend: 'fallback',
        annotations: {
          [A + 'proxy-body-size']: '2m',
          [A + 'proxy-read-timeout']: '7',
          [A + 'proxy-connect-timeout']: '3',
        },
      },
    ),
  ]);
  const r = renderNginxConfig(await input(table));
  assert.match(serverBlocks(r.text, 'empty.test')[0], /location \/ \{[^}]*return 503;/);
  const [opts] = serverBlocks(r.text, 'opts.test');
  assert.match(opts, /client_max_body_size 2097152;/);
  assert.match(opts, /proxy_read_timeout 7000ms;/);
  assert.match(opts, /proxy_connect_timeout 3000ms;/);
  // Unmatched paths: the Ingress's defaultBackend (an upstream, not the JS proxy).
  assert.match(opts, /location \/ \{[^}]*proxy_pass http:\/\/k8ts_\w+;/);
});

test(
  'nginx -t accepts the rendered configuration',
  { skip: !nginxAvailable().ok && 'nginx or its stream module is not installed' },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'k8ts-nginx-render-'));
    try {
      mkdirSync(join(dir, 'tmp'));
      const table = buildRouteTable([
        ing(
          'a',
          {
            'a.test': [
              ['/', 'Prefix', 'web'],
              ['/x/', 'Prefix', 'web'],
              ['/x', 'Exact', 'web'],
            ],
          },
          { tls: ['a.test'] },
        ),
        ing('w', { '*.w.test': [['/', 'Prefix', 'web']] }, { tls: ['*.w.test'] }),
        ing('e', { 'e.test': [['/', 'Prefix', 'empty']] }),
        ing('c', { 'c.test': [['/', 'Prefix', 'web']] }, { annotations: { [A + 'enable-cors']: 'true' } }),
        ing(
          'n',
          { 'n.test': [['/', 'Prefix', 'web']] },
          {
            annotations: {
              [A + 'whitelist-source-range']: '10.0.0.0/8,2001:db8::/32',
              [A + 'permanent-redirect']: 'https://example.org/a b?c="d"',
              [A + 'app-root']: '/app',
              [A + 'auth-type']: 'basic',
              [A + 'auth-secret']: 's',
            },
          },
        ),
      ]);
      const r = renderNginxConfig(
        await input(table, {
          dir,
          user: process.getuid?.() === 0 ? 'root' : undefined,
          logPort: 5140,
          users: new Map([['default/s', new Map([['ali', md5Crypt('pw', 'salt1234')]])]]),
        }),
      );
      /** `nginx -t` on a rendered configuration written to `dir`. */
      const check = (c: { text: string; files: Map<string, string> }) => {
        for (const [name, body] of c.files) writeFileSync(join(dir, name), body, { mode: 0o600 });
        writeFileSync(join(dir, 'nginx.conf'), c.text, { mode: 0o600 });
        const t = spawnSync(
          NGINX_BINARY,
          ['-t', '-p', dir, '-e', join(dir, 'error.log'), '-c', join(dir, 'nginx.conf')],
          {
            encoding: 'utf8',
            timeout: 20_000,
          },
        );
        assert.equal(t.status, 0, t.stderr);
      };
      assert.equal(r.tlsMode, 'direct');
      check(r);
      // The relay's configuration too (the stream module, the unix socket).
      const relay = renderNginxConfig({ ...(await input(table, { dir })), relay: true });
      assert.equal(relay.tlsMode, 'relay');
      check(relay);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('X-K8ts-Front is trusted only with the token, and removed either way; PROXY protocol lines', () => {
  const h: Record<string, string | string[] | undefined> = { 'x-k8ts-front': 'tok 192.0.2.7 5555 https', host: 'x' };
  assert.deepEqual(frontClient(h, 'tok'), { ip: '192.0.2.7', secure: true });
  assert.equal(h['x-k8ts-front'], undefined);
  const forged: Record<string, string | string[] | undefined> = { 'x-k8ts-front': 'bad 192.0.2.7 5555 http' };
  assert.equal(frontClient(forged, 'tok'), undefined);
  assert.equal(forged['x-k8ts-front'], undefined);
  assert.equal(frontClient({}, 'tok'), undefined);
  assert.deepEqual(parseProxyLine('PROXY TCP4 192.0.2.1 127.0.0.1 40000 443'), { source: '192.0.2.1' });
  assert.deepEqual(parseProxyLine('PROXY TCP6 2001:db8::1 ::1 40000 443'), { source: '2001:db8::1' });
  assert.deepEqual(parseProxyLine('PROXY UNKNOWN'), { source: undefined });
  assert.equal(parseProxyLine('GET / HTTP/1.1'), undefined);
  assert.equal(parseProxyLine('PROXY TCP4 nonsense 127.0.0.1 1 2'), undefined);
});

test('access log: native locations label their requests; NGINX log lines become request records', async () => {
  const table = buildRouteTable([
    ing('a', { 'a.test': [['/app', 'Prefix', 'web']] }),
    ing('e', { 'e.test': [['/', 'Prefix', 'empty']] }),
  ]);
  const r = renderNginxConfig(await input(table, { logPort: 5140 }));
  assert.match(r.text, /log_format k8ts escape=json '\{"msec":"\$msec",/);
  const [a] = serverBlocks(r.text, 'a.test');
  assert.match(a, /access_log syslog:server=127\.0\.0\.1:5140,nohostname,tag=k8ts k8ts;/);
  assert.match(
    a,
    /set \$k8ts_namespace default;\s+set \$k8ts_ingress a;\s+set \$k8ts_service web;\s+set \$k8ts_path "\/app";\s+proxy_pass/,
  );
  // Requests NGINX hands to the JS proxy are logged there, not twice.
  assert.match(a, /location \/ \{\s+error_page 418 = @k8ts_h2;[\s\S]*?access_log off;/);
  // 503 without endpoints carries no route labels, as in the JS proxy's log.
  assert.doesNotMatch(serverBlocks(r.text, 'e.test')[0], /set \$k8ts_ingress e;/);
  assert.doesNotMatch(renderNginxConfig(await input(table)).text, /syslog/);

  const line =
    '<190>Dec  7 07:00:00 k8ts: {"msec":"1796626761.500","request_time":"0.250","remote_addr":"192.0.2.4","request_id":"abc","method":"GET","host":"a.test","uri":"/app/x?y=1","protocol":"HTTP/1.1","status":"200","bytes":"12","referer":"","user_agent":"curl/8","namespace":"default","ingress":"a","service":"web","path":"/app","upstream_addr":"10.0.0.1:8080, 10.0.0.2:8080","upstream_status":"502, 200","upstream_response_time":"0.010, 0.200"}';
  const rec = parseNginxLog(line);
  assert.ok(rec);
  assert.equal(rec.start.getTime(), 1796626761250);
  assert.equal(rec.durationMs, 250);
  assert.equal(rec.clientIP, '192.0.2.4');
  assert.equal(rec.url, '/app/x?y=1');
  assert.equal(rec.httpVersion, '1.1');
  assert.equal(rec.status, 200);
  assert.equal(rec.bytes, 12);
  assert.equal(rec.referer, undefined);
  assert.deepEqual(
    [rec.namespace, rec.ingress, rec.kind, rec.service, rec.path],
    ['default', 'a', 'Ingress', 'web', '/app'],
  );
  assert.equal(rec.upstreamAddr, '10.0.0.2:8080');
  assert.equal(rec.upstreamStatus, 200);
  assert.ok(Math.abs((rec.upstreamMs ?? 0) - 210) < 1e-6);
  const noRoute = parseNginxLog(
    '<190>x: {"msec":"1","request_time":"0","status":"404","ingress":"","upstream_status":"","upstream_response_time":""}',
  );
  assert.equal(noRoute?.ingress, undefined);
  assert.equal(noRoute?.upstreamStatus, undefined);
  assert.equal(noRoute?.upstreamMs, undefined);
  assert.equal(parseNginxLog('garbage'), undefined);
});

test('the render cache gives the same text; endpoint changes invalidate it', async () => {
  const table = buildRouteTable([
    ing('a', { 'a.test': [['/', 'Prefix', 'web']] }, { tls: ['a.test'] }),
    ing('w', { '*.w.test': [['/', 'Prefix', 'web']] }, { tls: ['*.w.test'] }),
    ing('x', { 'x.w.test': [['/', 'Prefix', 'web']] }),
  ]);
  const cache = new RenderCache();
  let eps = [{ address: '10.0.0.1', port: 8080 }];
  const base = await input(table, { endpoints: () => eps, logPort: 5140 });
  const plain = renderNginxConfig(base);
  assert.equal(renderNginxConfig({ ...base, cache }).text, plain.text);
  assert.equal(renderNginxConfig({ ...base, cache }).text, plain.text);
  // x.w.test has a TLS server of its own (the wildcard's certificate), so the wildcard's does not take it.
  assert.equal(serverBlocks(plain.text, 'x.w.test').filter((b) => b.includes('listen 127.0.0.1:8443 ssl')).length, 1);
  eps = [{ address: '10.0.0.9', port: 8080 }];
  assert.match(renderNginxConfig({ ...base, cache }).text, /10\.0\.0\.1:8080/, 'cached until invalidated');
  cache.invalidate();
  const fresh = renderNginxConfig({ ...base, cache });
  assert.doesNotMatch(fresh.text, /10\.0\.0\.1:8080/);
  assert.match(fresh.text, /10\.0\.0\.9:8080/);
  assert.equal(fresh.text, renderNginxConfig(base).text);
  const relay = { ...base, relay: true };
  assert.equal(
    renderNginxConfig({ ...relay, cache }).text,
    renderNginxConfig(relay).text,
    'the mode is in the cache key',
  );
  assert.equal(
    serverBlocks(renderNginxConfig(relay).text, 'x.w.test').filter((b) => b.includes('https.sock')).length,
    1,
  );
});

test('whitelist-source-range, permanent-redirect and app-root are native, in the JS proxy order', async () => {
  const table = buildRouteTable([
    ing(
      'a',
      { 'a.test': [['/', 'Prefix', 'web']] },
      {
        tls: ['a.test'],
        annotations: {
          [A + 'whitelist-source-range']: '10.0.0.0/8, 192.0.2.1',
          [A + 'permanent-redirect']: 'https://example.org/new',
          [A + 'permanent-redirect-code']: '308',
        },
      },
    ),
    ing('r', { 'r.test': [['/', 'Prefix', 'web']] }, { annotations: { [A + 'app-root']: '/app' } }),
    ing(
      'bad',
      { 'bad.test': [['/', 'Prefix', 'web']] },
      { annotations: { [A + 'whitelist-source-range']: 'nonsense' } },
    ),
    ing('var', { 'var.test': [['/', 'Prefix', 'web']] }, { annotations: { [A + 'app-root']: '/$host' } }),
    ing(
      'code',
      { 'code.test': [['/', 'Prefix', 'web']] },
      {
        annotations: { [A + 'permanent-redirect']: '/x', [A + 'permanent-redirect-code']: '300' },
      },
    ),
  ]);
  const r = renderNginxConfig(await input(table));
  assert.deepEqual(r.nativeHttp.sort(), ['a.test', 'r.test']);
  const [plain] = serverBlocks(r.text, 'a.test');
  assert.match(
    plain,
    /location \/ \{\s+if \(\$k8ts_allow_\w+ = 0\) \{ return 403; \}\s+return 308 https:\/\/\$host:8443\$request_uri;\s+return 308 "https:\/\/example\.org\/new";/,
  );
  assert.match(r.text, /geo \$k8ts_allow_\w+ \{\n\s+default 0;\n\s+10\.0\.0\.0\/8 1;\n\s+192\.0\.2\.1 1;\n\s+\}/);
  assert.match(serverBlocks(r.text, 'r.test')[0], /if \(\$k8ts_root_path\) \{ return 302 "\/app"; \}/);
  assert.match(r.text, /absolute_redirect off;/);
});

test('basic auth is native with hashes NGINX checks alike (an htpasswd file), not with plain-text lines', async () => {
  const auth = (secret: string) => ({
    [A + 'auth-type']: 'basic',
    [A + 'auth-secret']: secret,
    [A + 'auth-realm']: 'Authentication Required',
  });
  const table = buildRouteTable([
    ing('a', { 'a.test': [['/', 'Prefix', 'web']] }, { annotations: auth('hashed') }),
    ing('p', { 'p.test': [['/', 'Prefix', 'web']] }, { annotations: auth('plain') }),
    ing('m', { 'm.test': [['/', 'Prefix', 'web']] }, { annotations: auth('missing') }),
  ]);
  const users = new Map([
    ['default/hashed', new Map([['ali', md5Crypt('secret', 'abcdefgh')]])],
    ['default/plain', new Map([['bob', 'secret']])],
  ]);
  const r = renderNginxConfig(await input(table, { users }));
  assert.deepEqual(r.nativeHttp, ['a.test']);
  const [a] = serverBlocks(r.text, 'a.test');
  const file = /auth_basic_user_file \/tmp\/k8ts-nginx\/(htpasswd-\w+);/.exec(a)?.[1];
  assert.ok(file);
  assert.match(a, /auth_basic "Authentication Required";/);
  assert.equal(r.files.get(file), `ali:${md5Crypt('secret', 'abcdefgh')}\n`);
});
