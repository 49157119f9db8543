// Starts real `k8ts server` processes for end-to-end tests and drives them with the real kubectl.
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stopStaleNginx } from '../../src/ingress/nginx/supervisor.js';

const ROOT = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const K8TS_BIN = join(ROOT, 'bin', 'k8ts');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Cluster {
  url: string;
  dataDir: string;
  kubeconfig: string;
  proc: ChildProcess;
  /** The server's inspector WebSocket, when started with nodeArgs ['--inspect=127.0.0.1:0']. */
  inspector?: string;
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number; bin?: string }): Promise<RunResult>;
  /** kubectl that must succeed; returns stdout. */
  k(args: string[], input?: string): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

export function run(
  cmd: string,
  args: string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolvePromise) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 * 1024 * 1024, env: opts.env ?? process.env, cwd: opts.cwd },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as any).code === 'number' ? (err as any).code : 1) : 0;
        resolvePromise({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
}

/**
 * Sends `signal` to a child (if it still runs) and resolves with its exit code, or the signal
 * that ended it, or 'timeout' when it has not exited within `waitMs`.
 */
export function stopChild(
  proc: ChildProcess | undefined,
  signal: NodeJS.Signals = 'SIGTERM',
  waitMs = 15_000,
): Promise<number | string | null> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc?.exitCode ?? null);
  const exited = new Promise<number | string | null>((res) => proc.once('exit', (code, sig) => res(code ?? sig)));
  proc.kill(signal);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((res) => (timer = setTimeout(() => res('timeout'), waitMs)));
  return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
}

/** The command line prefix that runs a process in network namespace `netns` (none: this one). */
export function inNetns(netns: string | undefined): string[] {
  // nsenter, not `ip netns exec`: that one also makes a mount namespace with a fresh /sys, which
  // hides the cgroup v1 mounts runc needs.
  return netns ? ['nsenter', `--net=/run/netns/${netns}`, '--'] : [];
}

function launch(
  dataDir: string,
  extraArgs: string[],
  nodeArgs: string[] = [],
  netns?: string,
): Promise<{ proc: ChildProcess; url: string; kubeconfig: string; inspector?: string }> {
  return new Promise((resolvePromise, reject) => {
    let inspector: string | undefined;
    const [cmd, ...prefix] = [...inNetns(netns), process.execPath];
    const proc = spawn(
      cmd,
      [
        ...prefix,
        ...nodeArgs,
        K8TS_BIN,
        'server',
        '--data-dir',
        dataDir,
        '--https-listen-port',
        '0',
        '--bind-address',
        '127.0.0.1',
        '--log-level',
        'warn',
        ...extraArgs,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    let err = '';
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`k8ts server did not become ready in time:\n${out}\n${err}`));
    }, 60_000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /k8ts server ready: (\S+) \(data .*, kubeconfig (\S+)\)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolvePromise({ proc, url: m[1], kubeconfig: m[2], inspector });
      }
    });
    proc.stderr.on('data', (d) => {
      err += d;
      inspector ??= /Debugger listening on (ws:\/\/\S+)/.exec(err)?.[1];
      if (process.env.K8TS_TEST_LOGS) process.stderr.write(d);
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`k8ts server exited with ${code} before ready:\n${out}\n${err}`));
    });
  });
}

/**
 * An octet n for which no route of this host mentions prefix(n) yet: a pod range no other cluster on
 * this host uses, nor a bridge one left behind (whose older route would take the replies to this
 * cluster's pods: their DNS lookups of the node's listener time out).
 */
export function freeOctet(prefix: (n: number) => string, lo: number, hi: number): number {
  const used = spawnSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' }).stdout ?? '';
  for (let i = 0; i < 50; i++) {
    const n = lo + Math.floor(Math.random() * (hi - lo));
    if (!used.includes(prefix(n))) return n;
  }
  return lo;
}

/**
 * Starts `k8ts server` on a fresh data dir. Without `agent: true` it runs no node agent (tests
 * that need nodes use --simulated-nodes); with it, the agent runs real containers and cleanup()
 * removes them with `k8ts killall`.
 */
/** `k8ts server` flags for an ingress on the given ports of 127.0.0.1 (tests never take the host's 80/443). */
export function ingressFlags(httpPort: number, httpsPort: number): string[] {
  return [
    '--ingress-http-port',
    String(httpPort),
    '--ingress-https-port',
    String(httpsPort),
    '--ingress-bind-address',
    '127.0.0.1',
  ];
}

export async function startCluster(
  opts: {
    dataDir?: string;
    args?: string[];
    agent?: boolean;
    nodeArgs?: string[];
    /** A network namespace (`ip netns add`) to run the server in. */
    netns?: string;
  } = {},
): Promise<Cluster> {
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'k8ts-e2e-'));
  // Agent clusters get a pod range of their own, so two at once on this host never share routes.
  // So do their Services: every agent runs a service proxy, and two proxies programming the same
  // cluster IPs on one host would answer for each other. Pod and service ranges never overlap.
  const podRange = `10.${freeOctet((n) => `10.${n}.`, 100, 250)}.0.0/16`;
  const serviceRange = `10.${20 + Math.floor(Math.random() * 60)}.${Math.floor(Math.random() * 256)}.0/24`;
  const given = opts.args ?? [];
  const agentArgs = [
    '--kubelet-port',
    '0',
    ...(given.includes('--cluster-cidr') ? [] : ['--cluster-cidr', podRange]),
    ...(given.includes('--service-cidr') ? [] : ['--service-cidr', serviceRange]),
    // Clusters of concurrent tests share the host's network namespace, which holds one flannel.1
    // (VNI 1) at most: host-gw routes instead, unless the test picks a backend (vxlan-multinode
    // runs its nodes in namespaces of their own).
    ...(given.includes('--flannel-backend') ? [] : ['--flannel-backend', 'host-gw']),
  ];
  // The ingress controller would take the host's ports 80/443: only tests that ask for it get it.
  const withIngress = given.some((a) => a.startsWith('--ingress-'));
  const ingressArgs = withIngress ? [] : ['--disable-ingress'];
  const extra = [...(opts.agent ? agentArgs : ['--disable-agent']), ...ingressArgs, ...(opts.args ?? [])];
  let started = await launch(dataDir, extra, opts.nodeArgs, opts.netns);
  const cluster: Cluster = {
    url: started.url,
    inspector: started.inspector,
    dataDir,
    kubeconfig: started.kubeconfig,
    proc: started.proc,
    kubectl: (args, o = {}) => run(o.bin ?? 'kubectl', ['--kubeconfig', cluster.kubeconfig, ...args], o),
    async k(args, input) {
      const r = await cluster.kubectl(args, { input });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}):\n${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    stop(signal = 'SIGTERM') {
      const proc = cluster.proc;
      if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(proc.exitCode);
      return new Promise((res) => {
        proc.once('exit', (code) => res(code));
        proc.kill(signal);
      });
    },
    async restart() {
      await cluster.stop();
      started = await launch(dataDir, extra, opts.nodeArgs, opts.netns);
      cluster.url = started.url;
      cluster.inspector = started.inspector;
      cluster.kubeconfig = started.kubeconfig;
      cluster.proc = started.proc;
    },
    async cleanup() {
      await cluster.stop(opts.agent ? 'SIGTERM' : 'SIGKILL');
      if (opts.agent) {
        const [cmd, ...prefix] = [...inNetns(opts.netns), process.execPath];
        await run(cmd, [...prefix, K8TS_BIN, 'killall', '--data-dir', dataDir], { timeoutMs: 120_000 });
      }
      // A server killed with -9 leaves its NGINX to stop on its own (pdeathsig): it writes in the
      // data dir while it does, so removing the dir at once can fail with ENOTEMPTY.
      if (withIngress) await stopStaleNginx(dataDir);
      if (!opts.dataDir) rmSync(dataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
    },
  };
  return cluster;
}

export { until } from '../support/until.js';
import { until } from '../support/until.js';

/** Why tests that run real containers cannot run here (undefined: they can). */
export function realContainersUnavailable(): string | undefined {
  if (process.env.K8TS_SKIP_CONTAINERD) return 'K8TS_SKIP_CONTAINERD is set';
  if (process.getuid?.() !== 0) return 'real containers need root';
  const r = spawnSync('sh', ['-c', 'command -v containerd && command -v runc'], { stdio: 'ignore' });
  return r.status === 0 ? undefined : 'containerd/runc are not installed';
}

/** Why tests that route traffic through Services cannot run here (real containers and `nft`). */
export function serviceNetworkingUnavailable(): string | undefined {
  return (
    realContainersUnavailable() ??
    (spawnSync('sh', ['-c', 'command -v nft'], { stdio: 'ignore' }).status !== 0 ? 'nft is not installed' : undefined)
  );
}

/** One GET on a fresh connection (keep-alive would pin every request to one endpoint); the body, trimmed. */
export function getOnFreshConnection(url: string, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body.trim()));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** The user a bearer token authenticates as on `server` (kubectl auth whoami, no kubeconfig). */
export async function whoAmIWithToken(server: string, caFile: string, token: string): Promise<RunResult> {
  const args = ['--kubeconfig=/dev/null', '--server', server, '--certificate-authority', caFile, '--token', token];
  return run('kubectl', [...args, 'auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}']);
}

/** Waits (up to a minute) until the cluster's node agent reports its node Ready. */
export async function waitForReadyNode(cluster: Cluster): Promise<void> {
  await until(
    'a Ready node',
    async () => {
      const r = await cluster.kubectl([
        'get',
        'nodes',
        '-o',
        'jsonpath={.items[*].status.conditions[?(@.type=="Ready")].status}',
      ]);
      return r.stdout.includes('True');
    },
    60_000,
    500,
  );
}

/**
 * What decides whether a pod reaches its node's DNS listener, for the message of a failed lookup:
 * the routes and addresses of the node's pod range on this host (any device but the node's bridge
 * among them takes the replies), the node's Ready condition, the pod's resolv.conf and the
 * nftables tables of this host.
 */
export async function podDNSDiagnosis(cluster: Cluster, pod: string, namespace = 'default'): Promise<string> {
  const nodes = await cluster.kubectl([
    'get',
    'nodes',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name} podCIDR={.spec.podCIDR} dns-listener={.metadata.annotations.k8ts\\.io/dns-listener} ready={.status.conditions[?(@.type=="Ready")].message}{"\\n"}{end}',
  ]);
  const cidrs = [...nodes.stdout.matchAll(/podCIDR=(\S+)/g)].map((m) => m[1]);
  const routes = await Promise.all(
    cidrs.map(async (c) => (await run('ip', ['-o', '-4', 'route', 'show', 'table', 'all', 'root', c])).stdout),
  );
  const resolv = await cluster.kubectl(['exec', '-n', namespace, pod, '--', 'cat', '/etc/resolv.conf']);
  const tables = await run('nft', ['list', 'tables']);
  return [
    `nodes:\n${nodes.stdout}${nodes.stderr}`,
    `host routes within the pod ranges:\n${routes.join('')}`,
    `${namespace}/${pod} resolv.conf:\n${resolv.stdout}${resolv.stderr}`,
    `nftables tables:\n${tables.stdout}${tables.stderr}`,
  ].join('\n');
}

export const NO_READY_NODE = 'the node agent did not report a Ready node within 60 s (containerd not usable here?)';

/** waitForReadyNode for tests that skip, rather than fail, where containerd cannot run. */
export function hasReadyNode(cluster: Cluster): Promise<boolean> {
  return waitForReadyNode(cluster).then(
    () => true,
    () => false,
  );
}

/**
 * Creates Deployment `web`: busybox httpd on port 8080 (image k8ts.local/httpd:1.35, imported
 * first), its index.html written by the shell command `page` (`hostname`, `echo ok`): busybox
 * httpd has no index of its own and would answer 404 to every request.
 */
export async function createWebDeployment(cluster: Cluster, replicas: number, page: string): Promise<void> {
  await cluster.k([
    'create',
    'deployment',
    'web',
    '--image=k8ts.local/httpd:1.35',
    `--replicas=${replicas}`,
    '--port=8080',
    '--',
    'sh',
    '-c',
    `${page} > /www/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /www & wait`,
  ]);
}

/** Builds the named test images (from the host's busybox) and imports them with `k8ts image import`. */
export async function importTestImages(cluster: Cluster, names: string[]): Promise<void> {
  const { buildTestImage } = await import('../../src/agent/images/testimages.js');
  const dir = join(cluster.dataDir, 'test-images');
  mkdirSync(dir, { recursive: true });
  for (const name of names) {
    const file = join(dir, `${name}.tar`);
    writeFileSync(file, buildTestImage(name as any).tar);
    const r = await run(process.execPath, [K8TS_BIN, 'image', 'import', '--data-dir', cluster.dataDir, file], {
      timeoutMs: 120_000,
    });
    if (r.code !== 0) throw new Error(`k8ts image import ${name} failed: ${r.stderr}${r.stdout}`);
  }
}

/**
 * Runs a full garbage collection in the server through its inspector: memory checks then see
 * what the server keeps, not how lazily V8 collects (it may hold hundreds of MiB of garbage
 * from large bodies until its next major GC).
 */
export async function collectServerGarbage(cluster: Cluster): Promise<void> {
  if (!cluster.inspector) throw new Error('the server was not started with --inspect');
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(cluster.inspector);
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const call = (id: number, method: string) =>
      new Promise<void>((resolve) => {
        const onMessage = (m: Buffer) => {
          if (JSON.parse(String(m)).id === id) {
            ws.off('message', onMessage);
            resolve();
          }
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method }));
      });
    await call(1, 'HeapProfiler.enable');
    await call(2, 'HeapProfiler.collectGarbage');
  } finally {
    ws.close();
  }
}
