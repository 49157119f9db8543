// The API as the signed-in user: every request carries the user's bearer token, so the API
// server's RBAC decides what the page may read and do. Watches are streamed over fetch (one
// JSON event a line); nothing polls.

const TOKEN_KEY = 'k8ts.dashboard.token';

export const TABLE_ACCEPT = 'application/json;as=Table;g=meta.k8s.io;v=v1, application/json';

export interface Status {
  kind: 'Status';
  code?: number;
  reason?: string;
  message?: string;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  ownerReferences?: { apiVersion: string; kind: string; name: string; uid: string; controller?: boolean }[];
  deletionTimestamp?: string;
}

/** Any Kubernetes object, as the page handles them (its fields are read where known). */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  // Objects of every kind come through here; their fields are checked where they are read.
  [field: string]: unknown;
}

export interface ListOf<T> {
  metadata: { resourceVersion?: string; continue?: string };
  items: T[];
}

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export const getToken = () => sessionStorage.getItem(TOKEN_KEY) ?? '';
export const setToken = (token: string) => sessionStorage.setItem(TOKEN_KEY, token);
export const clearToken = () => sessionStorage.removeItem(TOKEN_KEY);

function headers(extra?: Record<string, string>): Record<string, string> {
  return { Authorization: `Bearer ${getToken()}`, ...extra };
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const s = JSON.parse(text) as Status;
    return new ApiError(res.status, s.reason ?? res.statusText, s.message ?? text);
  } catch {
    return new ApiError(res.status, res.statusText, text || res.statusText);
  }
}

export interface RequestOptions {
  method?: string;
  body?: unknown;
  accept?: string;
  contentType?: string;
  signal?: AbortSignal;
}

export async function request<T>(path: string, opts: RequestOptions = {}): Promise<T> {
  const extra: Record<string, string> = { Accept: opts.accept ?? 'application/json' };
  if (opts.body !== undefined) extra['Content-Type'] = opts.contentType ?? 'application/json';
  const res = await fetch(path, {
    method: opts.method ?? 'GET',
    headers: headers(extra),
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
  });
  if (res.status === 401) window.dispatchEvent(new Event('k8ts-unauthorized'));
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

/** A streamed response body, as text chunks (logs), until it ends or `signal` aborts. */
export async function stream(path: string, onText: (text: string) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(path, { headers: headers(), signal });
  if (!res.ok) throw await failure(res);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    onText(value);
  }
}

/** Watch events from `path` (a list path with watch=1 added), until the stream ends or aborts. */
export async function watch<T>(
  path: string,
  onEvent: (e: WatchEvent<T>) => void,
  signal: AbortSignal,
  accept = 'application/json',
): Promise<void> {
  const sep = path.includes('?') ? '&' : '?';
  const res = await fetch(`${path}${sep}watch=1&allowWatchBookmarks=true`, {
    headers: headers({ Accept: accept }),
    signal,
  });
  if (!res.ok) throw await failure(res);
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) onEvent(JSON.parse(line) as WatchEvent<T>);
    }
  }
}

export interface ListWatchHandlers<L, T> {
  /** The list (again after a relist). */
  list(list: L): void;
  event(e: WatchEvent<T>): void;
  error?(err: unknown): void;
}

/**
 * List, then watch from the list's resourceVersion; a watch that ends is resumed from the last
 * version seen, and one too old (410 Gone, or an ERROR event) starts over with a list, as
 * client-go's reflector does. Returns the function that stops it.
 */
export function listWatch<L extends { metadata: { resourceVersion?: string } }, T extends { metadata?: ObjectMeta }>(
  path: string,
  handlers: ListWatchHandlers<L, T>,
  accept = 'application/json',
): () => void {
  const abort = new AbortController();
  const sep = path.includes('?') ? '&' : '?';
  const run = async () => {
    let rv: string | undefined;
    let backoff = 500;
    while (!abort.signal.aborted) {
      try {
        if (rv === undefined) {
          const list = await request<L>(path, { accept, signal: abort.signal });
          rv = list.metadata.resourceVersion ?? '';
          handlers.list(list);
        }
        let gone = false;
        await watch<T>(
          `${path}${sep}resourceVersion=${encodeURIComponent(rv)}`,
          (e) => {
            if (e.type === 'ERROR') {
              gone = true;
              return;
            }
            const v = e.object.metadata?.resourceVersion;
            if (v) rv = v;
            if (e.type !== 'BOOKMARK') handlers.event(e);
          },
          abort.signal,
          accept,
        );
        if (gone) rv = undefined;
        backoff = 500;
      } catch (err) {
        if (abort.signal.aborted) return;
        if (err instanceof ApiError && err.code === 410) rv = undefined;
        else {
          handlers.error?.(err);
          if (err instanceof ApiError && (err.code === 403 || err.code === 401 || err.code === 404)) return;
        }
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
      }
    }
  };
  void run();
  return () => abort.abort();
}

/** base64url without padding, as the WebSocket bearer subprotocol carries the token. */
export function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** A WebSocket to the API as the signed-in user (the token rides as a subprotocol). */
export function openWebSocket(path: string, protocols: string[]): WebSocket {
  const url = new URL(path, window.location.href);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(url, [...protocols, `base64url.bearer.authorization.k8s.io.${base64url(getToken())}`]);
  ws.binaryType = 'arraybuffer';
  return ws;
}
