// Chart repositories (Helm's repo.IndexFile over HTTP(S)) and chart archives: `chart pull`
// picks the newest version matching a semver constraint from index.yaml and downloads it;
// `chart package` writes NAME-VERSION.tgz as Helm does (every file under a NAME/ directory).
import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { chartDirFiles, loadDir } from '../chart.js';
import { compareSemver, parseConstraints, parseSemver, satisfies } from '../semver.js';
import { writeTarGz } from '../tar.js';
import { parseYaml } from '../yaml.js';

interface IndexEntry {
  name?: string;
  version?: string;
  urls?: string[];
  digest?: string;
}

export interface PullRequest {
  repo: string;
  chart: string;
  /** A semver constraint (Helm's --version); empty: the newest non-prerelease version. */
  version?: string;
  /** Also consider prereleases when no version is given (--devel). */
  devel?: boolean;
}

export interface Pulled {
  filename: string;
  version: string;
  data: Buffer;
}

async function download(url: string): Promise<Buffer> {
  let res: Response;
  try {
    res = await fetch(url);
  } catch (e) {
    throw new Error(
      `looks like "${url}" is not a valid chart repository or cannot be reached: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (!res.ok) throw new Error(`failed to fetch ${url} : ${res.status} ${res.statusText}`);
  return Buffer.from(await res.arrayBuffer());
}

const withSlash = (u: string) => (u.endsWith('/') ? u : u + '/');

export async function pullChart(r: PullRequest): Promise<Pulled> {
  const indexUrl = new URL('index.yaml', withSlash(r.repo)).toString();
  const index = parseYaml((await download(indexUrl)).toString('utf8')) as { entries?: Record<string, IndexEntry[]> };
  const versions = index?.entries?.[r.chart];
  if (!versions?.length) throw new Error(`chart "${r.chart}" not found in ${r.repo} repository`);
  const constraint = parseConstraints(r.version || (r.devel ? '>=0.0.0-0' : '>=0.0.0'));
  const candidates = versions
    .map((e) => {
      try {
        return { e, v: parseSemver(e.version ?? '') };
      } catch {
        return undefined;
      }
    })
    .filter((x) => x !== undefined && satisfies(constraint, x.v))
    .sort((a, b) => compareSemver(b!.v, a!.v));
  const best = candidates[0];
  if (!best?.e.urls?.length)
    throw new Error(
      `chart "${r.chart}"${r.version ? ` version "${r.version}"` : ''} not found in ${r.repo} repository`,
    );
  const url = new URL(best.e.urls[0], withSlash(r.repo)).toString();
  const data = await download(url);
  if (best.e.digest && createHash('sha256').update(data).digest('hex') !== best.e.digest)
    throw new Error(`digest mismatch for ${url}`);
  return { filename: basename(new URL(url).pathname), version: best.e.version!, data };
}

/** A chart directory as Helm's archive: NAME-VERSION.tgz with NAME/ in front of every path. */
export function packageChart(
  dir: string,
  opts: { version?: string; appVersion?: string } = {},
): {
  filename: string;
  data: Buffer;
} {
  const chart = loadDir(dir);
  const files = chartDirFiles(dir);
  if (opts.version || opts.appVersion) {
    const chartYaml = files.find((f) => f.name === 'Chart.yaml')!;
    let text = chartYaml.data.toString('utf8');
    const setField = (k: string, v: string) => {
      const line = `${k}: ${JSON.stringify(v)}`;
      text = new RegExp(`^${k}:.*$`, 'm').test(text)
        ? text.replace(new RegExp(`^${k}:.*$`, 'm'), line)
        : `${text.trimEnd()}\n${line}\n`;
    };
    if (opts.version) setField('version', opts.version);
    if (opts.appVersion) setField('appVersion', opts.appVersion);
    chartYaml.data = Buffer.from(text);
  }
  const name = chart.metadata.name;
  const version = opts.version ?? chart.metadata.version;
  const data = writeTarGz(files.map((f) => ({ name: `${name}/${f.name}`, data: f.data })));
  return { filename: `${name}-${version}.tgz`, data };
}

/** An index.yaml for archives (`helm repo index`), used to serve a directory of packages. */
export function indexFor(
  charts: { name: string; version: string; appVersion?: string; filename: string; data: Buffer }[],
): string {
  const entries: Record<string, unknown[]> = {};
  for (const c of charts)
    (entries[c.name] ??= []).push({
      apiVersion: 'v2',
      name: c.name,
      version: c.version,
      appVersion: c.appVersion,
      urls: [c.filename],
      digest: createHash('sha256').update(c.data).digest('hex'),
      created: new Date().toISOString(),
    });
  return JSON.stringify({ apiVersion: 'v1', entries, generated: new Date().toISOString() }, null, 2) + '\n';
}
