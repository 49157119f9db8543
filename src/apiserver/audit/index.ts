// Audit logging (kube-apiserver --audit-policy-file, --audit-log-*): every request gets an audit
// ID (the Audit-Id response header); when a policy and a log are configured, the policy's level
// for the request decides what its events record, and the events go to the log in batches.
// The server calls, in order: beginAudit (before authentication), authenticated, authorized,
// then failed/panicked if it answers with an error; the last stage is written when the response
// ends. A request at level None costs one policy evaluation.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import YAML from 'yaml';
import type { ApiError } from '../../machinery/errors.js';
import type { Attributes, AuthorizationResult } from '../authz/types.js';
import { observeBody } from '../http.js';
import type { ResourceRequest } from '../requestinfo.js';
import type { UserInfo } from '../user.js';
import {
  type AuditEvent,
  type ResponseStatus,
  eventUser,
  microTime,
  preciseNow,
  sortedAnnotations,
  sourceIPs,
  withoutManagedFields,
} from './event.js';
import { type LineSink, type LogRotation, openAuditLog } from './logwriter.js';
import { type Policy, PolicyEvaluator, type RequestAuditConfig, type Stage, atLeast } from './policy.js';

export { loadPolicy, parsePolicy, PolicyEvaluator, ruleMatches, type Policy, type PolicyRule } from './policy.js';
export { openAuditLog, RotatingFile, BatchingSink, type LogRotation } from './logwriter.js';
export type { AuditEvent } from './event.js';

export const AUDIT_ID_HEADER = 'Audit-Id';
const DECISION = 'authorization.k8s.io/decision';
const REASON = 'authorization.k8s.io/reason';

/** The admission chain's audit annotations of a request go straight into its event. */
const annotationsByRequest = new WeakMap<IncomingMessage, Record<string, string>>();

/** Where admission plugins of this request put their audit annotations (undefined: not audited). */
export function auditAnnotationsFor(req: IncomingMessage): Record<string, string> | undefined {
  return annotationsByRequest.get(req);
}

export class Auditor {
  private readonly evaluator: PolicyEvaluator;

  constructor(
    policy: Policy,
    private readonly sink: LineSink,
  ) {
    this.evaluator = new PolicyEvaluator(policy);
  }

  static open(policy: Policy, path: string, rotation: LogRotation): Auditor {
    return new Auditor(policy, openAuditLog(path, rotation));
  }

  evaluate(a: Attributes): RequestAuditConfig {
    return this.evaluator.evaluate(a);
  }

  write(ev: AuditEvent): void {
    this.sink.write(`${JSON.stringify(ev)}\n`);
  }

  flush(): void {
    this.sink.flush();
  }

  close(): void {
    this.sink.close();
  }
}

/**
 * Give the request its audit ID (the client's own Audit-ID header, else a new one) and, with an
 * auditor, the record that follows it. Called for every request, audited or not.
 */
export function beginAudit(
  auditor: Auditor | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): AuditRecord | undefined {
  const given = req.headers['audit-id'];
  const id = typeof given === 'string' && given ? given : randomUUID();
  res.setHeader(AUDIT_ID_HEADER, id);
  return auditor ? new AuditRecord(auditor, id, req, res) : undefined;
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);
/** Subresources whose answer is a stream, not an object. */
const STREAMING = new Set(['log', 'exec', 'attach', 'portforward', 'proxy']);

/** One request's audit events: inert until the policy gives it a level above None. */
export class AuditRecord {
  private config?: RequestAuditConfig;
  private event?: AuditEvent;
  private readonly annotations: Record<string, string> = {};
  private authz?: AuthorizationResult;
  private status?: ResponseStatus;
  private requestBody?: Buffer;
  private responseChunks?: Buffer[];
  private done = false;
  private readonly received = preciseNow();

  constructor(
    private readonly auditor: Auditor,
    readonly id: string,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}

  /** Authentication failed: upstream records it at the ResponseStarted stage, as nobody. */
  unauthenticated(a: Attributes): void {
    this.start(a, undefined, false);
    if (!this.event) return;
    this.status = { metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 };
    this.emit('ResponseStarted');
    this.done = true;
  }

  /** The authenticated user is known: the policy decides the level; RequestReceived is written. */
  authenticated(a: Attributes, info: ResourceRequest | undefined): void {
    this.start(a, info, true);
  }

  private start(a: Attributes, info: ResourceRequest | undefined, track: boolean): void {
    const config = this.auditor.evaluate(a);
    if (config.level === 'None') return;
    this.config = config;
    const ev: AuditEvent = {
      kind: 'Event',
      apiVersion: 'audit.k8s.io/v1',
      level: config.level,
      auditID: this.id,
      stage: 'RequestReceived',
      requestURI: this.req.url ?? '/',
      verb: a.verb,
      user: eventUser(a.user),
      sourceIPs: sourceIPs(this.req),
      requestReceivedTimestamp: microTime(this.received),
      stageTimestamp: '',
    };
    const ua = this.req.headers['user-agent'];
    if (ua) ev.userAgent = ua;
    if (info) {
      ev.objectRef = { resource: info.resource };
      if (a.namespace) ev.objectRef.namespace = a.namespace;
      if (info.name) ev.objectRef.name = info.name;
      if (info.group) ev.objectRef.apiGroup = info.group;
      ev.objectRef.apiVersion = info.version;
      if (info.subresource) ev.objectRef.subresource = info.subresource;
    }
    this.event = ev;
    if (!track) return;
    annotationsByRequest.set(this.req, this.annotations);
    // A create names its object in the body: the event names it too, at any level.
    if (WRITE_VERBS.has(a.verb) && (atLeast(config.level, 'Request') || (a.verb === 'create' && info && !info.name)))
      observeBody(this.req, (body) => (this.requestBody = body));
    if (atLeast(config.level, 'RequestResponse') && a.verb !== 'watch' && !STREAMING.has(a.subresource))
      this.captureResponse();
    const finish = () => this.complete();
    this.res.once('finish', finish);
    this.res.once('close', finish);
    this.emit('RequestReceived');
  }

  /** Authorization's verdict (and the impersonated user, when the request acts as another). */
  authorized(authenticated: UserInfo, actor: UserInfo, result: AuthorizationResult): void {
    if (!this.event) return;
    this.authz = result;
    if (actor !== authenticated) this.event.impersonatedUser = eventUser(actor);
  }

  failed(e: ApiError): void {
    if (!this.event) return;
    const s = e.toStatus() as { status?: string; message?: string; reason?: string; details?: unknown };
    this.status = {
      metadata: {},
      status: s.status,
      message: s.message,
      reason: s.reason,
      details: s.details,
      code: e.code,
    };
  }

  /** An unexpected exception answered as a 500: upstream's Panic stage. */
  panicked(err: unknown): void {
    if (!this.event || this.done) return;
    this.done = true;
    this.status = {
      metadata: {},
      status: 'Failure',
      message: `APIServer panic'd: ${err instanceof Error ? err.message : String(err)}`,
      reason: 'InternalError',
      code: 500,
    };
    this.emit('Panic');
  }

  /** A long-running request (watch, followed log) has started its response. */
  responseStarted(): void {
    if (!this.event || this.done || !this.res.headersSent) return;
    this.emit('ResponseStarted');
  }

  private complete(): void {
    if (!this.event || this.done) return;
    this.done = true;
    annotationsByRequest.delete(this.req);
    this.emit('ResponseComplete');
  }

  private emit(stage: Stage): void {
    const ev = this.event!;
    const config = this.config!;
    ev.stage = stage;
    ev.stageTimestamp = microTime(preciseNow());
    if (stage !== 'RequestReceived') {
      ev.responseStatus = this.status ?? { metadata: {}, code: this.res.statusCode };
      if (this.authz) {
        this.annotations[DECISION] = this.authz.decision === 'Allow' ? 'allow' : 'forbid';
        this.annotations[REASON] = this.authz.reason;
      }
      this.fillObjects(ev, config);
      ev.annotations = sortedAnnotations(this.annotations);
    }
    if (!config.omitStages.has(stage)) this.auditor.write(ev);
  }

  private fillObjects(ev: AuditEvent, config: RequestAuditConfig): void {
    const body = this.requestBody && decode(this.requestBody, this.req.headers['content-type']);
    if (body && typeof body === 'object') {
      const meta = (body as { metadata?: { name?: string; namespace?: string } }).metadata;
      if (ev.objectRef && !ev.objectRef.name && typeof meta?.name === 'string') ev.objectRef.name = meta.name;
      if (atLeast(config.level, 'Request'))
        ev.requestObject = config.omitManagedFields ? withoutManagedFields(body) : body;
    }
    if (this.responseChunks?.length) {
      const resp = decode(Buffer.concat(this.responseChunks), this.res.getHeader('content-type'));
      if (resp !== undefined) ev.responseObject = config.omitManagedFields ? withoutManagedFields(resp) : resp;
    }
  }

  /** RequestResponse: keep what the handler writes (a watch's stream is not an object: left out). */
  private captureResponse(): void {
    // Wrapped on this response only: what goes out is what the event records.
    type Writer = (...a: unknown[]) => unknown;
    const res = this.res as unknown as { write: Writer; end: Writer };
    const chunks: Buffer[] = (this.responseChunks = []);
    const keep = (chunk: unknown) => {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    const write: Writer = res.write.bind(this.res);
    const end: Writer = res.end.bind(this.res);
    res.write = (...args: unknown[]) => {
      keep(args[0]);
      return write(...args);
    };
    res.end = (...args: unknown[]) => {
      if (typeof args[0] !== 'function') keep(args[0]);
      return end(...args);
    };
  }
}

/** A JSON or YAML body as an object; anything else (protobuf, text) is left out of the event. */
function decode(bytes: Buffer, contentType: unknown): unknown {
  const type = typeof contentType === 'string' ? contentType : '';
  if (!bytes.length) return undefined;
  try {
    if (type.includes('yaml')) return YAML.parse(bytes.toString('utf8')) as unknown;
    if (type === '' || type.includes('json')) return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    // not an object we can record
  }
  return undefined;
}
