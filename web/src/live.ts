// Keeping a list current from watch events, keyed by uid (Table rows by their object's uid).
import type { ObjectMeta, WatchEvent } from './api.js';

export function applyEvent<T extends { metadata: ObjectMeta }>(items: T[], e: WatchEvent<T>): T[] {
  const uid = e.object.metadata.uid;
  const at = items.findIndex((o) => o.metadata.uid === uid);
  if (e.type === 'DELETED') return at < 0 ? items : items.filter((_, i) => i !== at);
  if (at < 0) return [...items, e.object];
  const next = items.slice();
  next[at] = e.object;
  return next;
}
