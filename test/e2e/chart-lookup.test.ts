// Issue 14: Helm's `lookup` against the cluster. install and upgrade (and --dry-run=server) query
// the live objects, so a chart can keep a generated password across upgrades, the use most
// charts make of it; `chart template` and a client-side --dry-run render empty maps; errors
// other than not-found fail the render as Helm's do.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { K8TS_BIN, run, startCluster, type Cluster, type RunResult } from './harness.js';

let cluster: Cluster;
let work: string;
let chartDir: string;

function chart(args: string[]): Promise<RunResult> {
  return run(process.execPath, [K8TS_BIN, 'chart', ...args], {
    env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
    timeoutMs: 120_000,
  });
}

async function ok(args: string[]): Promise<string> {
  const r = await chart(args);
  assert.equal(r.code, 0, `k8ts chart ${args.join(' ')}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

const files: Record<string, string> = {
  'Chart.yaml': 'apiVersion: v2\nname: keeper\nversion: 0.1.0\n',
  'values.yaml': 'generation: 1\n',
  // The password is generated once, then read back from the live Secret on every upgrade.
  'templates/secret.yaml': `{{- $live := lookup "v1" "Secret" .Release.Namespace (printf "%s-auth" .Release.Name) }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ .Release.Name }}-auth
data:
  password: {{ if $live }}{{ $live.data.password }}{{ else }}{{ randAlphaNum 24 | b64enc }}{{ end }}
`,
  'templates/facts.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-facts
data:
  generation: {{ .Values.generation | quote }}
  namespaceKind: {{ (lookup "v1" "Namespace" "" "default").kind | default "none" | quote }}
  namespaces: {{ len ((lookup "v1" "Namespace" "" "").items | default list) | quote }}
  missing: {{ lookup "v1" "ConfigMap" .Release.Namespace "no-such-map" | toJson | quote }}
{{- if .Values.unknownGroup }}
  unknown: {{ lookup "nope.example.com/v1" "Thing" "" "" | toJson | quote }}
{{- end }}
`,
};

before(async () => {
  cluster = await startCluster();
  work = mkdtempSync(join(tmpdir(), 'k8ts-lookup-'));
  chartDir = join(work, 'keeper');
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(chartDir, name, '..'), { recursive: true });
    writeFileSync(join(chartDir, name), text);
  }
});

after(async () => {
  await cluster?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function password(): Promise<string> {
  const s = JSON.parse(await cluster.k(['get', 'secret', '-n', 'keep', 'db-auth', '-o', 'json'])) as {
    data: { password: string };
  };
  return Buffer.from(s.data.password, 'base64').toString('utf8');
}

async function facts(): Promise<Record<string, string>> {
  return (
    JSON.parse(await cluster.k(['get', 'configmap', '-n', 'keep', 'db-facts', '-o', 'json'])) as {
      data: Record<string, string>;
    }
  ).data;
}

test('install and upgrade see the live objects: a generated password survives upgrades', async () => {
  await ok(['install', 'db', chartDir, '-n', 'keep', '--create-namespace']);
  const first = await password();
  assert.match(first, /^[A-Za-z0-9]{24}$/);
  const installed = await facts();
  assert.equal(installed.namespaceKind, 'Namespace');
  assert.ok(Number(installed.namespaces) >= 2, `namespaces listed: ${installed.namespaces}`);
  assert.equal(installed.missing, '{}');

  await ok(['upgrade', 'db', chartDir, '-n', 'keep', '--set', 'generation=2']);
  assert.equal((await facts()).generation, '2');
  assert.equal(await password(), first, 'the upgrade kept the password it looked up');
  await ok(['upgrade', 'db', chartDir, '-n', 'keep', '--set', 'generation=3']);
  assert.equal(await password(), first);

  // A server-side dry run looks up too; a client-side one renders empty maps.
  const server = await ok(['upgrade', 'db', chartDir, '-n', 'keep', '--dry-run=server']);
  assert.match(server, /namespaceKind: "Namespace"/);
  assert.ok(server.includes(`password: ${Buffer.from(first).toString('base64')}`), server);
  const client = await ok(['upgrade', 'db', chartDir, '-n', 'keep', '--dry-run']);
  assert.match(client, /namespaceKind: "none"/);
  assert.match(client, /namespaces: "0"/);
});

test('chart template renders lookup as an empty map', async () => {
  const out = await ok(['template', 'db', chartDir, '-n', 'keep']);
  assert.match(out, /namespaceKind: "none"/);
  assert.match(out, /namespaces: "0"/);
  assert.match(out, /missing: "\{\}"/);
});

test('chart template --dry-run=server looks up (Helm 3.13+); bad --dry-run values are refused', async () => {
  const out = await ok(['template', 'db', chartDir, '-n', 'keep', '--dry-run=server']);
  assert.match(out, /namespaceKind: "Namespace"/);
  assert.ok(Number(/namespaces: "(\d+)"/.exec(out)?.[1]) >= 2, out);
  assert.ok(out.includes(`password: ${Buffer.from(await password()).toString('base64')}`), out);
  // Bare --dry-run is client-side: empty maps.
  assert.match(await ok(['template', 'db', chartDir, '-n', 'keep', '--dry-run']), /namespaceKind: "none"/);
  const bad = await chart(['template', 'db', chartDir, '--dry-run=maybe']);
  assert.equal(bad.code, 1);
  assert.match(
    bad.stderr,
    /^Error: Invalid dry-run flag\. Flag must one of the following: false, true, none, client, server/,
  );
});

test('a lookup of a group the server does not serve fails the render as Helm does', async () => {
  const r = await chart(['upgrade', 'db', chartDir, '-n', 'keep', '--set', 'unknownGroup=true']);
  assert.equal(r.code, 1, r.stdout);
  assert.match(
    r.stderr,
    /^Error: UPGRADE FAILED: template: keeper\/templates\/facts\.yaml:\d+:\d+: executing "keeper\/templates\/facts\.yaml" at <lookup "nope\.example\.\.\.>: error calling lookup: unable to get apiresource from unstructured: nope\.example\.com\/v1, Kind=Thing: the server could not find the requested resource/,
  );
});
