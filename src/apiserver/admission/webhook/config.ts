// The webhooks registered by MutatingWebhookConfiguration and ValidatingWebhookConfiguration
// objects, read from the watch cache on every write (a configuration takes effect as soon as it
// is stored), in upstream's order: configurations sorted by name, webhooks in their listed order.
import type { MutatingWebhook, ValidatingWebhook } from 'kubernetes-types/admissionregistration/v1.js';
import type { Store } from '../../store.js';

export type AnyWebhook = MutatingWebhook | ValidatingWebhook;

export interface RegisteredWebhook<H extends AnyWebhook> {
  /** The configuration object's name. */
  configuration: string;
  hook: H;
  /** Unique among the configurations of its kind (reinvocation remembers webhooks by it). */
  id: string;
}

interface WebhookConfiguration<H> {
  metadata?: { name?: string };
  webhooks?: H[];
}

/** Reads one kind of configuration from its store (undefined before the resource is served). */
export class WebhookSource<H extends AnyWebhook> {
  constructor(private readonly store: () => Store | undefined) {}

  /** Cheap: whether any configuration of this kind exists at all. */
  isEmpty(): boolean {
    const s = this.store();
    return !s || s.cache.list(s.keyPrefix()).length === 0;
  }

  webhooks(): RegisteredWebhook<H>[] {
    const s = this.store();
    if (!s) return [];
    // The cache lists keys sorted, and a cluster-scoped key ends in the name: upstream's order.
    const configs = s.cache.list(s.keyPrefix()).map((x) => x.obj as WebhookConfiguration<H>);
    const out: RegisteredWebhook<H>[] = [];
    for (const c of configs) {
      const configuration = c.metadata?.name ?? '';
      (c.webhooks ?? []).forEach((hook, i) =>
        out.push({ configuration, hook, id: `${configuration}/${i}/${hook.name}` }),
      );
    }
    return out;
  }
}
