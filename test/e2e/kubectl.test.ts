// Issue 2 acceptance: a new user's session with the real kubectl against one k8ts server.
// Every test checks what kubectl printed, not only its exit code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startCluster, type Cluster } from './harness.js';
import { streamKubectl } from './streams.js';
import { execFile } from 'node:child_process';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
const APP = join(ROOT, 'examples', 'app.yaml');

let cluster: Cluster;
let tmp: string;
const k = (args: string[], input?: string) => cluster.k(args, input);
const kr = (args: string[], input?: string) => cluster.kubectl(args, { input });

/** `kubectl ...` that must fail; returns its stderr+stdout. */
async function kfail(args: string[], input?: string): Promise<string> {
  const r = await kr(args, input);
  assert.notEqual(r.code, 0, `expected kubectl ${args.join(' ')} to fail, it printed:\n${r.stdout}${r.stderr}`);
  return r.stderr + r.stdout;
}

// Every namespace has the root CA ConfigMap, as on a real cluster: the lists below leave it out.
const SYSTEM_OBJECT = /(^|\/)kube-root-ca\.crt$/;
const names = (out: string) =>
  out
    .trim()
    .split(/\s+/)
    .filter((n) => n && !SYSTEM_OBJECT.test(n))
    .sort();

before(async () => {
  cluster = await startCluster();
  tmp = mkdtempSync(join(tmpdir(), 'k8ts-kubectl-'));
});

after(async () => {
  await cluster?.cleanup();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('kubectl version shows client and server', async () => {
  const out = await k(['version']);
  assert.match(out, /^Client Version: v1\.\d+\.\d+/m);
  assert.match(out, /^Server Version: v1\.\d+\.\d+/m);
  const json = JSON.parse(await k(['version', '-o', 'json']));
  assert.equal(json.serverVersion.major, '1');
  assert.match(json.serverVersion.gitVersion, /^v1\.\d+\.\d+/);
  assert.match(json.serverVersion.platform, /^linux\//);
});

test('api-resources lists the built-in resources with short names', async () => {
  const out = await k(['api-resources']);
  const rows = [
    /^configmaps\s+cm\s+v1\s+true\s+ConfigMap$/m,
    /^namespaces\s+ns\s+v1\s+false\s+Namespace$/m,
    /^pods\s+po\s+v1\s+true\s+Pod$/m,
    /^services\s+svc\s+v1\s+true\s+Service$/m,
    /^secrets\s+v1\s+true\s+Secret$/m,
    /^nodes\s+no\s+v1\s+false\s+Node$/m,
    /^deployments\s+deploy\s+apps\/v1\s+true\s+Deployment$/m,
    /^replicasets\s+rs\s+apps\/v1\s+true\s+ReplicaSet$/m,
    /^cronjobs\s+cj\s+batch\/v1\s+true\s+CronJob$/m,
    /^jobs\s+batch\/v1\s+true\s+Job$/m,
    /^customresourcedefinitions\s+crd,crds\s+apiextensions\.k8s\.io\/v1\s+false\s+CustomResourceDefinition$/m,
    /^leases\s+coordination\.k8s\.io\/v1\s+true\s+Lease$/m,
  ];
  for (const re of rows) assert.match(out, re);
  const namespaced = await k(['api-resources', '--namespaced=false', '-o', 'name']);
  assert.ok(namespaced.split('\n').includes('namespaces'));
  assert.ok(!namespaced.split('\n').includes('pods'));
  const apps = await k(['api-resources', '--api-group=apps', '-o', 'name']);
  assert.deepEqual(names(apps), [
    'controllerrevisions.apps',
    'daemonsets.apps',
    'deployments.apps',
    'replicasets.apps',
    'statefulsets.apps',
  ]);
});

test('get ns shows the four system namespaces, Active', async () => {
  const out = await k(['get', 'ns']);
  assert.match(out, /^NAME\s+STATUS\s+AGE$/m);
  for (const ns of ['default', 'kube-system', 'kube-public', 'kube-node-lease']) {
    assert.match(out, new RegExp(`^${ns}\\s+Active\\s+\\d+[sm]$`, 'm'));
  }
});

test('apply -f examples/app.yaml, re-apply, edit and re-apply, diff', async () => {
  const first = await k(['apply', '-f', APP]);
  assert.equal(
    first.trim(),
    [
      'namespace/demo created',
      'configmap/app-config created',
      'secret/app-secret created',
      'deployment.apps/app created',
      'service/app created',
      'cronjob.batch/tick created',
    ].join('\n'),
  );
  const again = await k(['apply', '-f', APP]);
  for (const line of [
    'namespace/demo unchanged',
    'configmap/app-config unchanged',
    'deployment.apps/app unchanged',
    'service/app unchanged',
    'cronjob.batch/tick unchanged',
  ]) {
    assert.ok(again.includes(line), `missing "${line}" in:\n${again}`);
  }
  // Upstream reports a Secret written with stringData as configured on every apply (the
  // server turns stringData into data), so only its presence is checked.
  assert.match(again, /^secret\/app-secret (unchanged|configured)$/m);

  // diff against the live objects: exit 0 when equal.
  const same = await kr(['diff', '-f', APP]);
  assert.equal(same.code, 0, same.stderr + same.stdout);
  assert.equal(same.stdout, '');

  const edited = readFileSync(APP, 'utf8')
    .replace('greeting: hello', 'greeting: bonjour')
    .replace('replicas: 2', 'replicas: 3');
  const editedPath = join(tmp, 'app-edited.yaml');
  writeFileSync(editedPath, edited);
  const diff = await kr(['diff', '-f', editedPath]);
  assert.equal(diff.code, 1, diff.stderr);
  assert.match(diff.stdout, /^-\s+greeting: hello$/m);
  assert.match(diff.stdout, /^\+\s+greeting: bonjour$/m);
  assert.match(diff.stdout, /^-\s+replicas: 2$/m);
  assert.match(diff.stdout, /^\+\s+replicas: 3$/m);
  assert.doesNotMatch(diff.stdout, /Service\.demo\.app/);

  const applied = await k(['apply', '-f', editedPath]);
  assert.match(applied, /^configmap\/app-config configured$/m);
  assert.match(applied, /^deployment\.apps\/app configured$/m);
  assert.match(applied, /^service\/app unchanged$/m);
  assert.match(applied, /^cronjob\.batch\/tick unchanged$/m);
  assert.equal(await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'jsonpath={.data.greeting}']), 'bonjour');
  assert.equal(await k(['-n', 'demo', 'get', 'deploy', 'app', '-o', 'jsonpath={.spec.replicas}']), '3');
  // The secret's stringData was stored as base64 data.
  assert.equal(
    await k(['-n', 'demo', 'get', 'secret', 'app-secret', '-o', 'jsonpath={.data.token}']),
    Buffer.from('s3cret').toString('base64'),
  );
  const after = await kr(['diff', '-f', editedPath]);
  assert.equal(after.code, 0, after.stdout + after.stderr);
});

test('get with every output format', async () => {
  const yaml = await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'yaml']);
  assert.match(yaml, /^apiVersion: v1$/m);
  assert.match(yaml, /^kind: ConfigMap$/m);
  assert.match(yaml, /^ {2}greeting: bonjour$/m);
  assert.match(yaml, /^ {2}resourceVersion: "\d+"$/m);
  assert.match(yaml, /^ {2}uid: [0-9a-f-]{36}$/m);

  const json = JSON.parse(await k(['-n', 'demo', 'get', 'deploy', 'app', '-o', 'json']));
  assert.equal(json.kind, 'Deployment');
  assert.equal(json.apiVersion, 'apps/v1');
  assert.equal(json.spec.template.spec.containers[0].image, 'k8ts.local/busybox:1.35');
  // Defaults are filled as upstream does.
  assert.equal(json.spec.strategy.type, 'RollingUpdate');
  assert.equal(json.spec.revisionHistoryLimit, 10);
  assert.equal(json.spec.template.spec.restartPolicy, 'Always');
  assert.equal(json.metadata.generation, 2);

  const list = JSON.parse(await k(['-n', 'demo', 'get', 'cm,secret', '-o', 'json']));
  assert.equal(list.kind, 'List');
  assert.ok(list.items.some((i: any) => i.kind === 'ConfigMap' && i.metadata.name === 'app-config'));
  assert.ok(list.items.some((i: any) => i.kind === 'Secret' && i.metadata.name === 'app-secret'));

  const wide = await k(['-n', 'demo', 'get', 'deploy', '-o', 'wide']);
  assert.match(wide, /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$/m);
  assert.match(wide, /^app\s+\d+\/3\s+\d+\s+\d+\s+\S+\s+web\s+k8ts\.local\/busybox:1\.35\s+app=demo$/m);

  const svc = await k(['-n', 'demo', 'get', 'svc', 'app', '-o', 'wide']);
  assert.match(svc, /^app\s+ClusterIP\s+10\.43\.\d+\.\d+\s+<none>\s+80\/TCP\s+\S+\s+app=demo$/m);

  const cj = await k(['-n', 'demo', 'get', 'cronjob']);
  assert.match(cj, /^tick\s+\*\/5 \* \* \* \*\s+/m);

  assert.deepEqual(names(await k(['-n', 'demo', 'get', 'cm,deploy,svc', '-o', 'name'])), [
    'configmap/app-config',
    'deployment.apps/app',
    'service/app',
  ]);
  assert.equal(
    await k([
      '-n',
      'demo',
      'get',
      'deploy',
      'app',
      '-o',
      'jsonpath={.spec.template.spec.containers[0].env[0].valueFrom.configMapKeyRef.name}',
    ]),
    'app-config',
  );
  assert.equal(
    await k(['get', 'ns', '-o', 'jsonpath={range .items[*]}{.metadata.name}{" "}{end}']),
    'default demo kube-node-lease kube-public kube-system ',
  );
  const cc = await k([
    '-n',
    'demo',
    'get',
    'deploy',
    '-o',
    'custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas,IMAGE:.spec.template.spec.containers[0].image',
  ]);
  assert.match(cc, /^NAME\s+REPLICAS\s+IMAGE$/m);
  assert.match(cc, /^app\s+3\s+k8ts\.local\/busybox:1\.35$/m);
  const noHeaders = await k(['-n', 'demo', 'get', 'cm', '--no-headers', '-o', 'custom-columns=N:.metadata.name']);
  assert.ok(noHeaders.split('\n').includes('app-config'));
  const labels = await k(['-n', 'demo', 'get', 'deploy', '--show-labels']);
  assert.match(labels, /^app\s+.*\s+app=demo$/m);
});

test('get -w streams a change, then is stopped', async () => {
  await k(['create', 'ns', 'watching']);
  await k(['-n', 'watching', 'create', 'cm', 'w1', '--from-literal=k=v']);
  const w = streamKubectl(cluster, ['-n', 'watching', 'get', 'cm', '-w', '--output-watch-events']);
  try {
    await w.waitFor(/ADDED\s+w1\s+1\s+/);
    await k(['-n', 'watching', 'create', 'cm', 'w2', '--from-literal=a=1', '--from-literal=b=2']);
    await w.waitFor(/ADDED\s+w2\s+2\s+/);
    await k(['-n', 'watching', 'patch', 'cm', 'w1', '-p', '{"data":{"k2":"v2"}}']);
    await w.waitFor(/MODIFIED\s+w1\s+2\s+/);
    await k(['-n', 'watching', 'delete', 'cm', 'w2']);
    await w.waitFor(/DELETED\s+w2\s+/);
  } finally {
    await w.stop();
  }
  // Plain -w on one object: the current row, then the change.
  const one = streamKubectl(cluster, ['-n', 'watching', 'get', 'cm', 'w1', '-w', '-o', 'name']);
  try {
    await one.waitFor(/configmap\/w1\n/);
    await k(['-n', 'watching', 'label', 'cm', 'w1', 'seen=yes']);
    await one.waitFor(/configmap\/w1\n(.|\n)*configmap\/w1\n/);
  } finally {
    await one.stop();
  }
});

test('label and annotate, with --overwrite and removal', async () => {
  assert.equal((await k(['-n', 'demo', 'label', 'deploy', 'app', 'tier=web'])).trim(), 'deployment.apps/app labeled');
  const refused = await kfail(['-n', 'demo', 'label', 'deploy', 'app', 'tier=api']);
  assert.match(refused, /'tier' already has a value \(web\), and --overwrite is false/);
  await k(['-n', 'demo', 'label', 'deploy', 'app', 'tier=api', '--overwrite']);
  assert.equal(await k(['-n', 'demo', 'get', 'deploy', 'app', '-o', 'jsonpath={.metadata.labels.tier}']), 'api');
  assert.equal((await k(['-n', 'demo', 'label', 'deploy', 'app', 'tier-'])).trim(), 'deployment.apps/app unlabeled');
  assert.equal(await k(['-n', 'demo', 'get', 'deploy', 'app', '-o', 'jsonpath={.metadata.labels}']), '{"app":"demo"}');

  assert.equal(
    (await k(['-n', 'demo', 'annotate', 'cm', 'app-config', 'owner=team-a'])).trim(),
    'configmap/app-config annotated',
  );
  const refusedA = await kfail(['-n', 'demo', 'annotate', 'cm', 'app-config', 'owner=team-b']);
  assert.match(refusedA, /'owner' already has a value \(team-a\)/);
  await k(['-n', 'demo', 'annotate', 'cm', 'app-config', 'owner=team-b', '--overwrite']);
  assert.equal(
    await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'jsonpath={.metadata.annotations.owner}']),
    'team-b',
  );
  await k(['-n', 'demo', 'annotate', 'cm', 'app-config', 'owner-']);
  const anns = JSON.parse(await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'jsonpath={.metadata.annotations}']));
  assert.equal(anns.owner, undefined);
  assert.ok(anns['kubectl.kubernetes.io/last-applied-configuration'], 'apply annotation survives');
});

test('patch --type=strategic|merge|json', async () => {
  await k([
    '-n',
    'demo',
    'patch',
    'deploy',
    'app',
    '--type=strategic',
    '-p',
    '{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"busybox:1.37"}]}}}}',
  ]);
  const c = JSON.parse(
    await k(['-n', 'demo', 'get', 'deploy', 'app', '-o', 'jsonpath={.spec.template.spec.containers}']),
  );
  // Strategic merge: the container list is merged by name, other fields kept.
  assert.equal(c.length, 1);
  assert.equal(c[0].image, 'busybox:1.37');
  assert.deepEqual(c[0].command, ['httpd', '-f', '-p', '8080']);

  const out = await k([
    '-n',
    'demo',
    'patch',
    'cm',
    'app-config',
    '--type=merge',
    '-p',
    '{"data":{"extra":"x","greeting":null}}',
  ]);
  assert.equal(out.trim(), 'configmap/app-config patched');
  assert.equal(await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'jsonpath={.data}']), '{"extra":"x"}');

  await k([
    '-n',
    'demo',
    'patch',
    'cm',
    'app-config',
    '--type=json',
    '-p',
    '[{"op":"add","path":"/data/greeting","value":"hi"},{"op":"remove","path":"/data/extra"}]',
  ]);
  assert.equal(await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'jsonpath={.data}']), '{"greeting":"hi"}');
  const bad = await kfail([
    '-n',
    'demo',
    'patch',
    'cm',
    'app-config',
    '--type=json',
    '-p',
    '[{"op":"test","path":"/data/greeting","value":"nope"}]',
  ]);
  assert.match(bad, /test operation|testing value|unable to|failed/i);

  const noop = await k(['-n', 'demo', 'patch', 'cm', 'app-config', '--type=merge', '-p', '{"data":{"greeting":"hi"}}']);
  assert.equal(noop.trim(), 'configmap/app-config patched (no change)');
});

test('scale', async () => {
  assert.equal(
    (await k(['-n', 'demo', 'scale', 'deploy', 'app', '--replicas=5'])).trim(),
    'deployment.apps/app scaled',
  );
  assert.equal(await k(['-n', 'demo', 'get', 'deploy', 'app', '-o', 'jsonpath={.spec.replicas}']), '5');
  const wrong = await kfail(['-n', 'demo', 'scale', 'deploy', 'app', '--replicas=1', '--current-replicas=3']);
  assert.match(wrong, /Expected replicas to be 3, was 5/);
  await k(['-n', 'demo', 'scale', 'deploy', 'app', '--replicas=2', '--current-replicas=5']);
  assert.equal(await k(['-n', 'demo', 'get', 'deploy', 'app', '-o', 'jsonpath={.spec.replicas}']), '2');
});

test('edit with EDITOR set to a sed script', async () => {
  const editor = join(tmp, 'editor.sh');
  writeFileSync(editor, '#!/bin/sh\nsed -i -e "s/greeting: hi/greeting: edited/" "$1"\n');
  chmodSync(editor, 0o755);
  const r = await new Promise<{ code: number; out: string }>((resolveRun) => {
    execFile(
      'kubectl',
      ['--kubeconfig', cluster.kubeconfig, '-n', 'demo', 'edit', 'cm', 'app-config'],
      { env: { ...process.env, EDITOR: editor, KUBE_EDITOR: editor }, timeout: 30_000 },
      (err, stdout, stderr) => {
        resolveRun({ code: err ? 1 : 0, out: String(stdout) + String(stderr) });
      },
    );
  });
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /configmap\/app-config edited/);
  assert.equal(await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'jsonpath={.data.greeting}']), 'edited');
});

test('replace, and replace with a stale resourceVersion is a Conflict', async () => {
  const current = await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'yaml']);
  const file = join(tmp, 'cm.yaml');
  writeFileSync(file, current.replace('greeting: edited', 'greeting: replaced'));
  assert.equal((await k(['replace', '-f', file])).trim(), 'configmap/app-config replaced');
  assert.equal(await k(['-n', 'demo', 'get', 'cm', 'app-config', '-o', 'jsonpath={.data.greeting}']), 'replaced');
  // The file still carries the old resourceVersion.
  const stale = await kfail(['replace', '-f', file]);
  assert.match(stale, /Error from server \(Conflict\)/);
  assert.match(
    stale,
    /Operation cannot be fulfilled on configmaps "app-config": the object has been modified; please apply your changes to the latest version and try again/,
  );
  // Without a resourceVersion, replace is unconditional.
  const unconditional = current
    .replace(/^ {2}resourceVersion: .*\n/m, '')
    .replace('greeting: edited', 'greeting: forced');
  assert.equal((await k(['replace', '-f', '-'], unconditional)).trim(), 'configmap/app-config replaced');
});

test('describe each type used', async () => {
  const cases: [string[], RegExp[]][] = [
    [
      ['describe', 'ns', 'demo'],
      [/^Name:\s+demo$/m, /^Status:\s+Active$/m],
    ],
    [
      ['-n', 'demo', 'describe', 'cm', 'app-config'],
      [/^Name:\s+app-config$/m, /^Namespace:\s+demo$/m, /^greeting:$/m],
    ],
    [
      ['-n', 'demo', 'describe', 'secret', 'app-secret'],
      [/^Name:\s+app-secret$/m, /^Type:\s+Opaque$/m, /^token:\s+6 bytes$/m],
    ],
    [
      ['-n', 'demo', 'describe', 'deploy', 'app'],
      [
        /^Name:\s+app$/m,
        /^Selector:\s+app=demo$/m,
        /^Replicas:\s+2 desired/m,
        /^StrategyType:\s+RollingUpdate$/m,
        /Image:\s+busybox:1\.37/,
      ],
    ],
    [
      ['-n', 'demo', 'describe', 'svc', 'app'],
      [/^Name:\s+app$/m, /^Type:\s+ClusterIP$/m, /^IP:\s+10\.43\./m, /^TargetPort:\s+8080\/TCP$/m],
    ],
    [
      ['-n', 'demo', 'describe', 'cronjob', 'tick'],
      [/^Name:\s+tick$/m, /^Schedule:\s+\*\/5 \* \* \* \*$/m, /^Concurrency Policy:\s+Allow$/m],
    ],
  ];
  for (const [args, res] of cases) {
    const r = await kr(args);
    assert.equal(r.code, 0, `kubectl ${args.join(' ')}:\n${r.stderr}`);
    assert.equal(r.stderr, '', `kubectl ${args.join(' ')} wrote to stderr`);
    for (const re of res) assert.match(r.stdout, re, `kubectl ${args.join(' ')}`);
  }
  // A describe of a whole kind, including a pod.
  await k(
    ['-n', 'demo', 'apply', '-f', '-'],
    'apiVersion: v1\nkind: Pod\nmetadata: {name: lone}\nspec: {containers: [{name: c, image: busybox:1.36}]}\n',
  );
  const pod = await k(['-n', 'demo', 'describe', 'pod', 'lone']);
  assert.match(pod, /^Name:\s+lone$/m);
  assert.match(pod, /^Status:\s+Pending$/m);
  assert.match(pod, /Image:\s+busybox:1\.36/);
  await k(['-n', 'demo', 'describe', 'deploy,svc,cm']);
});

test('explain deployment.spec.strategy and pod.spec.containers', async () => {
  const strategy = await k(['explain', 'deployment.spec.strategy']);
  assert.match(strategy, /KIND:\s+Deployment/);
  assert.match(strategy, /VERSION:\s+v1/);
  assert.match(strategy, /FIELD:\s+strategy <DeploymentStrategy>/);
  assert.match(strategy, /^\s+rollingUpdate\s+<RollingUpdateDeployment>$/m);
  assert.match(strategy, /^\s+type\s+<string>$/m);
  const containers = await k(['explain', 'pod.spec.containers']);
  assert.match(containers, /KIND:\s+Pod/);
  assert.match(containers, /FIELD:\s+containers <\[\]Container>/);
  assert.match(containers, /^\s+image\s+<string>$/m);
  assert.match(containers, /^\s+name\s+<string> -required-$/m);
  const recursive = await k(['explain', 'deployment.spec.strategy', '--recursive']);
  assert.match(recursive, /maxSurge\s+<IntOrString>/);
  const unknown = await kfail(['explain', 'deployment.spec.nosuchfield']);
  assert.match(unknown, /field "nosuchfield" does not exist/);
});

test('create deployment, configmap --from-file, secret generic, service clusterip', async () => {
  await k(['create', 'ns', 'made']);
  assert.equal(
    (await k(['-n', 'made', 'create', 'deployment', 'web', '--image=nginx:1.27', '--replicas=2'])).trim(),
    'deployment.apps/web created',
  );
  const d = JSON.parse(await k(['-n', 'made', 'get', 'deploy', 'web', '-o', 'json']));
  assert.deepEqual(d.spec.selector.matchLabels, { app: 'web' });
  assert.equal(d.spec.replicas, 2);
  assert.equal(d.spec.template.spec.containers[0].name, 'nginx');

  const props = join(tmp, 'app.properties');
  writeFileSync(props, 'mode=fast\nlevel=3\n');
  assert.equal(
    (
      await k(['-n', 'made', 'create', 'configmap', 'settings', `--from-file=${props}`, '--from-literal=extra=1'])
    ).trim(),
    'configmap/settings created',
  );
  const cm = JSON.parse(await k(['-n', 'made', 'get', 'cm', 'settings', '-o', 'jsonpath={.data}']));
  assert.deepEqual(cm, { 'app.properties': 'mode=fast\nlevel=3\n', extra: '1' });

  assert.equal(
    (await k(['-n', 'made', 'create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret'])).trim(),
    'secret/creds created',
  );
  const secret = JSON.parse(await k(['-n', 'made', 'get', 'secret', 'creds', '-o', 'json']));
  assert.equal(secret.type, 'Opaque');
  assert.equal(Buffer.from(secret.data.password, 'base64').toString(), 's3cret');

  assert.equal(
    (await k(['-n', 'made', 'create', 'service', 'clusterip', 'web', '--tcp=80:8080'])).trim(),
    'service/web created',
  );
  const svc = JSON.parse(await k(['-n', 'made', 'get', 'svc', 'web', '-o', 'json']));
  assert.equal(svc.spec.type, 'ClusterIP');
  assert.match(svc.spec.clusterIP, /^10\.43\.\d+\.\d+$/);
  assert.deepEqual(svc.spec.clusterIPs, [svc.spec.clusterIP]);
  assert.equal(svc.spec.ports[0].port, 80);
  assert.equal(svc.spec.ports[0].targetPort, 8080);
  assert.deepEqual(svc.spec.selector, { app: 'web' });
});

test('get all -A', async () => {
  const out = await k(['get', 'all', '-A']);
  assert.match(out, /^NAMESPACE\s+NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/m);
  assert.match(out, /^default\s+service\/kubernetes\s+ClusterIP\s+10\.43\.0\.1\s+<none>\s+443\/TCP\s+/m);
  assert.match(out, /^demo\s+service\/app\s+ClusterIP\s+/m);
  assert.match(out, /^demo\s+deployment\.apps\/app\s+\d+\/2\s+/m);
  assert.match(out, /^made\s+deployment\.apps\/web\s+\d+\/2\s+/m);
  assert.match(out, /^demo\s+cronjob\.batch\/tick\s+\*\/5 \* \* \* \*\s+/m);
  assert.match(out, /^demo\s+pod\/lone\s+0\/1\s+Pending\s+/m);
});

test('wait --for=jsonpath on a field patched in the background', async () => {
  await k(['-n', 'made', 'create', 'cm', 'flag', '--from-literal=state=pending']);
  const timer = setTimeout(() => {
    void cluster.kubectl(['-n', 'made', 'patch', 'cm', 'flag', '-p', '{"data":{"state":"done"}}']);
  }, 1000);
  try {
    const started = Date.now();
    const r = await cluster.kubectl(
      ['-n', 'made', 'wait', '--for=jsonpath={.data.state}=done', 'cm/flag', '--timeout=20s'],
      { timeoutMs: 30_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'configmap/flag condition met');
    assert.ok(Date.now() - started >= 900, 'wait returned before the patch');
  } finally {
    clearTimeout(timer);
  }
  const timeout = await cluster.kubectl([
    '-n',
    'made',
    'wait',
    '--for=jsonpath={.data.state}=never',
    'cm/flag',
    '--timeout=1s',
  ]);
  assert.notEqual(timeout.code, 0);
  assert.match(timeout.stderr, /timed out waiting for the condition on configmaps\/flag/);
});

test('--dry-run=server validates but does not create', async () => {
  const out = await k(['-n', 'made', 'create', 'cm', 'dry', '--from-literal=a=b', '--dry-run=server']);
  assert.equal(out.trim(), 'configmap/dry created (server dry run)');
  const missing = await kfail(['-n', 'made', 'get', 'cm', 'dry']);
  assert.match(missing, /Error from server \(NotFound\): configmaps "dry" not found/);
  const yaml = await k([
    '-n',
    'made',
    'create',
    'deployment',
    'drydep',
    '--image=nginx',
    '--dry-run=server',
    '-o',
    'yaml',
  ]);
  assert.match(yaml, /^ {2}uid: /m, 'a server dry run returns the object as it would be stored');
  assert.match(yaml, /^ {4}type: RollingUpdate$/m);
  await kfail(['-n', 'made', 'get', 'deploy', 'drydep']);
  const applied = await k(
    ['-n', 'made', 'apply', '--dry-run=server', '-f', '-'],
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: dry2}\ndata: {a: b}\n',
  );
  assert.equal(applied.trim(), 'configmap/dry2 created (server dry run)');
  await kfail(['-n', 'made', 'get', 'cm', 'dry2']);
  // A dry-run delete leaves the object in place.
  assert.equal(
    (await k(['-n', 'made', 'delete', 'cm', 'flag', '--dry-run=server'])).trim(),
    'configmap "flag" deleted (server dry run)',
  );
  await k(['-n', 'made', 'get', 'cm', 'flag']);
});

test('errors: AlreadyExists, Invalid with field path, unknown fields, missing namespace', async () => {
  const exists = await kfail(['-n', 'made', 'create', 'cm', 'settings', '--from-literal=a=b']);
  assert.match(exists, /configmaps "settings" already exists/);
  const existsFile = await kfail(['create', '-f', APP]);
  assert.match(
    existsFile,
    /Error from server \(AlreadyExists\): error when creating ".*app\.yaml": namespaces "demo" already exists/,
  );
  assert.match(existsFile, /deployments\.apps "app" already exists/);

  const bad =
    'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: bad}\nspec:\n  selector: {matchLabels: {app: a}}\n  template:\n    metadata: {labels: {app: b}}\n    spec: {containers: [{name: c, image: busybox}]}\n';
  const invalid = await kfail(['-n', 'made', 'apply', '-f', '-'], bad);
  assert.match(
    invalid,
    /The Deployment "bad" is invalid: spec\.template\.metadata\.labels: Invalid value: .*`selector` does not match template `labels`/,
  );
  const invalidCreate = await kfail(['-n', 'made', 'create', '-f', '-'], bad.replace('image: busybox', 'image: ""'));
  assert.match(invalidCreate, /spec\.template\.spec\.containers\[0\]\.image: Required value/);
  const badName = await kfail(['create', 'cm', 'Bad_Name']);
  assert.match(badName, /Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist of/);

  const unknown = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: unk}\ndata: {a: b}\nbogusField: 1\n';
  const strict = await kfail(['-n', 'made', 'create', '--validate=strict', '-f', '-'], unknown);
  assert.match(strict, /unknown field "bogusField"/);
  await kfail(['-n', 'made', 'get', 'cm', 'unk']);
  const nested = unknown
    .replace('bogusField: 1', 'metadata2: {}')
    .replace('metadata: {name: unk}', 'metadata: {name: unk, labelz: {a: b}}');
  const strictNested = await kfail(['-n', 'made', 'apply', '--validate=strict', '-f', '-'], nested);
  assert.match(strictNested, /unknown field "metadata\.labelz"/);
  const warn = await kr(['-n', 'made', 'create', '--validate=warn', '-f', '-'], unknown);
  assert.equal(warn.code, 0, warn.stderr);
  assert.match(warn.stderr, /Warning: unknown field "bogusField"/);
  assert.equal(warn.stdout.trim(), 'configmap/unk created');
  assert.equal(await k(['-n', 'made', 'get', 'cm', 'unk', '-o', 'jsonpath={.data.a}']), 'b');

  const noNs = await kfail(['-n', 'nowhere', 'create', 'cm', 'x', '--from-literal=a=b']);
  assert.match(noNs, /namespaces "nowhere" not found/);
  const noNsApply = await kfail(
    ['-n', 'nowhere', 'apply', '-f', '-'],
    'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n',
  );
  assert.match(noNsApply, /namespaces "nowhere" not found/);
  const getMissing = await kfail(['-n', 'made', 'get', 'cm', 'nope']);
  assert.match(getMissing, /Error from server \(NotFound\): configmaps "nope" not found/);
  const unknownType = await kfail(['get', 'widgets']);
  assert.match(unknownType, /the server doesn't have a resource type "widgets"/);
});

test('label selectors: =, !=, in, notin, exists, !key', async () => {
  await k(['create', 'ns', 'sel']);
  const docs: string[] = [];
  const labels: Record<string, string> = {
    a: 'env: prod',
    b: 'env: prod',
    c: 'env: dev',
    d: 'env: test',
    e: 'tier: web',
    f: '',
  };
  for (const [name, l] of Object.entries(labels))
    docs.push(`apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n  labels: {${l}}\n`);
  await k(['-n', 'sel', 'apply', '-f', '-'], docs.join('---\n'));
  const sel = async (s: string) =>
    names((await k(['-n', 'sel', 'get', 'cm', '-l', s, '-o', 'name'])).replaceAll('configmap/', ''));
  assert.deepEqual(await sel('env=prod'), ['a', 'b']);
  assert.deepEqual(await sel('env==prod'), ['a', 'b']);
  assert.deepEqual(await sel('env!=prod'), ['c', 'd', 'e', 'f']);
  assert.deepEqual(await sel('env in (dev,test)'), ['c', 'd']);
  assert.deepEqual(await sel('env notin (dev,test)'), ['a', 'b', 'e', 'f']);
  assert.deepEqual(await sel('env'), ['a', 'b', 'c', 'd']);
  assert.deepEqual(await sel('!env'), ['e', 'f']);
  assert.deepEqual(await sel('env,env!=prod'), ['c', 'd']);
  assert.deepEqual(await sel('tier=web,!env'), ['e']);
  const none = await kr(['-n', 'sel', 'get', 'cm', '-l', 'env=staging']);
  assert.equal(none.code, 0);
  assert.match(none.stderr, /No resources found in sel namespace\./);
  const badSel = await kfail(['-n', 'sel', 'get', 'cm', '-l', 'env in prod']);
  assert.match(badSel, /unable to parse requirement|found 'prod', expected: '\('/);
});

test('field selectors: metadata.name, pods spec.nodeName and status.phase', async () => {
  const fsel = async (kind: string, s: string) =>
    names((await k(['-n', 'sel', 'get', kind, '--field-selector', s, '-o', 'name'])).replace(/[a-z]+\//g, ''));
  assert.deepEqual(await fsel('cm', 'metadata.name=c'), ['c']);
  assert.deepEqual(await fsel('cm', 'metadata.name!=c,metadata.name!=d'), ['a', 'b', 'e', 'f']);
  assert.deepEqual(await fsel('cm', 'metadata.namespace=sel,metadata.name==a'), ['a']);
  const pod = (name: string, node?: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: ${name}}\nspec:\n${node ? `  nodeName: ${node}\n` : ''}  containers: [{name: c, image: busybox:1.36}]\n`;
  await k(['-n', 'sel', 'apply', '-f', '-'], [pod('p1', 'node-a'), pod('p2', 'node-b'), pod('p3')].join('---\n'));
  assert.deepEqual(await fsel('pods', 'spec.nodeName=node-a'), ['p1']);
  assert.deepEqual(await fsel('pods', 'spec.nodeName='), ['p3']);
  assert.deepEqual(await fsel('pods', 'spec.nodeName!='), ['p1', 'p2']);
  assert.deepEqual(await fsel('pods', 'status.phase=Pending'), ['p1', 'p2', 'p3']);
  const running = await kr(['-n', 'sel', 'get', 'pods', '--field-selector', 'status.phase=Running']);
  assert.equal(running.code, 0);
  assert.match(running.stderr, /No resources found in sel namespace\./);
  // Labels and fields together, across all namespaces.
  const both = await k([
    'get',
    'cm',
    '-A',
    '-l',
    'env=prod',
    '--field-selector',
    'metadata.name=b',
    '-o',
    'custom-columns=NS:.metadata.namespace,N:.metadata.name',
    '--no-headers',
  ]);
  assert.match(both.trim(), /^sel\s+b$/);
  const unsupported = await kfail(['-n', 'sel', 'get', 'cm', '--field-selector', 'data.a=b']);
  assert.match(unsupported, /field label not supported: data\.a|"data\.a" is not a known field selector/);
});

test('pagination: --chunk-size=2 over 7 objects', async () => {
  await k(['create', 'ns', 'pages']);
  const docs = Array.from(
    { length: 7 },
    (_, i) => `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: page-${i}}\ndata: {i: "${i}"}\n`,
  );
  await k(['-n', 'pages', 'apply', '-f', '-'], docs.join('---\n'));
  const r = await kr(['-n', 'pages', 'get', 'cm', '--chunk-size=2', '-v=6']);
  assert.equal(r.code, 0, r.stderr);
  const requests = r.stderr
    .split('\n')
    .filter((l) => /GET https:\/\/\S+\/api\/v1\/namespaces\/pages\/configmaps\?/.test(l));
  assert.equal(
    requests.length,
    4,
    `expected 4 pages of 2,2,2,2 (7 ConfigMaps and kube-root-ca.crt):\n${requests.join('\n')}`,
  );
  assert.ok(requests.every((l) => /limit=2/.test(l)));
  assert.equal(requests.filter((l) => /continue=/.test(l)).length, 3);
  const rows = r.stdout
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('kube-root-ca.crt'));
  assert.match(rows[0], /^NAME\s+DATA\s+AGE$/);
  assert.deepEqual(
    rows.slice(1).map((l) => l.split(/\s+/)[0]),
    Array.from({ length: 7 }, (_, i) => `page-${i}`),
  );
  // Output other than tables pages too.
  assert.equal(names(await k(['-n', 'pages', 'get', 'cm', '--chunk-size=2', '-o', 'name'])).length, 7);
  const json = JSON.parse(await k(['-n', 'pages', 'get', 'cm', '--chunk-size=3', '-o', 'json']));
  assert.equal(json.items.filter((i: any) => i.metadata.name !== 'kube-root-ca.crt').length, 7);
});

test('delete: by name, -l, --all, and a namespace', async () => {
  assert.equal((await k(['-n', 'sel', 'delete', 'cm', 'a'])).trim(), 'configmap "a" deleted');
  const byLabel = await k(['-n', 'sel', 'delete', 'cm', '-l', 'env']);
  assert.deepEqual(byLabel.trim().split('\n').sort(), [
    'configmap "b" deleted',
    'configmap "c" deleted',
    'configmap "d" deleted',
  ]);
  assert.deepEqual(names((await k(['-n', 'sel', 'get', 'cm', '-o', 'name'])).replaceAll('configmap/', '')), ['e', 'f']);
  const all = await k(['-n', 'pages', 'delete', 'cm', '-l', '!app']);
  assert.equal(
    all
      .trim()
      .split('\n')
      .filter((l) => !l.includes('kube-root-ca.crt')).length,
    7,
  );
  const none = await kr(['-n', 'pages', 'get', 'secrets']);
  assert.match(none.stderr, /No resources found in pages namespace\./);
  const missing = await kfail(['-n', 'sel', 'delete', 'cm', 'a']);
  assert.match(missing, /Error from server \(NotFound\): configmaps "a" not found/);
  assert.equal((await k(['-n', 'sel', 'delete', 'cm', 'a', '--ignore-not-found'])).trim(), '');
  // delete -f of the namespaced objects of examples/app.yaml (the namespace is deleted on its
  // own below: deleting it first races with the namespace controller emptying it).
  const objects = readFileSync(APP, 'utf8')
    .split(/^---$/m)
    .filter((d) => !/^kind: Namespace$/m.test(d))
    .join('---');
  const files = await k(['delete', '-f', '-'], objects);
  assert.equal(
    files.trim(),
    [
      'configmap "app-config" deleted',
      'secret "app-secret" deleted',
      'deployment.apps "app" deleted',
      'service "app" deleted',
      'cronjob.batch "tick" deleted',
    ].join('\n'),
  );
  const gone = await kfail(['-n', 'demo', 'get', 'deploy', 'app']);
  assert.match(gone, /deployments\.apps "app" not found/);
  // Deleting a namespace deletes what is left in it (the pod) and then the namespace.
  assert.equal((await k(['delete', 'ns', 'demo'])).trim(), 'namespace "demo" deleted');
  assert.match(await kfail(['get', 'ns', 'demo']), /namespaces "demo" not found/);
  const pods = await kr(['get', 'pods', '-A', '--field-selector', 'metadata.namespace=demo']);
  assert.match(pods.stderr, /No resources found/);
});

test('restart keeps objects', async () => {
  const before = await k([
    '-n',
    'made',
    'get',
    'cm',
    'settings',
    '-o',
    'jsonpath={.metadata.uid} {.metadata.resourceVersion}',
  ]);
  await cluster.restart();
  assert.equal(
    await k(['-n', 'made', 'get', 'cm', 'settings', '-o', 'jsonpath={.metadata.uid} {.metadata.resourceVersion}']),
    before,
  );
  await k(['-n', 'made', 'label', 'cm', 'settings', 'after=restart']);
  const rv = Number(await k(['-n', 'made', 'get', 'cm', 'settings', '-o', 'jsonpath={.metadata.resourceVersion}']));
  assert.ok(rv > Number(before.split(' ')[1]));
});
