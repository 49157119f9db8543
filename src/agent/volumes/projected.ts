// projected volume: several sources (configMap, secret, downwardAPI, serviceAccountToken) merged
// into one directory. A serviceAccountToken source is a TokenRequest bound to the pod (see
// satoken.ts), written at its path with the volume's mode and renewed on refresh once 80% of its
// lifetime has passed. clusterTrustBundle sources are not supported and fail the mount unless
// optional.
import { configMapData, isSourceNotFound, secretData, type KeyData } from './sources.js';
import { aggregate, DEFAULT_MODE, downwardPayload, keysPayload, writeProjection } from './payload.js';
import type { Payload } from './atomicwriter.js';
import { tokensFor } from './satoken.js';
import type { PluginCall, SetUpResult, VolumePlugin } from './types.js';

const EMPTY: KeyData = { strings: new Map(), bytes: new Map() };

export const projectedPlugin: VolumePlugin = {
  name: 'kubernetes.io~projected',
  refreshable: true,
  matches: (v) => !!v.projected,
  async setUp(call: PluginCall): Promise<SetUpResult> {
    const src = call.volume.projected!;
    const ns = call.pod.metadata?.namespace ?? 'default';
    const mode = src.defaultMode ?? DEFAULT_MODE;
    const payload: Payload = new Map();
    const errors: string[] = [];
    const merge = (p: Payload) => {
      for (const [k, v] of p) payload.set(k, v);
    };
    for (const s of src.sources ?? []) {
      try {
        if (s.configMap) {
          const optional = s.configMap.optional === true;
          const data = await call.reader.configMap(ns, s.configMap.name ?? '').then(configMapData, (e) => {
            if (optional && isSourceNotFound(e)) return EMPTY;
            throw e;
          });
          merge(keysPayload('configmap', data, s.configMap.items, mode, optional));
        } else if (s.secret) {
          const optional = s.secret.optional === true;
          const data = await call.reader.secret(ns, s.secret.name ?? '').then(secretData, (e) => {
            if (optional && isSourceNotFound(e)) return EMPTY;
            throw e;
          });
          merge(keysPayload('secret', data, s.secret.items, mode, optional));
        } else if (s.downwardAPI) {
          merge(downwardPayload(call.pod, s.downwardAPI.items, mode, call.ctx.nodeAllocatable));
        } else if (s.serviceAccountToken) {
          const token = await tokensFor(call.ctx.client).get(
            call.ctx.client,
            call.pod,
            s.serviceAccountToken,
            call.ctx.logger,
          );
          payload.set(s.serviceAccountToken.path, { data: Buffer.from(token, 'utf8'), mode });
        } else if (s.clusterTrustBundle) {
          if (s.clusterTrustBundle.optional !== true)
            throw new Error('clusterTrustBundle projections are not supported');
        }
      } catch (e) {
        errors.push((e as Error).message);
      }
    }
    if (errors.length) throw new Error(aggregate(errors));
    const changed = await writeProjection(call, payload, true);
    return { path: call.dir, readOnly: true, changed };
  },
};
