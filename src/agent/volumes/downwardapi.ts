// downwardAPI volume: pod metadata and container resources as files. Labels and annotations are
// re-read from the pod object on every refresh, so label changes reach running containers.
import { DEFAULT_MODE, downwardPayload, writeProjection } from './payload.js';
import type { PluginCall, SetUpResult, VolumePlugin } from './types.js';

export const downwardAPIPlugin: VolumePlugin = {
  name: 'kubernetes.io~downward-api',
  refreshable: true,
  matches: (v) => !!v.downwardAPI,
  async setUp(call: PluginCall): Promise<SetUpResult> {
    const src = call.volume.downwardAPI!;
    const payload = downwardPayload(call.pod, src.items, src.defaultMode ?? DEFAULT_MODE, call.ctx.nodeAllocatable);
    const changed = await writeProjection(call, payload, false);
    return { path: call.dir, readOnly: true, changed };
  },
};
