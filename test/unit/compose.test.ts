// `k8ts compose convert`: the words/web/db example against its golden output, and the Compose
// rules one by one (interpolation, port and volume syntaxes, durations, sizes, restart policies,
// binds, errors).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Deployment } from 'kubernetes-types/apps/v1.js';
import type { Job } from 'kubernetes-types/batch/v1.js';
import type { Service as KubeService } from 'kubernetes-types/core/v1.js';
import { interpolate, parseCompose, parseEnvFile, parsePort, shellSplit } from '../../src/compose/load.js';
import {
  convertProject,
  cpuQuantity,
  durationSeconds,
  kubeName,
  manifestsYaml,
  memoryQuantity,
  type KubeObject,
} from '../../src/compose/convert.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const WORDS = join(ROOT, 'test', 'fixtures', 'compose', 'words');

const convert = (yaml: string, opts: Parameters<typeof convertProject>[1] = {}, env: Record<string, string> = {}) =>
  convertProject(parseCompose(yaml, join(WORDS, 'inline.yaml'), { env }), opts);
const find = <T extends KubeObject>(objects: KubeObject[], kind: string, name: string) =>
  objects.find((o) => o.kind === kind && o.metadata?.name === name) as T | undefined;

test('the words/web/db example converts to its golden manifests', () => {
  const file = join(WORDS, 'compose.yaml');
  const project = parseCompose(readFileSync(file, 'utf8'), file, { env: {} });
  const { objects, warnings } = convertProject(project, {
    serviceType: 'LoadBalancer',
    waitImage: 'k8ts.local/busybox:1.35',
  });
  assert.deepEqual(warnings, []);
  assert.equal(manifestsYaml(objects), readFileSync(join(WORDS, 'expected.yaml'), 'utf8'));
});

test('interpolation: defaults, alternatives, required values and $$', () => {
  const env = { A: 'a', EMPTY: '' };
  assert.equal(interpolate('${A} $A ${B:-b} ${EMPTY:-d} ${EMPTY-d} ${A:+alt} ${B+alt} $$A', env), 'a a b d  alt  $A');
  assert.equal(interpolate('${B:-${A}x}', env), 'ax');
  assert.throws(() => interpolate('${B:?must be set}', env), /required variable B is missing a value: must be set/);
});

test('.env files: comments, quotes, export', () => {
  assert.deepEqual(parseEnvFile('# c\nexport A=1\nB="x y"\nC=\'$z\'\nD=v # note\n\nbad'), {
    A: '1',
    B: 'x y',
    C: '$z',
    D: 'v',
  });
});

test('commands split as a shell splits words', () => {
  assert.deepEqual(shellSplit(`sh -c 'echo "hi there"' a\\ b "x\\"y"`), ['sh', '-c', 'echo "hi there"', 'a b', 'x"y']);
  assert.throws(() => shellSplit("echo 'open"), /unterminated quote/);
});

test('ports: short and long syntaxes, ranges, protocols, host IPs', () => {
  assert.deepEqual(parsePort('80'), [{ target: 80, published: undefined, hostIp: undefined, protocol: 'TCP' }]);
  assert.deepEqual(parsePort('8080:80/udp'), [{ target: 80, published: 8080, hostIp: undefined, protocol: 'UDP' }]);
  assert.deepEqual(parsePort('127.0.0.1:8080:80'), [
    { target: 80, published: 8080, hostIp: '127.0.0.1', protocol: 'TCP' },
  ]);
  assert.deepEqual(
    parsePort('9000-9001:3000-3001').map((p) => [p.published, p.target]),
    [
      [9000, 3000],
      [9001, 3001],
    ],
  );
  assert.deepEqual(parsePort({ target: 53, published: '5353', protocol: 'udp' }), [
    { target: 53, published: 5353, hostIp: undefined, protocol: 'UDP' },
  ]);
  assert.throws(() => parsePort('x:y'), /invalid port "x:y"/);
});

test('durations, memory and cpus', () => {
  assert.equal(durationSeconds('1m30s'), 90);
  assert.equal(durationSeconds('500ms'), 1);
  assert.equal(durationSeconds('2.5s'), 3);
  assert.throws(() => durationSeconds('soon'), /invalid duration/);
  assert.equal(memoryQuantity('512m'), '512Mi');
  assert.equal(memoryQuantity('1g'), '1Gi');
  assert.equal(memoryQuantity('2048'), '2048');
  assert.equal(cpuQuantity('0.25'), '250m');
  assert.equal(cpuQuantity('2'), '2');
  assert.equal(kubeName('My_Service.v2'), 'my-service-v2');
});

test('service types: published ports by the flag, NodePort keeps an in-range published port', () => {
  const yaml =
    'services:\n  a:\n    image: x\n    ports: ["30080:80", "8080:81"]\n  b:\n    image: x\n    expose: [90]\n';
  const { objects } = convert(yaml, { serviceType: 'NodePort' });
  const a = find<KubeService>(objects, 'Service', 'a');
  assert.equal(a?.spec?.type, 'NodePort');
  assert.deepEqual(
    a?.spec?.ports?.map((p) => [p.port, p.targetPort, p.nodePort]),
    [
      [30080, 80, 30080],
      [8080, 81, undefined],
    ],
  );
  assert.equal(find<KubeService>(objects, 'Service', 'b')?.spec?.type, 'ClusterIP', 'expose only: ClusterIP');
});

test('restart policies: no and on-failure run as Jobs', () => {
  const yaml =
    'services:\n  once:\n    image: x\n    restart: "no"\n  retry:\n    image: x\n    restart: on-failure:3\n  svc:\n    image: x\n    restart: unless-stopped\n';
  const { objects } = convert(yaml);
  const once = find<Job>(objects, 'Job', 'once');
  assert.equal(once?.spec?.template.spec?.restartPolicy, 'Never');
  assert.equal(once?.spec?.backoffLimit, 0);
  const retry = find<Job>(objects, 'Job', 'retry');
  assert.equal(retry?.spec?.template.spec?.restartPolicy, 'OnFailure');
  assert.equal(retry?.spec?.backoffLimit, 3);
  assert.ok(find<Deployment>(objects, 'Deployment', 'svc'));
});

test('volumes: binds become hostPath with a warning, anonymous and tmpfs emptyDir', () => {
  const yaml =
    'services:\n  a:\n    image: x\n    volumes: ["./data:/data:ro", "/cache", {type: tmpfs, target: /tmp}, "undeclared:/u"]\n';
  const { objects, warnings } = convert(yaml);
  const d = find<Deployment>(objects, 'Deployment', 'a');
  const vols = d?.spec?.template.spec?.volumes ?? [];
  assert.deepEqual(vols[0], { name: 'bind-0', hostPath: { path: join(WORDS, 'data') } });
  assert.deepEqual(vols[1], { name: 'volume-1', emptyDir: {} });
  assert.deepEqual(vols[2], { name: 'tmpfs-2', emptyDir: { medium: 'Memory' } });
  assert.deepEqual(vols[3], { name: 'undeclared', persistentVolumeClaim: { claimName: 'undeclared' } });
  assert.equal(d?.spec?.template.spec?.containers[0].volumeMounts?.[0].readOnly, true);
  assert.ok(warnings.some((w) => /bind mount .*data is a hostPath volume/.test(w)));
  assert.ok(warnings.some((w) => /volume "undeclared" .* not declared/.test(w)));
});

test('errors name the problem', () => {
  assert.throws(() => convert('services:\n  a:\n    build: .\n'), /service "a" has build but no image/);
  assert.throws(
    () => convert('services:\n  a:\n    image: x\n    depends_on: [b]\n'),
    /service "a" depends on undefined service "b"/,
  );
  assert.throws(
    () => convert('services:\n  a:\n    image: x\n    networks: [nope]\n'),
    /network "nope", which is not defined/,
  );
  assert.throws(() => convert('services:\n  a:\n    image: x\n    configs: [c]\n'), /config "c" is not defined/);
});

test('healthcheck: CMD-SHELL strings and disable', () => {
  const yaml =
    'services:\n  a:\n    image: x\n    healthcheck: {test: "wget -q localhost", interval: 5s, start_period: 10s}\n  b:\n    image: x\n    healthcheck: {disable: true, test: ["CMD", "x"]}\n';
  const { objects } = convert(yaml);
  assert.deepEqual(find<Deployment>(objects, 'Deployment', 'a')?.spec?.template.spec?.containers[0].readinessProbe, {
    exec: { command: ['sh', '-c', 'wget -q localhost'] },
    periodSeconds: 5,
    initialDelaySeconds: 10,
  });
  assert.equal(
    find<Deployment>(objects, 'Deployment', 'b')?.spec?.template.spec?.containers[0].readinessProbe,
    undefined,
  );
});
