// The process runtime: the CRI model implemented with plain host processes, for machines without
// containerd or root. A sandbox is a directory with the pod's resolv.conf/hosts/hostname; a
// container is a process group (see launcher.ts for how it is started). Pods share the host's
// network, so a sandbox's IP is the host's first non-internal IPv4 address (127.0.0.1 if it has
// none); the agent reports hostIP separately anyway.
//
// Nothing is adopted across restarts: a new instance kills the process groups a previous one left
// (pidfile.ts) and starts with no sandboxes; the agent then recreates its pods.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants, networkInterfaces } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type {
  Container, ContainerConfig, ContainerState, ContainerStats, ContainerStatus, ExecSyncResult, Image,
  PodSandbox, PodSandboxConfig, PodSandboxStatus, RegistryAuth, Runtime, SandboxState,
} from '../types.js';
import { processSpec, type ProcessSpec } from './command.js';
import { CriLogStream, nowNs } from './crilog.js';
import { ProcessImageStore, type StoredImage } from './imagestore.js';
import { chrootCommand, hostCommand, nsenterCommand, probeChroot, type LaunchMode, type Tools } from './launcher.js';
import { PidFile } from './pidfile.js';
import { groupUsage } from './procstat.js';

export const NOT_SUPPORTED = 'not supported by the process runtime';

export interface ProcessRuntimeOptions {
  /** "auto" (default) uses chroot mode when unshare works here, host mode otherwise. */
  mode?: 'auto' | LaunchMode;
}

interface SandboxRec {
  id: string;
  config: PodSandboxConfig;
  createdAt: number;
  state: SandboxState;
  dir: string;
}

interface ContainerRec {
  id: string;
  sandboxId: string;
  config: ContainerConfig;
  image: StoredImage;
  spec: ProcessSpec;
  dir: string;
  logPath: string;
  state: ContainerState;
  createdAt: number;
  startedAt: number;
  finishedAt: number;
  exitCode: number;
  reason: string;
  message: string;
  pid?: number;
  exited?: Promise<void>;
}

const now = () => Number(nowNs());
const newId = () => randomBytes(32).toString('hex');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref());

/** The address pods of this runtime are reachable at: the host's first non-internal IPv4. */
export function hostIPv4(): string {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try { process.kill(-pid, signal); } catch { /* already gone */ }
}

/** Looks up an id by full value or unique prefix, as the CRI tools accept. */
function lookup<T>(map: Map<string, T>, id: string): T | undefined {
  const exact = map.get(id);
  if (exact || id.length < 6) return exact;
  const hits = [...map.keys()].filter((k) => k.startsWith(id));
  return hits.length === 1 ? map.get(hits[0]) : undefined;
}

export class ProcessRuntime implements Runtime {
  readonly name = 'process';
  readonly isolated = false;
  readonly mode: LaunchMode;
  readonly images: ProcessImageStore;
  private readonly tools?: Tools;
  private readonly sandboxes = new Map<string, SandboxRec>();
  private readonly containers = new Map<string, ContainerRec>();
  private readonly pids: PidFile;

  /** `stateDir` e.g. <data-dir>/agent/process; images live in its "images" folder. */
  constructor(readonly stateDir: string, opts: ProcessRuntimeOptions = {}) {
    mkdirSync(stateDir, { recursive: true });
    this.images = new ProcessImageStore(join(stateDir, 'images'));
    this.pids = new PidFile(join(stateDir, 'pids.json'));
    this.pids.killLeftovers();
    // Sandboxes and containers of a previous run are gone with their processes.
    rmSync(join(stateDir, 'sandboxes'), { recursive: true, force: true });
    rmSync(join(stateDir, 'containers'), { recursive: true, force: true });
    const want = opts.mode ?? 'auto';
    this.tools = want === 'host' ? undefined : probeChroot();
    if (want === 'chroot' && !this.tools) throw new Error('process runtime: chroot mode needs util-linux unshare/mount and permission to create a mount namespace');
    this.mode = this.tools ? 'chroot' : 'host';
  }

  async version() {
    return { runtimeName: 'process', runtimeVersion: `0.1.0-${this.mode}`, runtimeApiVersion: 'v1' };
  }

  // ------------------------------------------------------------------------------------------
  // Sandboxes

  async runPodSandbox(config: PodSandboxConfig): Promise<string> {
    const id = newId();
    const dir = join(this.stateDir, 'sandboxes', id);
    mkdirSync(dir, { recursive: true });
    const dns = config.dnsConfig;
    let resolv: string;
    if (dns && dns.servers.length) {
      resolv = dns.servers.map((s) => `nameserver ${s}\n`).join('') + (dns.searches.length ? `search ${dns.searches.join(' ')}\n` : '') + (dns.options.length ? `options ${dns.options.join(' ')}\n` : '');
    } else {
      try { resolv = readFileSync('/etc/resolv.conf', 'utf8'); } catch { resolv = ''; }
    }
    writeFileSync(join(dir, 'resolv.conf'), resolv);
    const hostname = config.hostname || config.metadata.name;
    writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
    writeFileSync(join(dir, 'hosts'), `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${hostIPv4()}\t${hostname}\n`);
    this.sandboxes.set(id, { id, config, createdAt: now(), state: 'SANDBOX_READY', dir });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    const sb = lookup(this.sandboxes, id);
    if (!sb) return; // CRI: stopping an unknown sandbox is not an error
    await Promise.all([...this.containers.values()].filter((c) => c.sandboxId === sb.id).map((c) => this.stopContainer(c.id, 0)));
    sb.state = 'SANDBOX_NOTREADY';
  }

  async removePodSandbox(id: string): Promise<void> {
    const sb = lookup(this.sandboxes, id);
    if (!sb) return;
    for (const c of [...this.containers.values()].filter((c) => c.sandboxId === sb.id)) await this.removeContainer(c.id);
    sb.state = 'SANDBOX_NOTREADY';
    this.sandboxes.delete(sb.id);
    rmSync(sb.dir, { recursive: true, force: true });
  }

  async podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    const sb = lookup(this.sandboxes, id);
    if (!sb) return undefined;
    return {
      id: sb.id, metadata: sb.config.metadata, state: sb.state, createdAt: sb.createdAt,
      network: { ip: hostIPv4(), additionalIps: [] }, labels: sb.config.labels, annotations: sb.config.annotations,
    };
  }

  async listPodSandboxes(filter?: { labelSelector?: Record<string, string> }): Promise<PodSandbox[]> {
    const sel = Object.entries(filter?.labelSelector ?? {});
    return [...this.sandboxes.values()].filter((sb) => sel.every(([k, v]) => sb.config.labels?.[k] === v)).map((sb) => ({ id: sb.id, metadata: sb.config.metadata, state: sb.state, createdAt: sb.createdAt, labels: sb.config.labels, annotations: sb.config.annotations }));
  }

  // ------------------------------------------------------------------------------------------
  // Containers

  async createContainer(sandboxId: string, config: ContainerConfig, sandboxConfig: PodSandboxConfig): Promise<string> {
    const sb = lookup(this.sandboxes, sandboxId);
    if (!sb) throw new Error(`pod sandbox ${sandboxId} not found`);
    if (sb.state !== 'SANDBOX_READY') throw new Error(`pod sandbox ${sandboxId} is not ready`);
    const image = this.images.get(config.image.image);
    if (!image) throw new Error(`image "${config.image.image}" not found in the process runtime's image store`);
    const spec = processSpec(config, image.config, sandboxConfig.hostname);
    const id = newId();
    const dir = join(this.stateDir, 'containers', id);
    mkdirSync(dir, { recursive: true });
    const logDir = sandboxConfig.logDirectory || sb.config.logDirectory;
    const logPath = config.logPath ? (isAbsolute(config.logPath) ? config.logPath : join(logDir, config.logPath)) : '';
    this.containers.set(id, {
      id, sandboxId: sb.id, config, image, spec, dir, logPath, state: 'CONTAINER_CREATED', createdAt: now(),
      startedAt: 0, finishedAt: 0, exitCode: 0, reason: '', message: '',
    });
    return id;
  }

  private spawnContainer(c: ContainerRec): ChildProcess {
    const sb = this.sandboxes.get(c.sandboxId)!;
    const env = Object.fromEntries(c.spec.env);
    const sc = c.config.linux?.securityContext ?? {};
    const uid = sc.runAsUser?.value;
    const gid = sc.runAsGroup?.value ?? (uid !== undefined ? uid : undefined);
    if (this.tools) {
      const cmd = chrootCommand(this.tools, {
        rootfs: c.image.rootfs, containerDir: c.dir, sandboxDir: sb.dir, mounts: c.config.mounts ?? [], cwd: c.spec.cwd,
        uid, gid, readonlyRootfs: sc.readonlyRootfs,
      }, c.spec.argv);
      return spawn(cmd.file, cmd.args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    const hc = hostCommand(c.image.rootfs, c.spec.argv, c.spec.env, c.spec.cwd);
    const asRoot = process.getuid?.() === 0;
    return spawn(hc.file, hc.args, {
      env: { ...env, PATH: hc.path }, argv0: hc.argv0, cwd: hc.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
      ...(asRoot && uid !== undefined ? { uid, gid } : {}),
    });
  }

  async startContainer(id: string): Promise<void> {
    const c = lookup(this.containers, id);
    if (!c) throw new Error(`container ${id} not found`);
    if (c.state !== 'CONTAINER_CREATED') throw new Error(`container ${id} is not in created state: ${c.state}`);
    let log: import('node:fs').WriteStream | undefined;
    if (c.logPath) {
      mkdirSync(dirname(c.logPath), { recursive: true });
      log = createWriteStream(c.logPath, { flags: 'a' });
    }
    const fail = (err: Error) => {
      c.state = 'CONTAINER_EXITED';
      c.exitCode = 128;
      c.reason = 'StartError';
      c.message = err.message;
      c.finishedAt = now();
      log?.end();
    };
    let child: ChildProcess;
    try {
      child = this.spawnContainer(c);
    } catch (e) {
      fail(e as Error);
      throw e;
    }
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => { fail(e); reject(e); });
    });
    const pid = child.pid!;
    c.pid = pid;
    c.state = 'CONTAINER_RUNNING';
    c.startedAt = now();
    this.pids.add(c.id, pid);
    // Both output streams go to the one log file, each line tagged with its stream. `logged`
    // settles once the file has everything, so an exited container's log is complete.
    let open = 2;
    let logDone = () => {};
    const logged = new Promise<void>((resolve) => { logDone = resolve; });
    const closeLog = () => { if (log) { log.once('finish', logDone); log.once('error', logDone); log.end(); } else logDone(); };
    const pipe = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') => {
      const w = log ? new CriLogStream(log as unknown as import('node:stream').Writable, name) : undefined;
      if (!stream) { if (--open === 0) closeLog(); return; }
      stream.on('data', (b: Buffer) => w?.write(b));
      stream.on('close', () => { w?.end(); if (--open === 0) closeLog(); });
    };
    pipe(child.stdout, 'stdout');
    pipe(child.stderr, 'stderr');
    c.exited = new Promise<void>((resolve) => {
      child.once('exit', async (code, signal) => {
        const finishedAt = now();
        // As when a pid namespace's init dies: whatever the process left behind goes too.
        killGroup(pid, 'SIGKILL');
        this.pids.delete(c.id);
        // Report the exit once its output is in the log (bounded: a stuck writer must not hide it).
        await Promise.race([logged, sleep(2000)]);
        c.finishedAt = finishedAt;
        c.exitCode = code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0);
        c.reason = c.exitCode === 0 ? 'Completed' : 'Error';
        c.state = 'CONTAINER_EXITED';
        resolve();
      });
    });
  }

  async stopContainer(id: string, timeoutSeconds: number): Promise<void> {
    const c = lookup(this.containers, id);
    if (!c) throw new Error(`container ${id} not found`);
    if (c.state === 'CONTAINER_CREATED') {
      // Never started: it simply becomes exited (as containerd does).
      c.state = 'CONTAINER_EXITED';
      c.finishedAt = now();
      return;
    }
    if (c.state !== 'CONTAINER_RUNNING' || !c.pid || !c.exited) return;
    // The stop signal goes to the main process only, as a runtime signals a container's init;
    // the rest of the group is killed once it exits (or by the SIGKILL after the grace period).
    if (timeoutSeconds > 0) {
      try { process.kill(c.pid, 'SIGTERM'); } catch { /* exiting */ }
      const done = await Promise.race([c.exited.then(() => true), sleep(timeoutSeconds * 1000).then(() => false)]);
      if (done) return;
    }
    killGroup(c.pid, 'SIGKILL');
    await Promise.race([c.exited, sleep(10_000)]);
  }

  async removeContainer(id: string): Promise<void> {
    const c = lookup(this.containers, id);
    if (!c) return; // CRI: removing an unknown container is not an error
    if (c.state === 'CONTAINER_RUNNING') await this.stopContainer(c.id, 0);
    this.containers.delete(c.id);
    rmSync(c.dir, { recursive: true, force: true });
  }

  private view(c: ContainerRec): Container {
    return {
      id: c.id, podSandboxId: c.sandboxId, metadata: c.config.metadata, image: { image: c.image.id }, imageRef: c.image.id,
      state: c.state, createdAt: c.createdAt, labels: c.config.labels ?? {}, annotations: c.config.annotations ?? {},
    };
  }

  async listContainers(filter?: { podSandboxId?: string }): Promise<Container[]> {
    return [...this.containers.values()].filter((c) => !filter?.podSandboxId || c.sandboxId === filter.podSandboxId).map((c) => this.view(c));
  }

  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    const c = lookup(this.containers, id);
    if (!c) return undefined;
    return {
      id: c.id, metadata: c.config.metadata, state: c.state, createdAt: c.createdAt, startedAt: c.startedAt, finishedAt: c.finishedAt,
      exitCode: c.exitCode, image: { image: c.config.image.image }, imageRef: c.image.id, reason: c.reason, message: c.message,
      labels: c.config.labels ?? {}, annotations: c.config.annotations ?? {}, logPath: c.logPath,
    };
  }

  async execSync(id: string, cmd: string[], timeoutSeconds: number): Promise<ExecSyncResult> {
    const c = lookup(this.containers, id);
    if (!c) throw new Error(`container ${id} not found`);
    if (c.state !== 'CONTAINER_RUNNING' || !c.pid) throw new Error(`container ${id} is not running`);
    if (!cmd.length) throw new Error('exec: no command');
    const env = Object.fromEntries(c.spec.env);
    let child: ChildProcess;
    if (this.tools) {
      const n = nsenterCommand(this.tools, c.pid, cmd);
      child = spawn(n.file, n.args, { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } else {
      const hc = hostCommand(c.image.rootfs, cmd, c.spec.env, c.spec.cwd);
      child = spawn(hc.file, hc.args, { env: { ...env, PATH: hc.path }, argv0: hc.argv0, cwd: hc.cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    return new Promise<ExecSyncResult>((resolve, reject) => {
      let timedOut = false;
      const timer = timeoutSeconds > 0 ? setTimeout(() => { timedOut = true; if (child.pid) killGroup(child.pid, 'SIGKILL'); }, timeoutSeconds * 1000) : undefined;
      child.once('error', (e) => { clearTimeout(timer); reject(e); });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut) return reject(new Error(`command ${JSON.stringify(cmd.join(' '))} timed out after ${timeoutSeconds}s`));
        resolve({ stdout: Buffer.concat(out), stderr: Buffer.concat(err), exitCode: code ?? 128 + (signal ? constants.signals[signal] ?? 0 : 0) });
      });
    });
  }

  async exec(): Promise<string> { throw new Error(`exec: ${NOT_SUPPORTED}`); }
  async attach(): Promise<string> { throw new Error(`attach: ${NOT_SUPPORTED}`); }
  async portForward(): Promise<string> { throw new Error(`port-forward: ${NOT_SUPPORTED}`); }

  async listContainerStats(): Promise<ContainerStats[]> {
    const ts = now();
    const out: ContainerStats[] = [];
    for (const c of this.containers.values()) {
      if (c.state !== 'CONTAINER_RUNNING' || !c.pid) continue;
      const u = groupUsage(c.pid);
      out.push({
        attributes: { id: c.id, metadata: c.config.metadata, labels: c.config.labels ?? {} },
        cpu: { timestamp: ts, usageCoreNanoSeconds: { value: u.cpuNs } },
        memory: { timestamp: ts, workingSetBytes: { value: u.rssBytes } },
      });
    }
    return out;
  }

  // ------------------------------------------------------------------------------------------
  // Images

  async pullImage(image: string, _auth?: RegistryAuth): Promise<string> {
    const img = this.images.get(image);
    if (img) return img.id;
    throw new Error(`image "${image}" is not present, and the process runtime cannot pull from registries: import it with \`k8ts image import FILE\``);
  }

  async imageStatus(image: string): Promise<Image | undefined> {
    const img = this.images.get(image);
    return img && { id: img.id, repoTags: img.repoTags, repoDigests: img.repoDigests, size: img.size };
  }

  async listImages(): Promise<Image[]> {
    return this.images.list().map((i) => ({ id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, size: i.size }));
  }

  async removeImage(image: string): Promise<void> {
    this.images.remove(image); // CRI: removing an absent image succeeds
  }

  /** Stops every running container (their processes would otherwise outlive the agent). */
  async close(): Promise<void> {
    await Promise.all([...this.containers.values()].filter((c) => c.state === 'CONTAINER_RUNNING').map((c) => this.stopContainer(c.id, 2)));
  }
}
