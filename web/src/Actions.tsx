// The object's actions, each shown only when an access review says the user may: scale, rollout
// restart, delete (with a propagation policy), and cordon/uncordon/drain for nodes.
import { useState } from 'react';
import { ApiError, request, type KubeObject, type ListOf } from './api.js';
import { useCan } from './access.js';
import { objectPath, type Kind } from './discovery.js';

const RESTARTABLE = new Set(['apps/deployments', 'apps/statefulsets', 'apps/daemonsets']);
const MERGE = 'application/merge-patch+json';
const STRATEGIC = 'application/strategic-merge-patch+json';

/** Evict the node's pods as `kubectl drain` does: DaemonSet pods and mirror pods stay. */
async function drain(node: string): Promise<number> {
  const pods = await request<ListOf<KubeObject>>(
    `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${node}`)}`,
  );
  const evictable = pods.items.filter(
    (p) =>
      !p.metadata.ownerReferences?.some((o) => o.kind === 'DaemonSet') &&
      !p.metadata.annotations?.['kubernetes.io/config.mirror'],
  );
  for (const p of evictable) {
    try {
      await request(`/api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`, {
        method: 'POST',
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name: p.metadata.name, namespace: p.metadata.namespace },
        },
      });
    } catch (err) {
      // A pod that went away since the list is drained already (kubectl drain ignores NotFound too).
      if (!(err instanceof ApiError && err.code === 404)) throw err;
    }
  }
  return evictable.length;
}

export function Actions({ kind, obj }: { kind: Kind; obj: KubeObject }) {
  const ns = obj.metadata.namespace;
  const name = obj.metadata.name ?? '';
  const path = objectPath(kind, ns, name);
  const attrs = (verb: string, subresource?: string) => ({
    verb,
    group: kind.group,
    resource: kind.resource,
    namespace: ns,
    name,
    subresource,
  });
  const hasScale = kind.subresources.includes('scale');
  const canScale = useCan(hasScale ? attrs('patch', 'scale') : undefined);
  const canPatch = useCan(attrs('patch'));
  const canDelete = useCan(kind.verbs.includes('delete') ? attrs('delete') : undefined);
  const isNode = kind.group === '' && kind.resource === 'nodes';
  const canEvict = useCan(
    isNode ? { verb: 'create', group: '', resource: 'pods', subresource: 'eviction' } : undefined,
  );
  const spec = (obj.spec ?? {}) as { replicas?: number; unschedulable?: boolean };
  const [replicas, setReplicas] = useState(String(spec.replicas ?? 0));
  const [propagation, setPropagation] = useState('Background');
  const [message, setMessage] = useState('');

  const run = (what: string, action: () => Promise<unknown>) => {
    setMessage(`${what}…`);
    action().then(
      () => setMessage(`${what}: done`),
      (err: unknown) => setMessage(`${what}: ${err instanceof Error ? err.message : String(err)}`),
    );
  };
  const patch = (p: string, body: unknown, contentType: string) => request(p, { method: 'PATCH', body, contentType });

  return (
    <div className="actions">
      {canScale && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            run('scale', () => patch(`${path}/scale`, { spec: { replicas: Number(replicas) } }, MERGE));
          }}
        >
          <input name="replicas" type="number" min={0} value={replicas} onChange={(e) => setReplicas(e.target.value)} />
          <button type="submit">Scale</button>
        </form>
      )}
      {canPatch && RESTARTABLE.has(`${kind.group}/${kind.resource}`) && (
        <button
          onClick={() =>
            run('restart', () =>
              patch(
                path,
                {
                  spec: {
                    template: {
                      metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } },
                    },
                  },
                },
                STRATEGIC,
              ),
            )
          }
        >
          Restart
        </button>
      )}
      {canPatch && isNode && (
        <button
          onClick={() =>
            run(spec.unschedulable ? 'uncordon' : 'cordon', () =>
              patch(path, { spec: { unschedulable: spec.unschedulable ? null : true } }, MERGE),
            )
          }
        >
          {spec.unschedulable ? 'Uncordon' : 'Cordon'}
        </button>
      )}
      {canPatch && canEvict && isNode && (
        <button
          onClick={() =>
            run('drain', async () => {
              await patch(path, { spec: { unschedulable: true } }, MERGE);
              await drain(name);
            })
          }
        >
          Drain
        </button>
      )}
      {canDelete && (
        <span className="delete">
          <select name="propagation" value={propagation} onChange={(e) => setPropagation(e.target.value)}>
            <option>Background</option>
            <option>Foreground</option>
            <option>Orphan</option>
          </select>
          <button
            className="danger"
            data-testid="delete"
            onClick={() => {
              if (!window.confirm(`Delete ${kind.kind} ${name}?`)) return;
              run('delete', () =>
                request(path, {
                  method: 'DELETE',
                  body: { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: propagation },
                }),
              );
            }}
          >
            Delete
          </button>
        </span>
      )}
      {message && (
        <span className="message" data-testid="action-message">
          {message}
        </span>
      )}
    </div>
  );
}
