// A second containerd node on this host for real-container tests that need two nodes: a network
// namespace joined to the host by a veth pair (one L2 link), in which `k8ts agent` joins the
// cluster. The server's own agent is the first node. As test/e2e/multinode.test.ts sets it up.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  K8TS_BIN,
  freeOctet,
  importTestImages,
  realContainersUnavailable,
  run,
  startCluster,
  stopChild,
  until,
  type Cluster,
} from './harness.js';
import { buildTestImage, type TestImageName } from '../../src/agent/images/testimages.js';

function sh(cmd: string, args: string[]): void {
  const res = spawnSync(cmd, args, { encoding: 'utf8' });
  if (res.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${res.stderr}`);
}

export class SecondNode {
  readonly ns: string;
  private readonly veth: string;
  readonly podOctet = freeOctet((n) => `10.${n}.`, 150, 250);
  /** The server's address as this node reaches it. */
  readonly hostIP: string;
  /** This node's address. */
  readonly nsIP: string;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'k8ts-e2e-2n-'));
  private agent?: ChildProcess;
  private created = false;
  output = '';

  /**
   * Without `inRig`: a namespace of its own, linked to the host (prepare()). With it: a namespace
   * the test made and wired itself, the node's address in it and the server's address.
   */
  constructor(inRig?: { ns: string; nodeIP: string; serverIP: string }) {
    this.ns = inRig?.ns ?? `k8ts-2n-${randomBytes(3).toString('hex')}`;
    this.veth = `k82n${this.ns.slice(-6)}`;
    const link = freeOctet((n) => `10.199.${n}.`, 1, 250);
    this.hostIP = inRig?.serverIP ?? `10.199.${link}.1`;
    this.nsIP = inRig?.nodeIP ?? `10.199.${link}.2`;
  }

  /** Creates the namespace and the link; returns the `k8ts server` flags the first node needs. */
  prepare(firstNode: string): string[] {
    sh('ip', ['netns', 'add', this.ns]);
    this.created = true;
    sh('ip', ['link', 'add', this.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.ns]);
    sh('ip', ['addr', 'add', `${this.hostIP}/24`, 'dev', this.veth]);
    sh('ip', ['link', 'set', this.veth, 'up']);
    sh('ip', ['-n', this.ns, 'addr', 'add', `${this.nsIP}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', this.ns, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', this.ns, 'link', 'set', 'lo', 'up']);
    sh('ip', ['-n', this.ns, 'route', 'add', 'default', 'via', this.hostIP]);
    return [
      ...['--bind-address', '0.0.0.0', '--tls-san', this.hostIP, '--node-ip', this.hostIP],
      ...['--node-name', firstNode, '--cluster-cidr', `10.${this.podOctet}.0.0/16`, '--runtime', 'containerd'],
    ];
  }

  // nsenter, not `ip netns exec`: that one also makes a mount namespace with a fresh /sys, which
  // hides the cgroup v1 mounts runc needs.
  private get inNs(): string[] {
    return [`--net=/run/netns/${this.ns}`, '--'];
  }

  /** Starts `k8ts agent` in the namespace, waits for its node to be Ready, imports test images. */
  async join(c: Cluster, nodeName: string, images: TestImageName[]): Promise<void> {
    const token = readFileSync(join(c.dataDir, 'server', 'token'), 'utf8').trim();
    const port = new URL(c.url).port;
    const agent = spawn(
      'nsenter',
      [
        ...this.inNs,
        ...[process.execPath, K8TS_BIN, 'agent', '--server', `https://${this.hostIP}:${port}`, '--token', token],
        ...['--data-dir', this.dataDir, '--node-name', nodeName, '--node-ip', this.nsIP],
        ...['--runtime', 'containerd', '--kubelet-port', '0', '--log-level', 'info'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.agent = agent;
    agent.stdout.on('data', (d: Buffer) => (this.output += d.toString()));
    agent.stderr.on('data', (d: Buffer) => (this.output += d.toString()));
    await until(
      `node ${nodeName} Ready`,
      async () => {
        if (agent.exitCode !== null) throw new Error(`agent exited with ${agent.exitCode}: ${this.output}`);
        const res = await c.kubectl(['get', 'nodes', nodeName, '--no-headers']);
        return res.code === 0 && /\sReady\s/.test(res.stdout);
      },
      120_000,
      500,
    );
    for (const name of images) {
      const tar = join(this.dataDir, `${name}.tar`);
      writeFileSync(tar, buildTestImage(name).tar);
      const imp = await run(
        'nsenter',
        [...this.inNs, process.execPath, K8TS_BIN, 'image', 'import', '--data-dir', this.dataDir, tar],
        { timeoutMs: 120_000 },
      );
      if (imp.code !== 0) throw new Error(`image import failed: ${imp.stderr}${imp.stdout}`);
    }
  }

  /** Routes `cidr` from the host onto the link to this node (on-link, as an L2 neighbour would reach it). */
  routeOnLink(cidr: string): void {
    sh('ip', ['route', 'replace', cidr, 'dev', this.veth]);
  }

  /** Runs a command in the node's network namespace. */
  exec(cmd: string, args: string[]): string {
    return spawnSync('nsenter', [...this.inNs, cmd, ...args], { encoding: 'utf8' }).stdout;
  }

  /** Sends `signal` to the agent; resolves with its exit (or 'timeout' after 30 s). */
  async stopAgent(signal: NodeJS.Signals): Promise<number | string | null> {
    return stopChild(this.agent, signal, 30_000);
  }

  /** Stops the agent, removes what it left (killall in the namespace), the namespace and the link. */
  async cleanup(): Promise<void> {
    await stopChild(this.agent, 'SIGTERM', 20_000);
    await run('nsenter', [...this.inNs, process.execPath, K8TS_BIN, 'killall', '--data-dir', this.dataDir], {
      timeoutMs: 120_000,
    });
    if (this.created) {
      spawnSync('ip', ['netns', 'delete', this.ns]);
      spawnSync('ip', ['link', 'delete', this.veth], { stdio: 'ignore' });
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** Why two-node tests can't run here (real containers, ip and nft are needed), or undefined. */
export function twoNodesUnavailable(): string | undefined {
  return (
    realContainersUnavailable() ??
    (spawnSync('sh', ['-c', 'command -v ip && command -v nft'], { stdio: 'ignore' }).status === 0
      ? undefined
      : 'ip/nft missing')
  );
}

/**
 * A cluster of two containerd nodes: the server's own agent as `first`, `node2` joined as
 * `second`; both have `images`. `serverArgs` go to the server only (the agent learns what it must).
 */
export async function startTwoNodeCluster(
  node2: SecondNode,
  first: string,
  second: string,
  images: TestImageName[],
  serverArgs: string[] = [],
): Promise<Cluster> {
  const c = await startCluster({ agent: true, args: [...node2.prepare(first), ...serverArgs] });
  await until(
    `node ${first} Ready`,
    async () => /\sReady\s/.test((await c.kubectl(['get', 'nodes', first, '--no-headers'])).stdout),
    120_000,
    500,
  );
  await importTestImages(c, images);
  await node2.join(c, second, images);
  return c;
}

/** A busybox pod command serving its own hostname over HTTP on 8080 (which backend answered). */
export const SERVE_HOSTNAME = "hostname > /tmp/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /tmp & wait";

/** A busybox pod pinned to `node`, running `command` (it stops at once when deleted). */
export function busyboxPodOn(name: string, node: string, labels: Record<string, string>, command: string) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { namespace: 'default', name, labels },
    spec: {
      nodeSelector: { 'kubernetes.io/hostname': node },
      terminationGracePeriodSeconds: 1,
      containers: [{ name: 'main', image: 'k8ts.local/busybox:1.35', command: ['sh', '-c', command] }],
    },
  };
}
