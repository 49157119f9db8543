// The kubectl compatibility matrix of docs/compatibility.md: every kubectl binary from 1.27 to
// 1.33 runs the same everyday flow against one server with a simulated node. The versions differ
// in what they send: 1.27/1.28 read OpenAPI v2 as protobuf for apply, 1.27–1.29 ask aggregated
// discovery v2beta1 and 1.30+ v2, and 1.32+ send typed `kubectl create <kind>` bodies as protobuf.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, realpathSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { startCluster, type Cluster } from './harness.js';

const VERSIONS = ['1.27', '1.28', '1.29', '1.30', '1.31', '1.32', '1.33'];

/** Where the versioned binaries are: beside the real file the `kubectl` on PATH points to. */
function binDir(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const k = join(dir, 'kubectl');
    if (existsSync(k)) return dirname(realpathSync(k));
  }
  return undefined;
}

let cluster: Cluster;

before(async () => {
  cluster = await startCluster({ args: ['--simulated-nodes', '1'] });
});
after(async () => {
  await cluster?.cleanup();
});

const applied = (ns: string, value: string) => `apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: ${ns}
data:
  value: "${value}"
`;

const dir = binDir();
for (const version of VERSIONS) {
  const bin = dir && join(dir, `kubectl.${version}`);
  const skip = !bin || !existsSync(bin) ? `kubectl.${version} not installed` : false;
  test(
    `kubectl ${version}: create, apply, get, patch, scale, rollout status, delete`,
    { skip, timeout: 120_000 },
    async () => {
      const ns = `m${version.replace('.', '-')}`;
      const k = async (...args: string[]) => {
        const r = await cluster.kubectl(args, { bin, timeoutMs: 60_000 });
        if (r.code !== 0)
          throw new Error(`kubectl.${version} ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
        return r.stdout;
      };
      const input = async (args: string[], text: string) => {
        const r = await cluster.kubectl(args, { bin, input: text, timeoutMs: 60_000 });
        if (r.code !== 0)
          throw new Error(`kubectl.${version} ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
        return r.stdout;
      };

      // create: each generator (1.32+ send these bodies as protobuf).
      assert.match(await k('create', 'namespace', ns), new RegExp(`namespace/${ns} created`));
      const n = ['-n', ns];
      assert.match(
        await k(...n, 'create', 'deployment', 'web', '--image=busybox:1.36', '--replicas=1', '--', 'sleep', '3600'),
        /deployment.apps\/web created/,
      );
      assert.match(await k(...n, 'create', 'configmap', 'cfg', '--from-literal=a=1'), /configmap\/cfg created/);
      assert.match(
        await k(...n, 'create', 'secret', 'generic', 'creds', '--from-literal=password=s3cret'),
        /secret\/creds created/,
      );
      assert.match(await k(...n, 'create', 'service', 'clusterip', 'web', '--tcp=80:8080'), /service\/web created/);
      assert.match(
        await k(...n, 'create', 'job', 'once', '--image=busybox:1.36', '--', 'true'),
        /job.batch\/once created/,
      );
      assert.match(
        await k(...n, 'create', 'cronjob', 'tick', '--image=busybox:1.36', '--schedule=*/5 * * * *', '--', 'true'),
        /cronjob.batch\/tick created/,
      );
      assert.match(
        await k(...n, 'create', 'role', 'reader', '--verb=get,list', '--resource=pods'),
        /role.rbac.authorization.k8s.io\/reader created/,
      );
      assert.match(
        await k(...n, 'create', 'quota', 'small', '--hard=pods=10,configmaps=20'),
        /resourcequota\/small created/,
      );

      // apply: create, then update through the last-applied annotation.
      assert.match(await input(['apply', '-f', '-'], applied(ns, 'one')), /configmap\/applied created/);
      assert.match(await input(['apply', '-f', '-'], applied(ns, 'two')), /configmap\/applied configured/);

      // get -o yaml and -o wide.
      const yaml = await k(...n, 'get', 'configmap', 'applied', '-o', 'yaml');
      assert.match(yaml, /value: two/);
      assert.match(yaml, /kubectl.kubernetes.io\/last-applied-configuration/);
      const wide = await k(...n, 'get', 'deployment', 'web', '-o', 'wide');
      assert.match(
        wide.split('\n')[0],
        /^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\s+CONTAINERS\s+IMAGES\s+SELECTOR$/,
      );
      assert.match(wide, /busybox:1\.36\s+app=web/);
      const quota = await k(...n, 'get', 'quota', 'small', '-o', 'wide');
      assert.match(quota, /small/);

      // patch: strategic merge, merge and JSON patch.
      await k(...n, 'patch', 'configmap', 'cfg', '-p', '{"data":{"b":"2"}}');
      await k(...n, 'patch', 'deployment', 'web', '--type=merge', '-p', '{"metadata":{"labels":{"tier":"front"}}}');
      await k(
        ...n,
        'patch',
        'service',
        'web',
        '--type=json',
        '-p',
        '[{"op":"add","path":"/metadata/annotations","value":{"x":"y"}}]',
      );
      assert.equal(await k(...n, 'get', 'configmap', 'cfg', '-o', 'jsonpath={.data.b}'), '2');

      // scale and rollout status (the simulated node runs the pods).
      assert.match(await k(...n, 'scale', 'deployment', 'web', '--replicas=2'), /deployment.apps\/web scaled/);
      assert.match(await k(...n, 'rollout', 'status', 'deployment/web', '--timeout=60s'), /successfully rolled out/);
      assert.equal(await k(...n, 'get', 'deployment', 'web', '-o', 'jsonpath={.status.readyReplicas}'), '2');

      // delete the lot, waiting for each to go.
      const deleted = await k(
        ...n,
        'delete',
        'deployment/web',
        'configmap/cfg',
        'configmap/applied',
        'secret/creds',
        'service/web',
        'job/once',
        'cronjob/tick',
        'role/reader',
        'quota/small',
      );
      assert.equal(deleted.trim().split('\n').length, 9, deleted);
      assert.match(await k('delete', 'namespace', ns, '--wait=false'), new RegExp(`namespace "${ns}" deleted`));
    },
  );
}
