// Helm releases, read where Helm 3 keeps them (its default Secret driver): one Secret per
// revision, `sh.helm.release.v1.NAME.vN`, type helm.sh/release.v1, labelled owner=helm, name,
// version and status; its `release` key holds the release as gzipped JSON in base64. Listed live
// (a watch of those Secrets); a release's page shows its history and each revision's values.
import { useEffect, useMemo, useState } from 'react';
import { stringify } from 'yaml';
import { listWatch, type KubeObject, type ListOf } from './api.js';
import { applyEvent } from './live.js';

interface HelmRelease {
  name: string;
  namespace: string;
  version: number;
  info?: { status?: string; description?: string; last_deployed?: string; notes?: string };
  chart?: { metadata?: { name?: string; version?: string; appVersion?: string } };
  config?: Record<string, unknown>;
  manifest?: string;
}

const bytesOf = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** A release Secret's `release` value: base64 (the Secret's) of base64 of gzip of JSON. */
export async function decodeRelease(secret: KubeObject): Promise<HelmRelease> {
  const data = (secret.data ?? {}) as Record<string, string>;
  const inner = bytesOf(new TextDecoder().decode(bytesOf(data.release ?? '')));
  const gzipped = inner[0] === 0x1f && inner[1] === 0x8b;
  const json = gzipped
    ? await new Response(new Blob([inner]).stream().pipeThrough(new DecompressionStream('gzip'))).text()
    : new TextDecoder().decode(inner);
  return JSON.parse(json) as HelmRelease;
}

const label = (s: KubeObject, key: string) => s.metadata.labels?.[key] ?? '';

function Release({ revisions }: { revisions: KubeObject[] }) {
  const [chosen, setChosen] = useState(revisions[0]);
  const [release, setRelease] = useState<HelmRelease | undefined>();
  const [error, setError] = useState('');
  useEffect(() => {
    setRelease(undefined);
    decodeRelease(chosen).then(setRelease, (e: Error) => setError(e.message));
  }, [chosen]);
  return (
    <div className="helm-release">
      <h3>History</h3>
      <table>
        <thead>
          <tr>
            <th>Revision</th>
            <th>Status</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {revisions.map((s) => (
            <tr key={s.metadata.uid} className={s === chosen ? 'chosen' : ''}>
              <td>
                <a
                  href="#"
                  onClick={(e) => {
                    e.preventDefault();
                    setChosen(s);
                  }}
                >
                  {label(s, 'version')}
                </a>
              </td>
              <td>{label(s, 'status')}</td>
              <td>{s.metadata.creationTimestamp}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {error && <p className="error">{error}</p>}
      {release && (
        <>
          <p>
            Revision {release.version}: chart {release.chart?.metadata?.name} {release.chart?.metadata?.version}
            {release.chart?.metadata?.appVersion && ` (app ${release.chart.metadata.appVersion})`} —{' '}
            {release.info?.description}
          </p>
          <h3>Values</h3>
          <pre data-testid="helm-values">{stringify(release.config ?? {})}</pre>
          <details>
            <summary>Manifest</summary>
            <pre>{release.manifest}</pre>
          </details>
        </>
      )}
    </div>
  );
}

export function HelmReleases({ namespace }: { namespace: string }) {
  const [secrets, setSecrets] = useState<KubeObject[]>([]);
  const [error, setError] = useState('');
  const [open, setOpen] = useState<string | undefined>();
  useEffect(() => {
    const ns = namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
    return listWatch<ListOf<KubeObject>, KubeObject>(`/api/v1${ns}/secrets?labelSelector=owner%3Dhelm`, {
      list: (l) => setSecrets(l.items),
      event: (e) => setSecrets((prev) => applyEvent(prev, e)),
      error: (err) => setError(err instanceof Error ? err.message : String(err)),
    });
  }, [namespace]);
  const releases = useMemo(() => {
    const byRelease = new Map<string, KubeObject[]>();
    for (const s of secrets) {
      if (s.type !== 'helm.sh/release.v1') continue;
      const key = `${s.metadata.namespace ?? ''}/${label(s, 'name')}`;
      byRelease.set(key, [...(byRelease.get(key) ?? []), s]);
    }
    for (const revisions of byRelease.values())
      revisions.sort((a, b) => Number(label(b, 'version')) - Number(label(a, 'version')));
    return [...byRelease].sort(([a], [b]) => a.localeCompare(b));
  }, [secrets]);
  return (
    <section className="helm">
      <h2>
        Helm releases <small>{namespace || 'all namespaces'}</small>
      </h2>
      {error && <p className="error">{error}</p>}
      {releases.length === 0 && <p>No Helm releases (Helm 3, Secret storage).</p>}
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Namespace</th>
            <th>Revision</th>
            <th>Status</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {releases.map(([key, revisions]) => (
            <tr key={key} data-release={label(revisions[0], 'name')}>
              <td>
                <a
                  href="#"
                  onClick={(e) => {
                    e.preventDefault();
                    setOpen(open === key ? undefined : key);
                  }}
                >
                  {label(revisions[0], 'name')}
                </a>
              </td>
              <td>{revisions[0].metadata.namespace}</td>
              <td>{label(revisions[0], 'version')}</td>
              <td>{label(revisions[0], 'status')}</td>
              <td>{revisions[0].metadata.creationTimestamp}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {open && releases.find(([k]) => k === open) && (
        <Release key={open} revisions={releases.find(([k]) => k === open)![1]} />
      )}
    </section>
  );
}
