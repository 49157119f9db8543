// One object, kept live by a watch: summary (conditions, owners and what it owns, actions),
// YAML, its events, and for pods the logs and an exec terminal.
import { lazy, Suspense, useEffect, useState } from 'react';
import { listWatch, request, type KubeObject, type ListOf } from './api.js';
import { useCan } from './access.js';
import { apiVersionOf, collectionPath, findKind, objectPath, type Kind } from './discovery.js';
import { objectHref } from './router.js';
import { applyEvent } from './live.js';
import { Actions } from './Actions.js';
import { Logs } from './Logs.js';

// The editor (with its YAML library) and the terminal (xterm.js) load when first opened: a list's
// first render does not wait for them.
const YamlEditor = lazy(() => import('./YamlEditor.js').then((m) => ({ default: m.YamlEditor })));
const Terminal = lazy(() => import('./Terminal.js').then((m) => ({ default: m.Terminal })));

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
}

/** Kinds whose objects are commonly owned by another (what a Deployment, Job, ... made). */
const OWNED_KINDS = ['pods', 'replicasets', 'jobs', 'controllerrevisions', 'endpointslices'];

function useLiveObject(kind: Kind, namespace: string, name: string) {
  const [obj, setObj] = useState<KubeObject | undefined>();
  const [error, setError] = useState('');
  const path = `${collectionPath(kind, namespace)}?fieldSelector=${encodeURIComponent(`metadata.name=${name}`)}`;
  useEffect(() => {
    return listWatch<ListOf<KubeObject>, KubeObject>(path, {
      list: (l) => {
        setObj(l.items[0]);
        if (!l.items[0]) setError('not found');
      },
      event: (e) => setObj((prev) => applyEvent(prev ? [prev] : [], e)[0]),
      error: (err) => setError(err instanceof Error ? err.message : String(err)),
    });
  }, [path]);
  return { obj, error };
}

function Owned({ kinds, obj }: { kinds: Kind[]; obj: KubeObject }) {
  const [owned, setOwned] = useState<{ kind: Kind; obj: KubeObject }[]>([]);
  const uid = obj.metadata.uid;
  const ns = obj.metadata.namespace;
  useEffect(() => {
    let live = true;
    const candidates = kinds.filter((k) => OWNED_KINDS.includes(k.resource) && (k.namespaced || !ns));
    void Promise.all(
      candidates.map((k) =>
        request<ListOf<KubeObject>>(collectionPath(k, ns)).then(
          (l) =>
            l.items
              .filter((o) => o.metadata.ownerReferences?.some((r) => r.uid === uid))
              .map((o) => ({ kind: k, obj: o })),
          () => [],
        ),
      ),
    ).then((all) => live && setOwned(all.flat()));
    return () => {
      live = false;
    };
  }, [kinds, uid, ns, obj.metadata.resourceVersion]);
  if (!owned.length) return null;
  return (
    <>
      <h3>Owns</h3>
      <ul>
        {owned.map(({ kind, obj: o }) => (
          <li key={o.metadata.uid}>
            {kind.kind}{' '}
            <a href={objectHref(kind, o.metadata.namespace ?? '', o.metadata.name ?? '')}>{o.metadata.name}</a>
          </li>
        ))}
      </ul>
    </>
  );
}

function Summary({ kinds, kind, obj }: { kinds: Kind[]; kind: Kind; obj: KubeObject }) {
  const m = obj.metadata;
  const conditions = (obj.status as { conditions?: Condition[] } | undefined)?.conditions ?? [];
  return (
    <div className="summary">
      <Actions kind={kind} obj={obj} />
      <dl>
        <dt>Created</dt>
        <dd>{m.creationTimestamp}</dd>
        <dt>Labels</dt>
        <dd>
          {Object.entries(m.labels ?? {}).map(([k, v]) => (
            <code key={k} className="label">
              {k}={v}
            </code>
          ))}
        </dd>
        {(m.ownerReferences ?? []).length > 0 && (
          <>
            <dt>Owners</dt>
            <dd>
              {m.ownerReferences!.map((r) => {
                const k = findKind(kinds, r.apiVersion, r.kind);
                return (
                  <span key={r.uid}>
                    {r.kind}{' '}
                    {k ? (
                      <a href={objectHref(k, k.namespaced ? (m.namespace ?? '') : '', r.name)}>{r.name}</a>
                    ) : (
                      r.name
                    )}{' '}
                  </span>
                );
              })}
            </dd>
          </>
        )}
      </dl>
      {conditions.length > 0 && (
        <>
          <h3>Conditions</h3>
          <table className="conditions">
            <thead>
              <tr>
                <th>Type</th>
                <th>Status</th>
                <th>Reason</th>
                <th>Message</th>
                <th>Since</th>
              </tr>
            </thead>
            <tbody>
              {conditions.map((c) => (
                <tr key={c.type} data-condition={c.type} className={c.status === 'True' ? 'true' : 'false'}>
                  <td>{c.type}</td>
                  <td>{c.status}</td>
                  <td>{c.reason}</td>
                  <td>{c.message}</td>
                  <td>{c.lastTransitionTime}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      <Owned kinds={kinds} obj={obj} />
    </div>
  );
}

interface Event extends KubeObject {
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  lastTimestamp?: string;
  eventTime?: string;
}

function Events({ obj }: { obj: KubeObject }) {
  const [events, setEvents] = useState<Event[]>([]);
  const ns = obj.metadata.namespace;
  const uid = obj.metadata.uid ?? '';
  useEffect(() => {
    const path = `/api/v1${ns ? `/namespaces/${encodeURIComponent(ns)}` : ''}/events?fieldSelector=${encodeURIComponent(`involvedObject.uid=${uid}`)}`;
    return listWatch<ListOf<Event>, Event>(path, {
      list: (l) => setEvents(l.items),
      event: (e) => setEvents((prev) => applyEvent(prev, e)),
    });
  }, [ns, uid]);
  if (!events.length) return <p>No events.</p>;
  return (
    <table className="events">
      <tbody>
        {events.map((e) => (
          <tr key={e.metadata.uid} className={e.type === 'Warning' ? 'warning' : ''}>
            <td>{e.type}</td>
            <td>{e.reason}</td>
            <td>{e.message}</td>
            <td>{e.count}</td>
            <td>{e.lastTimestamp ?? e.eventTime}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function ObjectDetail(props: { kinds: Kind[]; kind: Kind; namespace: string; name: string; tab: string }) {
  const { kinds, kind, namespace, name, tab } = props;
  const { obj, error } = useLiveObject(kind, namespace, name);
  const isPod = kind.group === '' && kind.resource === 'pods';
  const canUpdate = useCan({
    verb: 'update',
    group: kind.group,
    resource: kind.resource,
    namespace: namespace || undefined,
    name,
  });
  const canLogs = useCan(
    isPod ? { verb: 'get', group: '', resource: 'pods', subresource: 'log', namespace, name } : undefined,
  );
  const canExec = useCan(
    isPod ? { verb: 'create', group: '', resource: 'pods', subresource: 'exec', namespace, name } : undefined,
  );
  const tabs = ['summary', 'yaml', 'events', ...(canLogs ? ['logs'] : []), ...(canExec ? ['exec'] : [])];
  const containers = ((obj?.spec as { containers?: { name: string }[] } | undefined)?.containers ?? []).map(
    (c) => c.name,
  );
  return (
    <section className="detail">
      <h2>
        {kind.kind} <span data-testid="object-name">{name}</span> {namespace && <small>in {namespace}</small>}
      </h2>
      <nav className="tabs">
        {tabs.map((t) => (
          <a key={t} className={t === tab ? 'current' : ''} href={objectHref(kind, namespace, name, t)}>
            {t}
          </a>
        ))}
      </nav>
      {error && <p className="error">{error}</p>}
      {obj && tab === 'summary' && <Summary kinds={kinds} kind={kind} obj={obj} />}
      <Suspense fallback={<p>Loading…</p>}>
        {obj && tab === 'yaml' && (
          <YamlEditor
            obj={{ apiVersion: apiVersionOf(kind), kind: kind.kind, ...obj }}
            path={objectPath(kind, namespace || undefined, name)}
            canEdit={canUpdate}
          />
        )}
        {obj && tab === 'events' && <Events obj={obj} />}
        {obj && tab === 'logs' && isPod && <Logs namespace={namespace} pod={name} containers={containers} />}
        {obj && tab === 'exec' && isPod && <Terminal namespace={namespace} pod={name} containers={containers} />}
      </Suspense>
    </section>
  );
}
