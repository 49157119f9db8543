// configMap and secret volumes: the object's keys as files. A missing object fails the mount
// unless the volume is optional, in which case the volume is an empty directory that fills in
// when the object appears (refresh).
import { configMapData, isSourceNotFound, secretData, type KeyData } from './sources.js';
import { DEFAULT_MODE, keysPayload, writeProjection } from './payload.js';
import type { PluginCall, SetUpResult, VolumePlugin } from './types.js';

const EMPTY: KeyData = { strings: new Map(), bytes: new Map() };

async function orEmpty(p: Promise<KeyData>, optional: boolean): Promise<KeyData> {
  try {
    return await p;
  } catch (e) {
    if (optional && isSourceNotFound(e)) return EMPTY;
    throw e;
  }
}

export const configMapPlugin: VolumePlugin = {
  name: 'kubernetes.io~configmap',
  refreshable: true,
  matches: (v) => !!v.configMap,
  async setUp(call: PluginCall): Promise<SetUpResult> {
    const src = call.volume.configMap!;
    const ns = call.pod.metadata?.namespace ?? 'default';
    const optional = src.optional === true;
    const data = await orEmpty(call.reader.configMap(ns, src.name ?? '').then(configMapData), optional);
    const payload = keysPayload('configmap', data, src.items, src.defaultMode ?? DEFAULT_MODE, optional);
    const changed = await writeProjection(call, payload, false);
    return { path: call.dir, readOnly: true, changed };
  },
};

export const secretPlugin: VolumePlugin = {
  name: 'kubernetes.io~secret',
  refreshable: true,
  matches: (v) => !!v.secret,
  async setUp(call: PluginCall): Promise<SetUpResult> {
    const src = call.volume.secret!;
    const ns = call.pod.metadata?.namespace ?? 'default';
    const optional = src.optional === true;
    const data = await orEmpty(call.reader.secret(ns, src.secretName ?? '').then(secretData), optional);
    const payload = keysPayload('secret', data, src.items, src.defaultMode ?? DEFAULT_MODE, optional);
    const changed = await writeProjection(call, payload, true);
    return { path: call.dir, readOnly: true, changed };
  },
};
