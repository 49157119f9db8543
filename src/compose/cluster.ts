// `compose up` and `compose down` against a cluster: the converted objects applied with
// server-side apply (field manager k8ts-compose), and every object of the project's kinds with
// its label deleted, including those of services since removed from the file.
import type { Client } from '../client/client.js';
import { ReleaseKube, type KubeObject as ReleaseObject } from '../chart/release/kube.js';
import { PROJECT_LABEL, type KubeObject } from './convert.js';

export const COMPOSE_FIELD_MANAGER = 'k8ts-compose';

/** What `down` looks through, in deletion order (workloads first, claims last). */
const KINDS: { apiVersion: string; kind: string }[] = [
  { apiVersion: 'apps/v1', kind: 'Deployment' },
  { apiVersion: 'batch/v1', kind: 'Job' },
  { apiVersion: 'v1', kind: 'Service' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy' },
  { apiVersion: 'v1', kind: 'ConfigMap' },
  { apiVersion: 'v1', kind: 'Secret' },
  { apiVersion: 'v1', kind: 'PersistentVolumeClaim' },
];

export async function composeUp(
  client: Client,
  objects: KubeObject[],
  namespace: string,
  log: (line: string) => void,
): Promise<void> {
  const kube = new ReleaseKube(client, COMPOSE_FIELD_MANAGER);
  for (const o of objects) {
    const obj = o as unknown as ReleaseObject;
    await kube.apply(obj, namespace);
    log(`${obj.kind.toLowerCase()}/${obj.metadata.name} applied`);
  }
}

export async function composeDown(
  client: Client,
  project: string,
  namespace: string,
  opts: { volumes: boolean },
  log: (line: string) => void,
): Promise<void> {
  const kube = new ReleaseKube(client, COMPOSE_FIELD_MANAGER);
  for (const k of KINDS) {
    // As `docker compose down`: named volumes stay unless asked (-v).
    if (k.kind === 'PersistentVolumeClaim' && !opts.volumes) continue;
    const probe = { ...k, metadata: { name: 'x' } } as ReleaseObject;
    const { spec, ns } = await kube.resolve(probe, namespace);
    const list = await client
      .resource(spec)
      .namespace(ns)
      .list({ labelSelector: `${PROJECT_LABEL}=${project}` });
    for (const item of list.items) {
      const name = item.metadata.name;
      await kube.delete({ ...k, metadata: { name } }, namespace);
      log(`${k.kind.toLowerCase()}/${name} deleted`);
    }
  }
}
