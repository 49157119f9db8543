// Charts in OCI registries (Helm's pkg/registry): `oci://HOST/REPO/NAME` pulled and pushed over
// the OCI distribution API with Helm's media types, basic or bearer-token authentication (the
// registry's WWW-Authenticate challenge decides), `--plain-http` and `--insecure-skip-tls-verify`.
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { loadArchive } from '../chart.js';
import { compareSemver, parseConstraints, parseSemver, satisfies } from '../semver.js';

export const HELM_CONFIG_MEDIA_TYPE = 'application/vnd.cncf.helm.config.v1+json';
export const HELM_CHART_MEDIA_TYPE = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';

export interface OciOptions {
  plainHttp?: boolean;
  insecureSkipTlsVerify?: boolean;
  username?: string;
  password?: string;
}

export interface OciRef {
  host: string;
  repository: string;
  tag?: string;
}

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
  annotations?: Record<string, string>;
}

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export const isOciRef = (ref: string) => ref.startsWith('oci://');

/** oci://HOST[:PORT]/PATH[:TAG] */
export function parseOciRef(ref: string): OciRef {
  if (!isOciRef(ref)) throw new Error(`invalid OCI reference: ${ref}`);
  const rest = ref.slice('oci://'.length);
  const slash = rest.indexOf('/');
  if (slash <= 0 || slash === rest.length - 1) throw new Error(`invalid OCI reference: ${ref}: no repository`);
  const host = rest.slice(0, slash);
  let repository = rest.slice(slash + 1).replace(/\/+$/, '');
  let tag: string | undefined;
  const colon = repository.lastIndexOf(':');
  if (colon > repository.lastIndexOf('/')) {
    tag = repository.slice(colon + 1);
    repository = repository.slice(0, colon);
  }
  if (!/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(repository))
    throw new Error(`invalid OCI reference: ${ref}: repository name must be lowercase`);
  return { host, repository, tag };
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Helm's tag spelling of a version: OCI tags cannot hold "+". */
const tagOf = (version: string) => version.replace(/\+/g, '_');

/** A client of one registry host: requests with the challenge-driven authentication it asks for. */
export class RegistryClient {
  private authorization?: string;

  constructor(
    readonly host: string,
    readonly opts: OciOptions = {},
  ) {}

  private get base(): string {
    return `${this.opts.plainHttp ? 'http' : 'https'}://${this.host}`;
  }

  private send(method: string, url: string, headers: Record<string, string>, body?: Buffer): Promise<Answer> {
    const u = new URL(url);
    const request = u.protocol === 'http:' ? httpRequest : httpsRequest;
    return new Promise((resolve, reject) => {
      const req = request(
        u,
        {
          method,
          headers: { ...headers, ...(body ? { 'content-length': String(body.length) } : {}) },
          rejectUnauthorized: !this.opts.insecureSkipTlsVerify,
          timeout: 60_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${url}: timed out`)));
      req.on('error', reject);
      req.end(body);
    });
  }

  /** One registry call: redirects followed (without credentials off the host), a 401 answered once. */
  async call(
    method: string,
    path: string,
    scope: string,
    headers: Record<string, string> = {},
    body?: Buffer,
  ): Promise<Answer> {
    let url = path.startsWith('http') ? path : `${this.base}${path}`;
    for (let hop = 0; hop < 10; hop++) {
      const sameHost = new URL(url).host === this.host;
      const auth: Record<string, string> = sameHost && this.authorization ? { authorization: this.authorization } : {};
      let res = await this.send(method, url, { ...headers, ...auth }, body);
      if (res.status === 401 && sameHost) {
        const before = this.authorization;
        await this.authenticate(String(res.headers['www-authenticate'] ?? ''), scope);
        if (this.authorization !== before)
          res = await this.send(method, url, { ...headers, authorization: this.authorization! }, body);
      }
      if (
        [301, 302, 303, 307, 308].includes(res.status) &&
        res.headers.location &&
        (method === 'GET' || method === 'HEAD')
      ) {
        url = new URL(res.headers.location, url).toString();
        continue;
      }
      return res;
    }
    throw new Error(`${method} ${path}: too many redirects`);
  }

  /** Answers a challenge: Basic with the credentials, Bearer with a token from the realm. */
  private async authenticate(challenge: string, scope: string): Promise<void> {
    const basic =
      this.opts.username !== undefined
        ? `Basic ${Buffer.from(`${this.opts.username}:${this.opts.password ?? ''}`).toString('base64')}`
        : undefined;
    const [scheme] = challenge.split(' ', 1);
    if (scheme.toLowerCase() === 'basic') {
      if (basic) this.authorization = basic;
      return;
    }
    if (scheme.toLowerCase() !== 'bearer') return;
    const params: Record<string, string> = {};
    for (const m of challenge.slice(scheme.length).matchAll(/([a-zA-Z_]+)="([^"]*)"/g)) params[m[1]] = m[2];
    if (!params.realm) return;
    const tokenUrl = new URL(params.realm);
    if (params.service) tokenUrl.searchParams.set('service', params.service);
    tokenUrl.searchParams.set('scope', params.scope ?? scope);
    const res = await this.send('GET', tokenUrl.toString(), basic ? { authorization: basic } : {});
    if (res.status !== 200)
      throw new Error(
        `failed to authorize: ${tokenUrl.origin}${tokenUrl.pathname}: ${res.status} ${res.body.toString()}`,
      );
    const answer = JSON.parse(res.body.toString('utf8')) as { token?: string; access_token?: string };
    const token = answer.token ?? answer.access_token;
    if (!token) throw new Error(`failed to authorize: the token server gave no token`);
    this.authorization = `Bearer ${token}`;
  }

  private failed(what: string, res: Answer): Error {
    let detail = res.body.toString('utf8').trim();
    try {
      const parsed = JSON.parse(detail) as { errors?: { code: string; message: string }[] };
      if (parsed.errors?.length) detail = parsed.errors.map((e) => `${e.code}: ${e.message}`).join('; ');
    } catch {
      // not JSON: the text as it came
    }
    return new Error(`${what}: ${res.status}${detail ? ` ${detail}` : ''}`);
  }

  async tags(repository: string): Promise<string[]> {
    const res = await this.call('GET', `/v2/${repository}/tags/list`, `repository:${repository}:pull`);
    if (res.status !== 200) throw this.failed(`${this.host}/${repository}: listing tags`, res);
    return (JSON.parse(res.body.toString('utf8')) as { tags?: string[] | null }).tags ?? [];
  }

  async manifest(repository: string, reference: string): Promise<{ manifest: Manifest; digest: string }> {
    const res = await this.call('GET', `/v2/${repository}/manifests/${reference}`, `repository:${repository}:pull`, {
      accept: OCI_MANIFEST_MEDIA_TYPE,
    });
    if (res.status === 404) throw new Error(`${this.host}/${repository}:${reference}: not found`);
    if (res.status !== 200) throw this.failed(`${this.host}/${repository}:${reference}`, res);
    return { manifest: JSON.parse(res.body.toString('utf8')) as Manifest, digest: sha256(res.body) };
  }

  async blob(repository: string, d: Descriptor): Promise<Buffer> {
    const res = await this.call('GET', `/v2/${repository}/blobs/${d.digest}`, `repository:${repository}:pull`);
    if (res.status !== 200) throw this.failed(`${this.host}/${repository}@${d.digest}`, res);
    if (sha256(res.body) !== d.digest) throw new Error(`${this.host}/${repository}@${d.digest}: digest mismatch`);
    return res.body;
  }

  /** Uploads a blob unless the registry has it (monolithic upload: POST, then PUT with the digest). */
  async pushBlob(repository: string, data: Buffer): Promise<string> {
    const digest = sha256(data);
    const scope = `repository:${repository}:pull,push`;
    const head = await this.call('HEAD', `/v2/${repository}/blobs/${digest}`, scope);
    if (head.status === 200) return digest;
    const started = await this.call('POST', `/v2/${repository}/blobs/uploads/`, scope, {}, Buffer.alloc(0));
    if (started.status !== 202 || !started.headers.location)
      throw this.failed(`${this.host}/${repository}: starting an upload`, started);
    const location = new URL(started.headers.location, `${this.base}/`);
    location.searchParams.set('digest', digest);
    const done = await this.call(
      'PUT',
      location.toString(),
      scope,
      { 'content-type': 'application/octet-stream' },
      data,
    );
    if (done.status !== 201) throw this.failed(`${this.host}/${repository}: uploading ${digest}`, done);
    return digest;
  }

  async pushManifest(repository: string, tag: string, manifest: Manifest): Promise<string> {
    const body = Buffer.from(JSON.stringify(manifest));
    const res = await this.call(
      'PUT',
      `/v2/${repository}/manifests/${tag}`,
      `repository:${repository}:pull,push`,
      { 'content-type': OCI_MANIFEST_MEDIA_TYPE },
      body,
    );
    if (res.status !== 201) throw this.failed(`${this.host}/${repository}:${tag}: pushing the manifest`, res);
    return sha256(body);
  }
}

export interface OciPulled {
  filename: string;
  version: string;
  data: Buffer;
  /** HOST/REPO/NAME:TAG */
  ref: string;
  digest: string;
}

/**
 * `helm pull oci://...`: the version from the reference's tag or `version` (an exact version, or
 * a constraint matched against the repository's tags, newest first), the chart layer fetched.
 */
export async function pullOci(reference: string, version: string | undefined, opts: OciOptions): Promise<OciPulled> {
  const ref = parseOciRef(reference);
  const client = new RegistryClient(ref.host, opts);
  let tag = ref.tag ?? (version ? tagOf(version) : undefined);
  if (ref.tag && version && tagOf(version) !== ref.tag)
    throw new Error(`chart reference and version mismatch: ${ref.tag} is not ${version}`);
  if (!tag || !isExactVersion(version ?? tag)) {
    const constraint = parseConstraints(version || '>=0.0.0');
    const candidates = (await client.tags(ref.repository))
      .map((t) => {
        try {
          return { t, v: parseSemver(t.replace(/_/g, '+')) };
        } catch {
          return undefined;
        }
      })
      .filter((x) => x !== undefined && satisfies(constraint, x.v))
      .sort((a, b) => compareSemver(b!.v, a!.v));
    if (!candidates[0])
      throw new Error(`could not locate a version matching provided version string ${version ?? ''} in ${reference}`);
    tag = candidates[0].t;
  }
  const { manifest, digest } = await client.manifest(ref.repository, tag);
  const layer = manifest.layers?.find((l) => l.mediaType === HELM_CHART_MEDIA_TYPE);
  if (manifest.config?.mediaType !== HELM_CONFIG_MEDIA_TYPE || !layer)
    throw new Error(
      `${ref.host}/${ref.repository}:${tag}: not a Helm chart (config media type ${manifest.config?.mediaType ?? 'none'})`,
    );
  const data = await client.blob(ref.repository, layer);
  const name = ref.repository.split('/').at(-1)!;
  const chartVersion = tag.replace(/_/g, '+');
  return {
    filename: `${name}-${chartVersion}.tgz`,
    version: chartVersion,
    data,
    ref: `${ref.host}/${ref.repository}:${tag}`,
    digest,
  };
}

function isExactVersion(v: string): boolean {
  try {
    parseSemver(v.replace(/_/g, '+'));
    return /^v?\d/.test(v) && !/[\s<>=~^*|,]|\.x\b/i.test(v);
  } catch {
    return false;
  }
}

/**
 * `helm push CHART.tgz oci://HOST/PATH`: the chart goes to HOST/PATH/NAME:VERSION as a config
 * blob (Chart.yaml as JSON) and one layer (the archive), in an OCI image manifest.
 */
export async function pushOci(
  archive: Buffer,
  remote: string,
  opts: OciOptions,
): Promise<{ ref: string; digest: string }> {
  if (!isOciRef(remote)) throw new Error(`scheme prefix missing from remote (e.g. "oci://"): ${remote}`);
  const [host, ...path] = remote.slice('oci://'.length).replace(/\/+$/, '').split('/');
  const chart = loadArchive(archive);
  const { name, version } = chart.metadata;
  const target = parseOciRef(`oci://${host}/${[...path, name].join('/')}`);
  if (target.tag) throw new Error(`tag is not allowed in the push reference: ${remote}`);
  const repository = target.repository;
  const client = new RegistryClient(target.host, opts);
  const config = Buffer.from(JSON.stringify(chart.metadata));
  const configDigest = await client.pushBlob(repository, config);
  const layerDigest = await client.pushBlob(repository, archive);
  const annotations: Record<string, string> = {
    'org.opencontainers.image.created': new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    'org.opencontainers.image.title': name,
    'org.opencontainers.image.version': version,
  };
  if (chart.metadata.description) annotations['org.opencontainers.image.description'] = chart.metadata.description;
  const digest = await client.pushManifest(repository, tagOf(version), {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST_MEDIA_TYPE,
    config: { mediaType: HELM_CONFIG_MEDIA_TYPE, digest: configDigest, size: config.length },
    layers: [{ mediaType: HELM_CHART_MEDIA_TYPE, digest: layerDigest, size: archive.length }],
    annotations,
  });
  return { ref: `${host}/${repository}:${tagOf(version)}`, digest };
}

/** The registry flags Helm's pull, push, install, upgrade and template take. */
export function ociOptions(flag: (name: string) => string | undefined): OciOptions {
  const on = (name: string) => {
    const v = flag(name);
    return v !== undefined && v !== 'false';
  };
  return {
    plainHttp: on('--plain-http'),
    insecureSkipTlsVerify: on('--insecure-skip-tls-verify'),
    username: flag('--username'),
    password: flag('--password'),
  };
}
