// Helm 3 releases: the release record in Helm's JSON shape (pkg/release) and its storage as
// Secrets (pkg/storage/driver/secrets.go): one Secret `sh.helm.release.v1.NAME.vN` per revision,
// type helm.sh/release.v1, labels owner=helm,name,status,version, and data.release holding
// base64(gzip(JSON)) - so a real `helm` finds, lists and upgrades what k8ts installed.
import { gunzipSync, gzipSync, constants as zlib } from 'node:zlib';
import type { Secret } from 'kubernetes-types/core/v1.js';
import { R, type Client } from '../../client/client.js';
import { isNotFound } from '../../client/errors.js';
import type { Chart, ChartFile, Metadata } from '../chart.js';
import type { GoMap } from '../template/values.js';

/** Go's zero time.Time as encoding/json writes it (Info.deleted when not deleted). */
export const ZERO_TIME = '0001-01-01T00:00:00Z';

export type ReleaseStatus =
  | 'unknown'
  | 'deployed'
  | 'uninstalled'
  | 'superseded'
  | 'failed'
  | 'uninstalling'
  | 'pending-install'
  | 'pending-upgrade'
  | 'pending-rollback';

export interface ReleaseHook {
  name: string;
  kind: string;
  path: string;
  manifest: string;
  events: string[];
  last_run: { started_at: string; completed_at: string; phase: string };
  weight: number;
  delete_policies: string[];
}

export interface ReleaseInfo {
  first_deployed: string;
  last_deployed: string;
  deleted: string;
  description?: string;
  status: ReleaseStatus;
  notes?: string;
}

interface StoredFile {
  name: string;
  /** base64, as Go's []byte marshals. */
  data: string;
}

export interface StoredChart {
  metadata: Metadata;
  lock: null;
  templates: StoredFile[];
  values: GoMap;
  schema: string | null;
  files: StoredFile[];
}

export interface Release {
  name: string;
  info: ReleaseInfo;
  chart: StoredChart;
  config?: GoMap;
  manifest?: string;
  hooks?: ReleaseHook[];
  version: number;
  namespace: string;
}

/** A Go-compatible RFC 3339 timestamp (time.Time's JSON form). */
export function now(): string {
  return new Date().toISOString();
}

const storedFile = (f: ChartFile): StoredFile => ({ name: f.name, data: f.data.toString('base64') });

/** The chart as a release stores it: Go's chart.Chart JSON (subcharts are not part of it, as in Helm). */
export function storedChart(c: Chart): StoredChart {
  const metadata = Object.fromEntries(
    Object.entries(c.metadata).filter(([, v]) => v !== undefined && v !== '' && v !== false),
  ) as unknown as Metadata;
  return {
    metadata,
    lock: null,
    templates: c.templates.map(storedFile),
    values: c.values,
    schema: c.schema === undefined ? null : Buffer.from(c.schema).toString('base64'),
    files: c.files.map(storedFile),
  };
}

/** JSON of values that may hold int64s (bigint) from --set. */
export function valuesJson(v: unknown, indent?: number): string {
  return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? Number(x) : x), indent);
}

export function encodeRelease(r: Release): string {
  // Fields in the order of Go's struct (encoding/json writes them so); omitempty ones left out when empty.
  const ordered = {
    name: r.name,
    info: r.info,
    chart: r.chart,
    config: r.config && Object.keys(r.config).length > 0 ? r.config : undefined,
    manifest: r.manifest || undefined,
    hooks: r.hooks?.length ? r.hooks : undefined,
    version: r.version,
    namespace: r.namespace,
  };
  return gzipSync(Buffer.from(valuesJson(ordered)), { level: zlib.Z_BEST_COMPRESSION }).toString('base64');
}

export function decodeRelease(data: string): Release {
  const raw = Buffer.from(data, 'base64');
  const json = raw[0] === 0x1f && raw[1] === 0x8b && raw[2] === 0x08 ? gunzipSync(raw) : raw;
  return JSON.parse(json.toString('utf8')) as Release;
}

export const secretName = (name: string, version: number) => `sh.helm.release.v1.${name}.v${version}`;
export const RELEASE_SECRET_TYPE = 'helm.sh/release.v1';

/** Helm's storage over Secrets in the release's namespace. */
export class ReleaseStorage {
  constructor(private readonly client: Client) {}

  private secrets(ns: string | undefined) {
    return this.client.resource(R.secrets).namespace(ns);
  }

  private toSecret(r: Release, timeLabel: 'createdAt' | 'modifiedAt'): Secret {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: secretName(r.name, r.version),
        namespace: r.namespace,
        labels: {
          name: r.name,
          owner: 'helm',
          status: r.info.status,
          version: String(r.version),
          [timeLabel]: String(Math.floor(Date.now() / 1000)),
        },
      },
      type: RELEASE_SECRET_TYPE,
      // Secret.data is []byte holding the base64 text, so it is base64 once more on the wire.
      data: { release: Buffer.from(encodeRelease(r)).toString('base64') },
    };
  }

  private static fromSecret(s: Secret): Release {
    const data = s.data?.release;
    if (!data) throw new Error(`release secret ${s.metadata?.name} has no data`);
    return decodeRelease(Buffer.from(data, 'base64').toString('utf8'));
  }

  async create(r: Release): Promise<void> {
    await this.secrets(r.namespace).create(this.toSecret(r, 'createdAt'));
  }

  async update(r: Release): Promise<void> {
    const secrets = this.secrets(r.namespace);
    const current = await secrets.get(secretName(r.name, r.version));
    const next = this.toSecret(r, 'modifiedAt');
    const created = current.metadata?.labels?.createdAt;
    await secrets.update({
      ...next,
      metadata: {
        ...next.metadata,
        resourceVersion: current.metadata?.resourceVersion,
        labels: { ...next.metadata?.labels, ...(created ? { createdAt: created } : {}) },
      },
    });
  }

  async delete(r: Release): Promise<void> {
    try {
      await this.secrets(r.namespace).delete(secretName(r.name, r.version));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Every release record (all revisions) in a namespace, or all namespaces when undefined. */
  async list(ns: string | undefined, name?: string): Promise<Release[]> {
    const selector = name ? `name=${name},owner=helm` : 'owner=helm';
    const list = await this.secrets(ns).list({ labelSelector: selector });
    const out: Release[] = [];
    for (const s of list.items) {
      if (s.type !== RELEASE_SECRET_TYPE) continue;
      try {
        out.push(ReleaseStorage.fromSecret(s));
      } catch {
        // a record another tool broke: skipped, as Helm's list skips undecodable ones
      }
    }
    return out;
  }

  /** All revisions of one release, oldest first. */
  async history(name: string, ns: string): Promise<Release[]> {
    return (await this.list(ns, name)).sort((a, b) => a.version - b.version);
  }

  async get(name: string, ns: string, version: number): Promise<Release> {
    try {
      return ReleaseStorage.fromSecret(await this.secrets(ns).get(secretName(name, version)));
    } catch (e) {
      if (isNotFound(e)) throw new Error('release: not found', { cause: e });
      throw e;
    }
  }

  /** The newest revision (storage.Last). */
  async last(name: string, ns: string): Promise<Release | undefined> {
    return (await this.history(name, ns)).at(-1);
  }

  /** The revision currently deployed (storage.Deployed). */
  async deployed(name: string, ns: string): Promise<Release | undefined> {
    return (await this.history(name, ns)).filter((r) => r.info.status === 'deployed').at(-1);
  }
}
