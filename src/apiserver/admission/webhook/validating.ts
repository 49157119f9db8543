// ValidatingAdmissionWebhook: the ValidatingWebhookConfigurations' webhooks, called in parallel
// once the object passed validation; any denial (or, under failurePolicy Fail, any failure to
// get an answer) refuses the request. The first error in webhook order is the one reported
// (upstream reports whichever arrives first).
import type { ValidatingWebhook } from 'kubernetes-types/admissionregistration/v1.js';
import type { AdmissionAttributes, ValidatingPlugin } from '../interfaces.js';
import { type WebhookDeps, callWebhook, objectsAt, weighFailure } from './call.js';
import type { WebhookSource } from './config.js';
import { matchWebhook } from './match.js';
import { isExemptFromWebhooks } from './rules.js';

export class ValidatingWebhookAdmission implements ValidatingPlugin {
  readonly name = 'ValidatingAdmissionWebhook';

  constructor(
    private readonly source: WebhookSource<ValidatingWebhook>,
    private readonly deps: WebhookDeps,
  ) {}

  handles(a: AdmissionAttributes): boolean {
    return !isExemptFromWebhooks(a.group, a.kind) && !this.source.isEmpty();
  }

  async validate(a: AdmissionAttributes): Promise<void> {
    const calls: Promise<void>[] = [];
    // One conversion per version, shared by the webhooks that see it.
    const converted = new Map<string, ReturnType<typeof objectsAt>>();
    for (const [index, registered] of this.source.webhooks().entries()) {
      const invocation = matchWebhook(registered.hook, a, this.deps.namespaceLabels);
      if (!invocation) continue;
      let objects = converted.get(invocation.version);
      if (!objects) converted.set(invocation.version, (objects = objectsAt(a, invocation.version)));
      const pending = objects;
      calls.push(
        (async () => {
          try {
            await callWebhook(this.deps, registered, a, invocation, await pending, false);
          } catch (err) {
            weighFailure(
              err,
              registered.hook,
              a,
              `failed-open.validating.webhook.admission.k8s.io/round_0_index_${index}`,
            );
          }
        })(),
      );
    }
    // Validating webhooks run side by side: the SLI leaves out the time until the last answered.
    const asked = process.hrtime.bigint();
    const results = await Promise.allSettled(calls);
    if (calls.length) a.excluded?.since(asked);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
