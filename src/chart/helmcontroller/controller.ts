// k3s's helm-controller inside the server: a HelmChart (helm.cattle.io/v1) becomes a Helm release
// named after it, installed or upgraded when its spec or its HelmChartConfig's values change and
// uninstalled when it is deleted (finalizer). Unlike k3s there is no helm Job pod: the release
// actions (../release) run here. Status and Events report what happened.
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { spec, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { SharedIndexInformer, keyOf, splitKey } from '../../client/informer.js';
import { loadArchive, type Chart } from '../chart.js';
import { ReleaseActions } from '../release/actions.js';
import { ReleaseKube, type KubeObject } from '../release/kube.js';
import { valuesJson } from '../release/release.js';
import { pullChart } from '../release/repo.js';
import { mergeMaps, parseInto } from '../strvals.js';
import { isMap, type GoMap } from '../template/values.js';
import { parseYaml } from '../yaml.js';
import { HELM_CRDS } from './crds.js';

export interface HelmChartSpec {
  chart?: string;
  repo?: string;
  version?: string;
  targetNamespace?: string;
  createNamespace?: boolean;
  valuesContent?: string;
  set?: Record<string, string | number | boolean>;
  chartContent?: string;
  timeout?: string;
}

export interface HelmChart extends KubeObject {
  spec?: HelmChartSpec;
  status?: {
    jobName?: string;
    configHash?: string;
    releaseRevision?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

interface HelmChartConfig extends KubeObject {
  spec?: { valuesContent?: string };
}

export const HELM_CHARTS = spec<HelmChart>({
  group: 'helm.cattle.io',
  version: 'v1',
  plural: 'helmcharts',
  namespaced: true,
  kind: 'HelmChart',
});
const HELM_CHART_CONFIGS = spec<HelmChartConfig>({
  group: 'helm.cattle.io',
  version: 'v1',
  plural: 'helmchartconfigs',
  namespaced: true,
  kind: 'HelmChartConfig',
});

/** k3s's finalizer on HelmCharts (wrangler's on-remove handler name). */
export const HELM_CHART_FINALIZER = 'wrangler.cattle.io/on-helm-chart-remove';

/** Installs the CRDs (kept when present) and waits until they are served. */
export async function installHelmCrds(client: Client): Promise<void> {
  const kube = new ReleaseKube(client, 'k8ts-helm-controller');
  for (const crd of HELM_CRDS) {
    try {
      await kube.create(crd, '');
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
  await kube.waitEstablished(HELM_CRDS, Date.now() + 30_000);
}

function yamlValues(text: string | undefined, what: string): GoMap {
  if (!text?.trim()) return {};
  const v = parseYaml(text);
  if (v === null) return {};
  if (!isMap(v)) throw new Error(`${what}: values must be a YAML map`);
  return v;
}

/** A timeout like "300s" or "5m" (k3s's spec.timeout, a Go duration); default 5 minutes. */
function timeoutMs(t: string | undefined): number {
  const m = /^(\d+)(s|m|h)?$/.exec(t ?? '');
  if (!m) return 300_000;
  return Number(m[1]) * (m[2] === 'h' ? 3_600_000 : m[2] === 'm' ? 60_000 : 1000);
}

async function download(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`failed to fetch ${url} : ${res.status} ${res.statusText}`);
  return Buffer.from(await res.arrayBuffer());
}

/** The chart a HelmChart names: inline chartContent, a chart in spec.repo, or a URL of an archive. */
async function chartOf(s: HelmChartSpec): Promise<Chart> {
  if (s.chartContent) return loadArchive(Buffer.from(s.chartContent, 'base64'));
  if (!s.chart) throw new Error('spec.chart or spec.chartContent is required');
  if (s.repo) return loadArchive((await pullChart({ repo: s.repo, chart: s.chart, version: s.version })).data);
  if (/^https?:\/\//.test(s.chart)) return loadArchive(await download(s.chart));
  throw new Error(`chart "${s.chart}" needs spec.repo (or a URL of a chart archive, or spec.chartContent)`);
}

export class HelmChartController {
  private readonly charts: SharedIndexInformer<HelmChart>;
  private readonly configs: SharedIndexInformer<HelmChartConfig>;
  private readonly runner: ControllerRunner;
  private readonly actions: ReleaseActions;
  private readonly events: EventRecorder;

  constructor(
    private readonly client: Client,
    logger: Logger,
  ) {
    this.actions = new ReleaseActions(client);
    this.events = new EventRecorder(client, { component: 'helm-controller' }, logger);
    this.charts = new SharedIndexInformer(client, HELM_CHARTS, { logger });
    this.configs = new SharedIndexInformer(client, HELM_CHART_CONFIGS, { logger });
    this.runner = new ControllerRunner({ name: 'helm-controller', reconcile: (k) => this.reconcile(k), logger });
    const enqueue = (o: KubeObject) => this.runner.enqueue(keyOf(o));
    this.charts.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });
    this.configs.addEventHandler({ add: enqueue, update: (_o, n) => enqueue(n), delete: enqueue });
  }

  async start(): Promise<void> {
    await installHelmCrds(this.client);
    this.charts.start();
    this.configs.start();
    await Promise.all([this.charts.waitForSync(30_000), this.configs.waitForSync(30_000)]);
    this.runner.start();
  }

  async stop(): Promise<void> {
    await Promise.all([this.charts.stop(), this.configs.stop(), this.runner.stop()]);
  }

  /** valuesContent, then the HelmChartConfig's valuesContent, then spec.set (strings as --set-string). */
  private values(hc: HelmChart): GoMap {
    const ns = hc.metadata.namespace ?? '';
    let values = yamlValues(hc.spec?.valuesContent, 'spec.valuesContent');
    const config = this.configs.indexer.getByName(ns, hc.metadata.name);
    values = mergeMaps(values, yamlValues(config?.spec?.valuesContent, `HelmChartConfig ${ns}/${hc.metadata.name}`));
    for (const [k, v] of Object.entries(hc.spec?.set ?? {}))
      parseInto(`${k}=${String(v)}`, values, typeof v === 'string' ? 'string' : 'typed');
    return values;
  }

  private async reconcile(key: string): Promise<void> {
    const { namespace, name } = splitKey(key);
    const charts = this.client.resource(HELM_CHARTS).namespace(namespace);
    let hc: HelmChart;
    try {
      hc = await charts.get(name);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const target = hc.spec?.targetNamespace || namespace!;
    const finalizers = (hc.metadata.finalizers as string[] | undefined) ?? [];
    if (hc.metadata.deletionTimestamp) {
      if (!finalizers.includes(HELM_CHART_FINALIZER)) return;
      if (await this.actions.storage.last(name, target))
        await this.actions.uninstall({ name, namespace: target, timeoutMs: timeoutMs(hc.spec?.timeout) });
      this.events.event(hc, 'Normal', 'Uninstalled', `Uninstalled release ${name} from namespace ${target}`);
      await charts.patch(name, 'merge', {
        metadata: {
          finalizers: finalizers.filter((f) => f !== HELM_CHART_FINALIZER),
          resourceVersion: hc.metadata.resourceVersion,
        },
      });
      return;
    }
    if (!finalizers.includes(HELM_CHART_FINALIZER)) {
      // The update event brings the chart back with the finalizer set.
      await charts.patch(name, 'merge', {
        metadata: { finalizers: [...finalizers, HELM_CHART_FINALIZER], resourceVersion: hc.metadata.resourceVersion },
      });
      return;
    }

    let values: GoMap;
    let hash: string;
    try {
      values = this.values(hc);
      const { chart, repo, version, chartContent } = hc.spec ?? {};
      hash = createHash('sha256')
        .update(valuesJson({ chart, repo, version, chartContent, target, values }))
        .digest('hex');
    } catch (e) {
      await this.fail(hc, 'InvalidValues', (e as Error).message);
      return;
    }
    const last = await this.actions.storage.last(name, target);
    if (hc.status?.configHash === hash && last?.info.status === 'deployed') return;

    try {
      if (hc.spec?.createNamespace) await this.ensureNamespace(target);
      const chart = await chartOf(hc.spec ?? {});
      const rel = await this.actions.upgrade({
        name,
        namespace: target,
        chart,
        config: values,
        install: true,
        resetValues: true,
        timeoutMs: timeoutMs(hc.spec?.timeout),
      });
      const verb = rel.version === 1 || !last || last.info.status === 'uninstalled' ? 'Installed' : 'Upgraded';
      const message = `${verb} release ${name} revision ${rel.version} (chart ${rel.chart.metadata.name}-${rel.chart.metadata.version}) in namespace ${target}`;
      this.events.event(hc, 'Normal', verb, message);
      await this.setStatus(hc, {
        configHash: hash,
        releaseRevision: String(rel.version),
        conditions: [{ type: 'Deployed', status: 'True', reason: verb, message }],
      });
    } catch (e) {
      await this.fail(hc, 'InstallFailed', (e as Error).message);
      throw e;
    }
  }

  private async fail(hc: HelmChart, reason: string, message: string): Promise<void> {
    this.events.event(hc, 'Warning', reason, message);
    await this.setStatus(hc, {
      ...hc.status,
      conditions: [{ type: 'Failed', status: 'True', reason, message }],
    });
  }

  private async setStatus(hc: HelmChart, status: HelmChart['status']): Promise<void> {
    try {
      await this.client
        .resource(HELM_CHARTS)
        .namespace(hc.metadata.namespace)
        .updateStatus({ ...hc, status });
    } catch (e) {
      // A newer object is queued already; its reconcile writes the status.
      if (!isConflict(e) && !isNotFound(e)) throw e;
    }
  }

  private async ensureNamespace(ns: string): Promise<void> {
    try {
      await new ReleaseKube(this.client).create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }, '');
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
}
