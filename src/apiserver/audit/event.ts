// audit.k8s.io/v1 Event: one line of the audit log per request stage, in upstream's field order.
import type { IncomingMessage } from 'node:http';
import type { UserInfo } from '../user.js';
import type { Level, Stage } from './policy.js';

export interface EventUser {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface ObjectReference {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

export interface ResponseStatus {
  metadata: Record<string, never>;
  status?: string;
  message?: string;
  reason?: string;
  details?: unknown;
  code: number;
}

export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: Level;
  auditID: string;
  stage: Stage;
  requestURI: string;
  verb: string;
  user: EventUser;
  impersonatedUser?: EventUser;
  sourceIPs: string[];
  userAgent?: string;
  objectRef?: ObjectReference;
  responseStatus?: ResponseStatus;
  requestObject?: unknown;
  responseObject?: unknown;
  requestReceivedTimestamp: string;
  stageTimestamp: string;
  annotations?: Record<string, string>;
}

export function eventUser(u: UserInfo): EventUser {
  // Empty fields are left out (omitempty), as for a request nobody authenticated.
  const out = {} as EventUser;
  if (u.name) out.username = u.name;
  if (u.uid) out.uid = u.uid;
  if (u.groups.length) out.groups = u.groups;
  if (u.extra && Object.keys(u.extra).length) out.extra = u.extra;
  return out;
}

/** The formatted second of the last timestamp: two stages of a request usually share it. */
let cachedSecond = NaN;
let cachedPrefix = '';

/** A metav1.MicroTime: RFC 3339 with microseconds, UTC (2006-01-02T15:04:05.000000Z). */
export function microTime(epochMs: number): string {
  const micros = Math.floor(epochMs * 1000);
  const second = Math.floor(micros / 1_000_000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedPrefix = new Date(second * 1000).toISOString().slice(0, 19);
  }
  return `${cachedPrefix}.${String(micros - second * 1_000_000).padStart(6, '0')}Z`;
}

/** Milliseconds since the epoch with sub-millisecond precision. */
export const preciseNow = (): number => performance.timeOrigin + performance.now();

const unmapped = (ip: string) => (ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip);

/** upstream utilnet.SourceIPs: X-Forwarded-For, then X-Real-Ip, then the peer, without repeats. */
export function sourceIPs(req: IncomingMessage): string[] {
  const out: string[] = [];
  const add = (ip: string | undefined) => {
    const v = ip?.trim();
    if (v && !out.includes(v)) out.push(v);
  };
  const forwarded = req.headers['x-forwarded-for'];
  if (typeof forwarded === 'string') for (const ip of forwarded.split(',')) add(ip);
  const real = req.headers['x-real-ip'];
  if (typeof real === 'string') add(real);
  const peer = req.socket?.remoteAddress;
  if (peer) add(unmapped(peer));
  return out;
}

/** The event's managed fields dropped (omitManagedFields), from an object or each item of a list. */
export function withoutManagedFields(obj: unknown): unknown {
  if (!obj || typeof obj !== 'object') return obj;
  const o = obj as { metadata?: { managedFields?: unknown }; items?: unknown[] };
  if (o.metadata && typeof o.metadata === 'object') delete o.metadata.managedFields;
  if (Array.isArray(o.items)) for (const item of o.items) withoutManagedFields(item);
  return obj;
}

/** Annotations in key order, as Go's encoding of a map writes them. */
export function sortedAnnotations(a: Record<string, string>): Record<string, string> | undefined {
  const keys = Object.keys(a);
  if (!keys.length) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys.sort()) out[k] = a[k];
  return out;
}
