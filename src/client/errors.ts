// Errors as clients see them: the metav1.Status a server returned (or would have returned, for
// the in-process transport), with upstream's code and reason, so callers branch on them the way
// client-go's apierrors.IsNotFound/IsConflict/... do.

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: { reason?: string; message?: string; field?: string }[];
  retryAfterSeconds?: number;
}

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata?: Record<string, unknown>;
  status?: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code?: number;
}

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

  static fromStatus(status: Partial<Status> | undefined, httpCode?: number): ApiError {
    const code = status?.code ?? httpCode ?? 500;
    const reason = status?.reason || REASON_FOR_CODE[code] || 'Unknown';
    return new ApiError(code, reason, status?.message ?? `the server responded with status ${code}`, status?.details);
  }

  /** Anything thrown becomes an ApiError (objects with code/reason keep them). */
  static from(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    const e = err as any;
    if (e && typeof e.code === 'number' && typeof e.reason === 'string')
      return new ApiError(e.code, e.reason, String(e.message ?? ''), e.details);
    const msg = err instanceof Error ? err.message : String(err);
    return new ApiError(500, 'InternalError', `Internal error occurred: ${msg}`, { causes: [{ message: msg }] });
  }

  toStatus(): Status {
    const s: Status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) s.details = this.details;
    return s;
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
}

const has = (err: unknown, test: (e: ApiError) => boolean) => err instanceof ApiError && test(err);
export const isNotFound = (err: unknown) => has(err, (e) => e.isNotFound());
export const isConflict = (err: unknown) => has(err, (e) => e.isConflict());
export const isAlreadyExists = (err: unknown) => has(err, (e) => e.isAlreadyExists());
export const isGone = (err: unknown) => has(err, (e) => e.isGone());
export const isForbidden = (err: unknown) => has(err, (e) => e.isForbidden());
export const isMethodNotSupported = (err: unknown) => has(err, (e) => e.isMethodNotSupported());
