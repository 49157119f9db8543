// The DaemonSet controller (upstream pkg/controller/daemon): one pod per eligible node (nodeSelector,
// required node affinity, taints against tolerations plus the default daemon tolerations). Pods
// are created with a required node affinity to their node and bound by the scheduler, as
// upstream; pods on nodes that no longer fit are removed; RollingUpdate honours maxUnavailable
// and maxSurge; OnDelete replaces only deleted pods. ControllerRevisions record the templates
// (pods carry controller-revision-hash=<hash> and pod-template-generation).
import type { ControllerRevision, DaemonSet, DaemonSetStatus } from 'kubernetes-types/apps/v1.js';
import type { Node, Pod, PodSpec, PodTemplateSpec } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client, type ResourceClient } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isAlreadyExists, isConflict, isNotFound } from '../../client/errors.js';
import { EventRecorder } from '../../client/events.js';
import { keyOf, type SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';
import {
  CONTROLLER_REVISION_HASH_LABEL,
  Expectations,
  RESOURCES,
  addControllerIndex,
  controllerRefOf,
  ensureRevision,
  isPodAvailable,
  isPodFailed,
  isPodReady,
  isPodTerminating,
  msUntilAvailable,
  newControllerRef,
  ownedBy,
  revisionHash,
  scaledValue,
  templatePatch,
  truncateHistory,
} from '../statefulset/common.js';
import { slowStartBatch } from '../replicaset/podutil.js';
import { addDaemonTolerations, nodeShouldRunDaemonPod, targetNodeOf, withNodeAffinity } from './eligibility.js';

export const POD_TEMPLATE_GENERATION_LABEL = 'pod-template-generation';

export interface DaemonSetControllerOptions {
  workers?: number;
  now?: () => number;
  /** Initial back-off before deleting a failed daemon pod again on a node (ms, upstream 1 s; max 15 min). */
  failedPodBackoffMs?: number;
}

type StoredPod = Stored<Pod>;

const created = (p: Pod) => Date.parse(p.metadata?.creationTimestamp ?? '') || 0;
const byAge = (a: StoredPod, b: StoredPod) =>
  created(a) - created(b) || String(a.metadata.name).localeCompare(String(b.metadata.name));

/** Upstream's burstReplicas for DaemonSets: pods created or deleted by one sync, at most. */
export const BURST_REPLICAS = 250;

export class DaemonSetController implements Controller {
  readonly name = 'daemonset';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly sets: SharedIndexInformer<DaemonSet>;
  private readonly pods: SharedIndexInformer<Pod>;
  private readonly nodes: SharedIndexInformer<Node>;
  private readonly revisions: SharedIndexInformer<ControllerRevision>;
  private readonly runner: ControllerRunner;
  private readonly recorder: EventRecorder;
  private readonly now: () => number;
  private readonly failedBackoff = new Map<string, { delayMs: number; until: number }>();
  private readonly backoffBaseMs: number;
  private readonly expectations = new Expectations();

  constructor(ctx: ControllerContext, opts: DaemonSetControllerOptions = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'daemonset' });
    this.now = opts.now ?? Date.now;
    this.backoffBaseMs = opts.failedPodBackoffMs ?? 1000;
    this.sets = ctx.informers.forResource(R.daemonsets);
    this.pods = ctx.informers.forResource(R.pods);
    this.nodes = ctx.informers.forResource(R.nodes);
    this.revisions = ctx.informers.forResource(RESOURCES.controllerrevisions);
    addControllerIndex(this.pods);
    addControllerIndex(this.revisions);
    this.recorder = new EventRecorder(this.client, { component: 'daemonset-controller' }, this.log);
    this.runner = new ControllerRunner({
      name: 'daemonset',
      workers: opts.workers ?? 2,
      reconcile: (k) => this.sync(k),
      logger: this.log,
    });
    const enqueue = (ds: Stored<DaemonSet>) => this.runner.enqueue(keyOf(ds));
    this.sets.addEventHandler({ add: enqueue, update: (_o, ds) => enqueue(ds), delete: enqueue });
    const onPod = (pod: StoredPod, deleted = false) => {
      const ref = controllerRefOf(pod);
      if (ref?.kind !== 'DaemonSet') return;
      const key = `${pod.metadata.namespace}/${ref.name}`;
      this.expectations.observe(key, pod, deleted);
      this.runner.enqueue(key);
    };
    this.pods.addEventHandler({ add: (p) => onPod(p), update: (_o, p) => onPod(p), delete: (p) => onPod(p, true) });
    const all = () => {
      for (const ds of this.sets.store.list()) enqueue(ds);
    };
    this.nodes.addEventHandler({
      add: all,
      update: (o, n) => {
        // Only what eligibility depends on.
        if (
          JSON.stringify([o.metadata?.labels, o.spec?.taints, o.spec?.unschedulable]) !==
          JSON.stringify([n.metadata?.labels, n.spec?.taints, n.spec?.unschedulable])
        )
          all();
      },
      delete: all,
    });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private podsClient(ns: string | undefined): ResourceClient<Pod> {
    return this.client.resource(R.pods).namespace(ns);
  }

  async sync(key: string): Promise<ReconcileResult | void> {
    const cached = this.sets.store.get(key);
    if (!cached) {
      this.expectations.forget(key);
      return;
    }
    const ds = structuredClone(cached);
    const now = this.now();
    const pods = ownedBy(this.pods, ds.metadata.uid);
    const revClient = this.client.resource(RESOURCES.controllerrevisions);
    const revs = ownedBy(this.revisions, ds.metadata.uid);
    const { revision: cur, collisionCount } = await ensureRevision({
      client: revClient,
      owner: ds,
      ownerApiVersion: 'apps/v1',
      ownerKind: 'DaemonSet',
      data: templatePatch(ds.spec?.template),
      revisions: revs,
      collisionCount: ds.status?.collisionCount ?? 0,
      labels: { ...(ds.spec?.template?.metadata?.labels ?? {}) },
      log: this.log,
    });
    const hash = revisionHash(cur);
    const generation = String(ds.metadata.generation ?? 1);
    const isUpdated = (p: Pod) => p.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash;

    const nodes = this.nodes.store.list();
    const byNode = new Map<string, StoredPod[]>();
    for (const p of pods) {
      const n = targetNodeOf(p);
      if (!n) continue;
      let arr = byNode.get(n);
      if (!arr) byNode.set(n, (arr = []));
      arr.push(p);
    }

    let requeueAfterMs: number | undefined;
    const wake = (ms: number) => (requeueAfterMs = requeueAfterMs === undefined ? ms : Math.min(requeueAfterMs, ms));

    if (!ds.metadata.deletionTimestamp && this.expectations.satisfied(key, pods)) {
      const us = ds.spec?.updateStrategy ?? {};
      const rolling = (us.type ?? 'RollingUpdate') === 'RollingUpdate';
      const desired = nodes.filter((n) => nodeShouldRunDaemonPod(n, ds).shouldRun).length;
      const maxSurge = rolling ? scaledValue(us.rollingUpdate?.maxSurge ?? 0, desired, true) : 0;
      let maxUnavailable = rolling ? scaledValue(us.rollingUpdate?.maxUnavailable ?? 1, desired, true) : 0;
      if (rolling && maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
      const surging = maxSurge > 0;

      const toCreate: string[] = [];
      const toDelete: StoredPod[] = [];
      for (const node of nodes) {
        const nodeName = node.metadata.name;
        const fit = nodeShouldRunDaemonPod(node, ds);
        const live = (byNode.get(nodeName) ?? []).filter((p) => !isPodTerminating(p));
        if (fit.shouldRun) {
          const running: StoredPod[] = [];
          for (const p of live) {
            if (!isPodFailed(p)) {
              running.push(p);
              continue;
            }
            // A failed daemon pod is deleted (and replaced) with a per-node back-off.
            const bk = `${ds.metadata.uid}/${nodeName}`;
            const b = this.failedBackoff.get(bk);
            if (b && b.until > now) {
              wake(b.until - now);
              continue;
            }
            const delayMs = b ? Math.min(b.delayMs * 2, 15 * 60_000) : this.backoffBaseMs;
            this.failedBackoff.set(bk, { delayMs, until: now + delayMs });
            this.recorder.event(
              ds,
              'Warning',
              'FailedDaemonPod',
              `Found failed daemon pod ${ds.metadata.namespace}/${p.metadata.name} on node ${nodeName}, will try to kill it`,
            );
            toDelete.push(p);
          }
          if (running.length === 0) {
            if (!live.some(isPodFailed)) toCreate.push(nodeName);
          } else if (running.length > 1) {
            running.sort(byAge);
            if (surging) {
              // Keep the oldest updated pod and the oldest old one; the rolling update settles them.
              const keepNew = running.find(isUpdated);
              const keepOld = running.find((p) => !isUpdated(p));
              for (const p of running) if (p !== keepNew && p !== keepOld) toDelete.push(p);
            } else {
              for (const p of running.slice(1)) toDelete.push(p);
            }
          }
        } else if (!fit.shouldContinueRunning) {
          toDelete.push(...live);
        }
      }

      // Rolling update.
      if (rolling) {
        const roll = this.rollingUpdate(ds, nodes, byNode, isUpdated, maxSurge, maxUnavailable, now, wake);
        toDelete.push(...roll.delete.filter((p) => !toDelete.includes(p)));
        for (const n of roll.create) if (!toCreate.includes(n)) toCreate.push(n);
      }

      // Upstream's burstReplicas bounds one sync's creates and deletes (the rest: next syncs);
      // creates go in batches of 1, 2, 4, ... so a template the API refuses fails once.
      toCreate.length = Math.min(toCreate.length, BURST_REPLICAS);
      toDelete.length = Math.min(toDelete.length, BURST_REPLICAS);
      let next = 0;
      const { error } = await slowStartBatch(toCreate.length, 1, () =>
        this.createPod(ds, toCreate[next++], hash, generation),
      );
      await Promise.all(toDelete.map((p) => this.deletePod(ds, p)));
      // eslint-disable-next-line @typescript-eslint/only-throw-error -- rethrows the caught value unchanged
      if (error) throw error;
    }

    // Status.
    const status: DaemonSetStatus & { numberAvailable: number; updatedNumberScheduled: number } = {
      currentNumberScheduled: 0,
      numberMisscheduled: 0,
      desiredNumberScheduled: 0,
      numberReady: 0,
      updatedNumberScheduled: 0,
      numberAvailable: 0,
      observedGeneration: ds.metadata.generation,
    };
    const minReady = ds.spec?.minReadySeconds ?? 0;
    for (const node of nodes) {
      const fit = nodeShouldRunDaemonPod(node, ds);
      const onNode = (byNode.get(node.metadata.name) ?? []).slice().sort((a, b) => {
        // oldest first; among equals, running before pending
        return byAge(a, b);
      });
      const scheduled = onNode.length > 0;
      if (fit.shouldRun) {
        status.desiredNumberScheduled++;
        if (!scheduled) continue;
        status.currentNumberScheduled++;
        const p = onNode[0];
        if (isPodReady(p)) {
          status.numberReady++;
          if (isPodAvailable(p, minReady, now)) status.numberAvailable++;
          else {
            const ms = msUntilAvailable(p, minReady, now);
            if (ms !== undefined) wake(ms + 50);
          }
        }
        if (onNode.some(isUpdated)) status.updatedNumberScheduled++;
      } else if (scheduled) {
        status.numberMisscheduled++;
      }
    }
    const unavailable = status.desiredNumberScheduled - status.numberAvailable;
    if (unavailable > 0) status.numberUnavailable = unavailable;
    if (collisionCount) status.collisionCount = collisionCount;
    await this.writeStatus(ds, status);

    const live = new Set<string>([cur.metadata.name]);
    const liveHashes = new Set(pods.map((p) => p.metadata?.labels?.[CONTROLLER_REVISION_HASH_LABEL]).filter(Boolean));
    for (const r of revs) if (liveHashes.has(revisionHash(r))) live.add(r.metadata.name);
    await truncateHistory(revClient, revs, live, ds.spec?.revisionHistoryLimit ?? 10);
    if (requeueAfterMs !== undefined) return { requeueAfterMs };
  }

  /** Upstream rollingUpdate (maxSurge 0: delete up to maxUnavailable old pods; surge: create first). */
  private rollingUpdate(
    ds: Stored<DaemonSet>,
    nodes: Stored<Node>[],
    byNode: Map<string, StoredPod[]>,
    isUpdated: (p: Pod) => boolean,
    maxSurge: number,
    maxUnavailable: number,
    now: number,
    wake: (ms: number) => void,
  ): { delete: StoredPod[]; create: string[] } {
    const minReady = ds.spec?.minReadySeconds ?? 0;
    const available = (p: Pod) => {
      if (isPodAvailable(p, minReady, now)) return true;
      const ms = msUntilAvailable(p, minReady, now);
      if (ms !== undefined) wake(ms + 50);
      return false;
    };
    const out = { delete: [] as StoredPod[], create: [] as string[] };
    if (maxSurge === 0) {
      let numUnavailable = 0;
      const allowed: StoredPod[] = [];
      const candidates: StoredPod[] = [];
      for (const node of nodes) {
        if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
        const live = (byNode.get(node.metadata.name) ?? [])
          .filter((p) => !isPodTerminating(p) && !isPodFailed(p))
          .sort(byAge);
        const newPod = live.find(isUpdated);
        const oldPod = live.find((p) => !isUpdated(p));
        if (!newPod && !oldPod) numUnavailable++;
        else if (newPod && !oldPod) {
          if (!available(newPod)) numUnavailable++;
        } else if (oldPod && !newPod) {
          if (!available(oldPod)) allowed.push(oldPod);
          else if (numUnavailable < maxUnavailable) candidates.push(oldPod);
        } else if (oldPod && newPod) {
          // Both (e.g. after a surge): the old one goes once the new one is available.
          if (available(newPod)) out.delete.push(oldPod);
          else numUnavailable++;
        }
      }
      const remaining = Math.max(0, maxUnavailable - numUnavailable);
      out.delete.push(...allowed, ...candidates.slice(0, remaining));
      return out;
    }
    let numSurge = 0;
    const allowedNew: string[] = [];
    const candidateNew: string[] = [];
    for (const node of nodes) {
      if (!nodeShouldRunDaemonPod(node, ds).shouldRun) continue;
      const live = (byNode.get(node.metadata.name) ?? [])
        .filter((p) => !isPodTerminating(p) && !isPodFailed(p))
        .sort(byAge);
      const newPod = live.find(isUpdated);
      const oldPod = live.find((p) => !isUpdated(p));
      if (oldPod && !newPod) {
        if (!available(oldPod)) allowedNew.push(node.metadata.name);
        else candidateNew.push(node.metadata.name);
      } else if (oldPod && newPod) {
        if (available(newPod)) out.delete.push(oldPod);
        else numSurge++;
      }
    }
    out.create.push(...allowedNew, ...candidateNew.slice(0, Math.max(0, maxSurge - numSurge)));
    return out;
  }

  private async createPod(ds: Stored<DaemonSet>, nodeName: string, hash: string, generation: string): Promise<void> {
    const tpl: PodTemplateSpec = structuredClone(ds.spec?.template ?? {});
    // Validation requires a template spec; the empty one only stands in for a malformed object.
    const spec = tpl.spec ?? ({} as PodSpec);
    spec.affinity = withNodeAffinity(spec.affinity, nodeName);
    spec.tolerations = addDaemonTolerations(spec);
    const pod: Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${ds.metadata.name}-`,
        namespace: ds.metadata.namespace,
        labels: {
          ...(tpl.metadata?.labels ?? {}),
          [CONTROLLER_REVISION_HASH_LABEL]: hash,
          [POD_TEMPLATE_GENERATION_LABEL]: generation,
        },
        ...(tpl.metadata?.annotations ? { annotations: { ...tpl.metadata.annotations } } : {}),
        ownerReferences: [newControllerRef(ds, 'apps/v1', 'DaemonSet')],
      },
      spec,
    };
    try {
      const created = await this.podsClient(ds.metadata.namespace).create(pod);
      this.expectations.expectCreate(keyOf(ds), created.metadata.name);
      this.recorder.event(ds, 'Normal', 'SuccessfulCreate', `Created pod: ${created.metadata.name}`);
    } catch (err) {
      if (isAlreadyExists(err)) return;
      this.recorder.event(ds, 'Warning', 'FailedCreate', `Error creating: ${(err as Error).message}`);
      throw err;
    }
  }

  private async deletePod(ds: Stored<DaemonSet>, pod: StoredPod): Promise<void> {
    try {
      await this.podsClient(ds.metadata.namespace).delete(pod.metadata.name, {
        preconditions: { uid: pod.metadata.uid },
      });
      this.expectations.expectDelete(keyOf(ds), pod.metadata.uid);
      this.recorder.event(ds, 'Normal', 'SuccessfulDelete', `Deleted pod: ${pod.metadata.name}`);
    } catch (err) {
      if (isNotFound(err) || isConflict(err)) return;
      this.recorder.event(ds, 'Warning', 'FailedDelete', `Error deleting: ${(err as Error).message}`);
      throw err;
    }
  }

  private async writeStatus(ds: Stored<DaemonSet>, status: DaemonSetStatus): Promise<void> {
    const old: Partial<DaemonSetStatus> = ds.status ?? {};
    const same =
      (Object.keys(status) as (keyof DaemonSetStatus)[]).every((k) => old[k] === status[k]) &&
      (old.numberUnavailable ?? 0) === (status.numberUnavailable ?? 0);
    if (same) return;
    const next = { ...old, ...status };
    if (!status.numberUnavailable) delete next.numberUnavailable;
    try {
      await this.client
        .resource(R.daemonsets)
        .namespace(ds.metadata.namespace)
        .updateStatus({ ...ds, status: next });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
