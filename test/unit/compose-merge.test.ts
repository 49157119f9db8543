// Compose files combined: several -f files (later ones override), `extends` (same file and
// another file, chains, cycles) and `profiles` (with $COMPOSE_PROFILES and dependencies).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseComposeFiles } from '../../src/compose/load.js';

function project(files: Record<string, string>, opts: Parameters<typeof parseComposeFiles>[1] = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'k8ts-compose-merge-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    const main = Object.keys(files).filter((n) => n.startsWith('compose'));
    return parseComposeFiles(
      main.map((n) => ({ path: join(dir, n), text: files[n] })),
      { env: {}, ...opts },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('several files: maps merge, environment by key, mounts by target, ports appended, command replaced', () => {
  const p = project({
    'compose.yaml': `services:
  web:
    image: web:1
    command: ["serve", "--slow"]
    environment: [A=1, B=2]
    ports: ["8080:80"]
    volumes: ["data:/data", "./conf:/etc/conf:ro"]
    labels: { tier: front }
volumes: { data: {} }
`,
    'compose.override.yaml': `services:
  web:
    image: web:2
    command: serve
    environment: { B: "3", C: "4" }
    ports: ["9090:90"]
    volumes: ["other:/data"]
  db:
    image: db:1
volumes: { other: {} }
`,
  });
  const web = p.services.find((s) => s.name === 'web')!;
  assert.equal(web.image, 'web:2');
  assert.deepEqual(web.command, ['serve']);
  assert.deepEqual(web.environment, { A: '1', B: '3', C: '4' });
  assert.deepEqual(
    web.ports.map((x) => `${x.published}:${x.target}`),
    ['8080:80', '9090:90'],
  );
  assert.deepEqual(
    web.volumes.map((v) => `${v.type}:${v.target}:${v.type === 'volume' ? v.source : ''}`),
    ['volume:/data:other', 'bind:/etc/conf:'],
  );
  assert.deepEqual(web.labels, { tier: 'front' });
  assert.deepEqual(Object.keys(p.volumes).sort(), ['data', 'other']);
  assert.deepEqual(
    p.services.map((s) => s.name),
    ['db', 'web'],
  );
  assert.deepEqual(web.ignored, []);
});

test('extends: from the same file and from another, chained; own keys win; cycles refused', () => {
  const p = project({
    'compose.yaml': `services:
  base:
    image: app:1
    environment: { LEVEL: info, SHARED: "yes" }
  worker:
    extends: base
    command: work
    environment: { LEVEL: debug }
  remote:
    extends: { file: common.yaml, service: tuned }
`,
    'common.yaml': `services:
  root:
    image: common:1
    ports: ["80"]
  tuned:
    extends: root
    environment: [TUNED=1]
`,
  });
  const worker = p.services.find((s) => s.name === 'worker')!;
  assert.equal(worker.image, 'app:1');
  assert.deepEqual(worker.command, ['work']);
  assert.deepEqual(worker.environment, { LEVEL: 'debug', SHARED: 'yes' });
  const remote = p.services.find((s) => s.name === 'remote')!;
  assert.equal(remote.image, 'common:1');
  assert.deepEqual(remote.environment, { TUNED: '1' });
  assert.equal(remote.ports[0].target, 80);
  assert.throws(
    () => project({ 'compose.yaml': 'services:\n  a: { extends: b, image: x }\n  b: { extends: a }\n' }),
    /circular reference with extends in service "a"/,
  );
  assert.throws(() => project({ 'compose.yaml': 'services:\n  a: { extends: nope }\n' }), /service not found/);
});

test('profiles: services of inactive profiles are left out; a dependency on one of them is refused', () => {
  const files = {
    'compose.yaml': `services:
  web: { image: web }
  db: { image: db, profiles: [storage] }
  debug: { image: busybox, profiles: [debug] }
  tools: { image: tools, profiles: [ops, debug] }
`,
  };
  const names = (p: ReturnType<typeof project>) => p.services.map((s) => s.name);
  assert.deepEqual(names(project(files)), ['web']);
  assert.deepEqual(names(project(files, { profiles: ['debug'] })), ['debug', 'tools', 'web']);
  assert.deepEqual(names(project(files, { env: { COMPOSE_PROFILES: 'ops,storage' } })), ['db', 'tools', 'web']);
  assert.deepEqual(names(project(files, { profiles: ['*'] })), ['db', 'debug', 'tools', 'web']);
  assert.throws(
    () =>
      project({
        'compose.yaml': 'services:\n  web: { image: w, depends_on: [db] }\n  db: { image: d, profiles: [x] }\n',
      }),
    /service "db" was pulled in as dependency of service "web" but is not enabled by the active profiles/,
  );
});
