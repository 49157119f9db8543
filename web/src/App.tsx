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
          href={listHref(k, k.namespaced ? namespace : '')}
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
  // With a token from this tab's session the pages render at once; the token is checked (who am
  // I) meanwhile, and a 401 anywhere signs out.
  const [signedIn, setSignedIn] = useState(() => getToken() !== '');
  const [user, setUser] = useState('');
  const [kinds, setKinds] = useState<Kind[]>([]);
  const [error, setError] = useState('');
  const route = useRoute();
  const [namespace, setNamespace] = useState('default');
  const routeNamespace = route.page === 'overview' ? '' : route.namespace;
  useEffect(() => {
    if (routeNamespace) setNamespace(routeNamespace);
  }, [routeNamespace]);

  const signOut = () => {
    clearToken();
    setSignedIn(false);
    setUser('');
  };
  useEffect(() => {
    window.addEventListener('k8ts-unauthorized', signOut);
    return () => window.removeEventListener('k8ts-unauthorized', signOut);
  }, []);
  useEffect(() => {
    if (!signedIn) return;
    whoAmI().then(setUser, signOut);
    discoverKinds().then(setKinds, (e: Error) => setError(e.message));
  }, [signedIn]);
  const namespaces = useNamespaces(signedIn);
  // The kind the route names: as discovery describes it, or (until discovery answers) as the
  // route does, which is all a list or an object's page needs to be requested.
  const current = useMemo((): Kind | undefined => {
    if (route.page !== 'list' && route.page !== 'object') return undefined;
    const { group, version, resource } = route;
    return (
      kinds.find((k) => k.group === group && k.resource === resource) ?? {
        group,
        version,
        resource,
        kind: resource,
        namespaced: route.namespace !== '',
        verbs: [],
        subresources: [],
      }
    );
  }, [route, kinds]);

  if (!signedIn)
    return (
      <SignIn
        onSignedIn={(u) => {
          resetAccess();
          setUser(u);
          setSignedIn(true);
        }}
      />
    );
  const chooseNamespace = (ns: string) => {
    setNamespace(ns);
    if (route.page === 'list' && current?.namespaced) window.location.hash = listHref(route, ns);
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
        <span className="user">{user && <span data-testid="user">{user}</span>}</span>
        <button onClick={signOut}>Sign out</button>
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
