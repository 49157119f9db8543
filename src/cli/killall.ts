// `k8ts killall`: stop every container this installation's agent started, its containerd, the
// pod network and the managed etcd member, and unmount what the agent mounted (as k3s-killall.sh
// does). The cluster state in the datastore is kept: a later `k8ts server` starts the pods again.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { CriRuntime } from '../agent/runtime/cri/runtime.js';
import { ProcessRuntime } from '../agent/runtime/process/runtime.js';
import { bridgeName, containerdPaths, socketAnswers } from '../agent/runtime/containerd.js';
import { cleanUpPodRoutes } from '../agent/network/routes.js';
import { removeVxlanDevice } from '../agent/network/vxlan.js';
import { cleanUpServiceProxy } from '../proxy/index.js';
import { cleanUpLBAddresses } from '../agent/network/lbannounce.js';
import { cleanUpNetworkPolicy } from '../netpol/index.js';
import type { Runtime } from '../agent/runtime/types.js';
import { defaultDataDir } from './datadir.js';
import { stopStrayEtcd } from '../etcd/managed.js';
import { stopStaleNginx } from '../ingress/nginx/supervisor.js';
import { processAlive } from '../machinery/pids.js';

async function removeAll(rt: Runtime): Promise<number> {
  const sandboxes = await rt.listPodSandboxes();
  for (const c of await rt.listContainers()) {
    await rt.stopContainer(c.id, 0).catch(() => undefined);
    await rt.removeContainer(c.id).catch(() => undefined);
  }
  for (const s of sandboxes) {
    await rt.stopPodSandbox(s.id).catch(() => undefined);
    await rt.removePodSandbox(s.id).catch(() => undefined);
  }
  return sandboxes.length;
}

const alive = processAlive;

async function stopPid(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid, 'SIGKILL');
}

async function startTemporary(config: string, socket: string): Promise<number | undefined> {
  const child = spawn('containerd', ['--config', config], { stdio: 'ignore', detached: true });
  child.unref();
  for (let i = 0; i < 100; i++) {
    if (await socketAnswers(socket)) return child.pid;
    if (child.exitCode !== null) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
  return child.pid;
}

function killNow(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

/** PIDs whose cgroup is one of the task ids containerd keeps state for under `taskDir`. */
function taskProcesses(taskDir: string): number[] {
  let ids: string[];
  try {
    ids = readdirSync(taskDir);
  } catch {
    return [];
  }
  if (!ids.length) return [];
  const wanted = new Set(ids);
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    let cg: string;
    try {
      cg = readFileSync(`/proc/${d}/cgroup`, 'utf8');
    } catch {
      continue;
    }
    const leaf = cg.split('\n')[0]?.split('/').pop() ?? '';
    if (wanted.has(leaf)) out.push(Number(d));
  }
  return out;
}

/** Mount points under `dir`, deepest first. */
function mountsUnder(dir: string): string[] {
  const text = existsSync('/proc/self/mountinfo') ? readFileSync('/proc/self/mountinfo', 'utf8') : '';
  const points = text
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
    .map((p) => p.replace(/\\040/g, ' '));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/**
 * Containers are removed through containerd (so each sandbox's network is torn down by CNI); when
 * the server already stopped it, a containerd of this data dir is started just for that. A
 * containerd still answering but on its way out (a server stopped a moment ago) fails the calls:
 * then it is waited for and the removal is done again with one of our own.
 */
async function removeThroughContainerd(paths: ReturnType<typeof containerdPaths>): Promise<number> {
  for (let attempt = 0; ; attempt++) {
    const temporary = (await socketAnswers(paths.socket))
      ? undefined
      : await startTemporary(paths.config, paths.socket);
    const rt = new CriRuntime(paths.socket, 30_000);
    try {
      return await removeAll(rt);
    } catch (err) {
      if (attempt > 0) {
        process.stderr.write(`k8ts killall: could not remove the pod sandboxes: ${String(err)}\n`);
        return 0;
      }
      if (existsSync(paths.pidFile)) await stopPid(Number(readFileSync(paths.pidFile, 'utf8').trim()));
    } finally {
      await rt.close();
      if (temporary) await stopPid(temporary);
    }
  }
}

export async function killall(opts: { dataDir?: string }): Promise<void> {
  const dataDir = resolve(opts.dataDir ?? defaultDataDir());
  const agentDir = join(dataDir, 'agent');
  const runtimeFile = join(agentDir, 'runtime');
  const kind = existsSync(runtimeFile) ? readFileSync(runtimeFile, 'utf8').trim() : '';
  const paths = containerdPaths(agentDir);
  let removed = 0;
  if (kind === 'process') {
    const rt = new ProcessRuntime(join(agentDir, 'process'));
    removed = await removeAll(rt).catch(() => 0);
    await rt.close();
  } else if (existsSync(paths.config)) {
    removed = await removeThroughContainerd(paths);
  }
  if (existsSync(paths.pidFile)) await stopPid(Number(readFileSync(paths.pidFile, 'utf8').trim()));
  // Whatever survived (containerd unusable): the processes in the cgroups of this data dir's tasks.
  for (const pid of taskProcesses(join(paths.dir, 'state', 'io.containerd.runtime.v2.task', 'k8s.io'))) killNow(pid);
  // Shims of this containerd outlive it; they name its socket on their command line.
  const shims = spawnSync('pgrep', ['-f', `containerd-shim.*-address ${paths.socket}`], { encoding: 'utf8' })
    .stdout.split('\n')
    .filter(Boolean)
    .map(Number);
  for (const pid of shims) await stopPid(pid);
  for (const m of mountsUnder(dataDir)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
  const isDefault = dataDir === resolve(defaultDataDir());
  const bridge = bridgeName(agentDir, isDefault);
  // Routes to other nodes' pods and the iptables chains that keep their traffic unmasqueraded.
  cleanUpPodRoutes(join(agentDir, 'network', 'routes.json'), bridge);
  // The VXLAN device (flannel.1) if this installation made it; with it go its routes, neighbours and FDB.
  removeVxlanDevice(join(agentDir, 'network', 'vxlan.json'));
  spawnSync('ip', ['link', 'delete', bridge], { stdio: 'ignore' });
  // The service proxy's table (and, for the other modes, its chains and addresses).
  await cleanUpServiceProxy(agentDir, isDefault);
  cleanUpLBAddresses(join(agentDir, 'network', 'lb-addresses.json'));
  await cleanUpNetworkPolicy(agentDir, isDefault);
  // The managed etcd member, when the server that supervised it is gone.
  await stopStrayEtcd(dataDir);
  await stopStaleNginx(dataDir);
  process.stdout.write(`k8ts killall: removed ${removed} pod sandbox(es), stopped the runtime of ${dataDir}\n`);
}
