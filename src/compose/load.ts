// Reading a Compose file (the Compose Specification): YAML with anchors and merge keys, variable
// interpolation from the environment and the project's .env file (${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, $VAR, $$ for a dollar), and the short and long syntaxes of each
// field normalised into one shape, so convert.ts sees a single form. Several files, `extends` and
// `profiles` are combined first (merge.ts).
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import YAML from 'yaml';
import { mergeDocuments, readDocument, resolveExtends, withProfiles } from './merge.js';

export interface PortMapping {
  target: number;
  published?: number;
  hostIp?: string;
  protocol: 'TCP' | 'UDP';
}

export interface VolumeMount {
  type: 'volume' | 'bind' | 'tmpfs';
  /** Named volume or host path (resolved); undefined: an anonymous volume. */
  source?: string;
  target: string;
  readOnly: boolean;
}

export interface FileRef {
  source: string;
  target?: string;
  mode?: number;
}

export interface Healthcheck {
  test?: string[];
  disable?: boolean;
  interval?: string;
  timeout?: string;
  retries?: number;
  start_period?: string;
}

export interface Dependency {
  condition: 'service_started' | 'service_healthy' | 'service_completed_successfully';
}

export interface Service {
  name: string;
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment: Record<string, string>;
  ports: PortMapping[];
  expose: number[];
  volumes: VolumeMount[];
  dependsOn: Record<string, Dependency>;
  healthcheck?: Healthcheck;
  replicas?: number;
  resources: { limits?: { cpus?: string; memory?: string }; reservations?: { cpus?: string; memory?: string } };
  restart?: string;
  configs: FileRef[];
  secrets: FileRef[];
  labels: Record<string, string>;
  networks: string[];
  workingDir?: string;
  user?: string;
  hostname?: string;
  privileged?: boolean;
  tty?: boolean;
  stdinOpen?: boolean;
  /** Keys k8ts does not translate (reported as warnings). */
  ignored: string[];
}

export interface FileSource {
  file?: string;
  content?: string;
  environment?: string;
  external?: boolean;
  name?: string;
}

export interface Project {
  name: string;
  /** The directory relative paths are resolved against. */
  dir: string;
  services: Service[];
  volumes: Record<string, { external?: boolean; name?: string; size?: string }>;
  configs: Record<string, FileSource>;
  secrets: Record<string, FileSource>;
  networks: Record<string, { external?: boolean; name?: string }>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The .env format: KEY=VALUE lines, # comments, optional quotes, `export ` prefixes. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim().replace(/^export\s+/, '');
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    let value = line.slice(eq + 1).trim();
    const quoted = /^(['"])(.*)\1$/.exec(value);
    if (quoted) value = quoted[1] === '"' ? quoted[2].replace(/\\n/g, '\n').replace(/\\"/g, '"') : quoted[2];
    else value = value.replace(/\s+#.*$/, '');
    out[key] = value;
  }
  return out;
}

/** Compose's interpolation of one string. */
export function interpolate(text: string, env: Record<string, string | undefined>): string {
  return text.replace(
    /\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g,
    (all, braced?: string, op?: string, arg?: string, bare?: string) => {
      if (all === '$$') return '$';
      const name = braced ?? bare ?? '';
      const value = env[name];
      const unsetOrEmpty = value === undefined || (op?.startsWith(':') && value === '');
      switch (op?.replace(':', '')) {
        case '-':
          return unsetOrEmpty ? interpolate(arg ?? '', env) : (value ?? '');
        case '+':
          return unsetOrEmpty ? '' : interpolate(arg ?? '', env);
        case '?':
          if (unsetOrEmpty) throw new Error(`required variable ${name} is missing a value: ${arg ?? ''}`);
          return value ?? '';
        default:
          return value ?? '';
      }
    },
  );
}

function interpolateAll(v: unknown, env: Record<string, string | undefined>): unknown {
  if (typeof v === 'string') return interpolate(v, env);
  if (Array.isArray(v)) return v.map((x) => interpolateAll(x, env));
  if (isObj(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, interpolateAll(x, env)]));
  return v;
}

/** Splits a command string as a POSIX shell would split words (quotes and backslashes). */
export function shellSplit(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && quote === '"' && i + 1 < s.length && '"\\$`'.includes(s[i + 1])) cur += s[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < s.length) {
      cur += s[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new Error(`unterminated quote in ${JSON.stringify(s)}`);
  if (inWord) out.push(cur);
  return out;
}

const str = (v: unknown): string | undefined =>
  v === undefined || v === null ? undefined : typeof v === 'string' ? v : JSON.stringify(v);

function commandOf(v: unknown): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return shellSplit(v);
  if (Array.isArray(v)) return v.map((x) => String(x));
  throw new Error(`a command must be a string or a list, not ${JSON.stringify(v)}`);
}

/** `KEY=VAL` lists and maps; a bare `KEY` takes the value from the environment (or is dropped). */
function keyValues(v: unknown, env: Record<string, string | undefined>, what: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (v === undefined || v === null) return out;
  if (Array.isArray(v)) {
    for (const item of v) {
      const s = String(item);
      const eq = s.indexOf('=');
      if (eq >= 0) out[s.slice(0, eq)] = s.slice(eq + 1);
      else if (env[s] !== undefined) out[s] = env[s];
    }
  } else if (isObj(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (x === null || x === undefined) {
        if (env[k] !== undefined) out[k] = env[k];
      } else out[k] = str(x) ?? '';
    }
  } else throw new Error(`${what} must be a list or a map`);
  return out;
}

export function parsePort(v: unknown): PortMapping[] {
  if (isObj(v)) {
    const target = Number(v.target);
    if (!Number.isInteger(target)) throw new Error(`port ${JSON.stringify(v)}: target is required`);
    return [
      {
        target,
        published: v.published === undefined ? undefined : Number(v.published),
        hostIp: str(v.host_ip),
        protocol: (str(v.protocol) ?? 'tcp').toUpperCase() === 'UDP' ? 'UDP' : 'TCP',
      },
    ];
  }
  const s = String(v);
  const m = /^(?:(?:\[?([0-9a-fA-F.:]+?)\]?:)?(\d+(?:-\d+)?)?:)?(\d+(?:-\d+)?)(?:\/(tcp|udp))?$/i.exec(s);
  if (!m) throw new Error(`invalid port "${s}"`);
  const protocol = m[4]?.toUpperCase() === 'UDP' ? 'UDP' : 'TCP';
  const range = (r: string) => {
    const [a, b] = r.split('-').map(Number);
    return Array.from({ length: (b ?? a) - a + 1 }, (_, i) => a + i);
  };
  const targets = range(m[3]);
  const published = m[2] ? range(m[2]) : undefined;
  if (published && published.length !== targets.length) throw new Error(`invalid port "${s}": ranges differ`);
  return targets.map((target, i) => ({ target, published: published?.[i], hostIp: m[1], protocol }));
}

function parseVolume(v: unknown, dir: string): VolumeMount {
  const resolveBind = (p: string) =>
    p.startsWith('~') ? resolve(process.env.HOME ?? '/', p.slice(2)) : resolve(dir, p);
  if (isObj(v)) {
    const type = (str(v.type) ?? 'volume') as VolumeMount['type'];
    const target = str(v.target);
    if (!target) throw new Error(`volume ${JSON.stringify(v)}: target is required`);
    const source = str(v.source);
    return {
      type,
      source: type === 'bind' && source ? resolveBind(source) : source,
      target,
      readOnly: v.read_only === true,
    };
  }
  const parts = String(v).split(':');
  if (parts.length === 1) return { type: 'volume', target: parts[0], readOnly: false };
  const [source, target, mode = ''] = parts;
  const readOnly = mode.split(',').includes('ro');
  const isPath = source.startsWith('.') || source.startsWith('/') || source.startsWith('~');
  return isPath
    ? { type: 'bind', source: resolveBind(source), target, readOnly }
    : { type: 'volume', source, target, readOnly };
}

function fileRefs(v: unknown): FileRef[] {
  if (!Array.isArray(v)) return [];
  return v.map((x) =>
    isObj(x)
      ? {
          source: String(x.source),
          target: str(x.target),
          mode: typeof x.mode === 'number' ? x.mode : x.mode ? parseInt(str(x.mode) ?? '', 8) : undefined,
        }
      : { source: String(x) },
  );
}

function dependencies(v: unknown): Record<string, Dependency> {
  if (Array.isArray(v)) return Object.fromEntries(v.map((d) => [String(d), { condition: 'service_started' as const }]));
  if (isObj(v))
    return Object.fromEntries(
      Object.entries(v).map(([k, d]) => [
        k,
        { condition: ((isObj(d) && str(d.condition)) || 'service_started') as Dependency['condition'] },
      ]),
    );
  return {};
}

function healthcheck(v: unknown): Healthcheck | undefined {
  if (!isObj(v)) return undefined;
  let test: string[] | undefined;
  if (typeof v.test === 'string') test = ['CMD-SHELL', v.test];
  else if (Array.isArray(v.test)) test = v.test.map((x) => String(x));
  return {
    test,
    disable: v.disable === true,
    interval: str(v.interval),
    timeout: str(v.timeout),
    retries: v.retries === undefined ? undefined : Number(v.retries),
    start_period: str(v.start_period),
  };
}

const SERVICE_KEYS = new Set([
  'image',
  'build',
  'command',
  'entrypoint',
  'environment',
  'env_file',
  'ports',
  'expose',
  'volumes',
  'depends_on',
  'healthcheck',
  'deploy',
  'restart',
  'configs',
  'secrets',
  'labels',
  'networks',
  'working_dir',
  'user',
  'hostname',
  'privileged',
  'tty',
  'stdin_open',
  'container_name',
  'scale',
  'extends',
  'profiles',
]);

function parseService(name: string, raw: Obj, dir: string, env: Record<string, string | undefined>): Service {
  const envFiles = raw.env_file === undefined ? [] : Array.isArray(raw.env_file) ? raw.env_file : [raw.env_file];
  const environment: Record<string, string> = {};
  for (const f of envFiles) {
    const path = resolve(dir, isObj(f) ? String(f.path) : String(f));
    const required = !(isObj(f) && f.required === false);
    if (!existsSync(path)) {
      if (required) throw new Error(`service "${name}": env file ${path} not found`);
      continue;
    }
    Object.assign(environment, parseEnvFile(readFileSync(path, 'utf8')));
  }
  Object.assign(environment, keyValues(raw.environment, env, `service "${name}" environment`));
  const deploy = isObj(raw.deploy) ? raw.deploy : {};
  const resources = isObj(deploy.resources) ? deploy.resources : {};
  const limitsOf = (v: unknown) => (isObj(v) ? { cpus: str(v.cpus), memory: str(v.memory) } : undefined);
  const restartPolicy = isObj(deploy.restart_policy) ? deploy.restart_policy : undefined;
  let restart = str(raw.restart);
  if (restartPolicy?.condition) {
    const cond = str(restartPolicy.condition) ?? '';
    const max = restartPolicy.max_attempts === undefined ? '' : `:${str(restartPolicy.max_attempts) ?? ''}`;
    restart = cond === 'none' ? 'no' : cond === 'on-failure' ? `on-failure${max}` : 'always';
  }
  const networks = Array.isArray(raw.networks)
    ? raw.networks.map((n) => String(n))
    : isObj(raw.networks)
      ? Object.keys(raw.networks)
      : ['default'];
  return {
    name,
    image: str(raw.image),
    build: raw.build,
    command: commandOf(raw.command),
    entrypoint: commandOf(raw.entrypoint),
    environment,
    ports: (Array.isArray(raw.ports) ? raw.ports : []).flatMap(parsePort),
    expose: (Array.isArray(raw.expose) ? raw.expose : []).flatMap((e) => parsePort(e).map((p) => p.target)),
    volumes: (Array.isArray(raw.volumes) ? raw.volumes : []).map((v) => parseVolume(v, dir)),
    dependsOn: dependencies(raw.depends_on),
    healthcheck: healthcheck(raw.healthcheck),
    replicas:
      deploy.replicas !== undefined ? Number(deploy.replicas) : raw.scale !== undefined ? Number(raw.scale) : undefined,
    resources: { limits: limitsOf(resources.limits), reservations: limitsOf(resources.reservations) },
    restart,
    configs: fileRefs(raw.configs),
    secrets: fileRefs(raw.secrets),
    labels: {
      ...keyValues(raw.labels, {}, `service "${name}" labels`),
      ...keyValues(deploy.labels, {}, `service "${name}" deploy.labels`),
    },
    networks,
    workingDir: str(raw.working_dir),
    user: str(raw.user),
    hostname: str(raw.hostname),
    privileged: raw.privileged === true,
    tty: raw.tty === true,
    stdinOpen: raw.stdin_open === true,
    ignored: Object.keys(raw).filter((k) => !SERVICE_KEYS.has(k) && !k.startsWith('x-')),
  };
}

function fileSources(v: unknown): Record<string, FileSource> {
  if (!isObj(v)) return {};
  return Object.fromEntries(
    Object.entries(v).map(([k, s]) => [
      k,
      isObj(s)
        ? {
            file: str(s.file),
            content: str(s.content),
            environment: str(s.environment),
            external: s.external === true,
            name: str(s.name),
          }
        : {},
    ]),
  );
}

/** A Compose project name: lowercase letters, digits, dashes and underscores, as Compose normalises it. */
export function projectName(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

/** Parses a Compose file's text (`path` names it and fixes the project directory). */
export function parseCompose(
  text: string,
  path: string,
  opts: { env?: Record<string, string | undefined>; projectName?: string; profiles?: string[] } = {},
): Project {
  return parseComposeFiles([{ text, path }], opts);
}

/**
 * Parses several Compose files as one project (`-f a.yml -f b.yml`: later files override earlier
 * ones; the first fixes the project directory), with `extends` resolved and only the services
 * of the active profiles (`profiles`, else $COMPOSE_PROFILES) kept.
 */
export function parseComposeFiles(
  files: { text: string; path: string }[],
  opts: { env?: Record<string, string | undefined>; projectName?: string; profiles?: string[] } = {},
): Project {
  if (files.length === 0) throw new Error('no Compose file given');
  const path = files[0].path;
  const dir = dirname(resolve(path));
  const dotenv = existsSync(resolve(dir, '.env')) ? parseEnvFile(readFileSync(resolve(dir, '.env'), 'utf8')) : {};
  // The shell's environment wins over .env, as in Compose.
  const env = { ...dotenv, ...(opts.env ?? process.env) };
  const docs = files.map((f) => {
    const doc: unknown = YAML.parse(f.text, { merge: true });
    if (!isObj(doc)) throw new Error(`${f.path}: not a Compose file (expected a map at the top)`);
    return interpolateAll(doc, env) as Obj;
  });
  const profiles = opts.profiles ?? (env.COMPOSE_PROFILES ?? '').split(',').filter((p) => p !== '');
  const raw = withProfiles(
    resolveExtends(mergeDocuments(docs), dir, (p) => readDocument(p, (d) => interpolateAll(d, env))),
    profiles,
  );
  if (!isObj(raw.services)) throw new Error(`${path}: no services`);
  const services = Object.entries(raw.services).map(([name, s]) => parseService(name, isObj(s) ? s : {}, dir, env));
  const volumes: Project['volumes'] = {};
  for (const [k, v] of Object.entries(isObj(raw.volumes) ? raw.volumes : {})) {
    const opts2 = isObj(v) && isObj(v.driver_opts) ? v.driver_opts : {};
    volumes[k] = {
      external: isObj(v) && v.external === true,
      name: isObj(v) ? str(v.name) : undefined,
      size: str(opts2.size),
    };
  }
  const networks: Project['networks'] = {};
  for (const [k, v] of Object.entries(isObj(raw.networks) ? raw.networks : {}))
    networks[k] = { external: isObj(v) && v.external === true, name: isObj(v) ? str(v.name) : undefined };
  return {
    name: projectName(opts.projectName ?? str(raw.name) ?? basename(dir)),
    dir,
    services: services.sort((a, b) => a.name.localeCompare(b.name)),
    volumes,
    configs: fileSources(raw.configs),
    secrets: fileSources(raw.secrets),
    networks,
  };
}
