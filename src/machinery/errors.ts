// The one place that builds metav1.Status errors. Everything a client sees as an error goes
// through ApiError, with the reasons, codes, messages and details upstream uses
// (k8s.io/apimachinery/pkg/api/errors), because clients branch on them.
import { type FieldError, formatFieldError } from './fielderrors.js';

export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, unknown>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

/** The reason a Status without one is read as (client-go's reasonForError by code). */
const REASON_FOR_CODE: Record<number, string> = {
  400: 'BadRequest',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'NotFound',
  405: 'MethodNotAllowed',
  406: 'NotAcceptable',
  409: 'Conflict',
  410: 'Expired',
  413: 'RequestEntityTooLarge',
  415: 'UnsupportedMediaType',
  422: 'Invalid',
  429: 'TooManyRequests',
  500: 'InternalError',
  503: 'ServiceUnavailable',
  504: 'Timeout',
};

/**
 * An API error: what the server answers with, and what clients (the HTTP and in-process
 * transports alike) throw, so both sides branch on the same code, reason and details.
 */
export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  /** The error a client reads from a Status body (or only an HTTP code). */
  static fromStatus(status: Partial<Status> | undefined, httpCode?: number): ApiError {
    const code = status?.code ?? httpCode ?? 500;
    const reason = status?.reason || REASON_FOR_CODE[code] || 'Unknown';
    return new ApiError(code, reason, status?.message ?? `the server responded with status ${code}`, status?.details);
  }

  /** Anything thrown becomes an ApiError (objects with a numeric code and a reason keep them). */
  static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    const e = err as { code?: unknown; reason?: unknown; message?: unknown; details?: StatusDetails } | undefined;
    if (e && typeof e.code === 'number' && typeof e.reason === 'string')
      return new ApiError(e.code, e.reason, typeof e.message === 'string' ? e.message : '', e.details);
    return internalError(err);
  }

  isNotFound(): boolean {
    return this.reason === 'NotFound' || (this.code === 404 && this.reason === 'Unknown');
  }
  isConflict(): boolean {
    return this.reason === 'Conflict';
  }
  isAlreadyExists(): boolean {
    return this.reason === 'AlreadyExists';
  }
  isGone(): boolean {
    return this.code === 410;
  }
  isForbidden(): boolean {
    return this.reason === 'Forbidden';
  }
  isInvalid(): boolean {
    return this.reason === 'Invalid';
  }
  isMethodNotSupported(): boolean {
    return this.code === 405;
  }
  isTooManyRequests(): boolean {
    return this.code === 429;
  }
  /**
   * The Status in upstream's field order (metav1.Status's struct order: kind, apiVersion,
   * metadata, status, message, reason, details, code), empty optional fields left out as Go's
   * omitempty does: clients and tests that compare bytes see what kube-apiserver writes.
   */
  toStatus(): Status {
    const s: Status = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure' } as Status;
    if (this.message) s.message = this.message;
    if (this.reason) s.reason = this.reason;
    if (this.details) s.details = orderedDetails(this.details);
    s.code = this.code;
    return s;
  }

  /** The Status as kube-apiserver's JSON encoder writes it: one line, newline-terminated. */
  toStatusJSON(): string {
    return `${JSON.stringify(this.toStatus())}\n`;
  }
}

/** StatusDetails (and its causes) in metav1's struct order, empty fields omitted. */
function orderedDetails(d: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (d.name) out.name = d.name;
  if (d.group) out.group = d.group;
  if (d.kind) out.kind = d.kind;
  if (d.uid) out.uid = d.uid;
  if (d.causes?.length) {
    out.causes = d.causes.map((c) => {
      const cause: StatusCause = {};
      if (c.reason) cause.reason = c.reason;
      if (c.message) cause.message = c.message;
      if (c.field) cause.field = c.field;
      return cause;
    });
  }
  if (d.retryAfterSeconds) out.retryAfterSeconds = d.retryAfterSeconds;
  return out;
}

/** Identifies the resource an error is about: `kind` is the plural resource name for most errors. */
export interface ResourceRef {
  group: string;
  resource: string;
}

const qualified = (r: ResourceRef) => (r.group ? `${r.resource}.${r.group}` : r.resource);
const detailsOf = (r: ResourceRef, name: string): StatusDetails => {
  const d: StatusDetails = { name };
  if (r.group) d.group = r.group;
  d.kind = r.resource;
  return d;
};

export const notFound = (r: ResourceRef, name: string) =>
  new ApiError(404, 'NotFound', `${qualified(r)} "${name}" not found`, detailsOf(r, name));

export const alreadyExists = (r: ResourceRef, name: string) =>
  new ApiError(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, detailsOf(r, name));

export const conflict = (r: ResourceRef, name: string, why: string) =>
  new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(r)} "${name}": ${why}`,
    detailsOf(r, name),
  );

export const OBJECT_MODIFIED =
  'the object has been modified; please apply your changes to the latest version and try again';

/** 422: kind is the Kind here (not the resource), as upstream's NewInvalid. */
export function invalid(group: string, kind: string, name: string, errs: FieldError[]): ApiError {
  const text = errs.length === 1 ? formatFieldError(errs[0]) : `[${errs.map(formatFieldError).join(', ')}]`;
  const details: StatusDetails = { name };
  if (group) details.group = group;
  details.kind = kind;
  details.causes = errs.map((e) => ({ reason: e.type, message: e.detail, field: e.field }));
  return new ApiError(422, 'Invalid', `${kind}${group ? `.${group}` : ''} "${name}" is invalid: ${text}`, details);
}

export const badRequest = (message: string, causes?: StatusCause[]) =>
  new ApiError(400, 'BadRequest', message, causes ? { causes } : undefined);

export const unauthorized = (message = 'Unauthorized') => new ApiError(401, 'Unauthorized', message);

export const forbidden = (r: ResourceRef, name: string, why: string) =>
  new ApiError(403, 'Forbidden', `${qualified(r)}${name ? ` "${name}"` : ''} is forbidden: ${why}`, detailsOf(r, name));

export const methodNotSupported = (r: ResourceRef, verb: string) =>
  new ApiError(405, 'MethodNotAllowed', `${verb} is not supported on resources of kind "${qualified(r)}"`, {
    group: r.group || undefined,
    kind: r.resource,
  });

export const notAcceptable = (message: string) => new ApiError(406, 'NotAcceptable', message);

export const gone = (message: string) => new ApiError(410, 'Expired', message);

export const tooOldResourceVersion = (requested: number | string, oldest: number) =>
  gone(`too old resource version: ${requested} (${oldest})`);

export const entityTooLarge = (limit: number) => entityTooLargeMessage(`Request entity too large: limit is ${limit}`);

export const entityTooLargeMessage = (message: string) => new ApiError(413, 'RequestEntityTooLarge', message);

export const unsupportedMediaType = (contentType: string, accepted: string[]) =>
  new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
    {
      causes: contentType ? [{ reason: 'UnexpectedServerResponse', message: contentType }] : undefined,
    },
  );

export const tooManyRequests = (message: string, retryAfterSeconds = 1) =>
  new ApiError(429, 'TooManyRequests', message, { retryAfterSeconds });

export const internalError = (err: unknown) => {
  const msg = err instanceof Error ? err.message : String(err);
  return new ApiError(500, 'InternalError', `Internal error occurred: ${msg}`, { causes: [{ message: msg }] });
};

export const serviceUnavailable = (message: string) => new ApiError(503, 'ServiceUnavailable', message);

export const timeout = (message: string) => new ApiError(504, 'Timeout', `Timeout: ${message}`);

/**
 * Recursion that ran out of stack on a value nested deeper than our walkers can follow (Go's
 * grow their stacks): the input's fault, so a 400. Decoders refuse most such bodies earlier.
 */
function isStackOverflow(err: unknown): boolean {
  return err instanceof RangeError && err.message.includes('Maximum call stack size exceeded');
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (isStackOverflow(err)) return badRequest('the object is nested too deeply to be processed');
  return internalError(err);
}

export function successStatus(details?: StatusDetails): Status {
  const s = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' } as Status;
  if (details) s.details = orderedDetails(details);
  s.code = 200;
  return s;
}
