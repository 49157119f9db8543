// Calling one webhook, shared by the mutating and the validating plugin: the dry-run check, the
// matchConditions hook, the round trip and the checks on its answer, the answer's warnings and
// audit annotations recorded on the request, a denial turned into the client's error.
import type { MutatingWebhook, ValidatingWebhook } from 'kubernetes-types/admissionregistration/v1.js';
import type { KObject } from '../../../api/types.js';
import * as errors from '../../../machinery/errors.js';
import { fromServed, toServed } from '../../convert.js';
import { apiVersionOf } from '../../resources.js';
import { type AdmissionAttributes, forbiddenFor } from '../interfaces.js';
import { endpointOf, postReview } from './client.js';
import type { RegisteredWebhook } from './config.js';
import { CallingWebhookError, dryRunUnsupported, webhookDenied } from './errors.js';
import type { NamespaceLabels } from './match.js';
import type { MatchConditionEvaluator } from './matchconditions.js';
import {
  type AdmissionResponse,
  type Invocation,
  admissionReview,
  reviewVersionFor,
  verifyResponse,
} from './review.js';
import type { StoreLookup } from './service.js';

export interface WebhookDeps {
  stores: StoreLookup;
  namespaceLabels: NamespaceLabels;
  /** The matchConditions evaluator (celMatchConditions). */
  matchConditions: MatchConditionEvaluator;
}

const DEFAULT_TIMEOUT_SECONDS = 10;

/** The request's objects at the invocation's version (the store holds the storage version). */
export async function objectsAt(
  a: AdmissionAttributes,
  version: string,
): Promise<{ object: unknown; oldObject: unknown }> {
  const served = a.def.versions.find((v) => v.name === version);
  if (!served) throw errors.internalError(new Error(`unable to convert to ${a.group}/${version}: unknown version`));
  const storage = apiVersionOf(a.group, a.version);
  const convert = async (obj: unknown) =>
    obj === undefined || obj === null ? obj : toServed({ def: a.def, version: served }, obj as KObject, storage);
  return { object: await convert(a.object), oldObject: await convert(a.oldObject) };
}

/** A webhook's (patched) object back at the storage version. */
export async function toStorage(a: AdmissionAttributes, version: string, obj: KObject): Promise<KObject> {
  const served = a.def.versions.find((v) => v.name === version)!;
  return fromServed({ def: a.def, version: served }, obj, apiVersionOf(a.group, a.version), a.kind);
}

export type CallOutcome = { skipped: true } | { skipped: false; response: AdmissionResponse & { allowed: true } };

/**
 * Ask one webhook about the request. Throws an ApiError for the client (a denial, a dry run
 * the webhook can't take, matchConditions failing closed) or a CallingWebhookError, which the
 * caller weighs against the failurePolicy.
 */
export async function callWebhook(
  deps: WebhookDeps,
  registered: RegisteredWebhook<MutatingWebhook | ValidatingWebhook>,
  a: AdmissionAttributes,
  invocation: Invocation,
  objects: { object: unknown; oldObject: unknown },
  mutating: boolean,
): Promise<CallOutcome> {
  const hook = registered.hook;
  const reviewVersion = reviewVersionFor(hook.admissionReviewVersions);
  const review = admissionReview(reviewVersion ?? 'v1', a, invocation, objects.object, objects.oldObject);
  if (hook.matchConditions?.length) {
    let matches: boolean;
    try {
      matches = await deps.matchConditions.matches(hook.matchConditions, review.request);
    } catch (err) {
      // Upstream: an evaluation error fails closed as Forbidden under Fail, skips the webhook under Ignore.
      if (hook.failurePolicy === 'Ignore') return { skipped: true };
      throw forbiddenFor(a, (err as Error).message);
    }
    if (!matches) return { skipped: true };
  }
  if (a.dryRun) {
    if (!hook.sideEffects) throw new CallingWebhookError(hook.name, 'Webhook SideEffects is nil');
    if (hook.sideEffects !== 'None' && hook.sideEffects !== 'NoneOnDryRun') throw dryRunUnsupported(hook.name);
  }
  if (!reviewVersion)
    throw new CallingWebhookError(
      hook.name,
      'could not create admission objects: webhook does not accept known AdmissionReview versions (v1, v1beta1)',
    );
  const timeoutMs = (hook.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
  let endpoint;
  try {
    endpoint = endpointOf(hook.clientConfig, deps.stores, timeoutMs);
  } catch (err) {
    throw new CallingWebhookError(hook.name, `could not get REST client: ${(err as Error).message}`);
  }
  let answer: unknown;
  try {
    answer = await postReview(endpoint, review, timeoutMs);
  } catch (err) {
    throw new CallingWebhookError(hook.name, `failed to call webhook: ${(err as Error).message}`);
  }
  let response;
  try {
    response = verifyResponse(review, answer, mutating);
  } catch (err) {
    throw new CallingWebhookError(hook.name, `received invalid webhook response: ${(err as Error).message}`);
  }
  if (a.auditAnnotations)
    for (const [k, v] of Object.entries(response.auditAnnotations ?? {}))
      if (typeof v === 'string') a.auditAnnotations[`${hook.name}/${k}`] = v;
  for (const w of response.warnings ?? []) a.warnings?.push(w);
  if (!response.allowed) throw webhookDenied(hook.name, response.status);
  return { skipped: false, response: { ...response, allowed: true } };
}

/**
 * A failure to reach the webhook under its failurePolicy: Ignore records it for the audit log
 * and goes on (returns), Fail makes the request fail with a 500 (throws). Other errors propagate.
 */
export function weighFailure(
  err: unknown,
  hook: MutatingWebhook | ValidatingWebhook,
  a: AdmissionAttributes,
  failedOpenKey: string,
): void {
  if (!(err instanceof CallingWebhookError)) throw err;
  if (hook.failurePolicy === 'Ignore') {
    if (a.auditAnnotations) a.auditAnnotations[failedOpenKey] = hook.name;
    return;
  }
  throw errors.internalError(err);
}
