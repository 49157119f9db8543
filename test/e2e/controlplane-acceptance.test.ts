// Issue 4's acceptance list, walked end to end with the real kubectl against
// `k8ts server --simulated-nodes 3`, the way a new user would try it:
//
//   - a Deployment scales 3 → 6, rolls out a new image within maxSurge/maxUnavailable,
//     `rollout undo` returns to the old one; a deleted pod is replaced; endpoints follow ready pods;
//   - StatefulSet pods db-0..db-2 are created in order and removed in reverse; a DaemonSet covers
//     every node, including one added later (a second `k8ts sim` process); a Job with completions 4
//     and parallelism 2 completes; a CronJob creates Jobs on schedule;
//   - `kubectl delete --cascade=background|foreground|orphan`; deleting a namespace removes
//     everything in it;
//   - `kubectl drain` evicts while respecting a PodDisruptionBudget; a NoExecute taint evicts pods
//     without a toleration; an unschedulable pod explains why in `kubectl describe`;
//     anti-affinity spreads pods over nodes;
//   - an HPA scales a Deployment up under simulated load and back down after the stabilization
//     window; `kubectl top nodes|pods` shows usage;
//   - stopping the server mid-rollout and restarting it resumes the rollout; a second
//     controller manager stays standby and takes over within the lease duration.
//
// Phase 1 runs the namespaced scenarios concurrently (the CronJob's wait for the next minute
// bounds it); phase 2 runs the node-level ones (a node added then removed, drain, taint, restart)
// one after the other, so that no scenario sees its pods moved by another.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { K8TS_BIN, startCluster, type Cluster } from './harness.js';
import { sleep, until } from '../support/until.js';

let cluster: Cluster;
const procs: ChildProcess[] = [];

before(async () => {
  // The HPA controller's sync period (15 s upstream) is read from the server's environment.
  process.env.K8TS_HPA_SYNC_PERIOD_MS = '1000';
  cluster = await startCluster({
    args: ['--simulated-nodes', '3', '--sim-heartbeat-seconds', '1', '--sim-job-seconds', '0.5'],
  });
});
after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await cluster?.cleanup();
});

const getJSON = async (args: string[]) => JSON.parse(await cluster.k([...args, '-o', 'json']));
const isReady = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');
const live = (items: any[]) => items.filter((p: any) => !p.metadata.deletionTimestamp);
const pods = async (ns: string, selector?: string) =>
  (await getJSON(['get', 'pods', '-n', ns, ...(selector ? ['-l', selector] : [])])).items as any[];
const notFound = async (args: string[]) => {
  const r = await cluster.kubectl(args);
  return r.code !== 0 && /NotFound|not found/.test(r.stderr);
};

/** Endpoints of a Service: ready and not-ready target pod names. */
async function endpoints(ns: string, name: string): Promise<{ ready: string[]; notReady: string[]; ips: string[] }> {
  const ep = await getJSON(['get', 'endpoints', name, '-n', ns]);
  const ready: string[] = [];
  const notReady: string[] = [];
  const ips: string[] = [];
  for (const s of ep.subsets ?? []) {
    for (const a of s.addresses ?? []) {
      ready.push(a.targetRef?.name);
      ips.push(a.ip);
    }
    for (const a of s.notReadyAddresses ?? []) notReady.push(a.targetRef?.name);
  }
  return { ready: ready.sort(), notReady: notReady.sort(), ips: ips.sort() };
}

/** `kubectl get ... -w --output-watch-events -o jsonpath=...` as a line stream. */
function kubectlWatch(args: string[], onLine: (line: string) => void): { stop: () => void } {
  const proc = spawn('kubectl', ['--kubeconfig', cluster.kubeconfig, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let buf = '';
  proc.stdout.on('data', (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) onLine(line);
    }
  });
  return { stop: () => void (proc.exitCode === null && proc.signalCode === null && proc.kill('SIGTERM')) };
}

const nodeNames = async () => ((await getJSON(['get', 'nodes'])).items as any[]).map((n) => n.metadata.name).sort();

describe('phase 1: workloads, garbage collection, scheduling, autoscaling', { concurrency: true }, () => {
  test(
    'Deployment: 3 → 6, rolling update within maxSurge/maxUnavailable, undo, pod replaced, endpoints follow',
    { timeout: 150_000 },
    async () => {
      const ns = 'dep';
      await cluster.k(['create', 'namespace', ns]);
      await cluster.k(
        ['apply', '-n', ns, '-f', '-'],
        `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}
  template:
    metadata:
      labels: {app: web}
      annotations: {sim.k8ts.io/ready-seconds: "1"}
    spec:
      containers: [{name: nginx, image: "nginx:1.27", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 80}]
`,
      );
      const status = await cluster.k(['rollout', 'status', 'deploy/web', '-n', ns, '--timeout=60s']);
      assert.match(status, /successfully rolled out/);
      let ps = live(await pods(ns, 'app=web'));
      assert.equal(ps.length, 3);
      assert.ok(ps.every(isReady));
      // Endpoints: the three ready pods, by name and IP.
      await until('3 endpoints', async () => {
        const ep = await endpoints(ns, 'web');
        return ep.ready.length === 3 && ep.notReady.length === 0 && ep;
      });
      assert.deepEqual((await endpoints(ns, 'web')).ips, ps.map((p) => p.status.podIP).sort());

      // Scale 3 → 6.
      await cluster.k(['scale', 'deploy', 'web', '-n', ns, '--replicas=6']);
      await cluster.k(['rollout', 'status', 'deploy/web', '-n', ns, '--timeout=60s']);
      await until('6/6 in kubectl get', async () =>
        /^web\s+6\/6\s+6\s+6\s/m.test(await cluster.k(['get', 'deploy', 'web', '-n', ns])),
      );
      ps = live(await pods(ns, 'app=web'));
      assert.equal(ps.length, 6);
      await until('6 endpoints', async () => (await endpoints(ns, 'web')).ready.length === 6);
      const epText = await cluster.k(['get', 'endpoints', 'web', '-n', ns]);
      assert.match(epText, /^web\s+\S+:80,\S+:80,\S+:80 \+ 3 more\.\.\./m);

      // A new image: sample pods and ReplicaSets while it rolls out. 6 replicas, maxSurge 1,
      // maxUnavailable 1 → never more than 7 pods, never fewer than 5 available.
      let sampling = true;
      let maxPods = 0;
      let minReady = Infinity;
      let maxRsTotal = 0;
      let mixedSeen = false;
      let samples = 0;
      const sampler = (async () => {
        while (sampling) {
          const [p, rs] = await Promise.all([pods(ns, 'app=web'), getJSON(['get', 'rs', '-n', ns, '-l', 'app=web'])]);
          const lp = live(p);
          maxPods = Math.max(maxPods, lp.length);
          minReady = Math.min(minReady, lp.filter(isReady).length);
          const rsSum = rs.items.reduce((s: number, r: any) => s + (r.spec.replicas ?? 0), 0);
          maxRsTotal = Math.max(maxRsTotal, rsSum);
          if (rs.items.filter((r: any) => (r.spec.replicas ?? 0) > 0).length > 1) mixedSeen = true;
          samples++;
        }
      })();
      await cluster.k(['set', 'image', 'deploy/web', '-n', ns, 'nginx=nginx:1.28']);
      const rolled = await cluster.k(['rollout', 'status', 'deploy/web', '-n', ns, '--timeout=90s']);
      sampling = false;
      await sampler;
      assert.match(rolled, /successfully rolled out/);
      assert.ok(samples >= 3, `only ${samples} samples`);
      assert.ok(mixedSeen, 'never saw old and new ReplicaSets scaled up together');
      assert.ok(maxPods <= 7, `${maxPods} pods during the rollout (maxSurge 1 over 6)`);
      assert.ok(maxRsTotal <= 7, `ReplicaSets summed to ${maxRsTotal} replicas (maxSurge 1 over 6)`);
      assert.ok(minReady >= 5, `only ${minReady} ready pods during the rollout (maxUnavailable 1 of 6)`);
      ps = live(await pods(ns, 'app=web'));
      assert.equal(ps.length, 6);
      assert.ok(ps.every((p) => p.spec.containers[0].image === 'nginx:1.28'));
      const rsList = (await getJSON(['get', 'rs', '-n', ns, '-l', 'app=web'])).items;
      assert.equal(rsList.length, 2);
      assert.deepEqual(rsList.map((r: any) => r.spec.replicas).sort(), [0, 6]);
      const hist = await cluster.k(['rollout', 'history', 'deploy/web', '-n', ns]);
      assert.match(hist, /^1\s/m);
      assert.match(hist, /^2\s/m);

      // rollout undo: back to nginx:1.27 (revision 3).
      const undo = await cluster.k(['rollout', 'undo', 'deploy/web', '-n', ns]);
      assert.match(undo, /deployment.apps\/web rolled back/);
      await cluster.k(['rollout', 'status', 'deploy/web', '-n', ns, '--timeout=90s']);
      await until('old image back', async () => {
        const lp = live(await pods(ns, 'app=web'));
        return lp.length === 6 && lp.every((p) => p.spec.containers[0].image === 'nginx:1.27') && lp.every(isReady);
      });
      const dep = await getJSON(['get', 'deploy', 'web', '-n', ns]);
      assert.equal(dep.metadata.annotations['deployment.kubernetes.io/revision'], '3');
      assert.equal(dep.spec.template.spec.containers[0].image, 'nginx:1.27');
      const hist2 = await cluster.k(['rollout', 'history', 'deploy/web', '-n', ns]);
      assert.match(hist2, /^2\s/m);
      assert.match(hist2, /^3\s/m);
      assert.doesNotMatch(hist2, /^1\s/m);
      await until('6 endpoints after undo', async () => {
        const ep = await endpoints(ns, 'web');
        const lp = live(await pods(ns, 'app=web'));
        return (
          ep.ready.length === 6 && JSON.stringify(ep.ready) === JSON.stringify(lp.map((p) => p.metadata.name).sort())
        );
      });

      // A deleted pod is replaced, and leaves the endpoints.
      const victim = live(await pods(ns, 'app=web'))[0].metadata.name;
      await cluster.k(['delete', 'pod', victim, '-n', ns]);
      await until('replacement ready', async () => {
        const lp = live(await pods(ns, 'app=web'));
        return lp.length === 6 && lp.every(isReady) && !lp.some((p) => p.metadata.name === victim);
      });
      await until('endpoints without the deleted pod', async () => {
        const ep = await endpoints(ns, 'web');
        return ep.ready.length === 6 && !ep.ready.includes(victim);
      });

      // A pod that becomes ready later is first a not-ready address, then a ready one; once
      // deleted it is gone. (Its labels don't carry the pod-template-hash: no ReplicaSet adopts it.)
      await cluster.k(
        ['apply', '-n', ns, '-f', '-'],
        `
apiVersion: v1
kind: Pod
metadata:
  name: late
  labels: {app: web}
  annotations: {sim.k8ts.io/ready-seconds: "3"}
spec:
  containers: [{name: nginx, image: "nginx:1.27", ports: [{containerPort: 80}]}]
`,
      );
      await until(
        'late is not ready yet',
        async () => (await endpoints(ns, 'web')).notReady.includes('late'),
        10_000,
        100,
      );
      await until('late becomes ready', async () => {
        const ep = await endpoints(ns, 'web');
        return ep.ready.includes('late') && !ep.notReady.includes('late') && ep.ready.length === 7;
      });
      await cluster.k(['delete', 'pod', 'late', '-n', ns]);
      await until('late gone', async () => {
        const ep = await endpoints(ns, 'web');
        return !ep.ready.includes('late') && !ep.notReady.includes('late') && ep.ready.length === 6;
      });
    },
  );

  test('StatefulSet: db-0..db-2 created in order, removed in reverse', { timeout: 90_000 }, async () => {
    const ns = 'sts';
    await cluster.k(['create', 'namespace', ns]);
    // What a user watching `kubectl get pods -w` sees.
    const events: { type: string; name: string; deleting: boolean; ready: boolean }[] = [];
    const w = kubectlWatch(
      [
        'get',
        'pods',
        '-n',
        ns,
        '-w',
        '--output-watch-events',
        '-o',
        'jsonpath={.type} {.object.metadata.name} del={.object.metadata.deletionTimestamp} ready={.object.status.conditions[?(@.type=="Ready")].status}{"\\n"}',
      ],
      (line) => {
        const m = /^(\S+) (\S+) del=(\S*) ready=(\S*)$/.exec(line);
        if (m) events.push({ type: m[1], name: m[2], deleting: m[3] !== '', ready: m[4] === 'True' });
      },
    );
    try {
      await sleep(500);
      await cluster.k(
        ['apply', '-n', ns, '-f', '-'],
        `
apiVersion: v1
kind: Service
metadata: {name: db}
spec:
  clusterIP: None
  selector: {app: db}
  ports: [{port: 5432}]
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 3
  selector: {matchLabels: {app: db}}
  template:
    metadata:
      labels: {app: db}
      annotations: {sim.k8ts.io/ready-seconds: "1"}
    spec: {containers: [{name: pg, image: "postgres:16"}]}
`,
      );
      await cluster.k(['rollout', 'status', 'sts/db', '-n', ns, '--timeout=60s']);
      await until('3/3', async () => /^db\s+3\/3\s/m.test(await cluster.k(['get', 'sts', 'db', '-n', ns])));
      assert.deepEqual(
        live(await pods(ns, 'app=db'))
          .map((p) => p.metadata.name)
          .sort(),
        ['db-0', 'db-1', 'db-2'],
      );
      // Creation order: db-i appears only once db-(i-1) was Ready.
      const added = events.filter((e) => e.type === 'ADDED').map((e) => e.name);
      assert.deepEqual(added, ['db-0', 'db-1', 'db-2'], JSON.stringify(events));
      for (const i of [1, 2]) {
        const at = events.findIndex((e) => e.type === 'ADDED' && e.name === `db-${i}`);
        const prevReady = events.slice(0, at).some((e) => e.name === `db-${i - 1}` && e.ready);
        assert.ok(prevReady, `db-${i} was created before db-${i - 1} was Ready: ${JSON.stringify(events)}`);
      }
      const mark = events.length;
      await cluster.k(['scale', 'sts', 'db', '-n', ns, '--replicas=0']);
      await until('pods gone', async () => (await pods(ns, 'app=db')).length === 0, 40_000);
      await sleep(300);
      const order: string[] = [];
      for (const e of events.slice(mark))
        if ((e.deleting || e.type === 'DELETED') && !order.includes(e.name)) order.push(e.name);
      assert.deepEqual(order, ['db-2', 'db-1', 'db-0'], JSON.stringify(events.slice(mark)));
      // db-(i-1) started terminating only after db-i was gone.
      for (const i of [2, 1]) {
        const gone = events.findIndex((e, j) => j >= mark && e.type === 'DELETED' && e.name === `db-${i}`);
        const next = events.findIndex((e, j) => j >= mark && e.deleting && e.name === `db-${i - 1}`);
        assert.ok(
          gone >= 0 && next > gone,
          `db-${i - 1} terminated before db-${i} was gone: ${JSON.stringify(events.slice(mark))}`,
        );
      }
    } finally {
      w.stop();
    }
  });

  test('Job: completions 4, parallelism 2 completes', { timeout: 60_000 }, async () => {
    const ns = 'job';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: batch/v1
kind: Job
metadata: {name: work}
spec:
  completions: 4
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox, command: [sh, -c, "sleep 1"]}]
`,
    );
    let maxRunning = 0;
    let done = false;
    const sampler = (async () => {
      while (!done) {
        const ps = await pods(ns, 'job-name=work');
        maxRunning = Math.max(
          maxRunning,
          ps.filter((p) => !['Succeeded', 'Failed'].includes(p.status?.phase) && !p.metadata.deletionTimestamp).length,
        );
        await sleep(100);
      }
    })();
    try {
      const r = await cluster.kubectl(['wait', '--for=condition=complete', 'job/work', '-n', ns, '--timeout=45s'], {
        timeoutMs: 50_000,
      });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /job.batch\/work condition met/);
    } finally {
      done = true;
      await sampler;
    }
    assert.ok(maxRunning <= 2, `${maxRunning} pods ran at once (parallelism 2)`);
    assert.match(await cluster.k(['get', 'job', 'work', '-n', ns]), /^work\s+(Complete\s+)?4\/4\s/m);
    const ps = await pods(ns, 'job-name=work');
    assert.equal(ps.filter((p) => p.status.phase === 'Succeeded').length, 4);
    const described = await cluster.k(['describe', 'job', 'work', '-n', ns]);
    assert.match(described, /Pods Statuses:\s+0 Active \(0 Ready\) \/ 4 Succeeded \/ 0 Failed/);
  });

  test('CronJob: creates Jobs on schedule', { timeout: 100_000 }, async () => {
    const ns = 'cron';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k([
      'create',
      'cronjob',
      'tick',
      '-n',
      ns,
      '--image=busybox',
      '--schedule=*/1 * * * *',
      '--',
      'sh',
      '-c',
      'date',
    ]);
    assert.match(
      await cluster.k(['get', 'cronjob', 'tick', '-n', ns]),
      /^tick\s+\*\/1 \* \* \* \*\s+(<none>\s+)?False\s+0\s+<none>\s/m,
    );
    // The next minute boundary: at most 60 s away.
    const job = await until(
      'a scheduled Job',
      async () => (await getJSON(['get', 'jobs', '-n', ns])).items[0],
      75_000,
      1000,
    );
    assert.match(job.metadata.name, /^tick-\d+$/);
    assert.equal(job.metadata.ownerReferences?.[0]?.kind, 'CronJob');
    assert.equal(job.metadata.ownerReferences?.[0]?.name, 'tick');
    const r = await cluster.kubectl(
      ['wait', '--for=condition=complete', `job/${job.metadata.name}`, '-n', ns, '--timeout=20s'],
      { timeoutMs: 25_000 },
    );
    assert.equal(
      r.code,
      0,
      r.stderr + (await cluster.kubectl(['get', 'cronjob,jobs,pods', '-n', ns, '-o', 'wide'])).stdout,
    );
    // NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST-SCHEDULE AGE
    await until('LAST SCHEDULE set', async () =>
      /^tick\s+\*\/1 \* \* \* \*\s+(<none>\s+)?False\s+0\s+\d+[sm]\S*\s+\d+[sm]\S*\s*$/m.test(
        await cluster.k(['get', 'cronjob', 'tick', '-n', ns]),
      ),
    );
    const cj = await getJSON(['get', 'cronjob', 'tick', '-n', ns]);
    assert.equal(
      Date.parse(cj.status.lastScheduleTime),
      Date.parse(job.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp']),
    );
    assert.equal(Date.parse(cj.status.lastScheduleTime) % 60_000, 0);
    const ev = await cluster.k(['get', 'events', '-n', ns, '--field-selector', 'involvedObject.kind=CronJob']);
    assert.match(ev, /SuccessfulCreate\s+cronjob\/tick\s+Created job tick-\d+/);
    // No more runs while the node scenarios go on.
    await cluster.k(['delete', 'cronjob', 'tick', '-n', ns]);
  });

  test('kubectl delete --cascade=background|foreground|orphan', { timeout: 90_000 }, async () => {
    const ns = 'cascade';
    await cluster.k(['create', 'namespace', ns]);
    for (const name of ['bg', 'fg', 'or'])
      await cluster.k(['create', 'deployment', name, '-n', ns, '--image=nginx:1.27', '--replicas=2']);
    for (const name of ['bg', 'fg', 'or'])
      await cluster.k(['rollout', 'status', `deploy/${name}`, '-n', ns, '--timeout=60s']);

    // background: the Deployment goes at once, its ReplicaSet and pods after it.
    const bg = await cluster.k(['delete', 'deploy', 'bg', '-n', ns, '--cascade=background']);
    assert.match(bg, /deployment.apps "bg" deleted/);
    assert.ok(await notFound(['get', 'deploy', 'bg', '-n', ns]));
    await until('bg dependents gone', async () => {
      const out = await cluster.k(['get', 'rs,pods', '-n', ns, '-l', 'app=bg', '-o', 'name']);
      return out.trim() === '';
    });

    // foreground: the Deployment stays (deletionTimestamp, foregroundDeletion finalizer) until
    // its ReplicaSet and pods are gone.
    const fgDeploy = await getJSON(['get', 'deploy', 'fg', '-n', ns]);
    // A finalizer on one pod holds the deletion, so the in-between state can be seen (pods on
    // simulated nodes otherwise go faster than a second kubectl can look).
    const heldPod = (await cluster.k(['get', 'pods', '-n', ns, '-l', 'app=fg', '-o', 'name'])).trim().split('\n')[0];
    await cluster.k([
      'patch',
      heldPod,
      '-n',
      ns,
      '--type=merge',
      '-p',
      '{"metadata":{"finalizers":["k8ts.test/hold"]}}',
    ]);
    await cluster.k(['delete', 'deploy', 'fg', '-n', ns, '--cascade=foreground', '--wait=false']);
    const during = await getJSON(['get', 'deploy', 'fg', '-n', ns]);
    assert.ok(during.metadata.deletionTimestamp, 'no deletionTimestamp during foreground deletion');
    assert.ok(during.metadata.finalizers?.includes('foregroundDeletion'), JSON.stringify(during.metadata));
    await cluster.k(['patch', heldPod, '-n', ns, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    let ownerGoneWithDependents = false;
    await until('fg gone', async () => {
      // kubectl gets the kinds in the order given: the Deployment first, then what it owned.
      const r = await cluster.kubectl(['get', 'deploy/fg', '-n', ns, '-o', 'name']);
      if (r.code === 0) return false;
      const rest = await cluster.k(['get', 'rs,pods', '-n', ns, '-l', 'app=fg', '-o', 'name']);
      if (rest.trim() !== '') ownerGoneWithDependents = true;
      return true;
    });
    assert.equal(ownerGoneWithDependents, false, 'the Deployment went before its dependents');
    const noUid = await cluster.k(['get', 'rs,pods', '-A', '-o', 'json']);
    assert.ok(!noUid.includes(fgDeploy.metadata.uid));

    // orphan: the Deployment goes, its ReplicaSet and pods stay, no longer owned.
    await cluster.k(['delete', 'deploy', 'or', '-n', ns, '--cascade=orphan']);
    assert.ok(await notFound(['get', 'deploy', 'or', '-n', ns]));
    await until('rs released', async () => {
      const rs = (await getJSON(['get', 'rs', '-n', ns, '-l', 'app=or'])).items;
      return rs.length === 1 && !(rs[0].metadata.ownerReferences ?? []).length;
    });
    await sleep(1500);
    const orphans = live(await pods(ns, 'app=or'));
    assert.equal(orphans.length, 2);
    assert.ok(orphans.every(isReady));
    assert.ok(orphans.every((p) => p.metadata.ownerReferences?.[0]?.kind === 'ReplicaSet'));
  });

  test('deleting a namespace removes everything in it', { timeout: 90_000 }, async () => {
    const ns = 'doomed';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(['create', 'deployment', 'app', '-n', ns, '--image=nginx:1.27', '--replicas=2']);
    await cluster.k(['expose', 'deployment', 'app', '-n', ns, '--port=80']);
    await cluster.k(['create', 'configmap', 'settings', '-n', ns, '--from-literal=a=b']);
    await cluster.k(['create', 'secret', 'generic', 'creds', '-n', ns, '--from-literal=p=s']);
    await cluster.k(['create', 'job', 'once', '-n', ns, '--image=busybox', '--', 'true']);
    await cluster.k(['rollout', 'status', 'deploy/app', '-n', ns, '--timeout=60s']);
    assert.ok((await cluster.k(['get', 'all', '-n', ns, '-o', 'name'])).includes('pod/app-'));

    await cluster.k(['delete', 'namespace', ns, '--wait=false']);
    const terminating = await cluster.kubectl(['get', 'namespace', ns]);
    if (terminating.code === 0) assert.match(terminating.stdout, new RegExp(`^${ns}\\s+Terminating\\s`, 'm'));
    await until('namespace gone', () => notFound(['get', 'namespace', ns]), {
      timeoutMs: 60_000,
      stepMs: 500,
      diag: () => cluster.k(['get', 'namespace', ns, '-o', 'yaml']),
    });
    for (const kind of [
      'pods',
      'deployments',
      'replicasets',
      'services',
      'endpoints',
      'configmaps',
      'secrets',
      'jobs',
      'serviceaccounts',
      'events',
    ]) {
      const out = await cluster.k(['get', kind, '-A', '--field-selector', `metadata.namespace=${ns}`, '-o', 'name']);
      assert.equal(out.trim(), '', `${kind} left in ${ns}: ${out}`);
    }
  });

  test('an unschedulable pod explains why in kubectl describe', { timeout: 60_000 }, async () => {
    const ns = 'sched';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  containers:
  - name: c
    image: nginx
    resources: {requests: {cpu: "100", memory: 1Gi}}
`,
    );
    const described = await until('FailedScheduling in describe', async () => {
      const d = await cluster.k(['describe', 'pod', 'hog', '-n', ns]);
      return /FailedScheduling/.test(d) && d;
    });
    assert.match(described, /Status:\s+Pending/);
    assert.match(described, /PodScheduled\s+False/);
    assert.match(
      described,
      /Warning\s+FailedScheduling\s+.*default-scheduler\s+0\/\d+ nodes are available: \d+ Insufficient cpu\. preemption: 0\/\d+ nodes are available: \d+ No preemption victims found for incoming pod\./,
    );
    assert.match(await cluster.k(['get', 'pod', 'hog', '-n', ns]), /^hog\s+0\/1\s+Pending\s/m);
  });

  test('required pod anti-affinity spreads pods over nodes', { timeout: 60_000 }, async () => {
    const ns = 'anti';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 4
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      affinity:
        nodeAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
            nodeSelectorTerms:
            - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [sim-node-0, sim-node-1, sim-node-2]}]
        podAntiAffinity:
          requiredDuringSchedulingIgnoredDuringExecution:
          - labelSelector: {matchLabels: {app: spread}}
            topologyKey: kubernetes.io/hostname
      containers: [{name: c, image: nginx}]
`,
    );
    // Three nodes: three pods run, one per node; the fourth has nowhere to go and says why.
    const ps = await until('3 running, 1 pending', async () => {
      const p = live(await pods(ns, 'app=spread'));
      const running = p.filter((x) => x.spec.nodeName && isReady(x));
      const pending = p.filter((x) => !x.spec.nodeName);
      return p.length === 4 && running.length === 3 && pending.length === 1 && p;
    });
    const nodes = ps
      .filter((p: any) => p.spec.nodeName)
      .map((p: any) => p.spec.nodeName)
      .sort();
    assert.deepEqual(nodes, ['sim-node-0', 'sim-node-1', 'sim-node-2']);
    const wide = await cluster.k(['get', 'pods', '-n', ns, '-o', 'wide']);
    for (const n of nodes) assert.match(wide, new RegExp(`Running\\s.*\\s${n}\\s`));
    const pending = ps.find((p: any) => !p.spec.nodeName);
    const d = await until('describe says why', async () => {
      const out = await cluster.k(['describe', 'pod', pending.metadata.name, '-n', ns]);
      return /FailedScheduling/.test(out) && out;
    });
    assert.match(d, /0\/\d+ nodes are available: .*3 node\(s\) didn't match pod anti-affinity rules/);
  });

  test(
    'HPA scales up under simulated load and back down after stabilization; kubectl top',
    { timeout: 120_000 },
    async () => {
      const ns = 'hpa';
      await cluster.k(['create', 'namespace', ns]);
      await cluster.k(
        ['apply', '-n', ns, '-f', '-'],
        `
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  replicas: 1
  selector: {matchLabels: {app: api}}
  template:
    metadata:
      labels: {app: api}
      annotations: {sim.k8ts.io/cpu-millicores: "250"}
    spec:
      containers:
      - name: api
        image: nginx
        resources: {requests: {cpu: 100m, memory: 64Mi}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 1
  maxReplicas: 4
  metrics:
  - type: Resource
    resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}
  behavior:
    scaleUp:
      stabilizationWindowSeconds: 0
      policies: [{type: Pods, value: 4, periodSeconds: 1}]
    scaleDown:
      stabilizationWindowSeconds: 5
      policies: [{type: Percent, value: 100, periodSeconds: 1}]
`,
      );
      // kubectl top sees the simulated usage.
      const topPods = await until('kubectl top pods', async () => {
        const r = await cluster.kubectl(['top', 'pods', '-n', ns]);
        return r.code === 0 && /^api-\S+\s+250m\s+\d+Mi/m.test(r.stdout) && r.stdout;
      });
      assert.match(topPods, /NAME\s+CPU\(cores\)\s+MEMORY\(bytes\)/);
      const topNodes = await until('kubectl top nodes', async () => {
        const r = await cluster.kubectl(['top', 'nodes']);
        return r.code === 0 && r.stdout;
      });
      assert.match(topNodes, /NAME\s+CPU\(cores\)\s+CPU(%|\(%\))\s+MEMORY\(bytes\)\s+MEMORY(%|\(%\))/);
      for (const n of ['sim-node-0', 'sim-node-1', 'sim-node-2'])
        assert.match(topNodes, new RegExp(`^${n}\\s+\\d+m\\s+\\d+%\\s+\\d+Mi\\s+\\d+%`, 'm'));
      const containers = await cluster.k(['top', 'pods', '-n', ns, '--containers']);
      assert.match(containers, /^api-\S+\s+api\s+250m\s/m);

      // 250m used of 100m requested, target 50%: up to maxReplicas.
      await until(
        'scaled up to 4',
        async () => (await getJSON(['get', 'deploy', 'api', '-n', ns])).spec.replicas === 4,
        40_000,
      );
      await until(
        'hpa table',
        async () =>
          /^api\s+Deployment\/api\s+cpu: \d+%\/50%\s+1\s+4\s+4\s/m.test(
            await cluster.k(['get', 'hpa', 'api', '-n', ns]),
          ),
        20_000,
      );
      const upEvents = await cluster.k(['describe', 'hpa', 'api', '-n', ns]);
      assert.match(
        upEvents,
        /SuccessfulRescale\s+.*New size: 4; reason: cpu resource utilization \(percentage of request\) above target/,
      );
      await until('4 running', async () => live(await pods(ns, 'app=api')).filter(isReady).length === 4, 30_000);

      // The load goes away: back to 1 replica, not before the 5 s stabilization window.
      const dropAt = Date.now();
      await cluster.k(['annotate', 'pods', '-n', ns, '-l', 'app=api', 'sim.k8ts.io/cpu-millicores=5', '--overwrite']);
      let stabilizedSeen = false;
      await until(
        'scaled down to 1',
        async () => {
          const h = await getJSON(['get', 'hpa', 'api', '-n', ns]);
          if (h.status?.conditions?.some((c: any) => c.type === 'AbleToScale' && c.reason === 'ScaleDownStabilized'))
            stabilizedSeen = true;
          return (await getJSON(['get', 'deploy', 'api', '-n', ns])).spec.replicas === 1;
        },
        40_000,
      );
      // The window runs from the last high recommendation, at most one sync period (1 s) before the drop.
      assert.ok(
        Date.now() - dropAt >= 4000,
        `scaled down after ${Date.now() - dropAt} ms, before the 5 s stabilization window`,
      );
      assert.ok(stabilizedSeen, 'the HPA never reported ScaleDownStabilized during the window');
      const down = await cluster.k(['describe', 'hpa', 'api', '-n', ns]);
      assert.match(down, /New size: 1; reason: All metrics below target/);
    },
  );

  test(
    'a second controller manager stays standby and takes over within the lease duration',
    { timeout: 120_000 },
    async () => {
      // Against the server's own lease (kube-system/kube-controller-manager, held by the
      // in-process manager) a standalone instance never becomes leader.
      const start = (extra: string[]) =>
        new Promise<{ proc: ChildProcess; identity: string; log: () => string }>((resolve, reject) => {
          const proc = spawn(
            process.execPath,
            [K8TS_BIN, 'controller-manager', '--kubeconfig', cluster.kubeconfig, '--log-level', 'info', ...extra],
            { stdio: ['ignore', 'pipe', 'pipe'] },
          );
          procs.push(proc);
          let out = '';
          let err = '';
          // Generous: a process start on a CI machine busy with other suites once took over 20 s.
          const timer = setTimeout(
            () => reject(new Error(`controller-manager did not start:\n${out}\n${err}`)),
            45_000,
          );
          proc.stderr.on('data', (d) => (err += d));
          proc.stdout.on('data', (d) => {
            out += d;
            const m = /identity (\S+)/.exec(out);
            if (m) {
              clearTimeout(timer);
              resolve({ proc, identity: m[1], log: () => err });
            }
          });
          proc.on('exit', (code) => reject(new Error(`controller-manager exited with ${code}:\n${out}\n${err}`)));
        });
      const holder = async (name: string) => {
        const r = await cluster.kubectl([
          'get',
          'lease',
          name,
          '-n',
          'kube-system',
          '-o',
          'jsonpath={.spec.holderIdentity}',
        ]);
        return r.code === 0 ? r.stdout.trim() : '';
      };
      const serverHolder = await holder('kube-controller-manager');
      assert.ok(serverHolder, 'the server holds the controller-manager lease');
      const standby = await start([
        '--leader-elect-lease-duration=4s',
        '--leader-elect-renew-deadline=3s',
        '--leader-elect-retry-period=500ms',
      ]);
      await sleep(3000);
      assert.equal(await holder('kube-controller-manager'), serverHolder);
      assert.doesNotMatch(standby.log(), /controllers started/);
      standby.proc.kill('SIGKILL');

      // Two standalone instances sharing a lease of their own (running only the idempotent
      // serviceaccount controller): one leads, the other takes over when it is killed.
      const lease = [
        '--leader-elect-resource-name=acceptance-cm',
        '--leader-elect-lease-duration=4s',
        '--leader-elect-renew-deadline=3s',
        '--leader-elect-retry-period=500ms',
        '--controllers=serviceaccount',
      ];
      const a = await start(lease);
      const b = await start(lease);
      const first = await until(
        'a leader',
        async () => {
          const h = await holder('acceptance-cm');
          return (h === a.identity || h === b.identity) && h;
        },
        15_000,
        200,
      );
      const [leader, other] = first === a.identity ? [a, b] : [b, a];
      await sleep(1500);
      assert.equal(await holder('acceptance-cm'), leader.identity);
      const killedAt = Date.now();
      leader.proc.kill('SIGKILL');
      await until('standby takes over', async () => (await holder('acceptance-cm')) === other.identity, 12_000, 200);
      // The lease expires at most 4 s after the leader's last renewal; the standby notices on its
      // next 500 ms retry. The bound leaves room for a loaded CI machine (7.4 s was seen there)
      // but not for a standby that waits out the lease twice.
      assert.ok(
        Date.now() - killedAt <= 2 * 4000 + 1000,
        `took over after ${Date.now() - killedAt} ms (lease duration 4 s)`,
      );
      other.proc.kill('SIGTERM');
    },
  );
});

describe('phase 2: nodes (DaemonSet on a new node, drain, taints) and restart', () => {
  let drained = '';

  test('DaemonSet: one pod per node, including a node added later', { timeout: 90_000 }, async () => {
    const ns = 'ds';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: "fluent-bit:3"}]}
`,
    );
    await until('3 scheduled and ready', async () =>
      /^agent\s+3\s+3\s+3\s+3\s+3\s/m.test(await cluster.k(['get', 'ds', 'agent', '-n', ns])),
    );
    let ps = live(await pods(ns, 'app=agent'));
    assert.deepEqual(ps.map((p) => p.spec.nodeName).sort(), ['sim-node-0', 'sim-node-1', 'sim-node-2']);

    // A node joins: a second simulator process with its own name prefix.
    const sim = spawn(
      process.execPath,
      [
        K8TS_BIN,
        'sim',
        '--nodes',
        '1',
        '--sim-node-prefix',
        'extra',
        '--sim-heartbeat-seconds',
        '1',
        '--kubeconfig',
        cluster.kubeconfig,
        '--log-level',
        'warn',
      ],
      { stdio: 'ignore' },
    );
    procs.push(sim);
    try {
      await until('extra-0 Ready', async () => /^extra-0\s+Ready\s/m.test(await cluster.k(['get', 'nodes'])), 30_000);
      await until(
        '4 scheduled and ready',
        async () => /^agent\s+4\s+4\s+4\s+4\s+4\s/m.test(await cluster.k(['get', 'ds', 'agent', '-n', ns])),
        30_000,
      );
      ps = live(await pods(ns, 'app=agent'));
      assert.deepEqual(ps.map((p) => p.spec.nodeName).sort(), ['extra-0', 'sim-node-0', 'sim-node-1', 'sim-node-2']);
      assert.ok(ps.every(isReady));
    } finally {
      // The extra node leaves again so that later scenarios see three nodes: drained (nothing
      // new lands on it), deleted, its simulator stopped.
      await cluster.kubectl(
        ['drain', 'extra-0', '--ignore-daemonsets', '--delete-emptydir-data', '--force', '--timeout=30s'],
        { timeoutMs: 40_000 },
      );
      await cluster.kubectl(['delete', 'node', 'extra-0', '--wait=false']);
      sim.kill('SIGTERM');
      await new Promise((r) => (sim.exitCode !== null || sim.signalCode !== null ? r(null) : sim.once('exit', r)));
    }
    await until(
      'back to 3 desired',
      async () => /^agent\s+3\s+3\s+3\s+3\s+3\s/m.test(await cluster.k(['get', 'ds', 'agent', '-n', ns])),
      30_000,
    );
  });

  test('kubectl drain evicts while respecting a PodDisruptionBudget', { timeout: 120_000 }, async () => {
    const ns = 'drain';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: guarded}
spec:
  replicas: 2
  selector: {matchLabels: {app: guarded}}
  template:
    metadata: {labels: {app: guarded}}
    spec:
      # Both replicas prefer the node that will be drained: drain evicts them concurrently.
      affinity:
        nodeAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
          - weight: 100
            preference: {matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [sim-node-1]}]}
      containers: [{name: c, image: nginx}]
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: guarded}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: guarded}}
`,
    );
    await cluster.k(['rollout', 'status', 'deploy/guarded', '-n', ns, '--timeout=60s']);
    await until('pdb allows 0', async () =>
      /^guarded\s+2\s+N\/A\s+0\s/m.test(await cluster.k(['get', 'pdb', 'guarded', '-n', ns])),
    );
    const node = 'sim-node-1';
    drained = node;
    assert.deepEqual(
      live(await pods(ns, 'app=guarded')).map((p) => p.spec.nodeName),
      [node, node],
    );
    try {
      // The budget allows no disruption: drain cordons the node, retries, and gives up at its timeout.
      const blocked = await cluster.kubectl(
        ['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=8s'],
        { timeoutMs: 30_000 },
      );
      assert.notEqual(blocked.code, 0, blocked.stdout);
      assert.match(
        blocked.stderr,
        /error when evicting pods\/"guarded-\S+" -n "drain" \(will retry after 5s\): Cannot evict pod as it would violate the pod's disruption budget\./,
      );
      assert.match(blocked.stdout, new RegExp(`node/${node} cordoned`));
      assert.match(await cluster.k(['get', 'node', node]), /Ready,SchedulingDisabled/);
      assert.ok(
        live(await pods(ns, 'app=guarded')).some((p) => p.spec.nodeName === node),
        'a pod protected by the PDB was evicted',
      );

      // With a third replica (scheduled elsewhere: the node is cordoned) the budget allows one
      // eviction at a time; drain then succeeds. The ready guarded pods never drop below 2.
      let minReady = Infinity;
      let watching = true;
      const sampler = (async () => {
        while (watching) {
          minReady = Math.min(minReady, live(await pods(ns, 'app=guarded')).filter(isReady).length);
          await sleep(100);
        }
      })();
      const drain = cluster.kubectl(['drain', node, '--ignore-daemonsets', '--delete-emptydir-data', '--timeout=70s'], {
        timeoutMs: 80_000,
      });
      await sleep(2000);
      await cluster.k(['scale', 'deploy', 'guarded', '-n', ns, '--replicas=3']);
      const r = await drain;
      watching = false;
      await sampler;
      assert.equal(r.code, 0, r.stderr + r.stdout);
      assert.match(r.stdout, new RegExp(`evicting pod ${ns}/guarded-`));
      assert.match(r.stdout, new RegExp(`node/${node} drained`));
      assert.ok(minReady >= 2, `ready guarded pods dropped to ${minReady} (PDB minAvailable 2)`);
      const left = (await getJSON(['get', 'pods', '-A', '--field-selector', `spec.nodeName=${node}`])).items.filter(
        (p: any) =>
          !p.metadata.deletionTimestamp &&
          p.metadata.ownerReferences?.[0]?.kind !== 'DaemonSet' &&
          !['Succeeded', 'Failed'].includes(p.status?.phase),
      );
      assert.deepEqual(
        left.map((p: any) => `${p.metadata.namespace}/${p.metadata.name}`),
        [],
      );
      await until('guarded back to 3 ready elsewhere', async () => {
        const p = live(await pods(ns, 'app=guarded'));
        return p.length === 3 && p.every(isReady) && p.every((x) => x.spec.nodeName !== node);
      });
    } finally {
      await cluster.k(['uncordon', node]);
    }
    assert.doesNotMatch(await cluster.k(['get', 'node', node]), /SchedulingDisabled/);
  });

  test('a NoExecute taint evicts pods without a toleration', { timeout: 90_000 }, async () => {
    const ns = 'taint';
    await cluster.k(['create', 'namespace', ns]);
    const node = ['sim-node-0', 'sim-node-1', 'sim-node-2'].find((n) => n !== drained)!;
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: v1
kind: Pod
metadata: {name: victim}
spec:
  nodeSelector: {kubernetes.io/hostname: ${node}}
  containers: [{name: c, image: nginx}]
---
apiVersion: v1
kind: Pod
metadata: {name: survivor}
spec:
  nodeSelector: {kubernetes.io/hostname: ${node}}
  tolerations: [{key: dedicated, operator: Equal, value: special, effect: NoExecute}]
  containers: [{name: c, image: nginx}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: plain}
spec:
  replicas: 3
  selector: {matchLabels: {app: plain}}
  template:
    metadata: {labels: {app: plain}}
    spec:
      topologySpreadConstraints:
      - {maxSkew: 1, topologyKey: kubernetes.io/hostname, whenUnsatisfiable: DoNotSchedule, nodeTaintsPolicy: Honor, labelSelector: {matchLabels: {app: plain}}}
      containers: [{name: c, image: nginx}]
`,
    );
    await cluster.k(['wait', '--for=condition=Ready', 'pod/victim', 'pod/survivor', '-n', ns, '--timeout=30s']);
    await cluster.k(['rollout', 'status', 'deploy/plain', '-n', ns, '--timeout=60s']);
    const plainOnNode = live(await pods(ns, 'app=plain'))
      .filter((p) => p.spec.nodeName === node)
      .map((p) => p.metadata.name);
    assert.ok(plainOnNode.length >= 1, 'no Deployment pod on the node to be tainted');

    const out = await cluster.k(['taint', 'nodes', node, 'dedicated=special:NoExecute']);
    assert.match(out, new RegExp(`node/${node} tainted`));
    try {
      await until('victim evicted', () => notFound(['get', 'pod', 'victim', '-n', ns]), 30_000);
      await until(
        'Deployment pods moved off the node',
        async () => {
          const p = live(await pods(ns, 'app=plain'));
          return p.length === 3 && p.every(isReady) && p.every((x) => x.spec.nodeName !== node);
        },
        30_000,
      );
      const survivor = await getJSON(['get', 'pod', 'survivor', '-n', ns]);
      assert.equal(survivor.spec.nodeName, node);
      assert.ok(!survivor.metadata.deletionTimestamp);
      assert.ok(isReady(survivor));
      const ev = await cluster.k(['get', 'events', '-n', ns, '--field-selector', 'reason=TaintManagerEviction']);
      assert.match(ev, /Marking for deletion Pod taint\/victim/);
    } finally {
      await cluster.k(['taint', 'nodes', node, 'dedicated=special:NoExecute-']);
    }
  });

  test('stopping the server mid-rollout and restarting it resumes the rollout', { timeout: 150_000 }, async () => {
    const ns = 'restart';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: apps/v1
kind: Deployment
metadata: {name: slow}
spec:
  replicas: 4
  selector: {matchLabels: {app: slow}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: slow}
      annotations: {sim.k8ts.io/ready-seconds: "2"}
    spec: {containers: [{name: c, image: "app:1"}]}
`,
    );
    await cluster.k(['rollout', 'status', 'deploy/slow', '-n', ns, '--timeout=60s']);
    await cluster.k(['set', 'image', 'deploy/slow', '-n', ns, 'c=app:2']);
    // Mid-rollout: some, not all, pods of the new template.
    await until(
      'rollout under way',
      async () => {
        const d = await getJSON(['get', 'deploy', 'slow', '-n', ns]);
        const u = d.status?.updatedReplicas ?? 0;
        return d.status?.observedGeneration === 2 && u >= 1 && u < 4;
      },
      30_000,
      100,
    );
    const mid = await getJSON(['get', 'deploy', 'slow', '-n', ns]);
    assert.ok((mid.status.updatedReplicas ?? 0) < 4);

    await cluster.restart();

    const r = await cluster.kubectl(['rollout', 'status', 'deploy/slow', '-n', ns, '--timeout=90s'], {
      timeoutMs: 100_000,
    });
    assert.equal(
      r.code,
      0,
      r.stderr + r.stdout + (await cluster.kubectl(['get', 'deploy,rs,pods', '-n', ns, '-o', 'wide'])).stdout,
    );
    assert.match(r.stdout, /successfully rolled out/);
    const p = live(await pods(ns, 'app=slow'));
    assert.equal(p.length, 4);
    assert.ok(p.every((x) => x.spec.containers[0].image === 'app:2' && isReady(x)));
    const rs = (await getJSON(['get', 'rs', '-n', ns, '-l', 'app=slow'])).items;
    assert.deepEqual(rs.map((x: any) => x.spec.replicas).sort(), [0, 4]);
    assert.match(await cluster.k(['get', 'deploy', 'slow', '-n', ns]), /^slow\s+4\/4\s+4\s+4\s/m);
    // The cluster is whole again: three Ready nodes.
    await until(
      'nodes Ready after restart',
      async () => {
        const out = await cluster.k(['get', 'nodes', '--no-headers']);
        return (
          out
            .trim()
            .split('\n')
            .filter((l) => /^sim-node-\d\s+Ready\s/.test(l)).length === 3
        );
      },
      30_000,
    );
    assert.deepEqual(
      (await nodeNames()).filter((n) => n.startsWith('sim-node-')),
      ['sim-node-0', 'sim-node-1', 'sim-node-2'],
    );
  });
});
