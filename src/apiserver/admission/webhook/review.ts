// AdmissionReview: the request a webhook receives (upstream request/admissionreview.go) and the
// checks its answer must pass before anything in it is used.
import { randomUUID } from 'node:crypto';
import type { AdmissionAttributes } from '../interfaces.js';
import type { WebhookStatus } from './errors.js';

interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

interface GroupVersionResource {
  group: string;
  version: string;
  resource: string;
}

export interface AdmissionRequest {
  uid: string;
  /** The kind and resource the webhook asked for (an equivalent version under matchPolicy Equivalent). */
  kind: GroupVersionKind;
  resource: GroupVersionResource;
  subResource?: string;
  /** The kind and resource the client addressed. */
  requestKind: GroupVersionKind;
  requestResource: GroupVersionResource;
  requestSubResource?: string;
  name?: string;
  namespace?: string;
  operation: string;
  userInfo: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object: unknown;
  oldObject: unknown;
  dryRun: boolean;
  options: unknown;
}

export interface AdmissionReviewRequest {
  apiVersion: string;
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

/** The response fields a webhook may set. */
export interface AdmissionResponse {
  uid?: string;
  allowed?: boolean;
  status?: WebhookStatus;
  patch?: string;
  patchType?: string;
  auditAnnotations?: Record<string, string>;
  warnings?: string[];
}

/** Where a webhook's invocation points: the version (and kind) its object is converted to. */
export interface Invocation {
  version: string;
  kind: string;
}

/** The options of the write, typed as upstream sends them (CreateOptions, UpdateOptions, DeleteOptions). */
function optionsOf(a: AdmissionAttributes): unknown {
  const dryRun = a.dryRun ? { dryRun: ['All'] } : {};
  const manager = a.fieldManager ? { fieldManager: a.fieldManager } : {};
  const meta = { apiVersion: 'meta.k8s.io/v1' };
  switch (a.operation) {
    case 'CREATE':
      return { kind: 'CreateOptions', ...meta, ...dryRun, ...manager };
    case 'UPDATE':
      return { kind: 'UpdateOptions', ...meta, ...dryRun, ...manager };
    case 'DELETE':
      return { kind: 'DeleteOptions', ...meta, ...dryRun, ...(a.deleteOptions ?? {}) };
    default:
      return null;
  }
}

/** The review sent to one webhook: `object`/`oldObject` already in the invocation's version. */
export function admissionReview(
  reviewVersion: string,
  a: AdmissionAttributes,
  invocation: Invocation,
  object: unknown,
  oldObject: unknown,
): AdmissionReviewRequest {
  const requestVersion = a.requestVersion ?? a.version;
  const user = a.user;
  const request: AdmissionRequest = {
    uid: randomUUID(),
    kind: { group: a.group, version: invocation.version, kind: invocation.kind },
    resource: { group: a.group, version: invocation.version, resource: a.resource },
    ...(a.subresource ? { subResource: a.subresource } : {}),
    requestKind: { group: a.group, version: requestVersion, kind: a.kind },
    requestResource: { group: a.group, version: requestVersion, resource: a.resource },
    ...(a.subresource ? { requestSubResource: a.subresource } : {}),
    ...(a.name ? { name: a.name } : {}),
    ...(a.namespace ? { namespace: a.namespace } : {}),
    operation: a.operation,
    userInfo: {
      username: user.name,
      ...(user.uid ? { uid: user.uid } : {}),
      ...(user.groups?.length ? { groups: user.groups } : {}),
      ...(user.extra && Object.keys(user.extra).length ? { extra: user.extra } : {}),
    },
    object: object ?? null,
    oldObject: oldObject ?? null,
    dryRun: a.dryRun,
    options: optionsOf(a),
  };
  return { apiVersion: `admission.k8s.io/${reviewVersion}`, kind: 'AdmissionReview', request };
}

/** The first AdmissionReview version both sides speak, in the webhook's order of preference. */
export function reviewVersionFor(accepted: readonly string[] | undefined): string | undefined {
  return (accepted ?? []).find((v) => v === 'v1' || v === 'v1beta1');
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The webhook's answer, checked as upstream's VerifyAdmissionResponse; throws an Error whose
 * message says what is wrong (the caller wraps it in "received invalid webhook response").
 */
export function verifyResponse(
  sent: AdmissionReviewRequest,
  received: unknown,
  mutating: boolean,
): AdmissionResponse & { allowed: boolean } {
  const review = isRecord(received) ? received : {};
  const response = review.response;
  if (!isRecord(response)) throw new Error('webhook response was absent');
  const r = response as AdmissionResponse;
  const v1 = sent.apiVersion === 'admission.k8s.io/v1';
  if (v1) {
    if (r.uid !== sent.request.uid)
      throw new Error(`expected response.uid=${JSON.stringify(sent.request.uid)}, got ${JSON.stringify(r.uid ?? '')}`);
    if (review.apiVersion !== 'admission.k8s.io/v1' || review.kind !== 'AdmissionReview') {
      const text = (v: unknown) => (typeof v === 'string' ? v : '');
      const apiVersion = text(review.apiVersion);
      const gv = apiVersion.includes('/') ? apiVersion : `/${apiVersion}`;
      throw new Error(
        `expected webhook response of admission.k8s.io/v1, Kind=AdmissionReview, got ${gv}, Kind=${text(review.kind)}`,
      );
    }
  }
  const hasPatch = typeof r.patch === 'string' && r.patch.length > 0;
  const hasPatchType = r.patchType !== undefined && r.patchType !== null;
  if (mutating && v1) {
    if (hasPatch && !hasPatchType) throw new Error('webhook returned response.patch but not response.patchType');
    if (!hasPatch && hasPatchType) throw new Error('webhook returned response.patchType but not response.patch');
    if (hasPatchType && !r.patchType)
      throw new Error(`webhook returned invalid response.patchType of ${JSON.stringify(r.patchType)}`);
  } else if (!mutating && v1) {
    if (hasPatch) throw new Error('validating webhook may not return response.patch');
    if (hasPatchType) throw new Error('validating webhook may not return response.patchType');
  }
  return {
    allowed: r.allowed === true,
    status: isRecord(r.status) ? r.status : undefined,
    patch: mutating && hasPatch ? r.patch : undefined,
    // v1beta1 had only JSONPatch and no field to say so.
    patchType: mutating && hasPatch ? (v1 ? r.patchType : 'JSONPatch') : undefined,
    auditAnnotations: isRecord(r.auditAnnotations) ? r.auditAnnotations : undefined,
    warnings: Array.isArray(r.warnings) ? r.warnings.filter((w): w is string => typeof w === 'string') : undefined,
  };
}
