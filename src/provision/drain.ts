// Cordon, drain and uncordon, as `kubectl cordon|drain|uncordon` do them: the node is marked
// unschedulable, then each of its pods is evicted through the Eviction API (so PodDisruptionBudgets
// hold: a 429 is retried until the drain's timeout), except mirror pods and, with
// ignore_daemonsets, DaemonSet pods (their controller would put them back). Pods that no
// controller owns are deleted only with force, pods with emptyDir volumes only with
// delete_local_data, as kubectl refuses them otherwise. The drain ends when the pods are gone.
import type { Pod } from 'kubernetes-types/core/v1.js';
import { R, type Client } from '../client/client.js';
import { isNotFound } from '../client/errors.js';
import type { DrainInput } from './config.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function cordon(client: Client, node: string, unschedulable: boolean): Promise<void> {
  await client.resource(R.nodes).patch(node, 'merge', { spec: { unschedulable: unschedulable ? true : null } });
}

/** The pods a drain must evict, or an error naming those it may not touch. */
function podsToEvict(pods: Pod[], node: string, input: DrainInput): Pod[] {
  const refused: string[] = [];
  const evict: Pod[] = [];
  for (const p of pods) {
    const id = `${p.metadata!.namespace}/${p.metadata!.name}`;
    if (p.metadata?.annotations?.['kubernetes.io/config.mirror']) continue;
    const owner = p.metadata?.ownerReferences?.find((o) => o.controller);
    if (owner?.kind === 'DaemonSet') {
      if (input.ignoreDaemonSets) continue;
      refused.push(`${id} (DaemonSet-managed: set ignore_daemonsets)`);
      continue;
    }
    const finished = p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';
    if (!owner && !finished && !input.force) refused.push(`${id} (no controller: set force)`);
    else if (!finished && !input.deleteLocalData && p.spec?.volumes?.some((v) => v.emptyDir))
      refused.push(`${id} (emptyDir data: set delete_local_data)`);
    else evict.push(p);
  }
  if (refused.length) throw new Error(`cannot drain node ${node}: ${refused.join(', ')}`);
  return evict;
}

/** Cordons `node` and evicts its pods; resolves when they are gone, throws past `input.timeout`. */
export async function drain(client: Client, node: string, input: DrainInput, log: (m: string) => void) {
  await cordon(client, node, true);
  const deadline = Date.now() + input.timeout * 1000;
  const pods = client.resource(R.pods);
  const list = await pods.list({ fieldSelector: `spec.nodeName=${node}` });
  const evict = podsToEvict(list.items, node, input);
  const eviction = (p: Pod) => ({
    apiVersion: 'policy/v1',
    kind: 'Eviction',
    metadata: { name: p.metadata!.name, namespace: p.metadata!.namespace },
    ...(input.gracePeriod >= 0 ? { deleteOptions: { gracePeriodSeconds: input.gracePeriod } } : {}),
  });
  for (const p of evict) {
    log(`evicting pod ${p.metadata!.namespace}/${p.metadata!.name}`);
    for (;;) {
      try {
        await pods.namespace(p.metadata!.namespace).createSubresource(p.metadata!.name!, 'eviction', eviction(p));
        break;
      } catch (err) {
        if (isNotFound(err)) break;
        const code = (err as { code?: number }).code;
        if (code !== 429 || Date.now() > deadline) throw err;
        await sleep(1000);
      }
    }
  }
  for (const p of evict) {
    for (;;) {
      try {
        const now = await pods.namespace(p.metadata!.namespace).get(p.metadata!.name!);
        if (now.metadata?.uid !== p.metadata?.uid) break;
      } catch (err) {
        if (isNotFound(err)) break;
        throw err;
      }
      if (Date.now() > deadline)
        throw new Error(`drain of node ${node}: pod ${p.metadata.namespace}/${p.metadata.name} still there`);
      await sleep(500);
    }
  }
}
