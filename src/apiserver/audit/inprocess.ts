// Audit events of in-process calls: the components inside `k8ts server` (controller manager,
// scheduler, ...) call the verb handlers without HTTP (apiserver/inprocess.ts), but upstream's
// run as clients of the API server and appear in its audit log under their own users. Their calls
// get the same events as an HTTP request would: the policy evaluated on the same attributes, the
// requestURI the HTTPS transport would have used, RequestReceived then ResponseComplete (a watch:
// ResponseStarted, then ResponseComplete when it ends).
import { randomUUID } from 'node:crypto';
import { toApiError } from '../../machinery/errors.js';
import { type AuthorizationResult, attributes } from '../authz/types.js';
import type { UserInfo } from '../user.js';
import type { Auditor } from './index.js';
import {
  type AuditEvent,
  type ResponseStatus,
  eventUser,
  microTime,
  preciseNow,
  sortedAnnotations,
  withoutManagedFields,
} from './event.js';
import { type RequestAuditConfig, type Stage, atLeast } from './policy.js';

export interface InProcessCall {
  user: UserInfo;
  verb: string;
  group: string;
  version: string;
  resource: string;
  namespace?: string;
  name?: string;
  subresource?: string;
  /** The component (its field manager), as the user agent of its client. */
  userAgent: string;
  /** What a write sends. */
  body?: unknown;
  /** Authorization's verdict on the call (absent: no authorizer, the call is allowed). */
  authorization?: AuthorizationResult;
}

/** The path an HTTPS client would have requested. */
export function requestURIOf(c: InProcessCall): string {
  let path = c.group ? `/apis/${c.group}/${c.version}` : `/api/${c.version}`;
  if (c.namespace) path += `/namespaces/${c.namespace}`;
  path += `/${c.resource}`;
  if (c.name) path += `/${c.name}`;
  if (c.subresource) path += `/${c.subresource}`;
  return c.verb === 'watch' ? `${path}?watch=true` : path;
}

/** One in-process call's events; undefined when the policy's level for it is None. */
export function beginInProcessAudit(
  auditor: Auditor | undefined,
  call: InProcessCall,
): InProcessAuditRecord | undefined {
  if (!auditor) return undefined;
  const config = auditor.evaluate(
    attributes({
      user: call.user,
      verb: call.verb,
      namespace: call.namespace ?? '',
      apiGroup: call.group,
      apiVersion: call.version,
      resource: call.resource,
      subresource: call.subresource ?? '',
      name: call.name ?? '',
    }),
  );
  if (config.level === 'None') return undefined;
  return new InProcessAuditRecord(auditor, config, call);
}

export class InProcessAuditRecord {
  private readonly event: AuditEvent;
  private done = false;

  constructor(
    private readonly auditor: Auditor,
    private readonly config: RequestAuditConfig,
    private readonly call: InProcessCall,
  ) {
    const ev: AuditEvent = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: config.level,
      auditID: randomUUID(),
      stage: 'RequestReceived',
      requestURI: requestURIOf(call),
      verb: call.verb,
      user: eventUser(call.user),
      // The loopback client of upstream's components, which reach their API server on localhost.
      sourceIPs: ['127.0.0.1'],
      userAgent: call.userAgent,
      objectRef: { resource: call.resource, apiVersion: call.version },
      requestReceivedTimestamp: microTime(preciseNow()),
      stageTimestamp: '',
    };
    const ref = ev.objectRef!;
    if (call.namespace) ref.namespace = call.namespace;
    const bodyName = (call.body as { metadata?: { name?: unknown } } | undefined)?.metadata?.name;
    if (call.name) ref.name = call.name;
    else if (call.verb === 'create' && typeof bodyName === 'string') ref.name = bodyName;
    if (call.group) ref.apiGroup = call.group;
    if (call.subresource) ref.subresource = call.subresource;
    this.event = ev;
    this.emit('RequestReceived');
  }

  /** A watch has started sending events. */
  started(): void {
    if (!this.done) this.emit('ResponseStarted');
  }

  /** The call's answer: its object (RequestResponse level) or the error it raised. */
  complete(result: { response?: unknown; code?: number } | { error: unknown }): void {
    if (this.done) return;
    this.done = true;
    let status: ResponseStatus;
    if ('error' in result) {
      const e = toApiError(result.error);
      const s = e.toStatus() as { status?: string; message?: string; reason?: string; details?: unknown };
      status = {
        metadata: {},
        status: s.status,
        message: s.message,
        reason: s.reason,
        details: s.details,
        code: e.code,
      };
    } else {
      status = { metadata: {}, code: result.code ?? (this.call.verb === 'create' ? 201 : 200) };
      if (atLeast(this.config.level, 'RequestResponse') && result.response !== undefined)
        this.event.responseObject = this.strip(result.response);
    }
    this.event.responseStatus = status;
    this.emit('ResponseComplete');
  }

  private strip(obj: unknown): unknown {
    return this.config.omitManagedFields ? withoutManagedFields(obj) : obj;
  }

  private emit(stage: Stage): void {
    const ev = this.event;
    ev.stage = stage;
    ev.stageTimestamp = microTime(preciseNow());
    if (stage !== 'RequestReceived') {
      if (!ev.responseStatus) ev.responseStatus = { metadata: {}, code: 200 };
      if (this.call.body !== undefined && atLeast(this.config.level, 'Request'))
        ev.requestObject = this.strip(this.call.body);
      // Authorized as the component's own user, as an HTTP request is.
      const authz = this.call.authorization;
      ev.annotations = sortedAnnotations({
        'authorization.k8s.io/decision': !authz || authz.decision === 'Allow' ? 'allow' : 'forbid',
        'authorization.k8s.io/reason': authz?.reason ?? '',
      });
    }
    if (!this.config.omitStages.has(stage)) this.auditor.write(ev);
  }
}
