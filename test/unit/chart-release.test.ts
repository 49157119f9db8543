// Release records in Helm 3's encoding, chart archives written and read back, the rendering
// a release stores, helm's flag parsing and the --wait readiness rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeRelease,
  encodeRelease,
  storedChart,
  valuesJson,
  ZERO_TIME,
  type Release,
} from '../../src/chart/release/release.js';
import { readTarGz, writeTarGz } from '../../src/chart/tar.js';
import { packageChart } from '../../src/chart/release/repo.js';
import { loadArchive, loadChart } from '../../src/chart/chart.js';
import { renderRelease } from '../../src/chart/release/render.js';
import { parseFlags, parseTimeout } from '../../src/chart/release/command.js';
import { readiness } from '../../src/chart/release/ready.js';
import type { KubeObject } from '../../src/chart/release/kube.js';

const EXAMPLE = join(resolve(fileURLToPath(new URL('../../..', import.meta.url))), 'examples', 'chart');

test('a release encodes as base64(gzip(JSON)) in Helm 3 shape and decodes back', () => {
  const chart = loadChart(EXAMPLE);
  const rel: Release = {
    name: 'hello',
    namespace: 'default',
    version: 1,
    info: {
      first_deployed: 'x',
      last_deployed: 'x',
      deleted: ZERO_TIME,
      status: 'deployed',
      description: 'Install complete',
    },
    chart: storedChart(chart),
    config: { replicas: 3n },
    manifest: '---\n# Source: hello/templates/service.yaml\n',
    hooks: [],
  };
  const text = encodeRelease(rel);
  const raw = Buffer.from(text, 'base64');
  assert.deepEqual([...raw.subarray(0, 3)], [0x1f, 0x8b, 0x08]);
  const json = JSON.parse(gunzipSync(raw).toString('utf8')) as {
    chart: { metadata: unknown; templates: { name: string; data: string }[] };
    config: { replicas: number };
  };
  // Go's field order; empty hooks are omitted (omitempty).
  assert.deepEqual(Object.keys(json), ['name', 'info', 'chart', 'config', 'manifest', 'version', 'namespace']);
  assert.deepEqual(Object.keys(json.chart), ['metadata', 'lock', 'templates', 'values', 'schema', 'files']);
  assert.deepEqual(json.chart.metadata, {
    apiVersion: 'v2',
    name: 'hello',
    description: 'A small chart for the tour (k8ts chart template renders it without Helm)',
    type: 'application',
    version: '0.1.0',
    appVersion: '1.35',
  });
  // Go's []byte: base64 file contents.
  const tpl = json.chart.templates.find((t) => t.name === 'templates/service.yaml')!;
  assert.match(Buffer.from(tpl.data, 'base64').toString(), /^apiVersion: v1\nkind: Service/);
  assert.equal(json.config.replicas, 3);
  assert.equal(decodeRelease(text).name, 'hello');
  // Helm also reads records that are not gzipped.
  assert.equal(decodeRelease(Buffer.from(valuesJson(rel)).toString('base64')).version, 1);
});

test('chart archives: written with NAME/ paths, long names in the ustar prefix, read back', () => {
  const long = `a/${'b'.repeat(90)}/${'c'.repeat(60)}.yaml`;
  const tgz = writeTarGz([
    { name: 'x/Chart.yaml', data: Buffer.from('hi') },
    { name: long, data: Buffer.alloc(1000, 7) },
  ]);
  const back = readTarGz(tgz);
  assert.deepEqual(
    back.map((e) => [e.name, e.data.length]),
    [
      ['x/Chart.yaml', 2],
      [long, 1000],
    ],
  );
  const pkg = packageChart(EXAMPLE, { version: '0.3.0' });
  assert.equal(pkg.filename, 'hello-0.3.0.tgz');
  const names = readTarGz(pkg.data).map((e) => e.name);
  assert.deepEqual(names.sort(), [
    'hello/Chart.yaml',
    'hello/templates/_helpers.tpl',
    'hello/templates/deployment.yaml',
    'hello/templates/service.yaml',
    'hello/values.yaml',
  ]);
  assert.equal(loadArchive(pkg.data).metadata.version, '0.3.0');
});

test('release rendering: manifest in install order without hooks, hooks with weights and policies, notes', () => {
  const chart = loadArchive(
    writeTarGz([
      { name: 'c/Chart.yaml', data: Buffer.from('apiVersion: v2\nname: c\nversion: 1.0.0\n') },
      {
        name: 'c/templates/a.yaml',
        data: Buffer.from(
          'kind: Service\napiVersion: v1\nmetadata: {name: s}\n---\nkind: Namespace\napiVersion: v1\nmetadata: {name: n}\n' +
            '---\nkind: Job\napiVersion: batch/v1\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: post-install\n    helm.sh/hook-weight: "-3"\n    helm.sh/hook-delete-policy: hook-succeeded,hook-failed\n',
        ),
      },
      { name: 'c/templates/NOTES.txt', data: Buffer.from('rev {{ .Release.Revision }} of {{ .Release.Name }}') },
    ]),
  );
  const r = renderRelease({ chart, config: {}, name: 'rel', namespace: 'ns', revision: 7, isUpgrade: true });
  assert.equal(
    r.manifest,
    '---\n# Source: c/templates/a.yaml\nkind: Namespace\napiVersion: v1\nmetadata: {name: n}\n---\n# Source: c/templates/a.yaml\nkind: Service\napiVersion: v1\nmetadata: {name: s}\n',
  );
  assert.equal(r.notes, 'rev 7 of rel');
  assert.deepEqual(
    r.hooks.map((h) => [h.name, h.kind, h.path, h.events, h.weight, h.delete_policies, h.last_run.phase]),
    [['j', 'Job', 'c/templates/a.yaml', ['post-install'], -3, ['hook-succeeded', 'hook-failed'], '']],
  );
});

test("helm's flags: short aliases, repeated values, inline values; Go durations", () => {
  const p = parseFlags(['x', '-n', 'ns', '-f', 'a.yaml', '--set=a=1', '--set', 'b=2', '-i', '--wait', '-oyaml']);
  assert.deepEqual(p.args, ['x']);
  assert.deepEqual(p.flags.get('--namespace'), ['ns']);
  assert.deepEqual(p.flags.get('--values'), ['a.yaml']);
  assert.deepEqual(p.flags.get('--set'), ['a=1', 'b=2']);
  assert.deepEqual(p.flags.get('--install'), ['true']);
  assert.deepEqual(p.flags.get('--output'), ['yaml']);
  assert.equal(parseTimeout('5m0s'), 300_000);
  assert.equal(parseTimeout('1m30s'), 90_000);
  assert.equal(parseTimeout(undefined), 300_000);
  assert.throws(() => parseTimeout('soon'), /invalid argument "soon" for "--timeout" flag/);
});

test('--wait readiness follows Helm: Deployments by available replicas, Jobs by completions, PVCs bound', () => {
  const deploy = (status: object, spec: object = {}): KubeObject => ({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'd', generation: 2 },
    spec: { replicas: 4, ...spec },
    status,
  });
  assert.equal(readiness(deploy({ observedGeneration: 1, updatedReplicas: 4, availableReplicas: 4 })).ready, false);
  // maxUnavailable 25% of 4 = 1: three available replicas are enough.
  assert.equal(readiness(deploy({ observedGeneration: 2, updatedReplicas: 4, availableReplicas: 3 })).ready, true);
  assert.equal(readiness(deploy({ observedGeneration: 2, updatedReplicas: 4, availableReplicas: 2 })).ready, false);
  assert.equal(
    readiness(
      deploy({ observedGeneration: 2, updatedReplicas: 4, availableReplicas: 3 }, { strategy: { type: 'Recreate' } }),
    ).ready,
    false,
  );
  const job = (status: object): KubeObject => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j' },
    spec: {},
    status,
  });
  assert.equal(readiness(job({ succeeded: 1 })).ready, true);
  assert.equal(
    readiness(job({ conditions: [{ type: 'Failed', status: 'True', message: 'BackoffLimitExceeded' }] })).failed,
    true,
  );
  const pvc = (phase: string): KubeObject => ({
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'p' },
    status: { phase },
  });
  assert.equal(readiness(pvc('Pending')).ready, false);
  assert.equal(readiness(pvc('Bound')).ready, true);
  assert.equal(readiness({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }).ready, true);
});
