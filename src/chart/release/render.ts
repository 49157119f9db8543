// Rendering for a release (Helm's action.Configuration.renderResources): the same engine and
// manifest sorting as `chart template`, returning the parts a release stores separately: the
// manifest text, the hooks, the root chart's NOTES.txt, and the crds/ files to install first.
import { capabilitiesObject, DEFAULT_KUBE_VERSION, kubeVersionString, type KubeVersion } from '../capabilities.js';
import { chartFullPath, crdFiles, type Chart } from '../chart.js';
import { render } from '../engine.js';
import { sortManifests } from '../manifests.js';
import { isCompatibleRange } from '../semver.js';
import type { GoMap } from '../template/values.js';
import { coalesceValues, processDependencies } from '../values.js';
import { validateAgainstSchema } from '../schema.js';
import { parseObjects } from './kube.js';
import { renderWithLookups, type LookupFunction, type LookupSource } from './lookup.js';
import { formatValue } from '../template/gofmt.js';
import { ZERO_TIME, type ReleaseHook } from './release.js';

export interface RenderRequest {
  chart: Chart;
  /** User-supplied values (the release's config). */
  config: GoMap;
  name: string;
  namespace: string;
  revision: number;
  isUpgrade: boolean;
  kubeVersion?: KubeVersion;
  apiVersions?: string[];
  skipSchemaValidation?: boolean;
}

export interface Rendered {
  manifest: string;
  hooks: ReleaseHook[];
  notes: string;
  crds: { filename: string; data: string }[];
}

function crdObjects(c: Chart): { filename: string; data: string }[] {
  const own = crdFiles(c).map((f) => ({ filename: `${chartFullPath(c)}/${f.name}`, data: f.data.toString('utf8') }));
  return [...own, ...c.dependencies.flatMap(crdObjects)];
}

const text = (v: unknown) => (typeof v === 'string' ? v : v === undefined || v === null ? '' : formatValue(v));

/** Checks the chart and its values; `pass(lookup)` then renders it (again, for lookups). */
function prepareRelease(r: RenderRequest): (lookup?: LookupFunction) => Map<string, string> {
  const { chart } = r;
  const type = chart.metadata.type ?? '';
  if (type !== '' && type !== 'application') throw new Error(`${type} charts are not installable`);
  const missing = (chart.metadata.dependencies ?? [])
    .filter((d) => !chart.dependencies.some((c) => c.metadata.name === d.name))
    .map((d) => d.name);
  if (missing.length > 0)
    throw new Error(`found in Chart.yaml, but missing in charts/ directory: ${missing.join(', ')}`);
  // processDependencies prunes disabled subcharts from the chart object: work on the caller's
  // config copy only, the chart is loaded per operation.
  processDependencies(chart, r.config);
  const coalesced = () => coalesceValues(chart, structuredClone(r.config), false);
  if (!r.skipSchemaValidation) validateAgainstSchema(chart, coalesced());
  const capabilities = capabilitiesObject(r.kubeVersion ?? DEFAULT_KUBE_VERSION, r.apiVersions ?? []);
  if (chart.metadata.kubeVersion && !isCompatibleRange(chart.metadata.kubeVersion, kubeVersionString(capabilities)))
    throw new Error(
      `chart requires kubeVersion: ${chart.metadata.kubeVersion} which is incompatible with Kubernetes ${kubeVersionString(capabilities)}`,
    );
  const release = {
    Name: r.name,
    Namespace: r.namespace,
    IsUpgrade: r.isUpgrade,
    IsInstall: !r.isUpgrade,
    Revision: BigInt(r.revision),
    Service: 'Helm',
  };
  // Fresh values per pass: templates may change them (Sprig's set/unset).
  return (lookup) =>
    render(chart, { Capabilities: capabilities, Release: { ...release }, Values: coalesced() }, { lookup });
}

/** Renders a release offline (`lookup` gives empty maps: lint, client-side dry runs). */
export function renderRelease(r: RenderRequest): Rendered {
  return assembleRelease(r.chart, prepareRelease(r)());
}

/** Renders a release with `lookup` answered from the cluster (install, upgrade, --dry-run=server). */
export async function renderReleaseFrom(r: RenderRequest, cluster: LookupSource | undefined): Promise<Rendered> {
  return assembleRelease(r.chart, await renderWithLookups(cluster, prepareRelease(r)));
}

function assembleRelease(chart: Chart, files: Map<string, string>): Rendered {
  let notes = '';
  for (const k of [...files.keys()]) {
    if (!k.endsWith('NOTES.txt')) continue;
    if (k === `${chart.metadata.name}/templates/NOTES.txt`) notes = files.get(k)!;
    files.delete(k);
  }
  const sorted = sortManifests(files);
  let manifest = '';
  for (const m of sorted.manifests) manifest += `---\n# Source: ${m.name}\n${m.content}\n`;
  const hooks = sorted.hooks.map((h): ReleaseHook => {
    const [obj] = parseObjects(h.content);
    const annotations: Record<string, unknown> = obj?.metadata.annotations ?? {};
    const policies = text(annotations['helm.sh/hook-delete-policy'])
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
    return {
      name: text(obj?.metadata.name),
      kind: h.kind,
      path: h.name,
      manifest: h.content,
      events: h.events,
      last_run: { started_at: ZERO_TIME, completed_at: ZERO_TIME, phase: '' },
      weight: h.weight,
      delete_policies: policies,
    };
  });
  return { manifest, hooks, notes, crds: crdObjects(chart) };
}
