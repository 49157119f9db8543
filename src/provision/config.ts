// cluster.yml, in the shape of RKE's: a list of nodes reached over SSH (address, port, user,
// ssh_key_path, role: controlplane / etcd / worker, hostname_override, internal_address, labels)
// and cluster-wide options. k8ts's additions say where k8ts and its data live on each node
// (install_path, data_dir) and which k8ts runs there (k8ts_version, k8ts_source, k8ts_binary).
// Everything is checked here, each error naming its field (docs/cluster-yml.md).
import { homedir } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import YAML from 'yaml';

export type Role = 'controlplane' | 'etcd' | 'worker';
const ROLES: Role[] = ['controlplane', 'etcd', 'worker'];

export interface NodeConfig {
  /** The node's name in the cluster: hostname_override, else address. */
  name: string;
  address: string;
  /** The address other nodes reach it at (--node-ip): internal_address, else address. */
  internalAddress: string;
  port: number;
  user: string;
  sshKeyPath?: string;
  roles: Role[];
  labels: Record<string, string>;
  dataDir: string;
  installPath: string;
}

export interface DrainInput {
  force: boolean;
  ignoreDaemonSets: boolean;
  deleteLocalData: boolean;
  /** Seconds each pod gets to stop (-1: the pod's own terminationGracePeriodSeconds). */
  gracePeriod: number;
  /** Seconds a whole drain may take. */
  timeout: number;
}

export interface ClusterConfig {
  clusterName: string;
  nodes: NodeConfig[];
  /** The k8ts version nodes run: a change upgrades them one at a time. */
  version: string;
  /** A k8ts package on this machine that is copied onto every node (undefined with `binary`). */
  source?: string;
  /** A k8ts already on every node: nothing is copied. */
  binary?: string;
  token?: string;
  datastoreEndpoint?: string;
  clusterCidr?: string;
  serviceCidr?: string;
  clusterDomain?: string;
  httpsPort: number;
  serverExtraArgs: string[];
  agentExtraArgs: string[];
  drain: boolean;
  drainInput: DrainInput;
  /** Seconds a node may take to become Ready. */
  readyTimeout: number;
  sshKnownHosts?: string;
}

export class ConfigError extends Error {}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Obj, key: string, field: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return String(v);
  if (typeof v !== 'string') throw new ConfigError(`${field}: must be a string`);
  return v;
}

function int(o: Obj, key: string, field: string, dflt: number, min: number, max: number): number {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
    throw new ConfigError(`${field}: must be an integer from ${min} to ${max}`);
  return n;
}

function bool(o: Obj, key: string, field: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw new ConfigError(`${field}: must be true or false`);
  return v;
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? homedir() + p.slice(1) : p;
}

function absolutePath(p: string, field: string): string {
  if (!isAbsolute(p)) throw new ConfigError(`${field}: must be an absolute path on the node, not "${p}"`);
  return p;
}

/**
 * RKE's extra_args: a map of flag name to value ({ "node-monitor-grace-period": "20s" }); a list of
 * ready-made arguments is accepted too. Each becomes `--name=value` (or `--name` for true).
 */
function extraArgs(v: unknown, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) {
    return v.map((a, i) => {
      if (typeof a !== 'string') throw new ConfigError(`${field}[${i}]: must be a string`);
      return a;
    });
  }
  if (!isObj(v)) throw new ConfigError(`${field}: must be a map of flag to value`);
  const out: string[] = [];
  for (const [k, val] of Object.entries(v)) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(k)) throw new ConfigError(`${field}.${k}: not a flag name`);
    if (val === true) out.push(`--${k}`);
    else if (typeof val === 'string' || typeof val === 'number') out.push(`--${k}=${val}`);
    else throw new ConfigError(`${field}.${k}: must be a string, a number or true`);
  }
  return out;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const VERSION_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,62}$/;

function parseNode(raw: unknown, i: number, defaults: { user: string; key?: string; installPath: string }) {
  const f = `nodes[${i}]`;
  if (!isObj(raw)) throw new ConfigError(`${f}: must be a map`);
  const address = str(raw, 'address', `${f}.address`);
  if (!address) throw new ConfigError(`${f}.address: required`);
  const roleRaw = raw.role ?? raw.roles;
  const roleList = typeof roleRaw === 'string' ? [roleRaw] : roleRaw;
  if (!Array.isArray(roleList) || roleList.length === 0)
    throw new ConfigError(`${f}.role: required, a list of ${ROLES.join(', ')}`);
  const roles: Role[] = [];
  for (const [j, r] of roleList.entries()) {
    if (!ROLES.includes(r as Role))
      throw new ConfigError(`${f}.role[${j}]: "${String(r)}" is not one of ${ROLES.join(', ')}`);
    if (!roles.includes(r as Role)) roles.push(r as Role);
  }
  if (roles.includes('etcd') && !roles.includes('controlplane'))
    throw new ConfigError(`${f}.role: etcd needs controlplane too (the managed etcd member runs in k8ts server)`);
  const name = (str(raw, 'hostname_override', `${f}.hostname_override`) ?? address).toLowerCase();
  if (!NAME_RE.test(name))
    throw new ConfigError(`${f}.hostname_override: "${name}" is not a valid node name (a DNS subdomain)`);
  const labels: Record<string, string> = {};
  if (raw.labels !== undefined) {
    if (!isObj(raw.labels)) throw new ConfigError(`${f}.labels: must be a map`);
    for (const [k, v] of Object.entries(raw.labels)) {
      if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
        throw new ConfigError(`${f}.labels.${k}: must be a string`);
      labels[k] = String(v);
    }
  }
  const key = str(raw, 'ssh_key_path', `${f}.ssh_key_path`) ?? defaults.key;
  const node: NodeConfig = {
    name,
    address,
    internalAddress: str(raw, 'internal_address', `${f}.internal_address`) ?? address,
    port: int(raw, 'port', `${f}.port`, 22, 1, 65535),
    user: str(raw, 'user', `${f}.user`) ?? defaults.user,
    ...(key ? { sshKeyPath: resolve(expandHome(key)) } : {}),
    roles,
    labels,
    dataDir: absolutePath(str(raw, 'data_dir', `${f}.data_dir`) ?? '/var/lib/k8ts', `${f}.data_dir`),
    installPath: absolutePath(
      str(raw, 'install_path', `${f}.install_path`) ?? defaults.installPath,
      `${f}.install_path`,
    ),
  };
  return node;
}

/** Parses and checks cluster.yml; `baseDir` resolves relative paths of this machine (k8ts_source). */
export function parseClusterConfig(text: string, baseDir: string, defaultSource?: string): ClusterConfig {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch (err) {
    throw new ConfigError(`not YAML: ${(err as Error).message}`);
  }
  if (!isObj(doc)) throw new ConfigError('the file must be a map with a nodes list');
  if (!Array.isArray(doc.nodes) || doc.nodes.length === 0) throw new ConfigError('nodes: required, a non-empty list');
  const installPath = absolutePath(str(doc, 'install_path', 'install_path') ?? '/opt/k8ts', 'install_path');
  const defaults = {
    user: str(doc, 'user', 'user') ?? 'root',
    key: str(doc, 'ssh_key_path', 'ssh_key_path'),
    installPath,
  };
  const nodes = doc.nodes.map((n, i) => parseNode(n, i, defaults));
  const seen = new Map<string, number>();
  for (const [i, n] of nodes.entries()) {
    const prev = seen.get(n.name);
    if (prev !== undefined)
      throw new ConfigError(
        `nodes[${i}]: node name "${n.name}" is already used by nodes[${prev}] (set hostname_override)`,
      );
    seen.set(n.name, i);
  }
  const servers = nodes.filter((n) => n.roles.includes('controlplane'));
  if (servers.length === 0) throw new ConfigError('nodes: at least one node needs the controlplane role');
  const datastoreEndpoint = str(doc, 'datastore_endpoint', 'datastore_endpoint');
  const managedEtcd = nodes.some((n) => n.roles.includes('etcd'));
  if (managedEtcd && datastoreEndpoint)
    throw new ConfigError('datastore_endpoint: not with etcd role nodes (they run the managed etcd datastore)');
  if (servers.length > 1 && !managedEtcd && !datastoreEndpoint)
    throw new ConfigError(
      'nodes: several controlplane nodes need one datastore: give them the etcd role or set datastore_endpoint',
    );
  const versionRaw = str(doc, 'k8ts_version', 'k8ts_version') ?? str(doc, 'kubernetes_version', 'kubernetes_version');
  const binary = str(doc, 'k8ts_binary', 'k8ts_binary');
  const sourceRaw = str(doc, 'k8ts_source', 'k8ts_source');
  if (binary && sourceRaw)
    throw new ConfigError('k8ts_binary: not with k8ts_source (either copy k8ts or use one installed)');
  if (binary) absolutePath(binary, 'k8ts_binary');
  const source = binary ? undefined : sourceRaw ? resolve(baseDir, expandHome(sourceRaw)) : defaultSource;
  if (!binary && !source) throw new ConfigError('k8ts_source: required (no k8ts package to copy)');
  // Without a version: the copied package's own (its package.json); a preinstalled k8ts needs one.
  const version =
    versionRaw ??
    (source && existsSync(join(source, 'package.json'))
      ? (JSON.parse(readFileSync(join(source, 'package.json'), 'utf8')) as { version?: string }).version
      : undefined);
  if (!version) throw new ConfigError('k8ts_version: required');
  if (!VERSION_RE.test(version))
    throw new ConfigError(
      `k8ts_version: "${version}" must be letters, digits, '.', '_', '+' or '-' (a directory name)`,
    );
  const services = doc.services ?? {};
  if (!isObj(services)) throw new ConfigError('services: must be a map');
  const svc = (name: string): Obj => {
    const s = services[name] ?? {};
    if (!isObj(s)) throw new ConfigError(`services.${name}: must be a map`);
    return s;
  };
  const upgrade = doc.upgrade_strategy ?? {};
  if (!isObj(upgrade)) throw new ConfigError('upgrade_strategy: must be a map');
  const di = upgrade.node_drain_input ?? {};
  if (!isObj(di)) throw new ConfigError('upgrade_strategy.node_drain_input: must be a map');
  const dif = 'upgrade_strategy.node_drain_input';
  return {
    clusterName: str(doc, 'cluster_name', 'cluster_name') ?? 'local',
    nodes,
    version,
    ...(source ? { source } : {}),
    ...(binary ? { binary } : {}),
    token: str(doc, 'token', 'token'),
    datastoreEndpoint,
    clusterCidr: str(doc, 'cluster_cidr', 'cluster_cidr'),
    serviceCidr: str(doc, 'service_cidr', 'service_cidr'),
    clusterDomain: str(doc, 'cluster_domain', 'cluster_domain'),
    httpsPort: int(doc, 'https_port', 'https_port', 6443, 1, 65535),
    serverExtraArgs: extraArgs(svc('server').extra_args, 'services.server.extra_args'),
    agentExtraArgs: extraArgs(svc('agent').extra_args, 'services.agent.extra_args'),
    drain: bool(upgrade, 'drain', 'upgrade_strategy.drain', true),
    drainInput: {
      force: bool(di, 'force', `${dif}.force`, true),
      ignoreDaemonSets: bool(di, 'ignore_daemonsets', `${dif}.ignore_daemonsets`, true),
      deleteLocalData: bool(di, 'delete_local_data', `${dif}.delete_local_data`, true),
      gracePeriod: int(di, 'grace_period', `${dif}.grace_period`, -1, -1, 86_400),
      timeout: int(di, 'timeout', `${dif}.timeout`, 120, 1, 86_400),
    },
    readyTimeout: int(doc, 'node_ready_timeout', 'node_ready_timeout', 300, 1, 86_400),
    ...(str(doc, 'ssh_known_hosts', 'ssh_known_hosts')
      ? { sshKnownHosts: resolve(baseDir, expandHome(str(doc, 'ssh_known_hosts', 'ssh_known_hosts')!)) }
      : {}),
  };
}
