// The errors a webhook call ends in, worded as upstream's webhook errors package and util/webhook.
import { ApiError, badRequest } from '../../../machinery/errors.js';

/** A webhook's response.status, as much of a metav1.Status as a webhook may send. */
export interface WebhookStatus {
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: ApiError['details'];
}

/** A webhook that answered allowed: false (upstream ToStatusErr): at least a 400, its message quoted. */
export function webhookDenied(webhook: string, result: WebhookStatus | undefined): ApiError {
  const deniedBy = `admission webhook ${JSON.stringify(webhook)} denied the request`;
  const r = result ?? {};
  const code = typeof r.code === 'number' && r.code >= 400 ? r.code : 400;
  const message = r.message
    ? `${deniedBy}: ${r.message}`
    : r.reason
      ? `${deniedBy}: ${r.reason}`
      : `${deniedBy} without explanation`;
  return new ApiError(code, typeof r.reason === 'string' ? r.reason : '', message, r.details);
}

/** A dry run reaching a webhook that may have side effects (refused whatever the failurePolicy). */
export const dryRunUnsupported = (webhook: string): ApiError =>
  badRequest(`admission webhook ${JSON.stringify(webhook)} does not support dry run`);

/**
 * The webhook could not be asked or gave no usable answer (upstream ErrCallingWebhook): the
 * request fails with a 500 under failurePolicy Fail and goes on under Ignore.
 */
export class CallingWebhookError extends Error {
  constructor(
    readonly webhook: string,
    reason: string,
  ) {
    super(`failed calling webhook ${JSON.stringify(webhook)}: ${reason}`);
  }
}
