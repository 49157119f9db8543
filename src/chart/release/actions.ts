// Helm's release actions (pkg/action: install, upgrade, rollback, uninstall) over a k8ts Client:
// the same statuses, descriptions, errors and record keeping, so Helm and k8ts can take turns on
// one release. Objects are created, or patched with Helm 3's three-way merge, in Helm's install order (namespaces and
// ServiceAccounts before what uses them, crds/ created and Established before anything else),
// objects a new revision drops are deleted, hooks run by weight with their delete policies.
import type { Client } from '../../client/client.js';
import { isAlreadyExists } from '../../client/errors.js';
import { parseKubeVersion } from '../capabilities.js';
import type { Chart } from '../chart.js';
import { mergeMaps } from '../strvals.js';
import type { GoMap } from '../template/values.js';
import { coalesceValues } from '../values.js';
import { objectKey, parseObjects, ReleaseKube, type KubeObject } from './kube.js';
import { now, ReleaseStorage, storedChart, ZERO_TIME, type Release, type ReleaseHook } from './release.js';
import { renderReleaseFrom } from './render.js';
import { ClusterLookup } from './clusterlookup.js';
import { byName } from '../../machinery/order.js';

/** The Kubernetes version k8ts serves (apiserver KUBERNETES_VERSION), for .Capabilities. */
const CLUSTER_KUBE_VERSION = parseKubeVersion('v1.30.0');
const RELEASE_NAME_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const KEEP_POLICY = 'helm.sh/resource-policy';

export interface ActionHooks {
  /** Progress lines (`--wait` on a terminal, hook runs). */
  log?: (line: string) => void;
}

export interface CommonOptions extends ActionHooks {
  name: string;
  namespace: string;
  wait?: boolean;
  timeoutMs?: number;
  noHooks?: boolean;
  dryRun?: boolean;
  description?: string;
}

export interface InstallOptions extends CommonOptions {
  chart: Chart;
  config: GoMap;
  createNamespace?: boolean;
  atomic?: boolean;
  skipCrds?: boolean;
  replace?: boolean;
  skipSchemaValidation?: boolean;
}

export interface UpgradeOptions extends InstallOptions {
  install?: boolean;
  reuseValues?: boolean;
  resetValues?: boolean;
  historyMax?: number;
}

export class ReleaseActions {
  readonly storage: ReleaseStorage;
  readonly kube: ReleaseKube;

  /** Templates' `lookup` is answered from the cluster through `client` unless `offline` (Helm's client-side dry run: empty maps). */
  private readonly lookup?: ClusterLookup;

  constructor(
    readonly client: Client,
    opts: { offline?: boolean } = {},
  ) {
    this.lookup = opts.offline ? undefined : new ClusterLookup(client);
    this.storage = new ReleaseStorage(client);
    this.kube = new ReleaseKube(client);
  }

  private async apiVersions(): Promise<string[]> {
    const out = new Set<string>();
    for (const r of await this.client.discover()) {
      const gv = r.group ? `${r.group}/${r.version}` : r.version;
      out.add(gv);
      out.add(`${gv}/${r.kind}`);
    }
    return [...out];
  }

  private deadline(o: CommonOptions): number {
    return Date.now() + (o.timeoutMs ?? 300_000);
  }

  async install(o: InstallOptions): Promise<Release> {
    if (!RELEASE_NAME_RE.test(o.name) || o.name.length > 53)
      throw new Error(
        `release name "${o.name}": invalid release name, must match regex ^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$ and the length must not be longer than 53`,
      );
    const history = await this.storage.history(o.name, o.namespace);
    const last = history.at(-1);
    if (last && !(o.replace && (last.info.status === 'uninstalled' || last.info.status === 'failed')))
      throw new Error('cannot re-use a name that is still in use');
    const rendered = await renderReleaseFrom(
      {
        chart: o.chart,
        config: o.config,
        name: o.name,
        namespace: o.namespace,
        revision: (last?.version ?? 0) + 1,
        isUpgrade: false,
        kubeVersion: CLUSTER_KUBE_VERSION,
        apiVersions: await this.apiVersions(),
        skipSchemaValidation: o.skipSchemaValidation,
      },
      this.lookup,
    );
    const ts = now();
    const rel: Release = {
      name: o.name,
      info: {
        first_deployed: ts,
        last_deployed: ts,
        deleted: ZERO_TIME,
        description: 'Initial install underway',
        status: 'pending-install',
        notes: rendered.notes || undefined,
      },
      chart: storedChart(o.chart),
      config: o.config,
      manifest: rendered.manifest,
      hooks: rendered.hooks,
      version: (last?.version ?? 0) + 1,
      namespace: o.namespace,
    };
    if (o.dryRun) {
      rel.info.description = 'Dry run complete';
      return rel;
    }
    const deadline = this.deadline(o);
    if (o.createNamespace) await this.ensureNamespace(o.namespace);
    if (!o.skipCrds && rendered.crds.length > 0)
      await this.installCrds(
        rendered.crds.map((c) => c.data),
        deadline,
      );
    const objects = parseObjects(rendered.manifest);
    for (const obj of objects) await this.kube.checkOwnership(obj, o.namespace, rel).catch(conflict('install'));
    await this.storage.create(rel);
    try {
      if (!o.noHooks) await this.runHooks(rel, 'pre-install', deadline, o);
      await this.applyAll(objects, [], rel, o);
      if (o.wait || o.atomic) await this.waitFor(objects, rel.namespace, deadline, o);
      if (!o.noHooks) await this.runHooks(rel, 'post-install', deadline, o);
    } catch (e) {
      const err = e as Error;
      rel.info.status = 'failed';
      rel.info.description = `Release "${o.name}" failed: ${err.message}`;
      rel.info.last_deployed = now();
      await this.storage.update(rel);
      if (o.atomic) {
        try {
          await this.uninstall({ name: o.name, namespace: o.namespace, timeoutMs: o.timeoutMs, log: o.log });
        } catch (ue) {
          throw new Error(
            `an error occurred while uninstalling the release. original install error: ${err.message}: ${(ue as Error).message}`,
            { cause: ue },
          );
        }
        throw new Error(`release ${o.name} failed, and has been uninstalled due to atomic being set: ${err.message}`, {
          cause: e,
        });
      }
      throw e;
    }
    rel.info.status = 'deployed';
    rel.info.description = o.description ?? 'Install complete';
    await this.storage.update(rel);
    return rel;
  }

  async upgrade(o: UpgradeOptions): Promise<Release> {
    const history = await this.storage.history(o.name, o.namespace);
    const last = history.at(-1);
    if (!last || (last.info.status === 'uninstalled' && o.install)) {
      if (o.install) return this.install({ ...o, replace: true });
      throw new Error(`"${o.name}" has no deployed releases`);
    }
    if (last.info.status.startsWith('pending-'))
      throw new Error('another operation (install/upgrade/rollback) is in progress');
    const current = history.filter((r) => r.info.status === 'deployed').at(-1) ?? last;
    let config = o.config;
    if (o.resetValues) config = o.config;
    else if (o.reuseValues) config = mergeMaps(structuredClone(current.config ?? {}), o.config);
    else if (Object.keys(o.config).length === 0) config = structuredClone(current.config ?? {});
    const version = last.version + 1;
    const rendered = await renderReleaseFrom(
      {
        chart: o.chart,
        config: structuredClone(config),
        name: o.name,
        namespace: o.namespace,
        revision: version,
        isUpgrade: true,
        kubeVersion: CLUSTER_KUBE_VERSION,
        apiVersions: await this.apiVersions(),
        skipSchemaValidation: o.skipSchemaValidation,
      },
      this.lookup,
    );
    const rel: Release = {
      name: o.name,
      info: {
        first_deployed: current.info.first_deployed,
        last_deployed: now(),
        deleted: ZERO_TIME,
        description: 'Preparing upgrade',
        status: 'pending-upgrade',
        notes: rendered.notes || undefined,
      },
      chart: storedChart(o.chart),
      config,
      manifest: rendered.manifest,
      hooks: rendered.hooks,
      version,
      namespace: o.namespace,
    };
    if (o.dryRun) {
      rel.info.description = 'Dry run complete';
      return rel;
    }
    const deadline = this.deadline(o);
    if (!o.skipCrds && rendered.crds.length > 0)
      await this.installCrds(
        rendered.crds.map((c) => c.data),
        deadline,
      );
    const objects = parseObjects(rendered.manifest);
    const before = parseObjects(current.manifest ?? '');
    const known = new Set(before.map((x) => objectKey(x, x.metadata.namespace ?? o.namespace)));
    for (const obj of objects)
      if (!known.has(objectKey(obj, obj.metadata.namespace ?? o.namespace)))
        await this.kube.checkOwnership(obj, o.namespace, rel).catch(conflict('update'));
    await this.storage.create(rel);
    try {
      if (!o.noHooks) await this.runHooks(rel, 'pre-upgrade', deadline, o);
      await this.applyAll(objects, before, rel, o);
      if (o.wait || o.atomic) await this.waitFor(objects, rel.namespace, deadline, o);
      if (!o.noHooks) await this.runHooks(rel, 'post-upgrade', deadline, o);
    } catch (e) {
      const err = e as Error;
      rel.info.status = 'failed';
      rel.info.description = `Upgrade "${o.name}" failed: ${err.message}`;
      await this.storage.update(rel);
      if (o.atomic && current.info.status === 'deployed') {
        try {
          await this.rollback({
            name: o.name,
            namespace: o.namespace,
            version: current.version,
            wait: true,
            timeoutMs: o.timeoutMs,
            log: o.log,
          });
        } catch (re) {
          throw new Error(
            `an error occurred while rolling back the release. original upgrade error: ${err.message}: ${(re as Error).message}`,
            { cause: re },
          );
        }
        throw new Error(`release ${o.name} failed, and has been rolled back due to atomic being set: ${err.message}`, {
          cause: e,
        });
      }
      throw e;
    }
    for (const r of history)
      if (r.info.status === 'deployed') await this.storage.update({ ...r, info: { ...r.info, status: 'superseded' } });
    rel.info.status = 'deployed';
    rel.info.description = o.description ?? 'Upgrade complete';
    await this.storage.update(rel);
    await this.prune(o.name, o.namespace, o.historyMax ?? 10);
    return rel;
  }

  async rollback(o: CommonOptions & { version?: number }): Promise<Release> {
    const history = await this.storage.history(o.name, o.namespace);
    const current = history.at(-1);
    if (!current) throw new Error(`release: not found`);
    const targetVersion = o.version && o.version > 0 ? o.version : current.version - 1;
    if (targetVersion < 1) throw new Error(`release has no ${targetVersion} version`);
    const target = history.find((r) => r.version === targetVersion);
    if (!target) throw new Error(`release has no ${targetVersion} version`);
    const rel: Release = {
      name: o.name,
      namespace: o.namespace,
      chart: target.chart,
      config: target.config,
      manifest: target.manifest,
      hooks: target.hooks,
      version: current.version + 1,
      info: {
        first_deployed: current.info.first_deployed,
        last_deployed: now(),
        deleted: ZERO_TIME,
        status: 'pending-rollback',
        notes: target.info.notes,
        description: o.description ?? `Rollback to ${targetVersion}`,
      },
    };
    if (o.dryRun) return rel;
    const deadline = this.deadline(o);
    await this.storage.create(rel);
    const objects = parseObjects(rel.manifest ?? '');
    try {
      if (!o.noHooks) await this.runHooks(rel, 'pre-rollback', deadline, o);
      await this.applyAll(objects, parseObjects(current.manifest ?? ''), rel, o);
      if (o.wait) await this.waitFor(objects, rel.namespace, deadline, o);
      if (!o.noHooks) await this.runHooks(rel, 'post-rollback', deadline, o);
    } catch (e) {
      rel.info.status = 'failed';
      rel.info.description = `Rollback "${o.name}" failed: ${(e as Error).message}`;
      await this.storage.update(rel);
      throw e;
    }
    for (const r of history)
      if (r.info.status === 'deployed') await this.storage.update({ ...r, info: { ...r.info, status: 'superseded' } });
    rel.info.status = 'deployed';
    await this.storage.update(rel);
    return rel;
  }

  async uninstall(o: CommonOptions & { keepHistory?: boolean }): Promise<Release> {
    const history = await this.storage.history(o.name, o.namespace);
    const rel = history.at(-1);
    if (!rel) throw new Error(`uninstall: Release not loaded: ${o.name}: release: not found`);
    if (rel.info.status === 'uninstalled') {
      if (!o.keepHistory) {
        for (const r of history) await this.storage.delete(r);
        return rel;
      }
      throw new Error(`the release named "${o.name}" is already deleted`);
    }
    if (o.dryRun) return rel;
    const deadline = this.deadline(o);
    rel.info.status = 'uninstalling';
    rel.info.deleted = now();
    await this.storage.update(rel);
    if (!o.noHooks) await this.runHooks(rel, 'pre-delete', deadline, o);
    const objects = parseObjects(rel.manifest ?? '').reverse();
    const gone: KubeObject[] = [];
    for (const obj of objects) {
      if (obj.metadata.annotations?.[KEEP_POLICY] === 'keep') continue;
      if (await this.kube.delete(obj, rel.namespace)) gone.push(obj);
    }
    if (o.wait) for (const obj of gone) await this.kube.waitDeleted(obj, rel.namespace, deadline);
    if (!o.noHooks) await this.runHooks(rel, 'post-delete', deadline, o);
    rel.info.status = 'uninstalled';
    rel.info.description = o.description ?? 'Uninstallation complete';
    if (o.keepHistory) await this.storage.update(rel);
    else for (const r of history) await this.storage.delete(r);
    return rel;
  }

  /** The release at a revision (0: the newest), as `helm status` / `helm get` read it. */
  async get(name: string, namespace: string, version = 0): Promise<Release> {
    if (version > 0) return this.storage.get(name, namespace, version);
    const last = await this.storage.last(name, namespace);
    if (!last) throw new Error('release: not found');
    return last;
  }

  /** The values a revision was rendered with: its config coalesced over the chart's defaults. */
  static computedValues(rel: Release): GoMap {
    const chart = {
      metadata: rel.chart.metadata,
      values: rel.chart.values ?? {},
      templates: [],
      files: [],
      dependencies: [],
    } as Chart;
    return coalesceValues(chart, structuredClone(rel.config ?? {}), false);
  }

  private async ensureNamespace(ns: string): Promise<void> {
    try {
      await this.kube.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels: { name: ns } } }, '');
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }

  /** crds/: created when absent (Helm never upgrades them), then waited for until Established. */
  private async installCrds(docs: string[], deadline: number): Promise<void> {
    const crds = docs.flatMap((d) => parseObjects(d));
    for (const crd of crds) {
      try {
        await this.kube.create(crd, '');
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
    await this.kube.waitEstablished(crds, deadline);
  }

  /**
   * Creates or patches the new objects in order (CRDs in templates waited for), each against its
   * version in `before` (the manifest being replaced), then deletes the objects `before` had and
   * the new manifest drops.
   */
  private async applyAll(objects: KubeObject[], before: KubeObject[], rel: Release, o: ActionHooks): Promise<void> {
    const owner = { name: rel.name, namespace: rel.namespace };
    const keys = new Set<string>();
    const originals = new Map(before.map((x) => [objectKey(x, x.metadata.namespace ?? rel.namespace), x]));
    const templatedCrds: KubeObject[] = [];
    for (const obj of objects) {
      const key = objectKey(obj, obj.metadata.namespace ?? rel.namespace);
      await this.kube.upgrade(obj, originals.get(key), rel.namespace, owner);
      keys.add(key);
      if (obj.kind === 'CustomResourceDefinition') templatedCrds.push(obj);
      else if (templatedCrds.length > 0) {
        // Objects of a CRD the same chart templates: wait for it to be served first.
        await this.kube.waitEstablished(templatedCrds.splice(0), Date.now() + 60_000);
      }
    }
    for (const old of [...before].reverse()) {
      if (keys.has(objectKey(old, old.metadata.namespace ?? rel.namespace))) continue;
      if (old.metadata.annotations?.[KEEP_POLICY] === 'keep') continue;
      o.log?.(`deleting ${old.kind}/${old.metadata.name}, no longer in the chart`);
      await this.kube.delete(old, rel.namespace);
    }
  }

  private async waitFor(objects: KubeObject[], ns: string, deadline: number, o: ActionHooks): Promise<void> {
    await this.kube.waitReady(objects, ns, deadline, (pending, total) => {
      o.log?.(
        pending.length === 0
          ? `all ${total} resources ready`
          : `waiting for ${pending.length} of ${total} resources: ${pending.join(', ')}`,
      );
    });
  }

  /** Hooks of one event by weight then name; default policy before-hook-creation, as Helm. */
  private async runHooks(rel: Release, event: string, deadline: number, o: ActionHooks): Promise<void> {
    const hooks = (rel.hooks ?? [])
      .filter((h) => h.events.includes(event))
      .sort((a, b) => a.weight - b.weight || byName(a, b));
    const policies = (h: ReleaseHook) => (h.delete_policies.length ? h.delete_policies : ['before-hook-creation']);
    for (const h of hooks) {
      const [obj] = parseObjects(h.manifest);
      if (!obj) continue;
      if (policies(h).includes('before-hook-creation') && (await this.kube.delete(obj, rel.namespace)))
        await this.kube.waitDeleted(obj, rel.namespace, deadline);
      h.last_run = { started_at: now(), completed_at: ZERO_TIME, phase: 'Running' };
      o.log?.(`running ${event} hook ${h.kind}/${h.name}`);
      try {
        await this.kube.create(obj, rel.namespace);
        // Jobs and Pods run to completion; other kinds are done once created.
        if (obj.kind === 'Job' || obj.kind === 'Pod') await this.kube.waitReady([obj], rel.namespace, deadline);
      } catch (e) {
        h.last_run = { ...h.last_run, completed_at: now(), phase: 'Failed' };
        if (policies(h).includes('hook-failed')) await this.kube.delete(obj, rel.namespace);
        throw new Error(`${event} hooks failed: 1 error occurred:\n\t* ${(e as Error).message}`, { cause: e });
      }
      h.last_run = { ...h.last_run, completed_at: now(), phase: 'Succeeded' };
    }
    for (const h of hooks) {
      if (!policies(h).includes('hook-succeeded')) continue;
      const [obj] = parseObjects(h.manifest);
      if (obj) await this.kube.delete(obj, rel.namespace);
    }
  }

  /** --history-max: the oldest superseded revisions beyond the limit are deleted. */
  private async prune(name: string, ns: string, max: number): Promise<void> {
    if (max <= 0) return;
    const history = await this.storage.history(name, ns);
    const removable = history.filter((r) => r.info.status !== 'deployed');
    for (const r of removable.slice(0, Math.max(0, history.length - max))) await this.storage.delete(r);
  }
}

/** Helm's wording for an object another owner holds. */
function conflict(verb: 'install' | 'update'): (e: unknown) => never {
  return (e) => {
    throw new Error(
      `${verb === 'install' ? 'rendered manifests contain a resource that already exists. Unable to continue with install' : 'Unable to continue with update'}: ${(e as Error).message}`,
      { cause: e },
    );
  };
}
