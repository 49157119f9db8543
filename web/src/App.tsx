// The page: sign-in, then a sidebar of every kind discovery lists (CRDs included) with the
// namespace chooser, and the routed view (overview, a kind's list, an object's detail).
import { lazy, Suspense, useEffect, useMemo, useState } from 'react';
import { clearToken, getToken, listWatch, type KubeObject, type ListOf } from './api.js';
import { discoverKinds, type Kind } from './discovery.js';
import { resetAccess } from './access.js';
import { SignIn, whoAmI } from './SignIn.js';
import { helmHref, listHref, useRoute } from './router.js';
import { Overview } from './Overview.js';
import { ResourceList } from './ResourceList.js';
import { ObjectDetail } from './ObjectDetail.js';
import { applyEvent } from './live.js';

const HelmReleases = lazy(() => import('./HelmReleases.js').then((m) => ({ default: m.HelmReleases })));

function useNamespaces(enabled: boolean): string[] {
  const [names, setNames] = useState<KubeObject[]>([]);
  useEffect(() => {
    if (!enabled) return;
    return listWatch<ListOf<KubeObject>, KubeObject>('/api/v1/namespaces', {
      list: (l) => setNames(l.items),
      event: (e) => setNames((prev) => applyEvent(prev, e)),
    });
  }, [enabled]);
  return names.map((n) => n.metadata.name ?? '').sort();
}

function Sidebar({
  kinds,
  namespace,
  group,
  resource,
}: {
  kinds: Kind[];
  namespace: string;
  group?: string;
  resource?: string;
}) {
  const [filter, setFilter] = useState('');
  const listable = kinds.filter((k) => k.verbs.includes('list') && k.kind.toLowerCase().includes(filter.toLowerCase()));
  return (
    <nav className="kinds">
      <a href="#/overview">Overview</a>
      <a href={helmHref(namespace)}>Helm releases</a>
      <input placeholder="Find a kind" value={filter} onChange={(e) => setFilter(e.target.value)} />
      {listable.map((k) => (
        <a
          key={`${k.group}/${k.resource}`}
          className={k.group === group && k.resource === resource ? 'current' : ''}
          href={listHref(k.group, k.resource, k.namespaced ? namespace : '')}
          title={`${k.resource}${k.group ? `.${k.group}` : ''}`}
        >
          {k.kind}
          {k.group && <small> {k.group}</small>}
        </a>
      ))}
    </nav>
  );
}

export function App() {
  const [user, setUser] = useState<string | undefined>();
  const [checking, setChecking] = useState(() => getToken() !== '');
  const [kinds, setKinds] = useState<Kind[]>([]);
  const [error, setError] = useState('');
  const route = useRoute();
  const [namespace, setNamespace] = useState('default');
  const routeNamespace = route.page === 'overview' ? '' : route.namespace;
  useEffect(() => {
    if (routeNamespace) setNamespace(routeNamespace);
  }, [routeNamespace]);

  useEffect(() => {
    if (!getToken()) return;
    whoAmI()
      .then(setUser, () => clearToken())
      .finally(() => setChecking(false));
  }, []);
  useEffect(() => {
    const signOut = () => {
      clearToken();
      setUser(undefined);
    };
    window.addEventListener('k8ts-unauthorized', signOut);
    return () => window.removeEventListener('k8ts-unauthorized', signOut);
  }, []);
  useEffect(() => {
    if (user === undefined) return;
    discoverKinds().then(setKinds, (e: Error) => setError(e.message));
  }, [user]);
  const namespaces = useNamespaces(user !== undefined);
  const current = useMemo(
    () =>
      route.page === 'list' || route.page === 'object'
        ? kinds.find((k) => k.group === route.group && k.resource === route.resource)
        : undefined,
    [route, kinds],
  );

  if (checking) return null;
  if (user === undefined)
    return (
      <SignIn
        onSignedIn={(u) => {
          resetAccess();
          setUser(u);
        }}
      />
    );
  const chooseNamespace = (ns: string) => {
    setNamespace(ns);
    if (route.page === 'list' && current?.namespaced) window.location.hash = listHref(route.group, route.resource, ns);
    if (route.page === 'helm') window.location.hash = helmHref(ns);
  };
  return (
    <div className="app">
      <header>
        <a className="brand" href="#/overview">
          k8ts
        </a>
        <label>
          Namespace{' '}
          <input
            list="namespaces"
            name="namespace"
            value={namespace}
            onChange={(e) => chooseNamespace(e.target.value)}
            placeholder="all namespaces"
          />
          <datalist id="namespaces">
            {namespaces.map((n) => (
              <option key={n} value={n} />
            ))}
          </datalist>
        </label>
        <span className="user" data-testid="user">
          {user}
        </span>
        <button
          onClick={() => {
            clearToken();
            setUser(undefined);
          }}
        >
          Sign out
        </button>
      </header>
      <Sidebar
        kinds={kinds}
        namespace={namespace}
        group={route.page === 'list' || route.page === 'object' ? route.group : undefined}
        resource={route.page === 'list' || route.page === 'object' ? route.resource : undefined}
      />
      <main>
        {error && <p className="error">{error}</p>}
        {route.page === 'overview' && <Overview kinds={kinds} />}
        {route.page === 'helm' && (
          <Suspense fallback={<p>Loading…</p>}>
            <HelmReleases namespace={route.namespace} />
          </Suspense>
        )}
        {route.page === 'list' && current && (
          <ResourceList
            key={`${current.group}/${current.resource}/${route.namespace}`}
            kind={current}
            namespace={route.namespace}
          />
        )}
        {route.page === 'object' && current && (
          <ObjectDetail
            key={`${current.group}/${current.resource}/${route.namespace}/${route.name}`}
            kinds={kinds}
            kind={current}
            namespace={route.namespace}
            name={route.name}
            tab={route.tab}
          />
        )}
      </main>
    </div>
  );
}
