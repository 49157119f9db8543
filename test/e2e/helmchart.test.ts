// Issue 14 item 3: the HelmChart controller (k3s's helm.cattle.io/v1 CRDs, releases installed in
// the server without a Job pod) and auto-deployed manifests in DATA/server/manifests.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { K8TS_BIN, run, startCluster, until, type Cluster } from './harness.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));

/** What the tests read of objects kubectl prints as JSON. */
interface Obj {
  metadata: { finalizers?: string[]; labels: Record<string, string>; annotations: Record<string, string> };
  spec: { source: string; checksum: string; colour?: string };
  status?: { releaseRevision?: string; conditions?: { type: string; reason?: string; message: string }[] };
}
const parsed = (text: string) => JSON.parse(text) as Obj;

let cluster: Cluster;
let chartContent: string;
let work: string;

async function chart(args: string[]): Promise<string> {
  const r = await run(process.execPath, [K8TS_BIN, 'chart', ...args], {
    env: { ...process.env, KUBECONFIG: cluster.kubeconfig },
  });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const replicas = async (ns: string, name = 'hello') =>
  (await cluster.kubectl(['get', 'deployment', '-n', ns, name, '-o', 'jsonpath={.spec.replicas}'])).stdout;

before(async () => {
  // A file skipped by --disable, present before the server starts.
  const dataDir = mkdtempSync(join(tmpdir(), 'k8ts-helmchart-'));
  const manifests = join(dataDir, 'server', 'manifests');
  await run('mkdir', ['-p', manifests]);
  writeFileSync(
    join(manifests, 'unwanted.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: unwanted\n  namespace: default\n',
  );
  cluster = await startCluster({ dataDir, args: ['--disable', 'unwanted'] });
  work = mkdtempSync(join(tmpdir(), 'k8ts-helmchart-work-'));
  await chart(['package', join(ROOT, 'examples', 'chart'), '-d', work]);
  chartContent = readFileSync(join(work, 'hello-0.1.0.tgz')).toString('base64');
});

after(async () => {
  await cluster?.cleanup();
  rmSync(cluster.dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
});

test('a HelmChart installs its chart as a release, upgrades on valuesContent/HelmChartConfig, uninstalls on delete', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: hello
  namespace: kube-system
spec:
  targetNamespace: web
  createNamespace: true
  chartContent: ${chartContent}
  valuesContent: |-
    replicas: 3
  set:
    greeting: bonjour
`,
  );
  await until('release deployed', async () => (await replicas('web')) === '3');
  const env = await cluster.k([
    'get',
    'deployment',
    '-n',
    'web',
    'hello',
    '-o',
    'jsonpath={.spec.template.spec.containers[0].env[0].value}',
  ]);
  assert.equal(env, 'BONJOUR');
  const hc = parsed(await cluster.k(['get', 'helmchart', '-n', 'kube-system', 'hello', '-o', 'json']));
  assert.deepEqual(hc.metadata.finalizers, ['wrangler.cattle.io/on-helm-chart-remove']);
  await until('status written', async () => {
    const s = parsed(await cluster.k(['get', 'helmchart', '-n', 'kube-system', 'hello', '-o', 'json'])).status;
    return s?.releaseRevision === '1' && s.conditions?.[0]?.reason === 'Installed';
  });
  const events = await cluster.k([
    'get',
    'events',
    '-n',
    'kube-system',
    '--field-selector',
    'involvedObject.name=hello',
  ]);
  assert.match(
    events,
    /Installed\s+helmchart\/hello\s+Installed release hello revision 1 \(chart hello-0\.1\.0\) in namespace web/,
  );
  // The real release record: helm (and k8ts chart) see it.
  assert.match(await chart(['list', '-n', 'web']), /\nhello\s*\tweb\s*\t1\s*\t.+\tdeployed\s*\thello-0\.1\.0\t1\.35/);

  await cluster.k([
    'patch',
    'helmchart',
    '-n',
    'kube-system',
    'hello',
    '--type',
    'merge',
    '-p',
    '{"spec":{"valuesContent":"replicas: 2\\n"}}',
  ]);
  await until('upgraded by valuesContent', async () => (await replicas('web')) === '2');
  await cluster.k(
    ['apply', '-f', '-'],
    'apiVersion: helm.cattle.io/v1\nkind: HelmChartConfig\nmetadata:\n  name: hello\n  namespace: kube-system\nspec:\n  valuesContent: |-\n    replicas: 4\n',
  );
  await until('upgraded by HelmChartConfig', async () => (await replicas('web')) === '4');
  const history = JSON.parse(await chart(['history', 'hello', '-n', 'web', '-o', 'json'])) as { status: string }[];
  assert.deepEqual(
    history.map((h) => h.status),
    ['superseded', 'superseded', 'deployed'],
  );

  await cluster.k(['delete', 'helmchart', '-n', 'kube-system', 'hello', '--wait=true']);
  assert.equal(await replicas('web'), '');
  assert.equal(await cluster.k(['get', 'secret', '-n', 'web', '-l', 'owner=helm', '-o', 'name']), '');
});

test('a bad HelmChart reports a Failed condition and a Warning event', async () => {
  await cluster.k(
    ['apply', '-f', '-'],
    'apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: broken\n  namespace: default\nspec:\n  chart: nowhere\n',
  );
  await until('failure reported', async () => {
    const s = parsed(await cluster.k(['get', 'helmchart', 'broken', '-o', 'json'])).status;
    return s?.conditions?.[0]?.type === 'Failed' && /needs spec\.repo/.test(s.conditions[0].message);
  });
  assert.match(
    await cluster.k(['get', 'events', '--field-selector', 'involvedObject.name=broken']),
    /Warning\s+InstallFailed/,
  );
  await cluster.k(['delete', 'helmchart', 'broken']);
});

test('files in DATA/server/manifests are applied, kept in sync and removed with the file; --disable skips one', async () => {
  const dir = join(cluster.dataDir, 'server', 'manifests');
  const file = join(dir, 'site.yaml');
  writeFileSync(
    file,
    `apiVersion: v1
kind: ConfigMap
metadata:
  name: site-a
  namespace: default
data: { colour: red }
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: site-b
  namespace: default
---
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: filed
  namespace: kube-system
spec:
  chartContent: ${chartContent}
  targetNamespace: default
`,
  );
  await until('file applied', async () => (await cluster.kubectl(['get', 'configmap', 'site-b'])).code === 0);
  const a = parsed(await cluster.k(['get', 'configmap', 'site-a', '-o', 'json']));
  assert.equal(a.metadata.annotations['objectset.rio.cattle.io/owner-name'], 'site');
  assert.equal(a.metadata.annotations['objectset.rio.cattle.io/owner-gvk'], 'k3s.cattle.io/v1, Kind=Addon');
  const addon = parsed(await cluster.k(['get', 'addons.k3s.cattle.io', '-n', 'kube-system', 'site', '-o', 'json']));
  assert.equal(addon.spec.source, file);
  assert.match(addon.spec.checksum, /^[0-9a-f]{64}$/);
  await until('chart from the file installed', async () => (await replicas('default', 'filed')) === '2');

  // Edited: site-b dropped, site-a changed.
  writeFileSync(
    file,
    readFileSync(file, 'utf8')
      .replace('colour: red', 'colour: blue')
      .replace('---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: site-b\n  namespace: default\n', ''),
  );
  await until('edit applied', async () => (await cluster.kubectl(['get', 'configmap', 'site-b'])).code !== 0);
  assert.equal(await cluster.k(['get', 'configmap', 'site-a', '-o', 'jsonpath={.data.colour}']), 'blue');

  rmSync(file);
  await until('file removed', async () => (await cluster.kubectl(['get', 'configmap', 'site-a'])).code !== 0);
  await until('its chart uninstalled', async () => (await replicas('default', 'filed')) === '');
  assert.notEqual((await cluster.kubectl(['get', 'addons.k3s.cattle.io', '-n', 'kube-system', 'site'])).code, 0);

  // --disable unwanted: never deployed.
  assert.notEqual((await cluster.kubectl(['get', 'configmap', 'unwanted'])).code, 0);
});

test("a HelmChart's templates look up live objects with the controller's identity (lookup is not empty)", async () => {
  // A chart reading a Secret, then (in a second lookup named by the first one's answer) a
  // ConfigMap: the controller renders again until no lookup is left unanswered.
  const dir = join(work, 'looker');
  const files: Record<string, string> = {
    'Chart.yaml': 'apiVersion: v2\nname: looker\nversion: 0.1.0\n',
    'templates/copy.yaml': `{{- $s := lookup "v1" "Secret" .Release.Namespace "source" }}
{{- $next := $s.data.next | default "" | b64dec }}
{{- $cm := lookup "v1" "ConfigMap" .Release.Namespace $next }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: copied
data:
  token: {{ $s.data.token | default "" | b64dec | quote }}
  colour: {{ $cm.data.colour | default "none" | quote }}
  nodes: {{ (lookup "v1" "Namespace" "" "").items | len | quote }}
`,
  };
  for (const [name, text] of Object.entries(files)) {
    await run('mkdir', ['-p', join(dir, name, '..')]);
    writeFileSync(join(dir, name), text);
  }
  await chart(['package', dir, '-d', work]);
  const content = readFileSync(join(work, 'looker-0.1.0.tgz')).toString('base64');
  await cluster.k(['create', 'namespace', 'looks']);
  await cluster.k([
    'create',
    'secret',
    'generic',
    'source',
    '-n',
    'looks',
    '--from-literal=token=s3cret',
    '--from-literal=next=palette',
  ]);
  await cluster.k(['create', 'configmap', 'palette', '-n', 'looks', '--from-literal=colour=teal']);
  await cluster.k(
    ['apply', '-f', '-'],
    `apiVersion: helm.cattle.io/v1\nkind: HelmChart\nmetadata:\n  name: looker\n  namespace: looks\nspec:\n  chartContent: ${content}\n`,
  );
  await until(
    'chart installed',
    async () => (await cluster.kubectl(['get', 'configmap', 'copied', '-n', 'looks'])).code === 0,
  );
  const data = (
    JSON.parse(await cluster.k(['get', 'configmap', 'copied', '-n', 'looks', '-o', 'json'])) as {
      data: Record<string, string>;
    }
  ).data;
  assert.equal(data.token, 's3cret');
  assert.equal(data.colour, 'teal');
  assert.ok(Number(data.nodes) >= 4, `namespaces seen: ${data.nodes}`);
  await cluster.k(['delete', 'helmchart', '-n', 'looks', 'looker', '--wait=true']);
});
