// The pods/ephemeralcontainers subresource's strategy (upstream's podEphemeralContainersStrategy):
// a write through it changes spec.ephemeralContainers and nothing else, and may only add
// ephemeral containers — those already in the pod are never changed or removed (the kubelet
// starts each once and never restarts it).
import type { Pod } from 'kubernetes-types/core/v1.js';
import { type FieldError, forbidden, path } from '../../../machinery/fielderrors.js';
import { defaultContainer } from './podspec.js';
import { describeDiff, semanticEqual } from './helpers.js';

export const EPHEMERAL_CONTAINERS_SUBRESOURCE = 'ephemeralcontainers';

/** Static pods are mirrored from a node's manifests; the kubelet would not run what is added here. */
const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

/**
 * dropNonEphemeralContainerUpdates, in place: `obj` becomes the stored pod with the request's
 * ephemeral containers (defaulted, as upstream defaults them when it decodes the request).
 */
export function keepOnlyEphemeralContainerChanges(obj: any, old: any): void {
  const ephemeral = obj.spec?.ephemeralContainers;
  const { name, namespace, resourceVersion, uid } = obj.metadata ?? {};
  const managedFields = obj.metadata?.managedFields;
  for (const k of Object.keys(obj)) delete obj[k];
  Object.assign(obj, structuredClone(old));
  Object.assign(obj.metadata, { name, namespace, resourceVersion, uid });
  if (managedFields !== undefined) obj.metadata.managedFields = managedFields;
  for (const k of ['resourceVersion', 'uid'] as const) if (obj.metadata[k] === undefined) delete obj.metadata[k];
  obj.spec ??= {};
  if (ephemeral === undefined || ephemeral === null) delete obj.spec.ephemeralContainers;
  else obj.spec.ephemeralContainers = ephemeral;
  for (const c of obj.spec.ephemeralContainers ?? []) defaultContainer(c);
}

/** ValidatePodEphemeralContainersUpdate's own rules (the new spec is validated as any pod's). */
export function validatePodEphemeralContainersUpdate(pod: Pod, old: Pod): FieldError[] {
  if (old.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined) {
    return [forbidden(path(''), 'static pods do not support ephemeral containers')];
  }
  const errs: FieldError[] = [];
  const p = path('spec', 'ephemeralContainers');
  // Patches do not keep the order, so each existing container is looked up by name.
  const next = new Map((pod.spec?.ephemeralContainers ?? []).map((c) => [c.name, c]));
  for (const prev of old.spec?.ephemeralContainers ?? []) {
    const now = next.get(prev.name);
    if (!now)
      errs.push(forbidden(p, `existing ephemeral containers ${JSON.stringify(prev.name)} may not be removed\n`));
    else if (!semanticEqual(prev, now)) {
      errs.push(
        forbidden(
          p,
          `existing ephemeral containers ${JSON.stringify(prev.name)} may not be changed\n${describeDiff(prev as any, now as any)}\n`,
        ),
      );
    }
  }
  return errs;
}
