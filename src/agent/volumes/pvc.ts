// persistentVolumeClaim (and generic ephemeral) volumes: the claim's bound PersistentVolume,
// used in place. Node-local PV sources are supported (hostPath, local); the data is the PV's and
// is never under the pod directory, so tear-down cannot touch it. A claim that is not bound yet
// fails the mount so the agent retries, as upstream's volume manager keeps waiting.
import { promises as fsp } from 'node:fs';
import type { PersistentVolume } from 'kubernetes-types/core/v1.js';
import { checkHostPathType } from './hostpath.js';
import type { PluginCall, SetUpResult, VolumePlugin } from './types.js';

async function resolveClaim(call: PluginCall): Promise<{ pv: PersistentVolume; readOnly: boolean }> {
  const { pod, volume } = call;
  const ns = pod.metadata?.namespace ?? 'default';
  let claimName: string;
  let readOnly = false;
  if (volume.persistentVolumeClaim) {
    claimName = volume.persistentVolumeClaim.claimName;
    readOnly = volume.persistentVolumeClaim.readOnly === true;
  } else {
    // Generic ephemeral volume: the claim the ephemeral controller made for this pod.
    claimName = `${pod.metadata?.name}-${volume.name}`;
  }
  const pvc = await call.reader.pvc(ns, claimName);
  if (!volume.persistentVolumeClaim) {
    const owner = pvc.metadata?.ownerReferences?.find((r) => r.controller);
    if (owner?.uid !== pod.metadata?.uid)
      throw new Error(`PVC ${ns}/${claimName} was not created for pod ${ns}/${pod.metadata?.name} (pod is not owner)`);
  }
  if (pvc.metadata?.deletionTimestamp)
    throw new Error(`can't start pod because PVC ${ns}/${claimName} is being deleted`);
  const pvName = pvc.spec?.volumeName;
  if (pvc.status?.phase !== 'Bound' || !pvName)
    throw new Error(`error processing PVC ${ns}/${claimName}: PVC is not bound`);
  const pv = await call.reader.pv(pvName);
  const ref = pv.spec?.claimRef;
  if (!ref)
    throw new Error(
      `found PV object ${pvName} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound to the claim`,
    );
  if (ref.uid !== pvc.metadata?.uid) {
    throw new Error(
      `found PV object ${pvName} but its pv.Spec.ClaimRef.UID (${ref.uid}) does not point to claim.UID (${pvc.metadata?.uid})`,
    );
  }
  return { pv, readOnly };
}

export const pvcPlugin: VolumePlugin = {
  name: 'kubernetes.io~persistentvolumeclaim',
  refreshable: false,
  matches: (v) => !!v.persistentVolumeClaim || !!v.ephemeral,
  async setUp(call: PluginCall): Promise<SetUpResult> {
    const { pv, readOnly } = await resolveClaim(call);
    const spec = pv.spec ?? {};
    if (spec.hostPath) {
      await checkHostPathType(spec.hostPath.path, spec.hostPath.type);
      return { path: spec.hostPath.path, readOnly, changed: false, plugin: 'kubernetes.io~host-path' };
    }
    if (spec.local) {
      try {
        await fsp.stat(spec.local.path);
      } catch {
        throw new Error(`path "${spec.local.path}" does not exist`);
      }
      return { path: spec.local.path, readOnly, changed: false, plugin: 'kubernetes.io~local-volume' };
    }
    throw new Error(
      `PersistentVolume ${pv.metadata?.name} has a volume source this node cannot mount (supported: hostPath, local)`,
    );
  },
};
