// Version skew: the same core flow with kubectl 1.27, 1.29, 1.31 and 1.33 against one server.
// Old kubectl reads OpenAPI v2 in protobuf (apply, create -f validation, explain) and uses
// different discovery; new kubectl uses aggregated discovery and OpenAPI v3.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { startCluster, type Cluster } from './harness.js';
import { streamKubectl } from './streams.js';

const BIN_DIR = '/usr/lib/google-cloud-sdk/bin';
const VERSIONS = ['1.27', '1.29', '1.31', '1.33'];

let cluster: Cluster;

before(async () => {
  cluster = await startCluster();
});

after(async () => {
  await cluster?.cleanup();
});

const manifest = (ns: string, image: string, greeting: string) => `apiVersion: v1
kind: Namespace
metadata:
  name: ${ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
  namespace: ${ns}
data:
  greeting: ${greeting}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ${ns}
  labels: {app: web}
spec:
  replicas: 1
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: ${image}
        command: ["httpd", "-f"]
        ports:
        - containerPort: 8080
      - name: sidecar
        image: busybox:1.36
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: ${ns}
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
`;

for (const version of VERSIONS) {
  const bin = `${BIN_DIR}/kubectl.${version}`;
  test(
    `kubectl ${version}: apply, get, patch, watch, delete`,
    { skip: !existsSync(bin) && `${bin} not installed` },
    async () => {
      const ns = `v${version.replace('.', '-')}`;
      const run = (args: string[], input?: string) => cluster.kubectl(args, { bin, input });
      const k = async (args: string[], input?: string) => {
        const r = await run(args, input);
        if (r.code !== 0)
          throw new Error(`kubectl.${version} ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
        return r.stdout;
      };

      const v = JSON.parse(await k(['version', '-o', 'json']));
      assert.equal(v.clientVersion.minor, version.split('.')[1]);
      assert.match(v.serverVersion.gitVersion, /^v1\.\d+\.\d+/);

      const created = await k(['apply', '-f', '-'], manifest(ns, 'busybox:1.36', 'hello'));
      assert.equal(
        created.trim(),
        [`namespace/${ns} created`, 'configmap/cfg created', 'deployment.apps/web created', 'service/web created'].join(
          '\n',
        ),
      );
      const unchanged = await k(['apply', '-f', '-'], manifest(ns, 'busybox:1.36', 'hello'));
      assert.equal(
        unchanged.trim(),
        [
          `namespace/${ns} unchanged`,
          'configmap/cfg unchanged',
          'deployment.apps/web unchanged',
          'service/web unchanged',
        ].join('\n'),
      );

      // Re-apply with a new image: a three-way strategic merge keyed on container names.
      const changed = await k(['apply', '-f', '-'], manifest(ns, 'busybox:1.37', 'bonjour'));
      assert.match(changed, /^configmap\/cfg configured$/m);
      assert.match(changed, /^deployment\.apps\/web configured$/m);
      assert.match(changed, /^service\/web unchanged$/m);
      const containers = JSON.parse(
        await k(['-n', ns, 'get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers}']),
      );
      assert.deepEqual(
        containers.map((c: any) => [c.name, c.image]),
        [
          ['web', 'busybox:1.37'],
          ['sidecar', 'busybox:1.36'],
        ],
      );
      assert.deepEqual(containers[0].command, ['httpd', '-f']);

      const table = await k(['-n', ns, 'get', 'deploy,svc,cm']);
      assert.match(table, /^deployment\.apps\/web\s+\d+\/1\s+/m);
      assert.match(table, /^service\/web\s+ClusterIP\s+10\.43\.\d+\.\d+\s+<none>\s+80\/TCP\s+/m);
      assert.match(table, /^configmap\/cfg\s+1\s+/m);

      // Strategic merge patch of one container by name leaves the other alone.
      assert.equal(
        (
          await k([
            '-n',
            ns,
            'patch',
            'deploy',
            'web',
            '-p',
            '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:1.35"}]}}}}',
          ])
        ).trim(),
        'deployment.apps/web patched',
      );
      assert.equal(
        await k(['-n', ns, 'get', 'deploy', 'web', '-o', 'jsonpath={.spec.template.spec.containers[*].image}']),
        'busybox:1.37 busybox:1.35',
      );
      await k([
        '-n',
        ns,
        'patch',
        'cm',
        'cfg',
        '--type=json',
        '-p',
        '[{"op":"replace","path":"/data/greeting","value":"patched"}]',
      ]);
      assert.equal(await k(['-n', ns, 'get', 'cm', 'cfg', '-o', 'jsonpath={.data.greeting}']), 'patched');

      // Server-side field validation is detected and used.
      const strict = await run(
        ['-n', ns, 'create', '--validate=strict', '-f', '-'],
        'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: strict}\nbogus: 1\n',
      );
      assert.notEqual(strict.code, 0);
      assert.match(strict.stderr, /unknown field "bogus"/);

      const explain = await k(['explain', 'deployment.spec.replicas']);
      assert.match(explain, /replicas\s+<integer>/);

      // get -w: the current row, then a change, then it is stopped.
      const w = streamKubectl(cluster, ['-n', ns, 'get', 'cm', 'cfg', '-w'], { bin });
      try {
        await w.waitFor(/^cfg\s+1\s+/m);
        await k(['-n', ns, 'patch', 'cm', 'cfg', '--type=merge', '-p', '{"data":{"more":"x"}}']);
        await w.waitFor(/^cfg\s+2\s+/m);
      } finally {
        await w.stop();
      }

      // Everything but kube-root-ca.crt, which the root CA publisher owns (and would recreate).
      const mine = '--field-selector=metadata.name!=kube-root-ca.crt';
      const deleted = await k(['-n', ns, 'delete', 'deploy,svc,cm', mine]);
      assert.deepEqual(deleted.trim().split('\n').sort(), [
        'configmap "cfg" deleted',
        'deployment.apps "web" deleted',
        'service "web" deleted',
      ]);
      const none = await run(['-n', ns, 'get', 'deploy,svc,cm', mine]);
      assert.equal(none.code, 0, none.stderr);
      assert.match(none.stderr, new RegExp(`No resources found in ${ns} namespace\\.`));
      assert.equal((await k(['delete', 'ns', ns])).trim(), `namespace "${ns}" deleted`);
    },
  );
}
