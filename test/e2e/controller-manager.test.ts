// `k8ts controller-manager --kubeconfig F` over HTTPS with leader election: against a server that
// runs no controllers itself (--disable-controller-manager), two instances elect one leader; only
// it runs controllers (a new namespace gets its default ServiceAccount); when it is killed, the
// standby takes the Lease over within the lease duration and acts. With
// --use-service-account-credentials each controller acts as its own service account (a token
// from a TokenRequest): a permission taken from its role is refused to it, not to the manager.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { startCluster, K8TS_BIN, type Cluster } from './harness.js';
import { sleep, until } from '../support/until.js';

let cluster: Cluster;
const procs: ChildProcess[] = [];

before(async () => {
  cluster = await startCluster({ args: ['--disable-controller-manager'] });
});
after(async () => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  await cluster?.cleanup();
});

const LEASE_MS = 4000;
const POOL = '10.251.7.0/30';

interface Instance {
  proc: ChildProcess;
  identity: string;
  log: () => string;
}

function startInstance(
  args = [
    '--leader-elect=true',
    `--leader-elect-lease-duration=${LEASE_MS / 1000}s`,
    '--leader-elect-renew-deadline=3s',
    '--leader-elect-retry-period=500ms',
    '--lb-address-pool',
    POOL,
  ],
): Promise<Instance> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [K8TS_BIN, 'controller-manager', '--kubeconfig', cluster.kubeconfig, ...args, '--log-level', 'info'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    procs.push(proc);
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`controller-manager did not start:\n${out}\n${err}`)), 20_000);
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
}

interface LeaseSpec {
  holderIdentity?: string;
  acquireTime?: string;
  renewTime?: string;
}

async function leaseSpec(): Promise<LeaseSpec> {
  const r = await cluster.kubectl(['get', 'lease', 'kube-controller-manager', '-n', 'kube-system', '-o', 'json']);
  return r.code === 0 ? ((JSON.parse(r.stdout) as { spec?: LeaseSpec }).spec ?? {}) : {};
}

const holder = async (): Promise<string> => (await leaseSpec()).holderIdentity ?? '';

const hasSA = async (ns: string) => (await cluster.kubectl(['get', 'serviceaccount', 'default', '-n', ns])).code === 0;

test('two controller managers: one leader acts; the standby takes over within the lease duration', async () => {
  // Nothing runs controllers yet: a new namespace gets no default ServiceAccount.
  await cluster.k(['create', 'namespace', 'cm-none']);
  await sleep(1000);
  assert.equal(await hasSA('cm-none'), false, 'the server must run no controllers with --disable-controller-manager');

  const a = await startInstance();
  const b = await startInstance();
  const first = await until('a leader', async () => {
    const h = await holder();
    return (h === a.identity || h === b.identity) && h;
  });
  const [leader, standby] = first === a.identity ? [a, b] : [b, a];
  // The leader's controllers act (the namespace created before gets its ServiceAccount too).
  await until('leader acts', async () => (await hasSA('cm-none')) && true);
  await cluster.k(['create', 'namespace', 'cm-one']);
  await until('leader acts on a new namespace', async () => (await hasSA('cm-one')) && true);
  // --lb-address-pool reaches the standalone manager's ServiceLB: the lowest address of the pool.
  await cluster.k(['create', 'service', 'loadbalancer', 'cm-lb', '--tcp=80:8080', '-n', 'cm-one']);
  await until('a pool address', async () => {
    const r = await cluster.kubectl([
      'get',
      'svc',
      'cm-lb',
      '-n',
      'cm-one',
      '-o',
      'jsonpath={.status.loadBalancer.ingress[0].ip}',
    ]);
    return r.stdout.trim() === '10.251.7.1';
  });
  // The lease stays with the leader; the standby never started its controllers.
  await sleep(1500);
  assert.equal(await holder(), leader.identity);
  assert.match(leader.log(), /controllers started/);
  assert.doesNotMatch(standby.log(), /controllers started/);

  // Kill the leader without letting it release the lease. The takeover is timed by the Lease's
  // own times (the leader's last renewTime, the standby's acquireTime), not by when a polling
  // kubectl sees it, which on a loaded machine adds seconds of its own.
  const lastRenew = await leaseSpec();
  assert.equal(lastRenew.holderIdentity, leader.identity);
  const killedAt = Date.now();
  leader.proc.kill('SIGKILL');
  const taken = await until(
    'standby takes over',
    async () => {
      const spec = await leaseSpec();
      return spec.holderIdentity === standby.identity && spec;
    },
    LEASE_MS + 10_000,
  );
  // acquireTime is taken at the start of the standby's round, before its GET (as upstream's), so
  // the lower bound allows one retry period (500 ms) for that GET.
  const sinceRenewMs = Date.parse(taken.acquireTime!) - Date.parse(lastRenew.renewTime!);
  const sinceKillMs = Date.parse(taken.acquireTime!) - killedAt;
  assert.ok(sinceRenewMs >= LEASE_MS - 500, `acquired ${sinceRenewMs} ms after a renewal (lease ${LEASE_MS} ms)`);
  assert.ok(sinceKillMs <= LEASE_MS + 2500, `took over ${sinceKillMs} ms after the kill (lease ${LEASE_MS} ms)`);
  await until('new leader runs controllers', () => /controllers started/.test(standby.log()));
  await cluster.k(['create', 'namespace', 'cm-two']);
  await until('new leader acts', async () => (await hasSA('cm-two')) && true);

  // A clean stop releases the lease at once.
  standby.proc.kill('SIGTERM');
  await until('lease released', async () => (await holder()) === '', 5000);
});

test('--use-service-account-credentials: each controller acts with its own service account token', async () => {
  const replicaSet = (name: string) =>
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name, namespace: 'default' },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
      },
    });
  const podCount = async (app: string) =>
    (JSON.parse(await cluster.k(['get', 'pods', '-l', `app=${app}`, '-o', 'json'])) as { items: unknown[] }).items
      .length;
  const cm = await startInstance([
    '--leader-elect=false',
    '--use-service-account-credentials',
    '--controllers=replicaset',
  ]);
  // The manager made the account, and the controller creates pods with its token.
  await cluster.k(['get', 'serviceaccount', 'replicaset-controller', '-n', 'kube-system']);
  await cluster.k(['apply', '-f', '-'], replicaSet('sa-ok'));
  await until('the pod of a ReplicaSet', async () => (await podCount('sa-ok')) === 1, 60_000);
  // The replicaset controller's role without `create pods`: only its own identity is refused
  // (the kubeconfig's admin, which the manager itself uses, may do everything).
  const roleName = 'system:controller:replicaset-controller';
  type Role = { rules: { resources?: string[]; verbs: string[] }[] };
  const original = JSON.parse(await cluster.k(['get', 'clusterrole', roleName, '-o', 'json'])) as Role;
  const withoutCreate = {
    ...original,
    rules: original.rules.map((r) =>
      r.resources?.includes('pods') ? { ...r, verbs: r.verbs.filter((v) => v !== 'create') } : r,
    ),
  };
  await cluster.k(['replace', '-f', '-'], JSON.stringify(withoutCreate));
  try {
    await cluster.k(['apply', '-f', '-'], replicaSet('sa-rs'));
    const message = await until(
      "a FailedCreate event with the controller's own Forbidden",
      async () => {
        const evs = JSON.parse(
          await cluster.k([
            'get',
            'events',
            '--field-selector',
            'involvedObject.name=sa-rs,reason=FailedCreate',
            '-o',
            'json',
          ]),
        ) as { items: { message?: string }[] };
        return evs.items.map((e) => e.message ?? '').find((m) => m.includes('forbidden'));
      },
      60_000,
    );
    assert.match(
      message,
      /User "system:serviceaccount:kube-system:replicaset-controller" cannot create resource "pods" in API group "" in the namespace "default"/,
    );
    assert.equal(await podCount('sa-rs'), 0);
  } finally {
    const live = JSON.parse(await cluster.k(['get', 'clusterrole', roleName, '-o', 'json'])) as Role;
    await cluster.k(['replace', '-f', '-'], JSON.stringify({ ...live, rules: original.rules }));
    cm.proc.kill('SIGTERM');
  }
});
