// MutatingAdmissionWebhook: the MutatingWebhookConfigurations' webhooks, called one after the
// other in order (each sees the previous one's changes), after the built-in mutating plugins and
// before validation. A webhook's JSONPatch replaces the request's object, which the store then
// validates as any object. reinvocationPolicy IfNeeded: a webhook that ran before another one
// changed the object is called once more, after the first pass (upstream's reinvocation
// re-runs the built-in plugins too; here only webhooks are re-run).
import type { MutatingWebhook } from 'kubernetes-types/admissionregistration/v1.js';
import type { KObject } from '../../../api/types.js';
import * as errors from '../../../machinery/errors.js';
import { deepEqual } from '../../../machinery/objects.js';
import { checkStorableSize } from '../../store.js';
import type { AdmissionAttributes, MutatingPlugin } from '../interfaces.js';
import { type WebhookDeps, callWebhook, objectsAt, toStorage, weighFailure } from './call.js';
import type { RegisteredWebhook, WebhookSource } from './config.js';
import { matchWebhook } from './match.js';
import { applyWebhookPatch, replaceContents } from './patch.js';
import { isExemptFromWebhooks } from './rules.js';

/** Which webhooks re-run (upstream's webhookReinvokeContext). */
interface Reinvocation {
  /** IfNeeded webhooks called since the object last changed. */
  invokedSinceChange: Set<string>;
  /** Webhooks to call again in the second round. */
  again: Set<string>;
}

export class MutatingWebhookAdmission implements MutatingPlugin {
  readonly name = 'MutatingAdmissionWebhook';

  constructor(
    private readonly source: WebhookSource<MutatingWebhook>,
    private readonly deps: WebhookDeps,
  ) {}

  handles(a: AdmissionAttributes): boolean {
    return !isExemptFromWebhooks(a.group, a.kind) && !this.source.isEmpty();
  }

  async admit(a: AdmissionAttributes): Promise<void> {
    const hooks = this.source.webhooks();
    const state: Reinvocation = { invokedSinceChange: new Set(), again: new Set() };
    await this.round(a, hooks, 0, state);
    if (state.again.size) await this.round(a, hooks, 1, state);
  }

  private async round(
    a: AdmissionAttributes,
    hooks: RegisteredWebhook<MutatingWebhook>[],
    round: number,
    state: Reinvocation,
  ): Promise<void> {
    for (const [index, registered] of hooks.entries()) {
      const invocation = matchWebhook(registered.hook, a, this.deps.namespaceLabels);
      if (!invocation) continue;
      if (round > 0 && !state.again.has(registered.id)) continue;
      const { hook } = registered;
      let changed = false;
      let called = false;
      try {
        const objects = await objectsAt(a, invocation.version);
        const asked = process.hrtime.bigint();
        const outcome = await callWebhook(this.deps, registered, a, invocation, objects, true).finally(() =>
          a.excluded?.since(asked),
        );
        if (outcome.skipped) continue;
        called = true;
        const { patch, patchType } = outcome.response;
        if (patch) {
          const patched = applyWebhookPatch(hook.name, patch, patchType, objects.object);
          if (patched !== objects.object) changed = await this.adopt(a, invocation.version, patched as KObject);
        }
      } catch (err) {
        called = true;
        weighFailure(err, hook, a, `failed-open.mutation.webhook.admission.k8s.io/round_${round}_index_${index}`);
      } finally {
        if (called && a.auditAnnotations)
          a.auditAnnotations[`mutation.webhook.admission.k8s.io/round_${round}_index_${index}`] = JSON.stringify({
            configuration: registered.configuration,
            webhook: hook.name,
            mutated: changed,
          });
      }
      if (changed) {
        for (const id of state.invokedSinceChange) state.again.add(id);
        state.invokedSinceChange.clear();
      }
      if (hook.reinvocationPolicy === 'IfNeeded') state.invokedSinceChange.add(registered.id);
    }
  }

  /** Take a webhook's patched object as the request's; true when it differs. */
  private async adopt(a: AdmissionAttributes, version: string, patched: KObject): Promise<boolean> {
    const stored = await toStorage(a, version, patched);
    // Upstream's BeforeCreate/BeforeUpdate refuse an object moved out of the request's namespace.
    const namespace = (stored.metadata as { namespace?: string } | undefined)?.namespace ?? '';
    if (a.def.namespaced && a.namespace && namespace !== a.namespace)
      throw errors.badRequest('the namespace of the provided object does not match the namespace sent on the request');
    // The webhook's object gets the defaults any object gets (upstream defaults the decoded patch result).
    a.def.defaults?.(stored);
    checkStorableSize(stored);
    if (deepEqual(stored, a.object)) return false;
    replaceContents(a.object as Record<string, unknown>, stored);
    return true;
  }
}
