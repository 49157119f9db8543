// k8ts runs its own containerd, as k3s does: configuration, socket, state and CNI settings all live
// under the agent's data dir, so it never disturbs a containerd the host already has. The CRI plugin
// does the pod networking through CNI with the config written here, from the node's podCIDR.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { hostObjectName } from '../../machinery/hostnames.js';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync, renameSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { registryWarnings, writeHostsTree, type Registries } from './registries.js';

/** Where the Debian packages put things; overridable for other layouts. */
export const CNI_BIN_DIRS = ['/usr/lib/cni', '/opt/cni/bin', '/usr/libexec/cni'];

export interface ContainerdPaths {
  dir: string;
  config: string;
  socket: string;
  cniConfDir: string;
  cniBinDir: string;
  registryDir: string;
  log: string;
  pidFile: string;
}

export function containerdPaths(agentDir: string): ContainerdPaths {
  const dir = join(agentDir, 'containerd');
  return {
    dir,
    config: join(dir, 'config.toml'),
    socket: join(dir, 'containerd.sock'),
    cniConfDir: join(agentDir, 'cni', 'net.d'),
    cniBinDir: CNI_BIN_DIRS.find((d) => existsSync(join(d, 'bridge'))) ?? CNI_BIN_DIRS[0],
    registryDir: join(dir, 'certs.d'),
    log: join(dir, 'containerd.log'),
    pidFile: join(dir, 'containerd.pid'),
  };
}

/** What is missing on this host for the containerd runtime, in words a user can act on (empty: nothing). */
export function missingForContainerd(paths: ContainerdPaths): string[] {
  const missing: string[] = [];
  const which = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
  if (!which('containerd')) missing.push('containerd (Debian/Ubuntu: apt-get install containerd)');
  if (!which('runc')) missing.push('runc (apt-get install runc)');
  if (!existsSync(join(paths.cniBinDir, 'bridge')) || !existsSync(join(paths.cniBinDir, 'host-local'))) {
    missing.push(
      `CNI plugins bridge, host-local, portmap in ${CNI_BIN_DIRS.join(' or ')} (apt-get install containernetworking-plugins)`,
    );
  }
  if (!which('iptables')) missing.push('iptables (apt-get install iptables)');
  if (process.getuid?.() !== 0) missing.push('root privileges (containerd runs containers as root)');
  return missing;
}

/** A bridge name that is stable for a data dir (two clusters on one host do not share a bridge). */
export const bridgeName = hostObjectName;

function tomlString(s: string): string {
  return JSON.stringify(s);
}

export function containerdConfig(paths: ContainerdPaths, sandboxImage: string): string {
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `# Written by k8ts at every start; edit config.toml.tmpl beside it to take control.
version = 2
root = ${tomlString(join(paths.dir, 'root'))}
state = ${tomlString(join(paths.dir, 'state'))}

[grpc]
  address = ${tomlString(paths.socket)}

[${cri}]
  sandbox_image = ${tomlString(sandboxImage)}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  max_container_log_line_size = 16384
  # Never ask for an OOM score below containerd's own: lowering it needs CAP_SYS_RESOURCE, which
  # containers and VMs often lack (runc then fails with "can't get final child's PID from pipe").
  restrict_oom_score_adj = true

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false

[${cri}.cni]
  bin_dir = ${tomlString(paths.cniBinDir)}
  conf_dir = ${tomlString(paths.cniConfDir)}
  max_conf_num = 1

[${cri}.registry]
  config_path = ${tomlString(paths.registryDir)}
`;
}

/**
 * The CNI network of the node: a bridge with host-local IPAM over the node's podCIDR (and its IPv6
 * range on a dual-stack cluster: each pod then gets one address of each family), and hostPort
 * support. `mtu` (the VXLAN overlay's: the underlay's − 50) goes to the bridge and the pods' veths.
 */
export function cniConfig(opts: {
  podCIDR: string;
  podCIDRv6?: string;
  bridge: string;
  ipamDir: string;
  mtu?: number;
}): string {
  return JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'k8ts',
      plugins: [
        {
          type: 'bridge',
          bridge: opts.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ...(opts.mtu ? { mtu: opts.mtu } : {}),
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: opts.podCIDR }], ...(opts.podCIDRv6 ? [[{ subnet: opts.podCIDRv6 }]] : [])],
            routes: [{ dst: '0.0.0.0/0' }, ...(opts.podCIDRv6 ? [{ dst: '::/0' }] : [])],
            dataDir: opts.ipamDir,
          },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ],
    },
    null,
    2,
  );
}

/** Writes the CNI config atomically (containerd watches the directory and reloads it). */
export function writeCniConfig(paths: ContainerdPaths, content: string): void {
  mkdirSync(paths.cniConfDir, { recursive: true });
  const file = join(paths.cniConfDir, '10-k8ts.conflist');
  if (existsSync(file) && readFileSync(file, 'utf8') === content) return;
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

/** Whether something accepts connections on the unix socket `path`. */
export function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** The containerd child process of one agent. */
export class ContainerdProcess {
  private child?: ChildProcess;
  private stopping = false;

  constructor(
    readonly paths: ContainerdPaths,
    private sandboxImage: string,
    private logger: Logger,
    /** Private registries and mirrors (registries.yaml), written as the hosts.toml tree. */
    private registries?: Registries,
  ) {}

  /** Writes certs.d/<host>/hosts.toml for the configured registries (containerd reads them at each pull). */
  writeRegistryHosts(): void {
    const written = writeHostsTree(this.paths.registryDir, this.registries);
    for (const w of this.registries ? registryWarnings(this.registries) : []) this.logger.warn(w);
    if (written.length)
      this.logger.info({ source: this.registries?.source, files: written }, 'registry hosts configured');
  }

  async start(): Promise<void> {
    const p = this.paths;
    for (const d of [p.dir, p.cniConfDir, p.registryDir]) mkdirSync(d, { recursive: true });
    this.writeRegistryHosts();
    const template = `${p.config}.tmpl`;
    writeFileSync(
      p.config,
      existsSync(template) ? readFileSync(template, 'utf8') : containerdConfig(p, this.sandboxImage),
    );
    if (await socketAnswers(p.socket)) {
      // A containerd of an earlier run of this agent is still up (its containers kept running): use it.
      this.logger.info({ socket: p.socket }, 'using the running containerd');
      return;
    }
    const log = openSync(p.log, 'a');
    const child = spawn('containerd', ['--config', p.config], { stdio: ['ignore', log, log], detached: true });
    this.child = child;
    writeFileSync(p.pidFile, `${child.pid}\n`);
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.logger.error({ code, signal, log: p.log }, 'containerd exited');
    });
    const deadline = Date.now() + 30_000;
    while (!(await socketAnswers(p.socket))) {
      if (child.exitCode !== null)
        throw new Error(`containerd exited with code ${child.exitCode} at start; see ${p.log}`);
      if (Date.now() > deadline) throw new Error(`containerd did not open ${p.socket} within 30 s; see ${p.log}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    this.logger.info({ pid: child.pid, socket: p.socket }, 'containerd started');
  }

  /** Stops the containerd this agent started (its containers' shims keep running, as with k3s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    this.stopping = true;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(this.paths.pidFile, { force: true });
  }
}
