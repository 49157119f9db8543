// Routes live in the URL's fragment (#/...), so the server serves one index for every page.
import { useEffect, useState } from 'react';

export type Route =
  | { page: 'overview' }
  | { page: 'helm'; namespace: string }
  | { page: 'list'; group: string; resource: string; namespace: string }
  | { page: 'object'; group: string; resource: string; namespace: string; name: string; tab: string };

const CORE = 'core';

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const group = (g: string) => (g === CORE ? '' : g);
  if (parts[0] === 'helm') return { page: 'helm', namespace: parts[1] ?? '' };
  if (parts[0] === 'list' && parts.length >= 3)
    return { page: 'list', group: group(parts[1]), resource: parts[2], namespace: parts[3] ?? '' };
  if (parts[0] === 'object' && parts.length >= 5)
    return {
      page: 'object',
      group: group(parts[1]),
      resource: parts[2],
      namespace: parts[3],
      name: parts[4],
      tab: parts[5] ?? 'summary',
    };
  return { page: 'overview' };
}

const enc = encodeURIComponent;

export function listHref(group: string, resource: string, namespace: string): string {
  return `#/list/${enc(group || CORE)}/${enc(resource)}/${enc(namespace)}`;
}

export function objectHref(group: string, resource: string, namespace: string, name: string, tab?: string): string {
  return `#/object/${enc(group || CORE)}/${enc(resource)}/${enc(namespace)}/${enc(name)}${tab ? `/${enc(tab)}` : ''}`;
}

export const helmHref = (namespace: string) => `#/helm/${enc(namespace)}`;

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseRoute(window.location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parseRoute(window.location.hash));
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return route;
}
