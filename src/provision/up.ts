// `k8ts cluster up` and `k8ts cluster remove`: provisioning a cluster from cluster.yml over SSH,
// as RKE does. The first controlplane node runs `k8ts server` (with --cluster-init when the nodes
// have the etcd role, the managed etcd datastore), other controlplane nodes join it as servers,
// workers as agents, each as a service on its node (a supervisor script under DATA/service that
// restarts k8ts when it exits). What was applied is kept in a state file beside cluster.yml
// (cluster.k8tsstate, as RKE keeps cluster.rkestate), so a later `cluster up` reconciles: new
// nodes join, nodes gone from the file are drained and removed, and nodes whose service changed
// (another k8ts version, flags) are upgraded one at a time: cordon, drain, restart, Ready, uncordon.
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, extname, join, relative } from 'node:path';
import YAML from 'yaml';
import { Client, R } from '../client/client.js';
import { isNotFound } from '../client/errors.js';
import type { ClusterConfig, NodeConfig } from './config.js';
import { SshNode, shq } from './ssh.js';
import { cordon, drain } from './drain.js';

/** What `cluster up` applied to a node, kept in the state file. */
interface AppliedNode extends NodeConfig {
  /** The k8ts the node runs: an install directory's bin/k8ts or k8ts_binary. */
  k8ts: string;
  /** The directory copied onto the node for it (removed when no longer used). */
  installDir?: string;
  /** Labels set through the API (removed when dropped from cluster.yml). */
  appliedLabels: string[];
}

interface State {
  /** The join secret of the first server (token, else generated). */
  secret: string;
  /** The first server: the one the others and the agents join. */
  initServer?: string;
  nodes: Record<string, AppliedNode>;
}

export interface ClusterFiles {
  /** kube_config_<file> beside cluster.yml, as RKE writes it. */
  kubeconfig: string;
  /** <file>.k8tsstate beside cluster.yml. */
  state: string;
}

export function clusterFiles(configPath: string): ClusterFiles {
  const dir = dirname(configPath);
  const base = basename(configPath);
  return {
    kubeconfig: join(dir, `kube_config_${base}`),
    state: join(dir, `${basename(base, extname(base))}.k8tsstate`),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function loadState(path: string): State | undefined {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8')) as State;
}

function saveState(path: string, state: State): void {
  writeFileSync(`${path}.tmp`, JSON.stringify(state, null, 2) + '\n', { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

// ---------------------------------------------------------------------------------------------
// The k8ts package copied onto nodes: bin/, the built dist/ the server needs and the production
// dependencies (followed from package.json), nothing of the build or test tooling.

/** Paths under `root` that make a runnable k8ts. */
export function packageFiles(root: string): string[] {
  const out = ['bin', 'package.json'];
  for (const d of ['dist/src', 'dist/openapi', 'dist/dashboard']) if (existsSync(join(root, d))) out.push(d);
  if (!existsSync(join(root, 'dist/src/cli/main.js')))
    throw new Error(`k8ts_source: ${root} has no built k8ts (dist/src/cli/main.js): run npm run build there`);
  const seen = new Set<string>();
  const visit = (pkgDir: string) => {
    const pkg = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies })) {
      // Node's resolution: node_modules of this package, then of each directory above it.
      let dir = pkgDir;
      let found: string | undefined;
      for (;;) {
        const candidate = join(dir, 'node_modules', dep);
        if (existsSync(join(candidate, 'package.json'))) {
          found = candidate;
          break;
        }
        if (dir === root || dirname(dir) === dir) break;
        dir = dirname(dir);
      }
      if (!found || seen.has(found)) continue;
      seen.add(found);
      visit(found);
    }
  };
  visit(root);
  const rels = [...seen].map((d) => relative(root, d));
  // A package inside another's node_modules travels with it.
  return [...out, ...rels.filter((r) => !rels.some((o) => o !== r && r.startsWith(`${o}/`)))].sort();
}

/**
 * A digest of the files' paths and contents: whether a node already has this k8ts. Contents, not
 * times: a rebuild that writes the same files is not a new k8ts (and restarts no node).
 */
function packageDigest(root: string, files: string[]): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    const path = join(root, rel);
    const st = lstatSync(path);
    if (st.isDirectory()) for (const e of readdirSync(path).sort()) walk(`${rel}/${e}`);
    else if (st.isSymbolicLink()) h.update(`${rel}\0->${readlinkSync(path)}\n`);
    else h.update(`${rel}\0`).update(readFileSync(path)).update('\n');
  };
  for (const f of files) walk(f);
  return h.digest('hex').slice(0, 16);
}

// ---------------------------------------------------------------------------------------------

const SERVICE_SCRIPT = 'k8ts-service.sh';

function serviceDir(n: NodeConfig): string {
  return `${n.dataDir}/service`;
}

/**
 * The service on a node: a supervisor script that runs k8ts and starts it again when it exits (as
 * systemd's Restart=always would), forwarding SIGTERM to it on stop. Its text is the service's
 * identity: any change of it (k8ts version, flags) means a restart.
 */
function serviceScript(cfg: ClusterConfig, n: NodeConfig, k8ts: string, args: string[], marker: string): string {
  const dir = serviceDir(n);
  return [
    '#!/bin/sh',
    `# k8ts ${args[0]} of node ${n.name}, cluster ${cfg.clusterName}, written by \`k8ts cluster up\`.`,
    `# k8ts ${cfg.version} (${marker})`,
    `echo $$ > ${shq(`${dir}/k8ts.pid`)}`,
    `K8TS_TOKEN="$(cat ${shq(`${dir}/token`)})"`,
    'export K8TS_TOKEN',
    'stop=',
    'child=',
    `trap 'stop=1; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null; [ -n "$child" ] && wait "$child"; exit 0' TERM INT`,
    'while :; do',
    `  ${[k8ts, ...args].map(shq).join(' ')} &`,
    '  child=$!',
    `  echo "$child" > ${shq(`${dir}/k8ts.child`)}`,
    '  wait "$child"',
    '  code=$?',
    '  [ -n "$stop" ] && exit 0',
    '  echo "k8ts exited ($code); starting it again in 2 s"',
    '  sleep 2',
    'done',
    '',
  ].join('\n');
}

/** Shell functions: whether a pid lives (not a zombie), the service's supervisor pid. */
const ALIVE = `alive() { [ -n "$1" ] && [ -r /proc/$1/stat ] && ! grep -q '^[0-9]* (.*) Z' /proc/$1/stat; }`;

function stopScript(n: NodeConfig): string {
  const dir = serviceDir(n);
  return [
    ALIVE,
    `pid=$(cat ${shq(`${dir}/k8ts.pid`)} 2>/dev/null || true)`,
    `if alive "$pid" && grep -q ${SERVICE_SCRIPT} /proc/$pid/cmdline; then`,
    '  kill -TERM "$pid"',
    '  i=0; while alive "$pid" && [ $i -lt 120 ]; do sleep 0.5; i=$((i+1)); done',
    `  if alive "$pid"; then kill -KILL "$pid"; c=$(cat ${shq(`${dir}/k8ts.child`)} 2>/dev/null); alive "$c" && kill -KILL "$c"; fi`,
    'fi',
    `rm -f ${shq(`${dir}/k8ts.pid`)}`,
  ].join('\n');
}

function statusScript(n: NodeConfig): string {
  const dir = serviceDir(n);
  return [
    ALIVE,
    `pid=$(cat ${shq(`${dir}/k8ts.pid`)} 2>/dev/null || true)`,
    `if alive "$pid" && grep -q ${SERVICE_SCRIPT} /proc/$pid/cmdline; then echo running; else echo stopped; fi`,
    `cat ${shq(`${dir}/${SERVICE_SCRIPT}`)} 2>/dev/null || true`,
  ].join('\n');
}

export interface UpOptions {
  configPath: string;
  log: (msg: string) => void;
}

/** One `cluster up` run. */
class Provisioner {
  private readonly files: ClusterFiles;
  private readonly state: State;
  private client?: Client;
  private fullToken?: string;
  private source?: { root: string; files: string[]; digest: string };

  constructor(
    private readonly cfg: ClusterConfig,
    private readonly opts: UpOptions,
  ) {
    this.files = clusterFiles(opts.configPath);
    this.state = loadState(this.files.state) ?? {
      secret: cfg.token ?? randomBytes(16).toString('hex'),
      nodes: {},
    };
    if (cfg.token && cfg.token !== this.state.secret)
      throw new Error('token: differs from the one the cluster was created with (kept in the state file)');
  }

  private ssh(n: NodeConfig): SshNode {
    return new SshNode(n, this.cfg.sshKnownHosts ?? join(homedir(), '.ssh', 'known_hosts'));
  }

  private log(n: NodeConfig | undefined, msg: string): void {
    this.opts.log(n ? `[${n.name}] ${msg}` : msg);
  }

  private save(): void {
    saveState(this.files.state, this.state);
  }

  private serverUrl(n: NodeConfig): string {
    const host = n.internalAddress.includes(':') ? `[${n.internalAddress}]` : n.internalAddress;
    return `https://${host}:${this.cfg.httpsPort}`;
  }

  /** Copies k8ts onto the node unless it has this one already; returns the k8ts to run. */
  private async install(n: NodeConfig, ssh: SshNode): Promise<{ k8ts: string; installDir?: string; marker: string }> {
    if (this.cfg.binary) {
      await ssh.must(`test -x ${shq(this.cfg.binary)}`, `k8ts_binary ${this.cfg.binary} (not executable there)`);
      return { k8ts: this.cfg.binary, marker: 'preinstalled' };
    }
    if (!this.source) {
      const root = this.cfg.source!;
      const files = packageFiles(root);
      this.source = { root, files, digest: packageDigest(root, files) };
    }
    const { root, files, digest } = this.source;
    const dir = `${n.installPath}/${this.cfg.version}`;
    const k8ts = `${dir}/bin/k8ts`;
    const have = await ssh.run(`cat ${shq(`${dir}/.k8ts-install`)} 2>/dev/null`);
    if (have.stdout.trim() === digest) return { k8ts, installDir: dir, marker: digest };
    this.log(n, `copying k8ts ${this.cfg.version} to ${dir}`);
    const tar = spawn('tar', ['-cf', '-', '-C', root, ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    let tarErr = '';
    tar.stderr.setEncoding('utf8').on('data', (d: string) => (tarErr += d));
    const tmp = `${dir}.tmp`;
    const r = await ssh.run(
      [
        'set -e',
        `rm -rf ${shq(tmp)}`,
        `mkdir -p ${shq(tmp)}`,
        `tar -xf - -C ${shq(tmp)}`,
        `echo ${digest} > ${shq(`${tmp}/.k8ts-install`)}`,
        `rm -rf ${shq(dir)}`,
        `mv ${shq(tmp)} ${shq(dir)}`,
      ].join('\n'),
      { input: tar.stdout, timeoutMs: 600_000 },
    );
    const tarCode = await new Promise<number>((res) =>
      tar.exitCode !== null ? res(tar.exitCode) : tar.once('close', (c) => res(c ?? 1)),
    );
    if (tarCode !== 0) throw new Error(`tar of ${root} failed: ${tarErr}`);
    if (r.code !== 0) throw new Error(`node ${n.name}: unpacking k8ts into ${dir} failed: ${r.stderr}`);
    const check = await ssh.run(`${shq(k8ts)} --version`, { timeoutMs: 60_000 });
    if (check.code !== 0)
      throw new Error(
        `node ${n.name}: ${k8ts} --version failed (is node on its PATH?): ${check.stderr}${check.stdout}`,
      );
    return { k8ts, installDir: dir, marker: digest };
  }

  private serviceArgs(n: NodeConfig, init: NodeConfig): string[] {
    const c = this.cfg;
    const common = [
      ...['--data-dir', n.dataDir, '--node-name', n.name, '--node-ip', n.internalAddress],
      ...(c.clusterCidr ? ['--cluster-cidr', c.clusterCidr] : []),
    ];
    if (!n.roles.includes('controlplane')) {
      return ['agent', '--server', this.serverUrl(init), ...common, ...c.agentExtraArgs];
    }
    const sans = [...new Set([n.address, n.internalAddress])].flatMap((a) => ['--tls-san', a]);
    const datastore =
      n.name === init.name
        ? n.roles.includes('etcd')
          ? ['--cluster-init']
          : c.datastoreEndpoint
            ? ['--datastore-endpoint', c.datastoreEndpoint]
            : []
        : n.roles.includes('etcd')
          ? ['--server', this.serverUrl(init)]
          : ['--datastore-endpoint', c.datastoreEndpoint!];
    return [
      'server',
      ...common,
      ...['--bind-address', '0.0.0.0', '--advertise-address', n.internalAddress, ...sans],
      ...['--https-listen-port', String(c.httpsPort)],
      ...(c.serviceCidr ? ['--service-cidr', c.serviceCidr] : []),
      ...(c.clusterDomain ? ['--cluster-domain', c.clusterDomain] : []),
      ...datastore,
      ...c.serverExtraArgs,
    ];
  }

  private async startService(n: NodeConfig, ssh: SshNode, script: string, token: string): Promise<void> {
    const dir = serviceDir(n);
    await ssh.must(
      [
        'set -e',
        `mkdir -p ${shq(dir)}`,
        `umask 077`,
        `printf '%s' ${shq(token)} > ${shq(`${dir}/token`)}`,
        `cat > ${shq(`${dir}/${SERVICE_SCRIPT}`)} <<'K8TS_EOF'\n${script}K8TS_EOF`,
        `cd /`,
        `setsid nohup sh ${shq(`${dir}/${SERVICE_SCRIPT}`)} >> ${shq(`${dir}/k8ts.log`)} 2>&1 < /dev/null &`,
        // The supervisor writes its pid first thing.
        `i=0; while [ ! -s ${shq(`${dir}/k8ts.pid`)} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`,
      ].join('\n'),
      'starting the k8ts service',
    );
  }

  private async stopService(n: NodeConfig, ssh: SshNode): Promise<void> {
    await ssh.must(stopScript(n), 'stopping the k8ts service', 120_000);
  }

  /** The API through the first server's kubeconfig (written to kube_config_cluster.yml). */
  private async connect(init: NodeConfig, ssh: SshNode): Promise<Client> {
    const deadline = Date.now() + this.cfg.readyTimeout * 1000;
    const read = async () => {
      const r = await ssh.run(
        `cat ${shq(`${init.dataDir}/kubeconfig.yaml`)} && echo '---K8TS-TOKEN---' && cat ${shq(`${init.dataDir}/server/token`)}`,
      );
      const [kubeconfig, token] = r.code === 0 ? r.stdout.split('---K8TS-TOKEN---\n') : [];
      return kubeconfig && token?.trim() ? { kubeconfig, token } : r.stderr;
    };
    let got = await read();
    while (typeof got === 'string') {
      if (Date.now() > deadline) throw new Error(`node ${init.name}: k8ts server wrote no kubeconfig: ${got}`);
      await sleep(1000);
      got = await read();
    }
    const { kubeconfig, token } = got;
    this.fullToken = token.trim();
    const doc = YAML.parse(kubeconfig) as { clusters?: { name?: string; cluster: { server: string } }[] };
    const host = init.address.includes(':') ? `[${init.address}]` : init.address;
    for (const c of doc.clusters ?? []) c.cluster.server = `https://${host}:${this.cfg.httpsPort}`;
    writeFileSync(this.files.kubeconfig, YAML.stringify(doc), { mode: 0o600 });
    await this.client?.close();
    this.client = Client.fromKubeconfig(this.files.kubeconfig, { fieldManager: 'k8ts-cluster-up', timeoutMs: 15_000 });
    return this.client;
  }

  /** Waits until the node reports Ready in a heartbeat at or after `since`. */
  private async waitReady(n: NodeConfig, since: number): Promise<void> {
    const deadline = Date.now() + this.cfg.readyTimeout * 1000;
    for (;;) {
      let last: string;
      try {
        const node = await this.client!.resource(R.nodes).get(n.name);
        const ready = node.status?.conditions?.find((c) => c.type === 'Ready');
        const beat = Date.parse(ready?.lastHeartbeatTime ?? '') || 0;
        if (ready?.status === 'True' && beat >= since) return;
        last = `Ready=${ready?.status ?? 'unknown'}${ready?.message ? ` (${ready.message})` : ''}`;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new Error(`node ${n.name} not Ready after ${this.cfg.readyTimeout} s: ${last}`);
      await sleep(1000);
    }
  }

  /** Role labels, the node's labels and the controlplane/etcd taints of nodes that are not workers (RKE's). */
  private async applyLabelsAndTaints(n: NodeConfig, previous?: AppliedNode): Promise<string[]> {
    const labels: Record<string, string | null> = { ...n.labels };
    for (const r of n.roles) labels[`node-role.kubernetes.io/${r}`] = 'true';
    for (const k of previous?.appliedLabels ?? []) if (!(k in labels)) labels[k] = null;
    const ours = ['node-role.kubernetes.io/controlplane', 'node-role.kubernetes.io/etcd'];
    const want = n.roles.includes('worker')
      ? []
      : [
          ...(n.roles.includes('controlplane') ? [{ key: ours[0], value: 'true', effect: 'NoSchedule' }] : []),
          ...(n.roles.includes('etcd') ? [{ key: ours[1], value: 'true', effect: 'NoExecute' }] : []),
        ];
    const nodes = this.client!.resource(R.nodes);
    const current = await nodes.get(n.name);
    const taints = [...(current.spec?.taints ?? []).filter((t) => !ours.includes(t.key)), ...want];
    await nodes.patch(n.name, 'merge', { metadata: { labels }, spec: { taints: taints.length ? taints : null } });
    return Object.keys(labels).filter((k) => labels[k] !== null);
  }

  /** Brings one node to its desired service: new, unchanged, or upgraded in place. */
  private async ensureNode(n: NodeConfig, init: NodeConfig): Promise<void> {
    const ssh = this.ssh(n);
    const previous = this.state.nodes[n.name];
    const isInit = n.name === init.name;
    const { k8ts, installDir, marker } = await this.install(n, ssh);
    const args = this.serviceArgs(n, init);
    const script = serviceScript(this.cfg, n, k8ts, args, marker);
    const status = await ssh.must(statusScript(n), 'reading the service');
    const [running, ...rest] = status.split('\n');
    const same = rest.join('\n') === script;
    const token = isInit ? this.state.secret : this.fullToken!;
    if (isInit && running === 'running') await this.connect(n, ssh);
    if (running === 'running' && same) {
      this.log(n, 'up to date');
    } else {
      const upgrade = running === 'running' && !!previous;
      // The first server too: the drain goes through its API, which serves until it is stopped.
      if (upgrade && this.cfg.drain) {
        this.log(n, 'draining');
        await drain(this.client!, n.name, this.cfg.drainInput, (m) => this.log(n, m));
      }
      if (running === 'running') {
        this.log(n, upgrade ? `stopping the old service` : 'replacing a service not in the state file');
        await this.stopService(n, ssh);
      }
      await sleep(1000);
      const since = Math.floor(Date.now() / 1000) * 1000 + 1000;
      await sleep(since - Date.now());
      this.log(n, `starting k8ts ${args[0]} (${this.cfg.version})`);
      await this.startService(n, ssh, script, token);
      if (isInit) await this.connect(n, ssh);
      await this.waitReady(n, since);
      if (upgrade && this.cfg.drain) await cordon(this.client!, n.name, false);
      this.log(n, upgrade ? 'upgraded, Ready and uncordoned' : 'Ready');
    }
    const appliedLabels = await this.applyLabelsAndTaints(n, previous);
    this.state.nodes[n.name] = { ...n, k8ts, ...(installDir ? { installDir } : {}), appliedLabels };
    if (isInit) this.state.initServer = n.name;
    this.save();
    if (previous?.installDir && previous.installDir !== installDir) {
      await ssh.run(`rm -rf ${shq(previous.installDir)}`);
    }
  }

  /** Drains a node gone from cluster.yml, deletes its Node, stops and wipes it. */
  private async removeNode(n: AppliedNode): Promise<void> {
    if (n.name === this.state.initServer)
      throw new Error(
        `nodes: ${n.name} is the first server, the one the cluster was created on; it cannot be removed (cluster remove removes all)`,
      );
    const ssh = this.ssh(n);
    if (this.client) {
      this.log(n, 'draining (removed from the file)');
      await drain(this.client, n.name, this.cfg.drainInput, (m) => this.log(n, m));
    }
    await wipeNode(n, ssh, (m) => this.log(n, m));
    try {
      await this.client?.resource(R.nodes).delete(n.name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
    delete this.state.nodes[n.name];
    this.save();
    this.log(n, 'removed');
  }

  async up(): Promise<void> {
    const cfg = this.cfg;
    for (const n of cfg.nodes) {
      const r = await this.ssh(n).run('uname -s');
      if (r.code !== 0)
        throw new Error(`node ${n.name}: ssh ${n.user}@${n.address} -p ${n.port} failed: ${r.stderr.trim()}`);
    }
    const servers = cfg.nodes.filter((n) => n.roles.includes('controlplane'));
    const init = servers.find((s) => s.name === this.state.initServer) ?? servers[0];
    if (this.state.initServer && init.name !== this.state.initServer)
      await this.removeNode(this.state.nodes[this.state.initServer]); // throws: explains why not
    const ordered = [init, ...servers.filter((s) => s !== init), ...cfg.nodes.filter((n) => !servers.includes(n))];
    for (const n of ordered) await this.ensureNode(n, init);
    const desired = new Set(cfg.nodes.map((n) => n.name));
    const gone = Object.values(this.state.nodes).filter((n) => !desired.has(n.name));
    gone.sort((a, b) => Number(a.roles.includes('controlplane')) - Number(b.roles.includes('controlplane')));
    for (const n of gone) await this.removeNode(n);
    this.log(
      undefined,
      `cluster ${cfg.clusterName} is up: ${cfg.nodes.length} nodes; kubeconfig ${this.files.kubeconfig}`,
    );
  }

  async remove(): Promise<void> {
    const nodes = new Map<string, AppliedNode | NodeConfig>();
    for (const n of this.cfg.nodes) nodes.set(n.name, n);
    for (const n of Object.values(this.state.nodes)) nodes.set(n.name, n);
    const all = [...nodes.values()];
    // Agents first, then the servers they talk to, the first server last.
    const rank = (n: NodeConfig) => (n.name === this.state.initServer ? 2 : n.roles.includes('controlplane') ? 1 : 0);
    all.sort((a, b) => rank(a) - rank(b));
    for (const n of all) {
      const applied = this.state.nodes[n.name];
      await wipeNode(applied ?? { ...n, k8ts: '', appliedLabels: [] }, this.ssh(n), (m) => this.log(n, m));
      delete this.state.nodes[n.name];
      this.save();
    }
    rmSync(this.files.kubeconfig, { force: true });
    rmSync(this.files.state, { force: true });
    this.log(undefined, `cluster ${this.cfg.clusterName} removed from ${all.length} nodes`);
  }

  async close(): Promise<void> {
    await this.client?.close();
  }
}

/** Stops the service, stops what k8ts left running (killall), removes the data and install dirs. */
async function wipeNode(n: AppliedNode, ssh: SshNode, log: (m: string) => void): Promise<void> {
  log('stopping the k8ts service');
  await ssh.must(stopScript(n), 'stopping the k8ts service', 120_000);
  if (n.k8ts) {
    log('k8ts killall');
    await ssh.must(
      `if [ -x ${shq(n.k8ts)} ]; then ${shq(n.k8ts)} killall --data-dir ${shq(n.dataDir)}; fi`,
      'k8ts killall',
      300_000,
    );
  }
  await ssh.must(
    [
      `rm -rf ${shq(n.dataDir)}`,
      ...(n.installDir ? [`rm -rf ${shq(n.installDir)}`, `rmdir ${shq(n.installPath)} 2>/dev/null || true`] : []),
    ].join('\n'),
    'removing the data and install directories',
  );
}

/** `k8ts cluster up` or `k8ts cluster remove`. */
export async function provision(verb: 'up' | 'remove', cfg: ClusterConfig, opts: UpOptions): Promise<void> {
  const p = new Provisioner(cfg, opts);
  try {
    await (verb === 'up' ? p.up() : p.remove());
  } finally {
    await p.close();
  }
}
