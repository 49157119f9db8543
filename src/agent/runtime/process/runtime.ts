// The process runtime: the CRI model implemented with plain host processes, for machines without
// containerd or root. A sandbox is a directory with the pod's resolv.conf/hosts/hostname; a
// container is a process group (see launcher.ts for how it is started). Pods share the host's
// network, so a sandbox's IP is the host's first non-internal IPv4 address (127.0.0.1 if it has
// none); the agent reports hostIP separately anyway.
//
// Nothing is adopted across restarts: a new instance kills the process groups a previous one left
// (pidfile.ts) and starts with no sandboxes; the agent then recreates its pods.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { Duplex, Readable, Writable } from 'node:stream';
import { constants, networkInterfaces } from 'node:os';
import { dirname, isAbsolute, join } from 'node:path';
import type {
  Container,
  ContainerConfig,
  ContainerState,
  ContainerStats,
  ContainerStatus,
  ExecSyncResult,
  Image,
  PodSandbox,
  PodSandboxConfig,
  PodSandboxStatus,
  RegistryAuth,
  Runtime,
  SandboxState,
} from '../types.js';
import { processSpec, type ProcessSpec } from './command.js';
import { CriLogStream, nowNs } from './crilog.js';
import { ProcessImageStore, type StoredImage } from './imagestore.js';
import {
  chrootCommand,
  hostCommand,
  nsenterCommand,
  probeChroot,
  shq,
  type LaunchMode,
  type Tools,
} from './launcher.js';
import { StreamingServer } from '../../streaming/server.js';
import type { CommandIO, CommandResult } from '../../streaming/remotecommand.js';
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
  /** The main process's stdin, when the container asked for one (config.stdin): attach writes here. */
  stdin?: Writable;
  /** Attached sessions: each gets the container's output as it is produced. */
  taps: Set<(stream: 'stdout' | 'stderr', chunk: Buffer) => void>;
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
  try {
    process.kill(-pid, signal);
  } catch {
    /* already gone */
  }
}

function which(cmd: string): string | undefined {
  for (const d of (process.env.PATH ?? '').split(':').concat(['/usr/bin', '/bin', '/usr/sbin', '/sbin'])) {
    if (d && existsSync(join(d, cmd))) return join(d, cmd);
  }
  return undefined;
}

/**
 * Sets the window size of the pty that `script` (pid) runs its command on, found as its child's
 * stdin. False while there is no such child yet (script has not forked) or it is gone.
 */
function resizePty(scriptPid: number, cols: number, rows: number): boolean {
  try {
    const children = readFileSync(`/proc/${scriptPid}/task/${scriptPid}/children`, 'utf8')
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    for (const child of children) {
      const tty = readlinkSync(`/proc/${child}/fd/0`);
      if (!tty.startsWith('/dev/pts/')) continue;
      return (
        spawnSync('stty', ['-F', tty, 'rows', String(rows), 'cols', String(cols)], { stdio: 'ignore', timeout: 2000 })
          .status === 0
      );
    }
  } catch {
    /* best effort: the command may be gone already */
  }
  return false;
}

/**
 * Follows the client's terminal size for a command run under `script`. The first size comes
 * with the connection, usually before script has made its pty: the latest size is kept and
 * applied as soon as the pty exists (retried for a few seconds), later ones at once.
 */
function followTerminalSize(io: CommandIO): { start(scriptPid: number): void; stop(): void } {
  let latest: { width: number; height: number } | undefined;
  let pid: number | undefined;
  let timer: NodeJS.Timeout | undefined;
  let tries = 0;
  const apply = () => {
    clearTimeout(timer);
    if (!latest || pid === undefined) return;
    if (resizePty(pid, latest.width, latest.height) || ++tries > 100) return;
    timer = setTimeout(apply, 50);
  };
  io.resize.on('resize', (size) => {
    latest = size;
    tries = 0;
    apply();
  });
  return {
    start(scriptPid) {
      pid = scriptPid;
      apply();
    },
    stop: () => clearTimeout(timer),
  };
}

/** Port forwarding: pods share the host's network, so the port is on 127.0.0.1. */
function forwardPort(port: number, stream: Duplex): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    sock.once('error', reject);
    sock.once('connect', () => {
      sock.off('error', reject);
      sock.setNoDelay(true);
      sock.on('error', () => sock.destroy());
      stream.pipe(sock);
      sock.pipe(stream);
      stream.once('reset', () => sock.destroy());
      stream.once('close', () => {
        if (!sock.readableEnded) sock.destroy();
      });
      sock.once('close', () => resolve());
    });
  });
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
  constructor(
    readonly stateDir: string,
    opts: ProcessRuntimeOptions = {},
  ) {
    mkdirSync(stateDir, { recursive: true });
    this.images = new ProcessImageStore(join(stateDir, 'images'));
    this.pids = new PidFile(join(stateDir, 'pids.json'));
    this.pids.killLeftovers();
    // Sandboxes and containers of a previous run are gone with their processes.
    rmSync(join(stateDir, 'sandboxes'), { recursive: true, force: true });
    rmSync(join(stateDir, 'containers'), { recursive: true, force: true });
    const want = opts.mode ?? 'auto';
    this.tools = want === 'host' ? undefined : probeChroot();
    if (want === 'chroot' && !this.tools)
      throw new Error(
        'process runtime: chroot mode needs util-linux unshare/mount and permission to create a mount namespace',
      );
    this.mode = this.tools ? 'chroot' : 'host';
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async version() {
    return { runtimeName: 'process', runtimeVersion: `0.1.0-${this.mode}`, runtimeApiVersion: 'v1' };
  }

  // ------------------------------------------------------------------------------------------
  // Sandboxes

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async runPodSandbox(config: PodSandboxConfig, runtimeHandler = ''): Promise<string> {
    // Host processes have one way to run: the default handler (containerd's name for it, runc).
    if (runtimeHandler && runtimeHandler !== 'runc')
      throw new Error(`no runtime for "${runtimeHandler}" is configured`);
    const id = newId();
    const dir = join(this.stateDir, 'sandboxes', id);
    mkdirSync(dir, { recursive: true });
    const dns = config.dnsConfig;
    let resolv: string;
    if (dns && dns.servers.length) {
      resolv =
        dns.servers.map((s) => `nameserver ${s}\n`).join('') +
        (dns.searches.length ? `search ${dns.searches.join(' ')}\n` : '') +
        (dns.options.length ? `options ${dns.options.join(' ')}\n` : '');
    } else {
      try {
        resolv = readFileSync('/etc/resolv.conf', 'utf8');
      } catch {
        resolv = '';
      }
    }
    writeFileSync(join(dir, 'resolv.conf'), resolv);
    const hostname = config.hostname || config.metadata.name;
    writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
    writeFileSync(
      join(dir, 'hosts'),
      `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n${hostIPv4()}\t${hostname}\n`,
    );
    this.sandboxes.set(id, { id, config, createdAt: now(), state: 'SANDBOX_READY', dir });
    return id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    const sb = lookup(this.sandboxes, id);
    if (!sb) return; // CRI: stopping an unknown sandbox is not an error
    await Promise.all(
      [...this.containers.values()].filter((c) => c.sandboxId === sb.id).map((c) => this.stopContainer(c.id, 0)),
    );
    sb.state = 'SANDBOX_NOTREADY';
  }

  async removePodSandbox(id: string): Promise<void> {
    const sb = lookup(this.sandboxes, id);
    if (!sb) return;
    for (const c of [...this.containers.values()].filter((c) => c.sandboxId === sb.id))
      await this.removeContainer(c.id);
    sb.state = 'SANDBOX_NOTREADY';
    this.sandboxes.delete(sb.id);
    rmSync(sb.dir, { recursive: true, force: true });
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async podSandboxStatus(id: string): Promise<PodSandboxStatus | undefined> {
    const sb = lookup(this.sandboxes, id);
    if (!sb) return undefined;
    return {
      id: sb.id,
      metadata: sb.config.metadata,
      state: sb.state,
      createdAt: sb.createdAt,
      network: { ip: hostIPv4(), additionalIps: [] },
      labels: sb.config.labels,
      annotations: sb.config.annotations,
    };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async listPodSandboxes(filter?: { labelSelector?: Record<string, string> }): Promise<PodSandbox[]> {
    const sel = Object.entries(filter?.labelSelector ?? {});
    return [...this.sandboxes.values()]
      .filter((sb) => sel.every(([k, v]) => sb.config.labels?.[k] === v))
      .map((sb) => ({
        id: sb.id,
        metadata: sb.config.metadata,
        state: sb.state,
        createdAt: sb.createdAt,
        labels: sb.config.labels,
        annotations: sb.config.annotations,
      }));
  }

  // ------------------------------------------------------------------------------------------
  // Containers

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
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
      id,
      sandboxId: sb.id,
      config,
      image,
      spec,
      dir,
      logPath,
      state: 'CONTAINER_CREATED',
      createdAt: now(),
      startedAt: 0,
      finishedAt: 0,
      exitCode: 0,
      reason: '',
      message: '',
      taps: new Set(),
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
      const cmd = chrootCommand(
        this.tools,
        {
          rootfs: c.image.rootfs,
          containerDir: c.dir,
          sandboxDir: sb.dir,
          mounts: c.config.mounts ?? [],
          cwd: c.spec.cwd,
          uid,
          gid,
          readonlyRootfs: sc.readonlyRootfs,
        },
        c.spec.argv,
      );
      return spawn(cmd.file, cmd.args, {
        env,
        detached: true,
        stdio: [c.config.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      });
    }
    const hc = hostCommand(c.image.rootfs, c.spec.argv, c.spec.env, c.spec.cwd);
    const asRoot = process.getuid?.() === 0;
    return spawn(hc.file, hc.args, {
      env: { ...env, PATH: hc.path },
      argv0: hc.argv0,
      cwd: hc.cwd,
      detached: true,
      stdio: [c.config.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
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
      child.once('error', (e) => {
        fail(e);
        reject(e);
      });
    });
    const pid = child.pid!;
    c.pid = pid;
    if (child.stdin) {
      child.stdin.on('error', () => {
        /* the process closed its stdin */
      });
      c.stdin = child.stdin;
    }
    c.state = 'CONTAINER_RUNNING';
    c.startedAt = now();
    this.pids.add(c.id, pid);
    // Both output streams go to the one log file, each line tagged with its stream. `logged`
    // settles once the file has everything, so an exited container's log is complete.
    let open = 2;
    let logDone = () => {};
    const logged = new Promise<void>((resolve) => {
      logDone = resolve;
    });
    const closeLog = () => {
      if (log) {
        log.once('finish', logDone);
        log.once('error', logDone);
        log.end();
      } else logDone();
    };
    const pipe = (stream: NodeJS.ReadableStream | null, name: 'stdout' | 'stderr') => {
      const w = log ? new CriLogStream(log, name) : undefined;
      if (!stream) {
        if (--open === 0) closeLog();
        return;
      }
      stream.on('data', (b: Buffer) => {
        w?.write(b);
        for (const tap of c.taps) tap(name, b);
      });
      stream.on('close', () => {
        w?.end();
        if (--open === 0) closeLog();
      });
    };
    pipe(child.stdout, 'stdout');
    pipe(child.stderr, 'stderr');
    c.exited = new Promise<void>((resolve) => {
      // Fire and forget, as before: the exit bookkeeping ends in resolve().
      child.once(
        'exit',
        (code, signal) =>
          void (async () => {
            const finishedAt = now();
            // As when a pid namespace's init dies: whatever the process left behind goes too.
            killGroup(pid, 'SIGKILL');
            this.pids.delete(c.id);
            // Report the exit once its output is in the log (bounded: a stuck writer must not hide it).
            await Promise.race([logged, sleep(2000)]);
            c.finishedAt = finishedAt;
            c.exitCode = code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
            c.reason = c.exitCode === 0 ? 'Completed' : 'Error';
            c.state = 'CONTAINER_EXITED';
            c.stdin = undefined;
            resolve();
          })(),
      );
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
      try {
        process.kill(c.pid, 'SIGTERM');
      } catch {
        /* exiting */
      }
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
      id: c.id,
      podSandboxId: c.sandboxId,
      metadata: c.config.metadata,
      image: { image: c.image.id },
      imageRef: c.image.id,
      state: c.state,
      createdAt: c.createdAt,
      labels: c.config.labels ?? {},
      annotations: c.config.annotations ?? {},
    };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async listContainers(filter?: { podSandboxId?: string }): Promise<Container[]> {
    return [...this.containers.values()]
      .filter((c) => !filter?.podSandboxId || c.sandboxId === filter.podSandboxId)
      .map((c) => this.view(c));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async containerStatus(id: string): Promise<ContainerStatus | undefined> {
    const c = lookup(this.containers, id);
    if (!c) return undefined;
    return {
      id: c.id,
      metadata: c.config.metadata,
      state: c.state,
      createdAt: c.createdAt,
      startedAt: c.startedAt,
      finishedAt: c.finishedAt,
      exitCode: c.exitCode,
      image: { image: c.config.image.image },
      imageRef: c.image.id,
      reason: c.reason,
      message: c.message,
      labels: c.config.labels ?? {},
      annotations: c.config.annotations ?? {},
      logPath: c.logPath,
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
      child = spawn(hc.file, hc.args, {
        env: { ...env, PATH: hc.path },
        argv0: hc.argv0,
        cwd: hc.cwd,
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
    }
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (b: Buffer) => out.push(b));
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    return new Promise<ExecSyncResult>((resolve, reject) => {
      let timedOut = false;
      const timer =
        timeoutSeconds > 0
          ? setTimeout(() => {
              timedOut = true;
              if (child.pid) killGroup(child.pid, 'SIGKILL');
            }, timeoutSeconds * 1000)
          : undefined;
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (timedOut)
          return reject(new Error(`command ${JSON.stringify(cmd.join(' '))} timed out after ${timeoutSeconds}s`));
        resolve({
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(err),
          exitCode: code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0),
        });
      });
    });
  }

  // ------------------------------------------------------------------------------------------
  // Streaming: URLs on this runtime's own streaming server (streaming/server.ts), which calls back
  // into execStream / attachStream / forwardPort below once the client has connected.

  private streamingServer?: StreamingServer;

  private get streaming(): StreamingServer {
    this.streamingServer ??= new StreamingServer({
      exec: (id, cmd, io) => this.execStream(id, cmd, io),
      attach: (id, io) => this.attachStream(id, io),
      portForward: (_sandbox, port, stream) => forwardPort(port, stream),
    });
    return this.streamingServer;
  }

  private running(id: string): ContainerRec {
    const c = lookup(this.containers, id);
    if (!c) throw Object.assign(new Error(`container ${id} not found`), { code: 5 });
    if (c.state !== 'CONTAINER_RUNNING' || !c.pid) throw new Error(`container ${id} is not running`);
    return c;
  }

  async exec(req: {
    containerId: string;
    cmd: string[];
    tty: boolean;
    stdin: boolean;
    stdout: boolean;
    stderr: boolean;
  }): Promise<string> {
    const c = this.running(req.containerId);
    if (!req.cmd.length) throw new Error('cmd must not be empty');
    return this.streaming.getExec({ ...req, containerId: c.id });
  }

  async attach(req: {
    containerId: string;
    tty: boolean;
    stdin: boolean;
    stdout: boolean;
    stderr: boolean;
  }): Promise<string> {
    const c = this.running(req.containerId);
    return this.streaming.getAttach({ ...req, containerId: c.id });
  }

  async portForward(req: { podSandboxId: string; port: number[] }): Promise<string> {
    const sb = lookup(this.sandboxes, req.podSandboxId);
    if (!sb) throw Object.assign(new Error(`pod sandbox ${req.podSandboxId} not found`), { code: 5 });
    if (sb.state !== 'SANDBOX_READY') throw new Error(`pod sandbox ${req.podSandboxId} is not ready`);
    return this.streaming.getPortForward({ podSandboxId: sb.id, port: req.port });
  }

  /**
   * Runs `cmd` in the container the way execSync does (same environment, namespaces and root),
   * its standard streams wired to the session. A terminal comes from util-linux `script`, which
   * runs the command on a new pty; resizes are applied to that pty with `stty`.
   */
  private async execStream(id: string, cmd: string[], io: CommandIO): Promise<CommandResult> {
    const c = this.running(id);
    const env = Object.fromEntries(c.spec.env);
    let file: string;
    let args: string[];
    let opts: SpawnOptions;
    if (this.tools) {
      const n = nsenterCommand(this.tools, c.pid!, cmd);
      [file, args, opts] = [n.file, n.args, { env }];
    } else {
      const hc = hostCommand(c.image.rootfs, cmd, c.spec.env, c.spec.cwd);
      [file, args, opts] = [hc.file, hc.args, { env: { ...env, PATH: hc.path }, argv0: hc.argv0, cwd: hc.cwd }];
    }
    if (io.tty) {
      const script = which('script');
      if (!script) return { error: 'a terminal (tty) needs util-linux script on the node' };
      args = ['-qfec', [file, ...args].map(shq).join(' '), '/dev/null'];
      file = script;
      opts.argv0 = undefined;
      opts.env = { ...opts.env, SHELL: '/bin/sh', TERM: (opts.env as Record<string, string>).TERM ?? 'xterm' };
    }
    // Listening before the spawn: the client's first size may arrive while it happens.
    const terminal = io.tty ? followTerminalSize(io) : undefined;
    const child = spawn(file, args, { ...opts, detached: true, stdio: [io.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', (e) => resolve(e));
    });
    if (spawned) return { error: spawned.message };
    const pid = child.pid!;
    const kill = () => killGroup(pid, 'SIGKILL');
    io.signal.addEventListener('abort', kill);
    terminal?.start(pid);
    child.once('exit', () => terminal?.stop());
    if (io.stdin && child.stdin) {
      const input = child.stdin;
      input.on('error', () => {
        /* the command stopped reading */
      });
      io.stdin.pipe(input);
    }
    // Output: written in order; `idle` notices when nothing more comes after the exit.
    let lastData = Date.now();
    const forward = (from: Readable | null, to: Writable | undefined) => {
      from?.on('data', (b: Buffer) => {
        lastData = Date.now();
        if (to && !to.destroyed && !to.writableEnded && !to.write(b)) {
          from.pause();
          to.once('drain', () => from.resume());
        }
      });
    };
    forward(child.stdout, io.stdout);
    forward(child.stderr, io.tty ? io.stdout : io.stderr);
    const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const exitCode = await new Promise<number>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    });
    // A background process may keep the pipes open: stop waiting once they have been quiet a while.
    await Promise.race([
      closed,
      (async () => {
        while (Date.now() - lastData < 2000) await sleep(250);
      })(),
    ]);
    io.signal.removeEventListener('abort', kill);
    if (io.stdin) io.stdin.unpipe();
    child.stdout?.destroy();
    child.stderr?.destroy();
    return { exitCode };
  }

  /**
   * Attaches to the main process: its output from now on, and its stdin when the container was
   * created with one (closed after this session if stdinOnce). Ends when the container exits or
   * the client leaves.
   */
  private async attachStream(id: string, io: CommandIO): Promise<CommandResult> {
    const c = this.running(id);
    const tap = (stream: 'stdout' | 'stderr', chunk: Buffer) => {
      const to = stream === 'stdout' || c.config.tty || io.tty ? io.stdout : io.stderr;
      if (to && !to.destroyed && !to.writableEnded) to.write(chunk);
    };
    c.taps.add(tap);
    const input = c.stdin;
    const onData = (b: Buffer) => input?.write(b);
    const onEnd = () => {
      if (c.config.stdinOnce) input?.end();
    };
    if (io.stdin) {
      if (input) {
        io.stdin.on('data', onData);
        io.stdin.once('end', onEnd);
      } else {
        io.stdin.resume();
      }
    }
    await Promise.race([
      c.exited,
      new Promise<void>((resolve) =>
        io.signal.aborted ? resolve() : io.signal.addEventListener('abort', () => resolve(), { once: true }),
      ),
    ]);
    c.taps.delete(tap);
    io.stdin?.off('data', onData);
    io.stdin?.off('end', onEnd);
    return { exitCode: 0 };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
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

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async pullImage(image: string, _auth?: RegistryAuth): Promise<string> {
    const img = this.images.get(image);
    if (img) return img.id;
    throw new Error(
      `image "${image}" is not present, and the process runtime cannot pull from registries: import it with \`k8ts image import FILE\``,
    );
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async imageStatus(image: string): Promise<Image | undefined> {
    const img = this.images.get(image);
    return img && { id: img.id, repoTags: img.repoTags, repoDigests: img.repoDigests, size: img.size };
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async listImages(): Promise<Image[]> {
    return this.images
      .list()
      .map((i) => ({ id: i.id, repoTags: i.repoTags, repoDigests: i.repoDigests, size: i.size }));
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- the CRI Runtime interface: a failure must reject, never throw synchronously
  async removeImage(image: string): Promise<void> {
    this.images.remove(image); // CRI: removing an absent image succeeds
  }

  /** Stops every running container (their processes would otherwise outlive the agent). */
  async close(): Promise<void> {
    await this.streamingServer?.stop();
    await Promise.all(
      [...this.containers.values()]
        .filter((c) => c.state === 'CONTAINER_RUNNING')
        .map((c) => this.stopContainer(c.id, 2)),
    );
  }
}
