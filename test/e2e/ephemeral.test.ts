// Ephemeral containers end to end, with real containers (containerd): the pods/ephemeralcontainers
// subresource as the API serves it (discovery, OpenAPI, get/update/patch and their validation),
// and `kubectl debug` from two kubectl generations (1.27 attaches over SPDY, 1.33 over WebSocket)
// against the node agent, which starts each ephemeral container once in the pod's sandbox, in
// its target's process namespace, and reports it in status.ephemeralContainerStatuses.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { execFileSync, spawn } from 'node:child_process';
import YAML from 'yaml';
import { TEST_IMAGES } from '../../src/agent/images/testimages.js';
import {
  NO_READY_NODE,
  hasReadyNode,
  importTestImages,
  realContainersUnavailable,
  startCluster,
  until,
  type Cluster,
} from './harness.js';
import { rawClient } from './rawclient.js';

const BUSYBOX = TEST_IMAGES.busybox;
/** The target's command: distinctive, so `ps` in a debug container shows it was found. */
const TARGET_COMMAND = ['sleep', '31337'];

/** A versioned kubectl binary, beside the real one behind the `kubectl` dispatcher on PATH. */
function kubectlBinary(version: string): string {
  const dispatcher = execFileSync('sh', ['-c', 'command -v kubectl'], { encoding: 'utf8' }).trim();
  return join(dirname(realpathSync(dispatcher)), `kubectl.${version}`);
}

/**
 * Runs an attaching kubectl (debug -i) with input piped in, as a user who types, reads the
 * answer and types `exit`: `input` is written, and once `done` matches the output, `exit` follows
 * and stdin closes. (An attach whose stdin ends at once loses the output: containerd detaches
 * stdout and stderr from a container whose stdin is not stdinOnce when the client's stdin closes,
 * and kubectl debug creates its container so. Output written just before the container exits
 * may also miss the attach that the exit ends, hence `exit` only after the answer.)
 */
function pipeKubectl(
  cluster: Cluster,
  bin: string,
  args: string[],
  input: string,
  done: RegExp,
  timeoutMs = 120_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(bin, ['--kubeconfig', cluster.kubeconfig, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`kubectl ${args.join(' ')} did not finish:\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
    }, timeoutMs);
    proc.stdout.on('data', (d) => {
      stdout += d;
      if (done.test(stdout) && proc.stdin.writable) proc.stdin.end('exit\n');
    });
    proc.stderr.on('data', (d) => (stderr += d));
    proc.stdin.on('error', () => undefined);
    proc.stdin.write(input);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const podPath = (name: string, sub = '') => `/api/v1/namespaces/default/pods/${name}${sub ? `/${sub}` : ''}`;

async function ephemeralStatus(cluster: Cluster, pod: string, name: string): Promise<any> {
  const out = await cluster.k(['get', 'pod', pod, '-o', 'json']);
  return (JSON.parse(out).status.ephemeralContainerStatuses ?? []).find((s: any) => s.name === name);
}

test(
  'ephemeral containers: subresource, agent, kubectl debug',
  { skip: realContainersUnavailable(), timeout: 420_000 },
  async (t) => {
    const cluster = await startCluster({ agent: true });
    try {
      if (!(await hasReadyNode(cluster))) {
        t.skip(NO_READY_NODE);
        return;
      }
      await importTestImages(cluster, ['busybox']);
      const raw = rawClient(cluster.kubeconfig);
      const spec = {
        containers: [{ name: 'main', image: BUSYBOX, imagePullPolicy: 'IfNotPresent', command: TARGET_COMMAND }],
        terminationGracePeriodSeconds: 1,
      };
      await cluster.k(
        ['apply', '-f', '-'],
        YAML.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'target' }, spec }),
      );
      await cluster.k(['wait', '--for=condition=Ready', 'pod/target', '--timeout=90s']);

      await t.test('discovery and OpenAPI know pods/ephemeralcontainers', async () => {
        const v1 = await raw.json('GET', '/api/v1');
        const sub = v1.body.resources.find((r: any) => r.name === 'pods/ephemeralcontainers');
        assert.ok(sub, 'pods/ephemeralcontainers in /api/v1');
        assert.equal(sub.kind, 'Pod');
        assert.deepEqual([...sub.verbs].sort(), ['get', 'patch', 'update']);
        const openapi = await raw.json('GET', '/openapi/v3/api/v1');
        const item = openapi.body.paths['/api/v1/namespaces/{namespace}/pods/{name}/ephemeralcontainers'];
        assert.ok(
          item?.get && item.put && item.patch,
          'OpenAPI v3 has get/put/patch of pods/{name}/ephemeralcontainers',
        );
        const resources = (await cluster.k(['api-resources', '--no-headers'])).split('\n');
        assert.ok(resources.some((l) => /^pods\s/.test(l)));
      });

      await t.test('the subresource validates as upstream', async () => {
        const got = await raw.json('GET', podPath('target', 'ephemeralcontainers'));
        assert.equal(got.status, 200);
        assert.equal(got.body.kind, 'Pod');
        assert.equal(got.body.metadata.name, 'target');

        const strategic = (containers: any[]) =>
          raw.json(
            'PATCH',
            podPath('target', 'ephemeralcontainers'),
            { spec: { ephemeralContainers: containers } },
            { 'Content-Type': 'application/strategic-merge-patch+json' },
          );
        const withPorts = await strategic([{ name: 'bad', image: BUSYBOX, ports: [{ containerPort: 80 }] }]);
        assert.equal(withPorts.status, 422, JSON.stringify(withPorts.body));
        assert.deepEqual(withPorts.body.details.causes, [
          {
            reason: 'FieldValueForbidden',
            message: 'Forbidden: cannot be set for an Ephemeral Container',
            field: 'spec.ephemeralContainers[0].ports',
          },
        ]);
        const noTarget = await strategic([{ name: 'bad', image: BUSYBOX, targetContainerName: 'nope' }]);
        assert.equal(noTarget.status, 422);
        assert.match(noTarget.body.message, /spec\.ephemeralContainers\[0\]\.targetContainerName: Not found: "nope"/);
        const duplicate = await strategic([{ name: 'main', image: BUSYBOX }]);
        assert.equal(duplicate.status, 422);
        assert.match(duplicate.body.message, /spec\.ephemeralContainers\[0\]\.name: Duplicate value: "main"/);

        // The pod itself may not gain one.
        const direct = await raw.json(
          'PATCH',
          podPath('target'),
          { spec: { ephemeralContainers: [{ name: 'sneaky', image: BUSYBOX }] } },
          { 'Content-Type': 'application/strategic-merge-patch+json' },
        );
        assert.equal(direct.status, 422);
        assert.match(direct.body.message, /pod updates may not change fields other than/);

        // A JSON patch adds one (it exits at once); labels in the same write are ignored.
        const added = await raw.json(
          'PATCH',
          podPath('target', 'ephemeralcontainers'),
          [
            {
              op: 'add',
              path: '/spec/ephemeralContainers',
              value: [{ name: 'once', image: BUSYBOX, command: ['echo', 'ran once'] }],
            },
            { op: 'add', path: '/metadata/labels', value: { ignored: 'yes' } },
          ],
          { 'Content-Type': 'application/json-patch+json' },
        );
        assert.equal(added.status, 200, JSON.stringify(added.body));
        assert.equal(added.body.spec.ephemeralContainers[0].terminationMessagePolicy, 'File');
        assert.equal(added.body.metadata.labels?.ignored, undefined);

        // Then it may be neither changed nor removed.
        const changed = await raw.json(
          'PATCH',
          podPath('target', 'ephemeralcontainers'),
          [{ op: 'replace', path: '/spec/ephemeralContainers/0/command', value: ['echo', 'again'] }],
          { 'Content-Type': 'application/json-patch+json' },
        );
        assert.equal(changed.status, 422);
        assert.match(changed.body.message, /existing ephemeral containers "once" may not be changed/);
        const removed = await raw.json(
          'PATCH',
          podPath('target', 'ephemeralcontainers'),
          [{ op: 'remove', path: '/spec/ephemeralContainers/0' }],
          { 'Content-Type': 'application/json-patch+json' },
        );
        assert.equal(removed.status, 422);
        assert.match(removed.body.message, /existing ephemeral containers "once" may not be removed/);

        // An update (PUT) adds another: it runs long enough to be seen Running, then Terminated.
        const current = (await raw.json('GET', podPath('target', 'ephemeralcontainers'))).body;
        current.spec.ephemeralContainers.push({
          name: 'sleeper',
          image: BUSYBOX,
          command: ['sh', '-c', 'echo sleeper up; sleep 6'],
          targetContainerName: 'main',
        });
        const put = await raw.json('PUT', podPath('target', 'ephemeralcontainers'), current);
        assert.equal(put.status, 200, JSON.stringify(put.body));
        assert.deepEqual(
          put.body.spec.ephemeralContainers.map((c: any) => c.name),
          ['once', 'sleeper'],
        );

        const running = await until(
          'sleeper Running',
          async () => (await ephemeralStatus(cluster, 'target', 'sleeper'))?.state?.running,
          60_000,
          250,
        );
        assert.ok(running.startedAt);
        // exec and logs work on a running ephemeral container.
        assert.equal(
          await cluster.k(['exec', 'target', '-c', 'sleeper', '--', 'echo', 'exec in ephemeral']),
          'exec in ephemeral\n',
        );
        assert.equal(await cluster.k(['logs', 'target', '-c', 'sleeper']), 'sleeper up\n');
        const done = await until(
          'sleeper Terminated',
          async () => (await ephemeralStatus(cluster, 'target', 'sleeper'))?.state?.terminated,
          60_000,
          500,
        );
        assert.equal(done.exitCode, 0);
        assert.equal(done.reason, 'Completed');
        const once = await until(
          'once Terminated',
          async () => (await ephemeralStatus(cluster, 'target', 'once'))?.state?.terminated,
          30_000,
          500,
        );
        assert.equal(once.exitCode, 0);
        assert.equal(await cluster.k(['logs', 'target', '-c', 'once']), 'ran once\n');
        // Never restarted; the pod itself is untouched.
        await new Promise((r) => setTimeout(r, 2000));
        const pod = JSON.parse(await cluster.k(['get', 'pod', 'target', '-o', 'json']));
        const status = pod.status.ephemeralContainerStatuses.find((s: any) => s.name === 'once');
        assert.equal(status.restartCount, 0);
        assert.ok(status.state.terminated);
        assert.equal(pod.status.phase, 'Running');
        assert.equal(pod.status.containerStatuses[0].restartCount, 0);
        assert.ok(pod.status.conditions.some((c: any) => c.type === 'Ready' && c.status === 'True'));
      });

      // -it as a user types it (kubectl drops the terminal when its input is a pipe, the container keeps tty).
      const variants: [string, string[]][] = [
        ['1.27', ['-i', '--attach=true']],
        ['1.27', ['-it']],
        ['1.33', ['-i']],
        ['1.33', ['-it']],
      ];
      for (const [version, flags] of variants) {
        const tty = flags.includes('-it');
        await t.test(
          `kubectl ${version} debug ${flags.join(' ')} --target: sees the target's processes, stdin piped`,
          async () => {
            const bin = kubectlBinary(version);
            const name = `dbg-${tty ? 'tty' : 'i'}-${version.replace('.', '-')}`;
            const r = await pipeKubectl(
              cluster,
              bin,
              ['debug', ...flags, 'target', `--image=${BUSYBOX}`, '--target=main', `--container=${name}`, '--', 'sh'],
              'echo "stdin-ok-$((6*7))"; ps\n',
              /stdin-ok-42[\s\S]*sleep 31337/,
            );
            assert.equal(r.code, 0, `kubectl debug failed:\n${r.stderr}\n${r.stdout}`);
            assert.match(r.stdout, /stdin-ok-42/);
            assert.match(
              r.stdout,
              new RegExp(TARGET_COMMAND.join(' ')),
              `ps in the debug container shows the target's command:\n${r.stdout}`,
            );
            const st = await until(
              `${name} Terminated`,
              async () => (await ephemeralStatus(cluster, 'target', name))?.state?.terminated,
              30_000,
              500,
            );
            assert.equal(st.exitCode, 0);
            const spec = JSON.parse(
              await cluster.k(['get', 'pod', 'target', '-o', 'json']),
            ).spec.ephemeralContainers.find((c: any) => c.name === name);
            assert.equal(spec.targetContainerName, 'main');
            assert.equal(spec.stdin, true);
            assert.equal(!!spec.tty, tty);
            // Its output stays readable.
            assert.match(await cluster.k(['logs', 'target', '-c', name]), /stdin-ok-42/);
          },
        );
      }

      await t.test('kubectl debug --copy-to and debug node/NAME keep working', async () => {
        const bin = kubectlBinary('1.33');
        const copy = await cluster.kubectl(
          [
            'debug',
            'target',
            '--copy-to=target-copy',
            `--image=${BUSYBOX}`,
            '--container=copydbg',
            '--',
            'sleep',
            '3600',
          ],
          { bin },
        );
        assert.equal(copy.code, 0, copy.stderr);
        await cluster.k(['wait', '--for=condition=Ready', 'pod/target-copy', '--timeout=90s']);
        const copied = JSON.parse(await cluster.k(['get', 'pod', 'target-copy', '-o', 'json']));
        assert.deepEqual(
          copied.spec.containers.map((c: any) => c.name),
          ['main', 'copydbg'],
        );

        const node = (await cluster.k(['get', 'nodes', '-o', 'jsonpath={.items[0].metadata.name}'])).trim();
        const r = await pipeKubectl(
          cluster,
          bin,
          ['debug', `node/${node}`, '-i', `--image=${BUSYBOX}`, '--', 'sh'],
          'echo "on-node-$((2+3))"; test -d /host/proc && echo host-root-mounted\n',
          /host-root-mounted/,
        );
        assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
        assert.match(r.stdout, /on-node-5/);
        assert.match(r.stdout, /host-root-mounted/);
      });
    } finally {
      await cluster.cleanup();
    }
  },
);

// The process runtime has no namespaces to share: the ephemeral container is a process like the
// others, and sees the target's process among the host's.
test(
  'ephemeral containers on the process runtime: kubectl debug starts one as a process',
  { timeout: 240_000 },
  async () => {
    const cluster = await startCluster({ agent: true, args: ['--runtime', 'process'] });
    try {
      await until(
        'a Ready node',
        async () =>
          (
            await cluster.kubectl([
              'get',
              'nodes',
              '-o',
              'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
            ])
          ).stdout.includes('True'),
        60_000,
        500,
      );
      await importTestImages(cluster, ['busybox']);
      // A distinctive argument, so the test finds this target among the host's processes.
      const marker = String(40000 + Math.floor(Math.random() * 20000));
      const spec = {
        containers: [{ name: 'main', image: BUSYBOX, imagePullPolicy: 'IfNotPresent', command: ['sleep', marker] }],
        terminationGracePeriodSeconds: 1,
      };
      await cluster.k(
        ['apply', '-f', '-'],
        YAML.stringify({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'target' }, spec }),
      );
      await cluster.k(['wait', '--for=condition=Ready', 'pod/target', '--timeout=90s']);
      for (const version of ['1.27', '1.33']) {
        const name = `dbg-${version.replace('.', '-')}`;
        const r = await pipeKubectl(
          cluster,
          kubectlBinary(version),
          ['debug', '-i', 'target', `--image=${BUSYBOX}`, '--target=main', `--container=${name}`, '--', 'sh'],
          'echo "stdin-ok-$((6*7))"; ps\n',
          new RegExp(`stdin-ok-42[\\s\\S]*sleep ${marker}`),
        );
        assert.equal(r.code, 0, `${r.stderr}\n${r.stdout}`);
        const st = await until(
          `${name} Terminated`,
          async () => (await ephemeralStatus(cluster, 'target', name))?.state?.terminated,
          30_000,
          500,
        );
        assert.equal(st.exitCode, 0);
        assert.match(await cluster.k(['logs', 'target', '-c', name]), /stdin-ok-42/);
      }
    } finally {
      await cluster.cleanup();
    }
  },
);
