// Incremental route compilation (src/ingress/routeindex.ts, HttpProxyIndex in httpproxy.ts): after
// any sequence of changes the table and the HTTPProxy verdicts are exactly what a compile from
// scratch gives, and one change among a thousand objects only assembles what it touches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ingress } from 'kubernetes-types/networking/v1.js';
import { DEFAULT_ROUTE_OPTIONS } from '../../src/ingress/annotations.js';
import { RouteIndex, type RouteSource } from '../../src/ingress/routeindex.js';
import { RouteTable, type Route } from '../../src/ingress/routes.js';
import {
  compileHttpProxies,
  HttpProxyIndex,
  type HTTPProxy,
  type HttpProxyContext,
} from '../../src/ingress/httpproxy.js';

/** A small deterministic generator (mulberry32): the same sequence on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTS = ['a.example', 'b.example', 'x.wild.example', '*.wild.example', ''];
const PATHS = ['/', '/api', '/api/v1', '/static'];

function randomIngress(rnd: () => number, name: string, version: number): Ingress {
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)];
  const annotations: Record<string, string> = {};
  if (rnd() < 0.15) annotations['nginx.ingress.kubernetes.io/use-regex'] = 'true';
  if (rnd() < 0.15) {
    annotations['nginx.ingress.kubernetes.io/canary'] = 'true';
    annotations['nginx.ingress.kubernetes.io/canary-weight'] = '20';
  }
  const host = pick(HOSTS);
  return {
    metadata: {
      namespace: 'default',
      name,
      uid: `${name}-${version}`,
      creationTimestamp: `2026-01-01T00:00:${String(Math.floor(rnd() * 60)).padStart(2, '0')}Z`,
      annotations,
    },
    spec: {
      ...(rnd() < 0.2 ? { defaultBackend: { service: { name: `${name}-default`, port: { number: 80 } } } } : {}),
      ...(rnd() < 0.3 && host ? { tls: [{ hosts: [host], secretName: `${name}-tls` }] } : {}),
      rules: [
        {
          ...(host ? { host } : {}),
          http: {
            paths: Array.from({ length: 1 + Math.floor(rnd() * 2) }, () => ({
              path: pick(PATHS),
              pathType: pick(['Exact', 'Prefix', 'ImplementationSpecific']),
              backend: { service: { name: `${name}-v${version}`, port: { number: 80 } } },
            })),
          },
        },
      ],
    },
  };
}

/** What a table answers, as comparable text: the route of each probe request and the problems. */
function answers(t: RouteTable): string {
  const show = (r: Route | undefined) =>
    r && `${r.ingress.name} ${r.path} ${r.backend.service} tls=${r.tls} canaries=${r.canaries.length}`;
  const out: unknown[] = [];
  for (const host of ['a.example', 'b.example', 'x.wild.example', 'y.wild.example', 'other.example'])
    for (const path of ['/', '/api', '/api/v1/x', '/static/y', '/nothing'])
      out.push(`${host}${path} -> ${show(t.match(host, path)?.route)}`);
  out.push([...t.tls].map(([h, e]) => `${h}:${e.secret.name}`).sort());
  out.push(t.problems.map((p) => `${p.ingress.name} ${p.reason} ${p.message}`).sort());
  out.push([...t.secretsUsed].sort(), t.routes.length);
  return JSON.stringify(out, null, 1);
}

test('after every change the incremental table answers as a table built from scratch', () => {
  const rnd = random(12);
  const ingresses = new Map<string, Ingress>();
  for (let i = 0; i < 40; i++) ingresses.set(`ing-${i}`, randomIngress(rnd, `ing-${i}`, 0));
  const source = (v: number): RouteSource => ({
    id: 'HTTPProxy|default/root',
    rank: 1,
    created: '',
    routes: [
      {
        ingress: { namespace: 'default', name: 'root' },
        kind: 'HTTPProxy',
        host: v % 2 ? 'a.example' : 'b.example',
        path: '/static',
        pathType: 'StringPrefix',
        backend: { namespace: 'default', service: `proxy-v${v}`, port: { number: 80 } },
        options: DEFAULT_ROUTE_OPTIONS,
        tls: false,
        canaries: [],
      },
    ],
    tls:
      v % 3
        ? []
        : [
            {
              host: '*.wild.example',
              entry: {
                ingress: { namespace: 'default', name: 'root' },
                secret: { namespace: 'default', name: 'wild' },
              },
            },
          ],
  });
  const index = new RouteIndex();
  let src = source(0);
  for (let step = 0; step < 150; step++) {
    const name = `ing-${Math.floor(rnd() * 50)}`;
    const roll = rnd();
    if (roll < 0.3) ingresses.delete(name);
    else if (roll < 0.9) ingresses.set(name, randomIngress(rnd, name, step + 1));
    else src = source(step);
    const list = [...ingresses.values()];
    const incremental = index.update(list, [src]);
    const full = new RouteIndex().update(list, [src]);
    assert.equal(answers(incremental), answers(full), `step ${step}`);
  }
});

test('one changed Ingress among a thousand assembles only its own host', () => {
  const ingresses = Array.from({ length: 1000 }, (_, i): Ingress => ({
    metadata: { namespace: 'default', name: `i-${i}`, creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      rules: [
        {
          host: `i-${i}.example`,
          http: {
            paths: [{ path: '/', pathType: 'Prefix', backend: { service: { name: 's', port: { number: 80 } } } }],
          },
        },
      ],
    },
  }));
  const index = new RouteIndex();
  const before = index.update(ingresses, []);
  assert.equal(index.lastAssembled, 1000);
  const changed = structuredClone(ingresses[500]);
  changed.spec!.rules![0].http!.paths[0].backend.service!.name = 'other';
  const after = index.update([...ingresses.slice(0, 500), changed, ...ingresses.slice(501)], []);
  assert.equal(index.lastAssembled, 1, 'only i-500.example is assembled again');
  assert.equal(after.match('i-500.example', '/')?.route.backend.service, 'other');
  assert.equal(before.match('i-500.example', '/')?.route.backend.service, 's', 'the old table is untouched');
  assert.equal(after.match('i-7.example', '/')?.route.backend.service, 's');
  assert.equal(index.update([...ingresses.slice(0, 500), changed, ...ingresses.slice(501)], []), after);
});

const ctx: HttpProxyContext = {
  rootNamespaces: ['root-ns', 'other'],
  delegations: [],
  serviceExists: (_ns, name) => !name.startsWith('missing'),
  secretExists: () => true,
};

function randomProxy(rnd: () => number, name: string, version: number): HTTPProxy {
  const pick = <T>(list: readonly T[]) => list[Math.floor(rnd() * list.length)];
  const root = rnd() < 0.4;
  return {
    metadata: {
      namespace: pick(['root-ns', 'team', 'other']),
      name,
      uid: `${name}-${version}`,
      generation: 1,
      creationTimestamp: `2026-01-01T00:00:${String(Math.floor(rnd() * 60)).padStart(2, '0')}Z`,
    },
    spec: {
      ...(root ? { virtualhost: { fqdn: pick(['one.example', 'two.example', 'three.example', '']) } } : {}),
      routes:
        rnd() < 0.8
          ? [
              {
                conditions: [{ prefix: pick(['/', '/x', '/y']) }],
                services: [{ name: pick(['svc', 'missing']), port: 80 }],
              },
            ]
          : [],
      includes: Array.from({ length: Math.floor(rnd() * 3) }, () => ({
        name: `p-${Math.floor(rnd() * 12)}`,
        namespace: pick(['root-ns', 'team', 'other']),
        conditions: [{ prefix: pick(['/a', '/b']) }],
      })),
    },
  };
}

test('after every change the HTTPProxy index gives the verdicts and routes of a full compile', () => {
  const rnd = random(7);
  const proxies = new Map<string, HTTPProxy>();
  for (let i = 0; i < 12; i++) proxies.set(`p-${i}`, randomProxy(rnd, `p-${i}`, 0));
  const index = new HttpProxyIndex();
  const describe = (routes: Route[]) =>
    routes
      .map((r) => `${r.ingress.namespace}/${r.ingress.name} ${r.host}${r.path} ${r.backend.service} ${r.directStatus}`)
      .sort();
  for (let step = 0; step < 300; step++) {
    const name = `p-${Math.floor(rnd() * 12)}`;
    const roll = rnd();
    if (roll < 0.2) proxies.delete(name);
    else if (roll < 0.9) proxies.set(name, randomProxy(rnd, name, step + 1));
    else {
      // A status write: a new object, same uid and generation, same routes.
      const p = proxies.get(name);
      if (p) proxies.set(name, { ...p, status: { currentStatus: 'valid' } });
    }
    const list = [...proxies.values()];
    index.update(list, ctx, false);
    const full = compileHttpProxies(list, ctx);
    assert.deepEqual(new Map([...index.verdicts].sort()), new Map([...full.verdicts].sort()), `step ${step}`);
    assert.deepEqual(describe(index.sources().flatMap((s) => s.routes)), describe(full.routes), `step ${step}`);
  }
});

test('a new root among a thousand compiles only itself', () => {
  const root = (i: number): HTTPProxy => ({
    metadata: {
      namespace: 'root-ns',
      name: `r-${i}`,
      uid: `u-${i}`,
      generation: 1,
      creationTimestamp: '2026-01-01T00:00:00Z',
    },
    spec: { virtualhost: { fqdn: `r-${i}.example` }, routes: [{ services: [{ name: 'svc', port: 80 }] }] },
  });
  const proxies = Array.from({ length: 1000 }, (_, i) => root(i));
  const index = new HttpProxyIndex();
  assert.equal(index.update(proxies, ctx, false).size, 1000);
  const first = new Set(index.sources());
  const affected = index.update([...proxies, root(1000)], ctx, false);
  assert.deepEqual([...affected], ['root-ns/r-1000']);
  const fresh = index.sources().filter((s) => !first.has(s));
  assert.deepEqual(
    fresh.map((s) => s.id),
    ['HTTPProxy|root-ns/r-1000'],
    'the other roots keep their compiled sources',
  );
  assert.equal(index.verdicts.get('root-ns/r-1000')?.currentStatus, 'valid');
  // A full pass (a Service or Secret changed) also forgets proxies deleted meanwhile.
  index.update(proxies.slice(1), ctx, true);
  assert.equal(index.verdicts.has('root-ns/r-0'), false);
  assert.equal(index.verdicts.size, 999);
});
