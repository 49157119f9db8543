// Issue 14 item 2: Helm releases with `k8ts chart install|upgrade|rollback|uninstall|list|
// status|history|get` against a real `k8ts server`, stored in Helm 3's Secret format; and the
// seed's flow: a chart pulled from a repository served on loopback, rendered to a directory and
// applied once with kubectl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { K8TS_BIN, run, startCluster, until, type Cluster, type RunResult } from './harness.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const EXAMPLE = join(ROOT, 'examples', 'chart');

/** What the tests read of objects kubectl prints as JSON. */
interface Obj {
  metadata: { finalizers?: string[]; labels: Record<string, string>; annotations: Record<string, string> };
  spec: { source: string; checksum: string; colour?: string };
  status?: { releaseRevision?: string; conditions?: { type: string; reason?: string; message: string }[] };
}
const parsed = (text: string) => JSON.parse(text) as Obj;

let cluster: Cluster;
let work: string;

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

/** A chart that needs ordering: its own namespace, a ServiceAccount in it, a CRD and an object of it, hooks. */
function writeShopChart(dir: string): void {
  const files: Record<string, string> = {
    'Chart.yaml': 'apiVersion: v2\nname: shop\nversion: 0.2.0\nappVersion: "2.0"\n',
    'values.yaml': 'extra: true\nspace: shop-extra\ncolour: red\n',
    'crds/widgets.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.shop.example.com
spec:
  group: shop.example.com
  scope: Namespaced
  names: { plural: widgets, singular: widget, kind: Widget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
`,
    'templates/widget.yaml': `apiVersion: shop.example.com/v1
kind: Widget
metadata:
  name: {{ .Release.Name }}-widget
spec:
  colour: {{ .Values.colour }}
`,
    'templates/sa.yaml': `apiVersion: v1
kind: ServiceAccount
metadata:
  name: worker
  namespace: {{ .Values.space }}
`,
    'templates/zz-namespace.yaml': `apiVersion: v1
kind: Namespace
metadata:
  name: {{ .Values.space }}
`,
    'templates/config.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-config
data:
  colour: {{ .Values.colour | quote }}
{{- if .Values.extra }}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-extra
data: {}
{{- end }}
`,
    'templates/hooks.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-late-hook
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "5"
data: {}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-early-hook
  annotations:
    helm.sh/hook: pre-install
    helm.sh/hook-weight: "-1"
    helm.sh/hook-delete-policy: hook-succeeded
data: {}
`,
    'templates/NOTES.txt': 'Thanks for installing {{ .Release.Name }}.\n',
  };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
}

interface StoredRelease {
  name: string;
  namespace: string;
  version: number;
  info: {
    status: string;
    description: string;
    first_deployed: string;
    last_deployed: string;
    deleted: string;
    notes?: string;
  };
  chart: { metadata: { name: string; version: string }; templates: { name: string; data: string }[]; values: unknown };
  config: Record<string, unknown>;
  manifest: string;
  hooks: { name: string; weight: number; last_run: { phase: string; started_at: string } }[];
}

async function releaseSecret(ns: string, name: string, version: number) {
  const secret = JSON.parse(
    await cluster.k(['get', 'secret', '-n', ns, `sh.helm.release.v1.${name}.v${version}`, '-o', 'json']),
  ) as {
    type: string;
    metadata: { labels: Record<string, string> };
    data: { release: string };
  };
  // Secret.data holds Helm's base64 text; that text is gzip'd release JSON.
  const helmText = Buffer.from(secret.data.release, 'base64').toString('utf8');
  const release = JSON.parse(gunzipSync(Buffer.from(helmText, 'base64')).toString('utf8')) as StoredRelease;
  return { secret, release };
}

before(async () => {
  cluster = await startCluster();
  work = mkdtempSync(join(tmpdir(), 'k8ts-chart-'));
  writeShopChart(join(work, 'shop'));
});

after(async () => {
  await cluster?.cleanup();
  rmSync(work, { recursive: true, force: true });
});

test('install stores a Helm 3 release Secret and creates namespaces, ServiceAccounts and CRD objects in one go', async () => {
  const started = Date.now();
  const out = await ok(['install', 'shop', join(work, 'shop'), '-n', 'store', '--create-namespace']);
  const elapsed = Date.now() - started;
  assert.match(out, /^NAME: shop\nLAST DEPLOYED: .+\nNAMESPACE: store\nSTATUS: deployed\nREVISION: 1\n/);
  assert.match(out, /NOTES:\nThanks for installing shop\./);
  console.log(`# chart install (CRD, namespace, hooks): ${elapsed} ms to deployed, CLI start included`);

  const { secret, release } = await releaseSecret('store', 'shop', 1);
  assert.equal(secret.type, 'helm.sh/release.v1');
  // Helm's labels; createdAt is set on create, modifiedAt on each update.
  const { createdAt, modifiedAt, ...labels } = secret.metadata.labels;
  assert.deepEqual(labels, { name: 'shop', owner: 'helm', status: 'deployed', version: '1' });
  assert.match(modifiedAt, /^\d+$/);
  assert.match(createdAt, /^\d+$/);
  assert.equal(release.name, 'shop');
  assert.equal(release.namespace, 'store');
  assert.equal(release.version, 1);
  assert.equal(release.info.status, 'deployed');
  assert.equal(release.info.description, 'Install complete');
  assert.equal(release.info.deleted, '0001-01-01T00:00:00Z');
  assert.equal(release.chart.metadata.name, 'shop');
  assert.ok(release.chart.templates.some((t) => t.name === 'templates/config.yaml'));
  assert.deepEqual(release.chart.values, { extra: true, space: 'shop-extra', colour: 'red' });
  assert.match(
    release.manifest,
    /^---\n# Source: shop\/templates\/zz-namespace.yaml\nkind: Namespace|^---\n# Source: shop\/templates\/zz-namespace.yaml\napiVersion: v1\nkind: Namespace/,
  );
  assert.ok(release.manifest.indexOf('kind: Namespace') < release.manifest.indexOf('kind: ServiceAccount'));

  // Hooks ran by weight; hook-succeeded removed the early one, the default policy kept the late one.
  const early = release.hooks.find((h) => h.name === 'shop-early-hook')!;
  const late = release.hooks.find((h) => h.name === 'shop-late-hook')!;
  assert.equal(early.last_run.phase, 'Succeeded');
  assert.equal(late.last_run.phase, 'Succeeded');
  assert.ok(early.last_run.started_at <= late.last_run.started_at);
  assert.notEqual((await cluster.kubectl(['get', 'configmap', '-n', 'store', 'shop-early-hook'])).code, 0);
  await cluster.k(['get', 'configmap', '-n', 'store', 'shop-late-hook']);

  assert.match(await cluster.k(['get', 'serviceaccount', '-n', 'shop-extra', 'worker', '-o', 'name']), /worker/);
  const widget = parsed(
    await cluster.k(['get', 'widgets.shop.example.com', '-n', 'store', 'shop-widget', '-o', 'json']),
  );
  assert.equal(widget.spec.colour, 'red');
  assert.equal(widget.metadata.labels['app.kubernetes.io/managed-by'], 'Helm');
  assert.equal(widget.metadata.annotations['meta.helm.sh/release-name'], 'shop');

  const again = await chart(['install', 'shop', join(work, 'shop'), '-n', 'store']);
  assert.equal(again.code, 1);
  assert.equal(again.stderr, 'Error: INSTALLATION FAILED: cannot re-use a name that is still in use\n');
});

test('upgrade applies new values, deletes what the chart dropped, supersedes; rollback restores; history and get', async () => {
  const up = await ok([
    'upgrade',
    'shop',
    join(work, 'shop'),
    '-n',
    'store',
    '--set',
    'extra=false',
    '--set',
    'colour=blue',
  ]);
  assert.match(up, /^Release "shop" has been upgraded\. Happy Helming!\nNAME: shop\n/);
  assert.match(up, /REVISION: 2\n/);
  assert.notEqual((await cluster.kubectl(['get', 'configmap', '-n', 'store', 'shop-extra'])).code, 0);
  assert.equal(
    await cluster.k(['get', 'configmap', '-n', 'store', 'shop-config', '-o', 'jsonpath={.data.colour}']),
    'blue',
  );
  assert.equal((await releaseSecret('store', 'shop', 1)).secret.metadata.labels.status, 'superseded');
  assert.equal(
    await ok(['get', 'values', 'shop', '-n', 'store']),
    'USER-SUPPLIED VALUES:\ncolour: blue\nextra: false\n',
  );
  assert.deepEqual(JSON.parse(await ok(['get', 'values', 'shop', '-n', 'store', '--all', '-o', 'json'])), {
    colour: 'blue',
    extra: false,
    space: 'shop-extra',
  });

  // No new values: the previous ones are kept (Helm's default); --reuse-values merges; --reset-values drops.
  await ok(['upgrade', 'shop', join(work, 'shop'), '-n', 'store', '--reuse-values', '--set', 'space=shop-extra']);
  assert.deepEqual(JSON.parse(await ok(['get', 'values', 'shop', '-n', 'store', '-o', 'json'])), {
    colour: 'blue',
    extra: false,
    space: 'shop-extra',
  });

  assert.equal(await ok(['rollback', 'shop', '1', '-n', 'store']), 'Rollback was a success! Happy Helming!\n');
  assert.equal(
    await cluster.k(['get', 'configmap', '-n', 'store', 'shop-config', '-o', 'jsonpath={.data.colour}']),
    'red',
  );
  await cluster.k(['get', 'configmap', '-n', 'store', 'shop-extra']);

  const history = JSON.parse(await ok(['history', 'shop', '-n', 'store', '-o', 'json'])) as {
    revision: number;
    status: string;
    description: string;
  }[];
  assert.deepEqual(
    history.map((h) => [h.revision, h.status, h.description]),
    [
      [1, 'superseded', 'Install complete'],
      [2, 'superseded', 'Upgrade complete'],
      [3, 'superseded', 'Upgrade complete'],
      [4, 'deployed', 'Rollback to 1'],
    ],
  );
  const table = await ok(['history', 'shop', '-n', 'store']);
  assert.match(table.split('\n')[0], /^REVISION\tUPDATED\s+\tSTATUS\s+\tCHART\s+\tAPP VERSION\tDESCRIPTION$/);
  assert.match(await ok(['get', 'manifest', 'shop', '-n', 'store', '--revision', '2']), /colour: "blue"/);

  const list = JSON.parse(await ok(['list', '-A', '-o', 'json'])) as Record<string, string>[];
  assert.deepEqual(
    list.map((r) => ({ ...r, updated: undefined })),
    [
      {
        name: 'shop',
        namespace: 'store',
        revision: '4',
        updated: undefined,
        status: 'deployed',
        chart: 'shop-0.2.0',
        app_version: '2.0',
      },
    ],
  );
  assert.match(list[0].updated, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)? \+0000 UTC$/);
  const status = JSON.parse(await ok(['status', 'shop', '-n', 'store', '-o', 'json'])) as StoredRelease;
  assert.equal(status.version, 4);
});

test('upgrade of a missing release needs --install; an object owned by nobody is not taken over', async () => {
  const missing = await chart(['upgrade', 'hello', EXAMPLE]);
  assert.equal(missing.stderr, 'Error: UPGRADE FAILED: "hello" has no deployed releases\n');
  await cluster.k(['create', 'configmap', 'taken-config']);
  const conflict = await chart(['install', 'taken', join(work, 'shop'), '--set', 'space=other-space']);
  assert.equal(conflict.code, 1);
  assert.match(
    conflict.stderr,
    /rendered manifests contain a resource that already exists\. Unable to continue with install: ConfigMap "taken-config" in namespace "default" exists and cannot be imported into the current release: invalid ownership metadata; annotation validation error: missing key "meta.helm.sh\/release-name": must be set to "taken"/,
  );
  const dry = await ok(['upgrade', 'hello', EXAMPLE, '--install', '--dry-run']);
  assert.match(dry, /MANIFEST:\n---\n# Source: hello\/templates\/service.yaml/);
  assert.notEqual((await cluster.kubectl(['get', 'deployment', 'hello'])).code, 0);
  assert.match(await ok(['upgrade', 'hello', EXAMPLE, '--install']), /REVISION: 1\n/);
});

test('--wait waits for readiness; --atomic rolls a failed upgrade back', async () => {
  // A Service is ready once it has a cluster IP; a PVC never binds here (no node provisions it).
  const svc = join(work, 'svc');
  mkdirSync(join(svc, 'templates'), { recursive: true });
  writeFileSync(join(svc, 'Chart.yaml'), 'apiVersion: v2\nname: svc\nversion: 1.0.0\n');
  writeFileSync(join(svc, 'values.yaml'), 'claim: false\n');
  writeFileSync(
    join(svc, 'templates', 'svc.yaml'),
    'apiVersion: v1\nkind: Service\nmetadata:\n  name: waited\nspec:\n  ports: [{ port: 80 }]\n' +
      '{{- if .Values.claim }}\n---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata:\n  name: waited-data\n' +
      'spec:\n  accessModes: [ReadWriteOnce]\n  resources: { requests: { storage: 1Mi } }\n{{- end }}\n',
  );
  assert.match(await ok(['install', 'waited', svc, '--wait', '--timeout', '30s']), /STATUS: deployed/);

  const r = await run(
    process.execPath,
    [K8TS_BIN, 'chart', 'upgrade', 'waited', svc, '--set', 'claim=true', '--atomic', '--timeout', '2s'],
    { env: { ...process.env, KUBECONFIG: cluster.kubeconfig, K8TS_CHART_PROGRESS: '1' } },
  );
  assert.equal(r.code, 1);
  assert.match(r.stderr, /waiting for 1 of 2 resources: PersistentVolumeClaim\/waited-data \(Pending\)\n/);
  assert.match(
    r.stderr,
    /Error: UPGRADE FAILED: release waited failed, and has been rolled back due to atomic being set: context deadline exceeded: waiting for PersistentVolumeClaim\/waited-data \(Pending\)\n$/,
  );
  const history = JSON.parse(await ok(['history', 'waited', '-o', 'json'])) as {
    status: string;
    description: string;
  }[];
  assert.deepEqual(
    history.map((h) => [h.status, h.description]),
    [
      ['superseded', 'Install complete'],
      [
        'failed',
        'Upgrade "waited" failed: context deadline exceeded: waiting for PersistentVolumeClaim/waited-data (Pending)',
      ],
      ['deployed', 'Rollback to 1'],
    ],
  );
  // The rollback deleted the claim the failed revision added.
  await until('pvc deleted', async () => (await cluster.kubectl(['get', 'pvc', 'waited-data'])).code !== 0);
});

test('uninstall deletes the objects and the records; --keep-history keeps them as uninstalled', async () => {
  assert.equal(await ok(['uninstall', 'waited']), 'release "waited" uninstalled\n');
  assert.notEqual((await cluster.kubectl(['get', 'service', 'waited'])).code, 0);
  assert.equal(await cluster.k(['get', 'secret', '-l', 'owner=helm,name=waited', '-o', 'name']), '');

  assert.equal(await ok(['uninstall', 'shop', '-n', 'store', '--keep-history']), 'release "shop" uninstalled\n');
  assert.notEqual((await cluster.kubectl(['get', 'configmap', '-n', 'store', 'shop-config'])).code, 0);
  assert.equal(await ok(['list', '-n', 'store', '-q']), '');
  assert.match(await ok(['list', '-n', 'store', '-a']), /\nshop\s*\tstore\s*\t4\s*\t.+\tuninstalled\t/);
  const { release } = await releaseSecret('store', 'shop', 4);
  assert.equal(release.info.description, 'Uninstallation complete');
  assert.notEqual(release.info.deleted, '0001-01-01T00:00:00Z');
});

test('seed flow: package, serve a repository on loopback, pull --untar, template --output-dir, kubectl apply once', async () => {
  const repoDir = join(work, 'repo');
  mkdirSync(repoDir);
  assert.match(
    await ok(['package', EXAMPLE, '-d', repoDir]),
    /Successfully packaged chart and saved it to: .*hello-0\.1\.0\.tgz\n/,
  );
  assert.match(await ok(['package', EXAMPLE, '-d', repoDir, '--version', '0.2.0']), /hello-0\.2\.0\.tgz/);
  const { indexFor } = await import('../../src/chart/release/repo.js');
  const archives = readdirSync(repoDir).map((f) => ({ f, data: readFileSync(join(repoDir, f)) }));
  writeFileSync(
    join(repoDir, 'index.yaml'),
    indexFor(
      archives.map(({ f, data }) => ({ name: 'hello', version: /hello-(.+)\.tgz/.exec(f)![1], filename: f, data })),
    ),
  );
  const server: Server = createServer((req, res) => {
    const file = join(repoDir, (req.url ?? '/').slice(1));
    if (!existsSync(file)) return res.writeHead(404).end();
    res.writeHead(200).end(readFileSync(file));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  try {
    const dest = join(work, 'pulled');
    await ok(['pull', 'hello', '--repo', url, '--version', '~0.1', '-d', dest]);
    assert.deepEqual(readdirSync(dest), ['hello-0.1.0.tgz']);
    await ok(['pull', 'hello', '--repo', url, '--untar', '-d', dest]);
    assert.match(readFileSync(join(dest, 'hello', 'Chart.yaml'), 'utf8'), /version: "0\.2\.0"/);
    const lint = await ok(['lint', join(dest, 'hello')]);
    assert.match(
      lint,
      /==> Linting .*\n\[INFO\] Chart\.yaml: icon is recommended\n\n1 chart\(s\) linted, 0 chart\(s\) failed\n/,
    );

    const out = join(work, 'rendered');
    const wrote = await ok(['template', 'web', join(dest, 'hello'), '--output-dir', out]);
    assert.equal(wrote, `wrote ${out}/hello/templates/service.yaml\nwrote ${out}/hello/templates/deployment.yaml\n`);
    await cluster.k(['apply', '-R', '-f', out]);
    assert.match(await cluster.k(['get', 'deployment', 'web', '-o', 'name']), /deployment.apps\/web/);

    // install straight from the repository
    assert.match(await ok(['install', 'fromrepo', 'hello', '--repo', url, '--version', '0.1.0']), /STATUS: deployed/);
    assert.match(await ok(['list']), /fromrepo\s*\tdefault\s*\t1\s*\t.+\tdeployed\s*\thello-0\.1\.0\t1\.35/);
  } finally {
    server.close();
  }
});
