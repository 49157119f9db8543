// Pod startup latency with real containers: `k8ts server` (API server + controllers + scheduler +
// node agent in one process, with its own containerd), 100 pods of a locally present image,
// create → Ready per pod, p50/p90/p99/max against the upstream SLO (p99 ≤ 5 s); then the CPU and
// memory of the k8ts process and of containerd + its shims with 100 pods running, against the
// same with 0 pods.
//
//   npm run build && npm run bench:podstartup          # ~6 minutes on 2 cores; needs root + containerd
//
// Reference, measured in the same run against the same containerd: the same 100 sandboxes +
// containers started straight through CRI with the project's CriRuntime (the calls the agent makes
// for a pod: RunPodSandbox, PodSandboxStatus, ImageStatus, CreateContainer, StartContainer), by 4
// workers as the agent's pod workers, with the same arrival pattern. The difference is what the
// k8ts layers (API, scheduler, agent's informer/queue/status reporting, volumes) add on top.
//
// Environment (all optional):
//   BENCH_PODS            pods per phase (100)
//   BENCH_RATE            creates per second of the paced phase (10); 0 skips it
//   BENCH_BURST=0         skip the all-at-once phase
//   BENCH_READINESS=exec  give every pod a readinessProbe exec `true` (default: no probe)
//   BENCH_SAMPLE_SECONDS  CPU sampling window with 0 and with BENCH_PODS pods running (60)
//   BENCH_REF_WORKERS     concurrent pods in the CRI reference (4, the agent's pod workers)
//   BENCH_DIR             parent of the temporary data dir (os.tmpdir())
//   BENCH_OUT             JSON results (bench/results/podstartup.json)
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, R } from '../src/client/index.js';
import { buildTestImage, TEST_IMAGES } from '../src/agent/images/testimages.js';
import { CriRuntime } from '../src/agent/runtime/cri/runtime.js';
import { containerdPaths } from '../src/agent/runtime/containerd.js';
import { sandboxConfig, parseResolvConf } from '../src/agent/pods/sandbox.js';
import { containerConfig } from '../src/agent/pods/container.js';
import { LABEL } from '../src/agent/runtime/types.js';
import { CLK_TCK, cpuSecondsOf, k8tsServerArgs, launch, pct, repo, sleep } from './common.js';

const PODS = Number(process.env.BENCH_PODS ?? 100);
const RATE = Number(process.env.BENCH_RATE ?? 10);
const BURST = process.env.BENCH_BURST !== '0';
const READINESS = process.env.BENCH_READINESS === 'exec' ? 'exec' : 'none';
const SAMPLE_S = Number(process.env.BENCH_SAMPLE_SECONDS ?? 60);
const REF_WORKERS = Number(process.env.BENCH_REF_WORKERS ?? 4);
const OUT = process.env.BENCH_OUT ?? join(repo, 'bench/results/podstartup.json');
const PHASE_TIMEOUT_MS = 180_000;
const NS = 'default';
const IMAGE = TEST_IMAGES.busybox;
const SLO_P99_MS = 5000;

const t0 = performance.now();
const log = (msg: string) =>
  process.stderr.write(`[bench ${((performance.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`);

// ---- processes ---------------------------------------------------------------------------------

/** pid → ppid, for every process on the machine. */
function processTable(): Map<number, number> {
  const out = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = readFileSync(`/proc/${d}/stat`, 'utf8');
      out.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      /* gone */
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** The shims of our containerd (they name its socket) and the container processes under them. */
function runtimeProcesses(socket: string): { shims: number[]; containers: number[] } {
  const table = processTable();
  const shims = [...table.keys()].filter((p) => {
    const c = cmdline(p);
    return c.includes('containerd-shim') && c.includes(`-address ${socket}`);
  });
  const children = new Map<number, number[]>();
  for (const [p, pp] of table) children.set(pp, [...(children.get(pp) ?? []), p]);
  const containers: number[] = [];
  const stack = shims.flatMap((s) => children.get(s) ?? []);
  while (stack.length) {
    const p = stack.pop()!;
    containers.push(p);
    stack.push(...(children.get(p) ?? []));
  }
  return { shims, containers };
}

/** VmRSS and PSS (shared pages divided among their users) in KiB. */
function memOf(pid: number): { rssKiB: number; pssKiB: number } {
  let rssKiB = NaN;
  let pssKiB = NaN;
  try {
    rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    /* gone */
  }
  try {
    pssKiB = Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? NaN);
  } catch {
    /* gone */
  }
  return { rssKiB, pssKiB };
}

const sumMem = (pids: number[]) =>
  pids.map(memOf).reduce((a, m) => ({ rssKiB: a.rssKiB + (m.rssKiB || 0), pssKiB: a.pssKiB + (m.pssKiB || 0) }), {
    rssKiB: 0,
    pssKiB: 0,
  });

/** Busy CPU seconds of the whole machine so far (from /proc/stat). */
function machineBusy(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f.reduce((a, b) => a + b, 0) - f[3] - (f[4] ?? 0)) / CLK_TCK;
}

interface Usage {
  seconds: number;
  pods: number;
  k8ts: { cores: number; rssMiB: number; pssMiB: number };
  containerd: { cores: number; rssMiB: number; pssMiB: number };
  shims: { count: number; cores: number; rssMiB: number; pssMiB: number };
  containerProcesses: { count: number; cores: number; rssMiB: number; pssMiB: number };
  otherCores: number;
}

/** CPU of each group over `seconds` (per pid present at both ends) and memory at the end. */
async function sampleUsage(
  serverPid: number,
  containerdPid: number,
  socket: string,
  seconds: number,
  pods: number,
): Promise<Usage> {
  const before = runtimeProcesses(socket);
  const cpu0 = new Map<number, number>();
  for (const p of [serverPid, containerdPid, ...before.shims, ...before.containers]) cpu0.set(p, cpuSecondsOf(p));
  const busy0 = machineBusy();
  const w0 = performance.now();
  await sleep(seconds * 1000);
  const wall = (performance.now() - w0) / 1000;
  const busy = machineBusy() - busy0;
  const after = runtimeProcesses(socket);
  const cores = (pids: number[]) =>
    pids.reduce((s, p) => (cpu0.has(p) ? s + (cpuSecondsOf(p) - cpu0.get(p)! || 0) : s), 0) / wall;
  const mib = (m: { rssKiB: number; pssKiB: number }) => ({
    rssMiB: +(m.rssKiB / 1024).toFixed(1),
    pssMiB: +(m.pssKiB / 1024).toFixed(1),
  });
  const k8ts = { cores: +cores([serverPid]).toFixed(3), ...mib(memOf(serverPid)) };
  const ctrd = { cores: +cores([containerdPid]).toFixed(3), ...mib(memOf(containerdPid)) };
  const shims = { count: after.shims.length, cores: +cores(after.shims).toFixed(3), ...mib(sumMem(after.shims)) };
  const ctrs = {
    count: after.containers.length,
    cores: +cores(after.containers).toFixed(3),
    ...mib(sumMem(after.containers)),
  };
  const ours = k8ts.cores + ctrd.cores + shims.cores + ctrs.cores;
  return {
    seconds: +wall.toFixed(1),
    pods,
    k8ts,
    containerd: ctrd,
    shims,
    containerProcesses: ctrs,
    otherCores: +(busy / wall - ours).toFixed(2),
  };
}

// ---- the server ----------------------------------------------------------------------------------

async function launchServer(
  dataDir: string,
  cidr: string,
): Promise<{ child: ChildProcess; url: string; kubeconfig: string; stderr: () => string }> {
  const args = k8tsServerArgs(dataDir, ['--kubelet-port', '0', '--cluster-cidr', cidr, '--log-level', 'warn']);
  const { child, match, stderr } = await launch(
    'k8ts server',
    args,
    /k8ts server ready: (\S+) \(data .*, kubeconfig (\S+)\)/,
    120_000,
  );
  return { child, url: match[1], kubeconfig: match[2], stderr };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

async function until(
  what: string,
  fn: () => Promise<boolean> | boolean,
  timeoutMs = PHASE_TIMEOUT_MS,
  stepMs = 200,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await fn()) return;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await sleep(stepMs);
  }
}

// ---- statistics ----------------------------------------------------------------------------------

interface Dist {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

function dist(values: (number | undefined)[]): Dist {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  return {
    n: v.length,
    p50: Math.round(pct(v, 0.5)),
    p90: Math.round(pct(v, 0.9)),
    p99: Math.round(pct(v, 0.99)),
    max: Math.round(v[v.length - 1] ?? NaN),
  };
}

/** Paced arrivals: i-th item at i/rate seconds (rate 0: all at once). */
async function arrive(n: number, rate: number, fn: (i: number) => Promise<void>): Promise<void> {
  const start = performance.now();
  const all: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    if (rate > 0) {
      const due = start + (i * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
    }
    all.push(fn(i));
  }
  await Promise.all(all);
}

// ---- the CRI reference -----------------------------------------------------------------------------

/**
 * 100 pods straight through CRI: the calls the agent makes for a new pod, by `workers` workers
 * taking pods from a queue as they arrive. No podUID label, so the agent's relist ignores them.
 * Returns per-pod latency from arrival to container started (ms).
 */
async function criReference(
  rt: CriRuntime,
  dir: string,
  rate: number,
  tag: string,
): Promise<{ latencyMs: Dist; totalMs: number; sandboxMs: Dist; containerMs: Dist }> {
  const dns = {
    clusterDNS: [],
    clusterDomain: 'cluster.local',
    hostResolv: parseResolvConf(readFileSync('/etc/resolv.conf', 'utf8')),
  };
  const nodeMemoryBytes = os.totalmem();
  const queue: { i: number; arrived: number }[] = [];
  const lat: number[] = [];
  const sandboxMs: number[] = [];
  const containerMs: number[] = [];
  let arrivedAll = false;
  const start = performance.now();
  const worker = async () => {
    for (;;) {
      const item = queue.shift();
      if (!item) {
        if (arrivedAll) return;
        await sleep(2);
        continue;
      }
      const name = `ref-${tag}-${item.i}`;
      const pod = {
        metadata: { name, namespace: 'bench-ref', uid: `ref-${tag}-${item.i}-${process.pid}` },
        spec: {
          containers: [{ name: 'c', image: IMAGE, command: ['sleep', '3600'], imagePullPolicy: 'IfNotPresent' }],
          terminationGracePeriodSeconds: 1,
        },
      };
      const logDirectory = join(dir, name);
      mkdirSync(logDirectory, { recursive: true });
      const cfg = sandboxConfig(pod, 0, { logDirectory, dns });
      delete cfg.labels[LABEL.podUID];
      const s0 = performance.now();
      const id = await rt.runPodSandbox(cfg);
      await rt.podSandboxStatus(id);
      const s1 = performance.now();
      await rt.imageStatus(IMAGE);
      const c = pod.spec.containers[0];
      const cid = await rt.createContainer(
        id,
        containerConfig(pod, c, cfg, { env: [], mounts: [], attempt: 0, nodeMemoryBytes }),
        cfg,
      );
      await rt.startContainer(cid);
      const s2 = performance.now();
      sandboxMs.push(s1 - s0);
      containerMs.push(s2 - s1);
      lat.push(s2 - item.arrived);
    }
  };
  const workers = Array.from({ length: REF_WORKERS }, worker);
  await arrive(PODS, rate, (i) => {
    queue.push({ i, arrived: performance.now() });
    return Promise.resolve();
  });
  arrivedAll = true;
  await Promise.all(workers);
  return {
    latencyMs: dist(lat),
    totalMs: Math.round(performance.now() - start),
    sandboxMs: dist(sandboxMs),
    containerMs: dist(containerMs),
  };
}

/** Stops and removes the sandboxes (and their containers) the reference made, 4 at a time. */
async function removeReference(rt: CriRuntime): Promise<void> {
  const mine = (await rt.listPodSandboxes()).filter((s) => s.metadata?.namespace === 'bench-ref');
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < mine.length) {
        const s = mine[next++];
        for (const c of await rt.listContainers({ podSandboxId: s.id })) {
          await rt.stopContainer(c.id, 0).catch(() => undefined);
          await rt.removeContainer(c.id).catch(() => undefined);
        }
        await rt.stopPodSandbox(s.id).catch(() => undefined);
        await rt.removePodSandbox(s.id).catch(() => undefined);
      }
    }),
  );
}

// ---- the k8ts phases ----------------------------------------------------------------------------------

interface PodTimes {
  sent: number; // Date.now() when the create request was sent
  acked?: number;
  scheduled?: number; // watch saw spec.nodeName
  running?: number; // watch saw the container running
  ready?: number; // watch saw Ready=True
  creationTimestamp?: string;
  readyTransition?: string;
  startedAt?: string;
}

const isReady = (p: any) => (p.status?.conditions ?? []).some((c: any) => c.type === 'Ready' && c.status === 'True');

function podSpec(name: string, phase: string): any {
  const c: any = { name: 'c', image: IMAGE, command: ['sleep', '3600'], imagePullPolicy: 'IfNotPresent' };
  if (READINESS === 'exec') c.readinessProbe = { exec: { command: ['true'] }, periodSeconds: 10 };
  return {
    metadata: { name, labels: { bench: 'podstartup', phase } },
    spec: { containers: [c], terminationGracePeriodSeconds: 1 },
  };
}

async function k8tsPhase(
  client: Client,
  phase: string,
  rate: number,
): Promise<{ times: PodTimes[]; allReadyMs: number }> {
  const pods = client.resource(R.pods).namespace(NS);
  const times = new Map<string, PodTimes>();
  let readyCount = 0;
  let lastReady = 0;
  const rv = (await pods.list({ limit: 1 })).metadata.resourceVersion;
  const onEvent = (ev: { type: string; object: any }) => {
    const now = Date.now();
    const p = ev.object;
    if (ev.type === 'ERROR' || ev.type === 'BOOKMARK' || p?.metadata?.labels?.phase !== phase) return;
    const t = times.get(p.metadata.name);
    if (!t) return;
    t.creationTimestamp ??= p.metadata.creationTimestamp;
    if (t.scheduled === undefined && p.spec?.nodeName) t.scheduled = now;
    if (t.running === undefined && (p.status?.containerStatuses ?? []).some((s: any) => s.state?.running)) {
      t.running = now;
      t.startedAt = p.status.containerStatuses.find((s: any) => s.state?.running).state.running.startedAt;
    }
    if (t.ready === undefined && isReady(p)) {
      t.ready = now;
      t.readyTransition = p.status.conditions.find((c: any) => c.type === 'Ready').lastTransitionTime;
      readyCount++;
      lastReady = now;
    }
  };
  const w = pods.watch({ resourceVersion: rv, labelSelector: `phase=${phase}` }, onEvent);
  const start = Date.now();
  try {
    await arrive(PODS, rate, async (i) => {
      const name = `${phase}-${i}`;
      const t: PodTimes = { sent: Date.now() };
      times.set(name, t);
      await pods.create(podSpec(name, phase));
      t.acked = Date.now();
    });
    await until(
      `${phase}: all ${PODS} pods Ready (seen by the watch)`,
      () => readyCount >= PODS,
      PHASE_TIMEOUT_MS,
      100,
    );
  } finally {
    w.stop();
  }
  return { times: [...times.values()], allReadyMs: lastReady - start };
}

function summarize(times: PodTimes[]) {
  const sec = (iso?: string) => (iso ? Date.parse(iso) : NaN);
  return {
    sentToReadySeenMs: dist(times.map((t) => (t.ready ?? NaN) - t.sent)),
    creationTimestampToReadySeenMs: dist(times.map((t) => (t.ready ?? NaN) - sec(t.creationTimestamp))),
    readyConditionMinusCreationS: dist(times.map((t) => (sec(t.readyTransition) - sec(t.creationTimestamp)) / 1000)),
    createAckMs: dist(times.map((t) => (t.acked ?? NaN) - t.sent)),
    sentToScheduledSeenMs: dist(times.map((t) => (t.scheduled ?? NaN) - t.sent)),
    scheduledToRunningSeenMs: dist(times.map((t) => (t.running ?? NaN) - (t.scheduled ?? NaN))),
    runningToReadySeenMs: dist(times.map((t) => (t.ready ?? NaN) - (t.running ?? NaN))),
  };
}

/** Deletes the pods of a phase ('' for all of the benchmark's) and waits until containerd has no sandbox left. */
async function deleteAll(client: Client, rt: CriRuntime, phase: string): Promise<number> {
  const pods = client.resource(R.pods).namespace(NS);
  const labelSelector = phase ? `phase=${phase}` : 'bench=podstartup';
  const s = performance.now();
  await pods.deleteCollection({ labelSelector });
  await until(
    `${phase || 'all'}: pods gone`,
    async () => (await pods.list({ labelSelector })).items.length === 0,
    120_000,
  );
  await until(`${phase || 'all'}: sandboxes removed`, async () => (await rt.listPodSandboxes()).length === 0, 120_000);
  return Math.round(performance.now() - s);
}

/** Every container and sandbox of the benchmark's containerd, stopped and removed. */
async function removeEverything(rt: CriRuntime): Promise<void> {
  for (const c of await rt.listContainers()) {
    await rt.stopContainer(c.id, 0).catch(() => undefined);
    await rt.removeContainer(c.id).catch(() => undefined);
  }
  for (const s of await rt.listPodSandboxes()) {
    await rt.stopPodSandbox(s.id).catch(() => undefined);
    await rt.removePodSandbox(s.id).catch(() => undefined);
  }
}

// ---- main ----------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (the agent runs containerd)');
  const dataDir = mkdtempSync(join(process.env.BENCH_DIR ?? os.tmpdir(), 'k8ts-podstartup-'));
  const cidr = `10.${100 + Math.floor(Math.random() * 150)}.0.0/16`;
  const results: any = {
    when: new Date().toISOString(),
    command: 'npm run build && npm run bench:podstartup',
    pods: PODS,
    rate: RATE,
    readinessProbe: READINESS,
    image: IMAGE,
    refWorkers: REF_WORKERS,
    sloP99Ms: SLO_P99_MS,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model,
      memGiB: +(os.totalmem() / 2 ** 30).toFixed(1),
      node: process.version,
      kernel: os.release(),
    },
  };
  const containerdVersion = spawnSync('containerd', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const runcVersion = spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0];
  results.machine.containerd = containerdVersion;
  results.machine.runc = runcVersion;
  log(`data dir ${dataDir}, pod CIDR ${cidr}; ${containerdVersion}`);
  let server: Awaited<ReturnType<typeof launchServer>> | undefined;
  let client: Client | undefined;
  let rt: CriRuntime | undefined;
  const hardStop = setTimeout(() => {
    log('overall time limit (15 min) reached; stopping');
    process.exitCode = 1;
    // killall first, while containerd still answers, so that it removes the containers.
    spawnSync(process.execPath, [join(repo, 'bin', 'k8ts'), 'killall', '--data-dir', dataDir], { stdio: 'inherit' });
    if (server) server.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(1);
  }, 15 * 60_000);
  try {
    const s0 = performance.now();
    server = await launchServer(dataDir, cidr);
    const serverPid = server.child.pid!;
    client = Client.fromKubeconfig(server.kubeconfig, { fieldManager: 'bench', timeoutMs: 120_000 });
    await until(
      'node Ready',
      async () =>
        (await client!.resource(R.nodes).list()).items.some(
          (n: any) => n.spec?.podCIDR && isReady({ status: n.status }),
        ),
      120_000,
      250,
    );
    results.serverStartToNodeReadyMs = Math.round(performance.now() - s0);
    const paths = containerdPaths(join(dataDir, 'agent'));
    const containerdPid = Number(readFileSync(paths.pidFile, 'utf8').trim());
    log(
      `server pid ${serverPid}, containerd pid ${containerdPid}; node Ready after ${results.serverStartToNodeReadyMs} ms`,
    );

    // The image, present before any pod asks for it.
    const tar = join(dataDir, 'busybox.tar');
    writeFileSync(tar, buildTestImage('busybox').tar);
    const imp = spawnSync(
      process.execPath,
      [join(repo, 'bin', 'k8ts'), 'image', 'import', '--data-dir', dataDir, tar],
      { encoding: 'utf8', timeout: 120_000 },
    );
    if (imp.status !== 0) throw new Error(`image import failed: ${imp.stderr}${imp.stdout}`);
    log(imp.stdout.trim());
    await until(
      'ServiceAccount default',
      async () => !!(await client!.resource(R.serviceaccounts).namespace(NS).get('default')),
      60_000,
    );
    rt = new CriRuntime(paths.socket);

    // Idle: the k8ts process and containerd with 0 pods.
    await sleep(5000);
    log(`sampling ${SAMPLE_S} s with 0 pods`);
    results.usageIdle = await sampleUsage(serverPid, containerdPid, paths.socket, SAMPLE_S, 0);
    log(`0 pods: ${JSON.stringify(results.usageIdle)}`);

    const refDir = join(dataDir, 'bench-ref-logs');
    const modes: { name: string; rate: number }[] = [];
    if (BURST) modes.push({ name: 'burst', rate: 0 });
    if (RATE > 0) modes.push({ name: `rate${RATE}`, rate: RATE });
    results.phases = {};
    for (const [mi, m] of modes.entries()) {
      const last = mi === modes.length - 1;
      // Reference first, on the same containerd, then removed.
      const ref = await criReference(rt, refDir, m.rate, m.name);
      log(
        `CRI reference (${m.name}): ${PODS} pods in ${ref.totalMs} ms; arrival → started ${JSON.stringify(ref.latencyMs)} ms`,
      );
      await removeReference(rt);
      await until('reference sandboxes removed', async () => (await rt!.listPodSandboxes()).length === 0, 60_000);
      await sleep(3000);

      const cpu0 = {
        k8ts: cpuSecondsOf(serverPid),
        ctrd: cpuSecondsOf(containerdPid),
        busy: machineBusy(),
        t: performance.now(),
      };
      const run = await k8tsPhase(client, m.name, m.rate);
      const wall = (performance.now() - cpu0.t) / 1000;
      const sum = summarize(run.times);
      const verdict = sum.sentToReadySeenMs.p99 <= SLO_P99_MS;
      results.phases[m.name] = {
        arrival: m.rate > 0 ? `${m.rate}/s` : 'all at once',
        k8ts: {
          allReadyMs: run.allReadyMs,
          ...sum,
          sloMet: verdict,
          k8tsCores: +((cpuSecondsOf(serverPid) - cpu0.k8ts) / wall).toFixed(2),
          containerdCores: +((cpuSecondsOf(containerdPid) - cpu0.ctrd) / wall).toFixed(2),
          machineBusyCores: +((machineBusy() - cpu0.busy) / wall).toFixed(2),
        },
        criReference: ref,
        ratioP50: +(sum.sentToReadySeenMs.p50 / ref.latencyMs.p50).toFixed(2),
        ratioP99: +(sum.sentToReadySeenMs.p99 / ref.latencyMs.p99).toFixed(2),
        ratioTotal: +(run.allReadyMs / ref.totalMs).toFixed(2),
      };
      log(
        `k8ts (${m.name}): all Ready after ${run.allReadyMs} ms; create → Ready seen ${JSON.stringify(sum.sentToReadySeenMs)} ms; SLO p99 ≤ 5 s ${verdict ? 'met' : 'NOT met'}`,
      );
      log(
        `  breakdown: scheduled ${JSON.stringify(sum.sentToScheduledSeenMs)}, scheduled→running ${JSON.stringify(sum.scheduledToRunningSeenMs)}, running→ready ${JSON.stringify(sum.runningToReadySeenMs)}; Ready condition − creationTimestamp ${JSON.stringify(sum.readyConditionMinusCreationS)} s`,
      );
      if (!last) {
        const ms = await deleteAll(client, rt, m.name);
        log(`${m.name}: ${PODS} pods deleted and their sandboxes removed in ${ms} ms`);
        await sleep(3000);
      }
    }

    // 100 pods running: settle, then sample.
    if (modes.length) {
      await sleep(15_000);
      log(`sampling ${SAMPLE_S} s with ${PODS} pods running`);
      results.usageRunning = await sampleUsage(serverPid, containerdPid, paths.socket, SAMPLE_S, PODS);
      log(`${PODS} pods: ${JSON.stringify(results.usageRunning)}`);
      const stillReady = (
        await client.resource(R.pods).namespace(NS).list({ labelSelector: 'bench=podstartup' })
      ).items.filter(isReady).length;
      results.usageRunning.podsReadyAtEnd = stillReady;
    }
    results.totalS = +((performance.now() - t0) / 1000).toFixed(0);
  } finally {
    clearTimeout(hardStop);
    // Containers go while containerd still runs: pods deleted through the API (the agent removes
    // their sandboxes), then whatever is left straight through CRI. `k8ts killall` after the server
    // stopped cannot reach the CRI any more and would leave the containers' processes behind.
    if (client && rt) {
      await deleteAll(client, rt, '').catch((err) => log(`deleting the pods: ${err.message}`));
      await removeEverything(rt).catch((err) => log(`removing sandboxes: ${err.message}`));
    }
    await rt?.close();
    await client?.close();
    if (server) await stopServer(server.child);
    spawnSync(process.execPath, [join(repo, 'bin', 'k8ts'), 'killall', '--data-dir', dataDir], {
      stdio: 'inherit',
      timeout: 180_000,
    });
    rmSync(dataDir, { recursive: true, force: true });
  }
  mkdirSync(dirname(OUT), { recursive: true });
  writeFileSync(OUT, JSON.stringify(results, null, 2) + '\n');
  printTable(results);
  log(`results: ${OUT}`);
}

function printTable(r: any): void {
  const rows: string[][] = [['measure', ...Object.keys(r.phases ?? {})]];
  const ph = Object.values<any>(r.phases ?? {});
  const d = (x: Dist) => `${x.p50} / ${x.p90} / ${x.p99} / ${x.max}`;
  rows.push(['k8ts create → Ready seen by watch, ms p50/p90/p99/max', ...ph.map((p) => d(p.k8ts.sentToReadySeenMs))]);
  rows.push(['SLO p99 ≤ 5 s', ...ph.map((p) => (p.k8ts.sloMet ? 'met' : 'NOT met'))]);
  rows.push([
    'Ready lastTransitionTime − creationTimestamp, s (1 s resolution)',
    ...ph.map((p) => d(p.k8ts.readyConditionMinusCreationS)),
  ]);
  rows.push(['CRI reference arrival → container started, ms', ...ph.map((p) => d(p.criReference.latencyMs))]);
  rows.push(['ratio k8ts ÷ reference p50 / p99', ...ph.map((p) => `${p.ratioP50} / ${p.ratioP99}`)]);
  rows.push([
    `all ${r.pods} Ready, k8ts / reference, ms`,
    ...ph.map((p) => `${p.k8ts.allReadyMs} / ${p.criReference.totalMs}`),
  ]);
  const widths = rows[0].map((_, c) => Math.max(...rows.map((x) => x[c].length)));
  process.stdout.write(rows.map((x) => x.map((cell, c) => cell.padEnd(widths[c])).join('  ')).join('\n') + '\n');
  for (const u of [r.usageIdle, r.usageRunning].filter(Boolean)) {
    process.stdout.write(
      `${u.pods} pods over ${u.seconds} s: k8ts ${u.k8ts.cores} cores ${u.k8ts.rssMiB} MiB; containerd ${u.containerd.cores} cores ${u.containerd.rssMiB} MiB; ${u.shims.count} shims ${u.shims.cores} cores ${u.shims.rssMiB} MiB RSS (${u.shims.pssMiB} MiB PSS); container processes ${u.containerProcesses.count}: ${u.containerProcesses.cores} cores ${u.containerProcesses.pssMiB} MiB PSS; other ${u.otherCores} cores\n`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
