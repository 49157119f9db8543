// Workload controllers with the real kubectl against `k8ts server --simulated-nodes 3`:
// StatefulSet pods created in order and removed in reverse (PVCs kept), a DaemonSet on every
// node including one added later, Jobs that complete and that fail after backoffLimit, a CronJob
// creating Jobs on schedule (and `kubectl create job --from=cronjob/...`). The scenarios run
// concurrently, each in its own namespace; the CronJob one waits for the next minute boundary.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { K8TS_BIN, startCluster, type Cluster, until } from './harness.js';
import { Client } from '../../src/client/client.js';
import { R } from '../../src/client/client.js';

let cluster: Cluster;
let client: Client;
const extraSims: ChildProcess[] = [];

before(async () => {
  cluster = await startCluster({ args: ['--simulated-nodes', '3', '--sim-job-seconds', '0.5'] });
  client = Client.fromKubeconfig(cluster.kubeconfig, { fieldManager: 'e2e' });
});
after(async () => {
  for (const p of extraSims) if (p.exitCode === null) p.kill('SIGKILL');
  await client?.close();
  await cluster?.cleanup();
});

const eventually = <T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  stepMs = 250,
): Promise<T> => until(what, fn, timeoutMs, stepMs);

const getJSON = async (args: string[]) => JSON.parse(await cluster.k([...args, '-o', 'json']));
const ready = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

describe('workload controllers', { concurrency: true }, () => {
  test('StatefulSet: db-0..db-2 in order, removed in reverse, PVCs kept', async () => {
    const ns = 'sts';
    await cluster.k(['create', 'namespace', ns]);
    // Observe every pod change: when db-i appears, db-(i-1) must be Running and Ready.
    const seen = new Map<string, any>();
    const violations: string[] = [];
    const deletionOrder: string[] = [];
    const w = client
      .resource(R.pods)
      .namespace(ns)
      .watch({ resourceVersion: '0' }, (ev) => {
        const p = ev.object;
        const name: string = p?.metadata?.name ?? '';
        if (ev.type === 'ADDED' && !seen.has(name)) {
          const ord = Number(name.split('-').pop());
          if (ord > 0) {
            const prev = seen.get(`db-${ord - 1}`);
            if (!prev || !ready(prev) || prev.status?.phase !== 'Running')
              violations.push(`${name} created before db-${ord - 1} was Running and Ready`);
          }
        }
        if (
          (ev.type === 'MODIFIED' || ev.type === 'DELETED') &&
          p.metadata?.deletionTimestamp &&
          !deletionOrder.includes(name)
        )
          deletionOrder.push(name);
        if (ev.type === 'DELETED') {
          if (!deletionOrder.includes(name)) deletionOrder.push(name);
          seen.delete(name);
        } else seen.set(name, p);
      });
    try {
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
    metadata: {labels: {app: db}}
    spec: {containers: [{name: pg, image: postgres:16}]}
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}
`,
      );
      await eventually(
        '3 ready replicas',
        async () => (await getJSON(['get', 'sts', 'db', '-n', ns])).status?.readyReplicas === 3,
        40_000,
      );
      assert.deepEqual(violations, []);
      const pods = await getJSON(['get', 'pods', '-n', ns, '-l', 'app=db']);
      const names = pods.items.map((p: any) => p.metadata.name).sort();
      assert.deepEqual(names, ['db-0', 'db-1', 'db-2']);
      for (const p of pods.items) {
        assert.equal(p.spec.hostname, p.metadata.name);
        assert.equal(p.spec.subdomain, 'db');
        assert.equal(p.metadata.labels['statefulset.kubernetes.io/pod-name'], p.metadata.name);
        assert.equal(p.metadata.labels['apps.kubernetes.io/pod-index'], p.metadata.name.split('-')[1]);
        assert.match(p.metadata.labels['controller-revision-hash'], /^db-/);
        assert.equal(
          p.spec.volumes.find((v: any) => v.name === 'data').persistentVolumeClaim.claimName,
          `data-${p.metadata.name}`,
        );
      }
      const sts = await getJSON(['get', 'sts', 'db', '-n', ns]);
      assert.equal(sts.status.currentRevision, sts.status.updateRevision);
      assert.equal(sts.status.updatedReplicas, 3);
      assert.equal(sts.status.availableReplicas, 3);
      const revs = await getJSON(['get', 'controllerrevisions', '-n', ns]);
      assert.equal(revs.items.length, 1);
      const events = await cluster.k([
        'get',
        'events',
        '-n',
        ns,
        '--field-selector',
        'involvedObject.kind=StatefulSet',
        '-o',
        'custom-columns=R:.reason,M:.message',
        '--no-headers',
      ]);
      assert.match(events, /SuccessfulCreate\s+create Pod db-0 in StatefulSet db successful/);
      assert.match(events, /SuccessfulCreate\s+create Claim data-db-0 Pod db-0 in StatefulSet db success/);

      await cluster.k(['scale', 'sts', 'db', '-n', ns, '--replicas=0']);
      await eventually(
        'pods gone',
        async () => (await getJSON(['get', 'pods', '-n', ns, '-l', 'app=db'])).items.length === 0,
        40_000,
      );
      assert.deepEqual(deletionOrder, ['db-2', 'db-1', 'db-0']);
      const pvcs = await getJSON(['get', 'pvc', '-n', ns]);
      assert.deepEqual(pvcs.items.map((p: any) => p.metadata.name).sort(), ['data-db-0', 'data-db-1', 'data-db-2']);
      await eventually('status 0', async () => {
        const s = (await getJSON(['get', 'sts', 'db', '-n', ns])).status;
        return (s.replicas ?? 0) === 0 && (s.readyReplicas ?? 0) === 0;
      });
    } finally {
      w.stop();
    }
  });

  test('StatefulSet: RollingUpdate with partition, then Parallel scale-out', async () => {
    const ns = 'sts-roll';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web}
spec:
  serviceName: web
  replicas: 3
  podManagementPolicy: Parallel
  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 1}}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: nginx:1.27}]}
`,
    );
    await eventually(
      '3 ready',
      async () => (await getJSON(['get', 'sts', 'web', '-n', ns])).status?.readyReplicas === 3,
      30_000,
    );
    const before = (await getJSON(['get', 'sts', 'web', '-n', ns])).status;
    await cluster.k(['set', 'image', 'sts/web', '-n', ns, 'c=nginx:1.28']);
    // Ordinals >= partition (2, then 1) are updated; 0 keeps the old revision.
    const st = await eventually(
      '2 updated',
      async () => {
        const s = (await getJSON(['get', 'sts', 'web', '-n', ns])).status;
        return s.updatedReplicas === 2 && s.readyReplicas === 3 && s;
      },
      30_000,
    );
    assert.equal(st.currentRevision, before.currentRevision);
    assert.notEqual(st.updateRevision, before.updateRevision);
    const pods = (await getJSON(['get', 'pods', '-n', ns])).items;
    const image = (n: string) => pods.find((p: any) => p.metadata.name === n).spec.containers[0].image;
    assert.deepEqual(['web-0', 'web-1', 'web-2'].map(image), ['nginx:1.27', 'nginx:1.28', 'nginx:1.28']);
    // Partition 0: the rollout completes and the update revision becomes current.
    await cluster.k([
      'patch',
      'sts',
      'web',
      '-n',
      ns,
      '-p',
      '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}',
    ]);
    const done = await eventually(
      'rolled out',
      async () => {
        const s = (await getJSON(['get', 'sts', 'web', '-n', ns])).status;
        return s.updatedReplicas === 3 && s.readyReplicas === 3 && s.currentRevision === s.updateRevision && s;
      },
      30_000,
    ).catch(async (err) => {
      const diag = await cluster.k(['get', 'sts,pods', '-n', ns, '-o', 'yaml']);
      throw new Error(`${err.message}\n${diag}`);
    });
    assert.equal(done.currentReplicas, 3);
    const out = await cluster.k(['rollout', 'status', 'sts/web', '-n', ns, '--timeout=20s']);
    assert.match(out, /complete|roll out complete/i);
    // Parallel: a scale-out creates the new ordinals together.
    await cluster.k(['scale', 'sts', 'web', '-n', ns, '--replicas=5']);
    await eventually(
      '5 ready',
      async () => (await getJSON(['get', 'sts', 'web', '-n', ns])).status?.readyReplicas === 5,
      30_000,
    );
  });

  test('DaemonSet: rolling update with maxUnavailable', async () => {
    const ns = 'ds-roll';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: logger}
spec:
  selector: {matchLabels: {app: logger}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 1}}
  template:
    metadata: {labels: {app: logger}}
    spec:
      nodeSelector: {kubernetes.io/os: linux}
      containers: [{name: a, image: fluentd:1}]
`,
    );
    await eventually(
      'ready',
      async () => {
        const s = (await getJSON(['get', 'ds', 'logger', '-n', ns])).status ?? {};
        return s.desiredNumberScheduled >= 3 && s.numberReady === s.desiredNumberScheduled;
      },
      30_000,
    );
    let maxUnavailable = 0;
    const w = client
      .resource(R.daemonsets)
      .namespace(ns)
      .watch({ resourceVersion: '0' }, (ev) => {
        const s = ev.object?.status;
        if (ev.object?.metadata?.generation === 2 && s?.observedGeneration === 2)
          maxUnavailable = Math.max(maxUnavailable, s.numberUnavailable ?? 0);
      });
    try {
      await cluster.k(['set', 'image', 'ds/logger', '-n', ns, 'a=fluentd:2']);
      await eventually(
        'updated',
        async () => {
          const s = (await getJSON(['get', 'ds', 'logger', '-n', ns])).status ?? {};
          return (
            s.observedGeneration === 2 &&
            s.updatedNumberScheduled === s.desiredNumberScheduled &&
            s.numberAvailable === s.desiredNumberScheduled
          );
        },
        40_000,
      );
      const pods = (await getJSON(['get', 'pods', '-n', ns])).items.filter((p: any) => !p.metadata.deletionTimestamp);
      assert.ok(pods.every((p: any) => p.spec.containers[0].image === 'fluentd:2'));
      assert.ok(maxUnavailable <= 1, `numberUnavailable reached ${maxUnavailable}`);
      const revs = (await getJSON(['get', 'controllerrevisions', '-n', ns])).items;
      assert.equal(revs.length, 2);
    } finally {
      w.stop();
    }
  });

  test('DaemonSet: one pod per node, including a node added later', async () => {
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
    spec:
      tolerations: [{key: late, operator: Exists, effect: NoSchedule}]
      containers: [{name: a, image: busybox}]
`,
    );
    const nodeCount = async () => (await getJSON(['get', 'nodes'])).items.length;
    const n0 = await nodeCount();
    assert.equal(n0, 3);
    await eventually('3 ready', async () => {
      const s = (await getJSON(['get', 'ds', 'agent', '-n', ns])).status ?? {};
      return (
        s.desiredNumberScheduled === 3 &&
        s.numberReady === 3 &&
        s.updatedNumberScheduled === 3 &&
        s.numberAvailable === 3 &&
        s.observedGeneration === 1
      );
    });
    let pods = (await getJSON(['get', 'pods', '-n', ns])).items;
    assert.deepEqual(pods.map((p: any) => p.spec.nodeName).sort(), ['sim-node-0', 'sim-node-1', 'sim-node-2']);
    for (const p of pods) {
      const terms = p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms;
      assert.deepEqual(terms, [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [p.spec.nodeName] }] }]);
      assert.ok(
        p.spec.tolerations.some((t: any) => t.key === 'node.kubernetes.io/unschedulable' && t.effect === 'NoSchedule'),
      );
      assert.ok(p.metadata.labels['controller-revision-hash']);
    }
    // A fourth node joins (a second simulator); its taint keeps the other scenarios' pods away.
    const sim = spawn(
      process.execPath,
      [
        K8TS_BIN,
        'sim',
        '--nodes',
        '1',
        '--sim-start-index',
        '3',
        '--sim-taints',
        'late=true:NoSchedule',
        '--kubeconfig',
        cluster.kubeconfig,
        '--log-level',
        'warn',
      ],
      { stdio: 'ignore' },
    );
    extraSims.push(sim);
    await eventually(
      '4 ready',
      async () => {
        const s = (await getJSON(['get', 'ds', 'agent', '-n', ns])).status ?? {};
        return s.desiredNumberScheduled === 4 && s.numberReady === 4 && s.currentNumberScheduled === 4;
      },
      40_000,
    );
    pods = (await getJSON(['get', 'pods', '-n', ns])).items;
    assert.ok(pods.some((p: any) => p.spec.nodeName === 'sim-node-3'));
    // A node that stops fitting (a NoExecute taint) loses its pod.
    await cluster.k(['taint', 'node', 'sim-node-3', 'dedicated=x:NoExecute']);
    await eventually(
      '3 desired again',
      async () => {
        const s = (await getJSON(['get', 'ds', 'agent', '-n', ns])).status ?? {};
        const ps = (await getJSON(['get', 'pods', '-n', ns])).items.filter((p: any) => !p.metadata.deletionTimestamp);
        return (
          s.desiredNumberScheduled === 3 && ps.every((p: any) => p.spec.nodeName !== 'sim-node-3') && ps.length === 3
        );
      },
      30_000,
    );
  });

  test('Job: completions 4, parallelism 2 completes', async () => {
    const ns = 'job';
    await cluster.k(['create', 'namespace', ns]);
    let maxActive = 0;
    const w = client
      .resource(R.jobs)
      .namespace(ns)
      .watch({ resourceVersion: '0' }, (ev) => {
        maxActive = Math.max(maxActive, ev.object?.status?.active ?? 0);
      });
    try {
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
      containers: [{name: w, image: busybox, command: [sh, -c, 'sleep 1']}]
`,
      );
      const job = await eventually(
        'Complete',
        async () => {
          const j = await getJSON(['get', 'job', 'work', '-n', ns]);
          return (j.status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True') && j;
        },
        40_000,
      );
      assert.equal(job.status.succeeded, 4);
      assert.equal(job.status.failed, undefined);
      assert.ok(job.status.startTime);
      assert.ok(job.status.completionTime);
      assert.deepEqual(job.status.uncountedTerminatedPods, {});
      assert.ok(maxActive <= 2 && maxActive >= 1, `max active ${maxActive}`);
      const pods = (await getJSON(['get', 'pods', '-n', ns, '-l', 'job-name=work'])).items;
      assert.equal(pods.filter((p: any) => p.status.phase === 'Succeeded').length, 4);
      for (const p of pods) assert.ok(!(p.metadata.finalizers ?? []).includes('batch.kubernetes.io/job-tracking'));
      const out = await cluster.k(['get', 'job', 'work', '-n', ns]);
      assert.match(out, /work\s+(Complete\s+)?4\/4/);
    } finally {
      w.stop();
    }
  });

  test('Indexed Job: hostnames and completed indexes', async () => {
    const ns = 'indexed';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: batch/v1
kind: Job
metadata: {name: ix}
spec:
  completions: 3
  parallelism: 3
  completionMode: Indexed
  ttlSecondsAfterFinished: 15
  template:
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox}]
`,
    );
    const pods = await eventually('3 pods', async () => {
      const ps = (await getJSON(['get', 'pods', '-n', ns])).items;
      return ps.length === 3 && ps;
    });
    assert.deepEqual(pods.map((p: any) => p.spec.hostname).sort(), ['ix-0', 'ix-1', 'ix-2']);
    for (const p of pods) {
      assert.equal(
        p.metadata.labels['batch.kubernetes.io/job-completion-index'],
        p.metadata.annotations['batch.kubernetes.io/job-completion-index'],
      );
      assert.ok(p.spec.containers[0].env.some((e: any) => e.name === 'JOB_COMPLETION_INDEX'));
    }
    const job = await eventually('Complete', async () => {
      const j = await getJSON(['get', 'job', 'ix', '-n', ns]);
      return (j.status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True') && j;
    });
    assert.equal(job.status.completedIndexes, '0-2');
    // ttlSecondsAfterFinished: the Job goes away. (15 s, so that a slow poll on a loaded machine still
    // sees it Complete first.)
    await eventually(
      'deleted by TTL',
      async () => (await cluster.kubectl(['get', 'job', 'ix', '-n', ns])).stderr.includes('NotFound'),
      40_000,
    );
  });

  test('Job: a failing Job ends Failed with BackoffLimitExceeded', async () => {
    const ns = 'failjob';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(
      ['apply', '-n', ns, '-f', '-'],
      `
apiVersion: batch/v1
kind: Job
metadata: {name: bad}
spec:
  backoffLimit: 1
  template:
    metadata:
      annotations: {sim.k8ts.io/exit-code: "1"}
    spec:
      restartPolicy: Never
      containers: [{name: w, image: busybox}]
`,
    );
    // Two failures (the second after the 10 s back-off), then Failed.
    const job = await eventually(
      'Failed',
      async () => {
        const j = await getJSON(['get', 'job', 'bad', '-n', ns]);
        return (j.status?.conditions ?? []).some((c: any) => c.type === 'Failed' && c.status === 'True') && j;
      },
      40_000,
    );
    const failed = job.status.conditions.find((c: any) => c.type === 'Failed');
    assert.equal(failed.reason, 'BackoffLimitExceeded');
    assert.equal(failed.message, 'Job has reached the specified backoff limit');
    assert.equal(job.status.failed, 2);
    assert.ok(!job.status.active);
    assert.ok(job.status.conditions.some((c: any) => c.type === 'FailureTarget'));
  });

  test('CronJob: creates Jobs on schedule; create job --from=cronjob', async () => {
    const ns = 'cron';
    await cluster.k(['create', 'namespace', ns]);
    await cluster.k(['create', 'cronjob', 'tick', '-n', ns, '--image=busybox', '--schedule=*/1 * * * *', '--', 'date']);
    // A manual run from the template, as kubectl builds it.
    await cluster.k(['create', 'job', 'tick-manual', '-n', ns, '--from=cronjob/tick']);
    const manual = await getJSON(['get', 'job', 'tick-manual', '-n', ns]);
    assert.equal(manual.metadata.annotations['cronjob.kubernetes.io/instantiate'], 'manual');
    assert.equal(manual.metadata.ownerReferences[0].kind, 'CronJob');
    await eventually('manual job completes', async () => {
      const j = await getJSON(['get', 'job', 'tick-manual', '-n', ns]);
      return (j.status?.conditions ?? []).some((c: any) => c.type === 'Complete' && c.status === 'True');
    });
    // The next minute boundary.
    const job = await eventually(
      'scheduled job',
      async () => {
        const jobs = (await getJSON(['get', 'jobs', '-n', ns])).items.filter(
          (j: any) => j.metadata.name !== 'tick-manual',
        );
        return jobs[0];
      },
      68_000,
      500,
    );
    const scheduled = Date.parse(job.metadata.annotations['batch.kubernetes.io/cronjob-scheduled-timestamp']);
    assert.equal(scheduled % 60_000, 0);
    assert.equal(job.metadata.name, `tick-${scheduled / 60_000}`);
    assert.equal(job.metadata.ownerReferences[0].kind, 'CronJob');
    const cj = await eventually('lastScheduleTime', async () => {
      const c = await getJSON(['get', 'cronjob', 'tick', '-n', ns]);
      return c.status?.lastScheduleTime && c;
    });
    assert.equal(Date.parse(cj.status.lastScheduleTime), scheduled);
    await eventually(
      'SawCompletedJob',
      async () => {
        const ev = await cluster.k([
          'get',
          'events',
          '-n',
          ns,
          '--field-selector',
          'involvedObject.kind=CronJob',
          '-o',
          'custom-columns=R:.reason,M:.message',
          '--no-headers',
        ]);
        return (
          /SuccessfulCreate\s+Created job tick-\d+/.test(ev) &&
          /SawCompletedJob\s+Saw completed job: tick-\d+, status: Complete/.test(ev)
        );
      },
      20_000,
    );
    const c = await getJSON(['get', 'cronjob', 'tick', '-n', ns]);
    assert.ok(c.status.lastSuccessfulTime);
    assert.ok(!c.status.active);
  });
});
