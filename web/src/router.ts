// Routes live in the URL's fragment (#/...), so the server serves one index for every page.
import { useEffect, useState } from 'react';

export type Route =
  | { page: 'overview' }
  | { page: 'helm'; namespace: string }
  | ({ page: 'list'; namespace: string } & KindRef)
  | ({ page: 'object'; namespace: string; name: string; tab: string } & KindRef);

/**
 * A kind as routes name it: group, version and resource, so a list can be requested before
 * discovery has answered (a page opened at a list's address renders it sooner).
 */
export interface KindRef {
  group: string;
  version: string;
  resource: string;
}

const CORE = 'core';

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  const group = (g: string) => (g === CORE ? '' : g);
  if (parts[0] === 'helm') return { page: 'helm', namespace: parts[1] ?? '' };
  if (parts[0] === 'list' && parts.length >= 4)
    return { page: 'list', group: group(parts[1]), version: parts[2], resource: parts[3], namespace: parts[4] ?? '' };
  if (parts[0] === 'object' && parts.length >= 6)
    return {
      page: 'object',
      group: group(parts[1]),
      version: parts[2],
      resource: parts[3],
      namespace: parts[4],
      name: parts[5],
      tab: parts[6] ?? 'summary',
    };
  return { page: 'overview' };
}

const enc = encodeURIComponent;

const kindPath = (k: KindRef) => `${enc(k.group || CORE)}/${enc(k.version)}/${enc(k.resource)}`;

export function listHref(k: KindRef, namespace: string): string {
  return `#/list/${kindPath(k)}/${enc(namespace)}`;
}

export function objectHref(k: KindRef, namespace: string, name: string, tab?: string): string {
  return `#/object/${kindPath(k)}/${enc(namespace)}/${enc(name)}${tab ? `/${enc(tab)}` : ''}`;
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
