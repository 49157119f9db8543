// Local APIServices for every group version this server serves, as kube-apiserver's
// autoregistration controller keeps them: built-in ones labelled automanaged=onstart, CRD
// versions automanaged=true (crdregistration). Each is created when its group version is
// served, brought back to its priorities if changed, and deleted once no longer served. An
// APIService without the automanaged label (a user's) or with a Service (a remote server took
// the group version over) is never touched.
import type { Logger } from 'pino';
import { type APIService, AUTOMANAGED_LABEL, GROUP, localAPIService } from '../../api/apiregistration/v1/index.js';
import type { ResourceRegistry } from '../resources.js';
import type { StoreLookup } from '../admission/webhook/service.js';
import { systemWriteContext } from '../bootstrap.js';
import { ApiError } from '../../machinery/errors.js';

/** The Local APIServices wanted now: one per served group version. */
export function desiredLocalAPIServices(
  groups: readonly { name: string; versions: readonly string[] }[],
  crdGroupVersions: ReadonlySet<string>,
): APIService[] {
  const out: APIService[] = [];
  for (const g of groups)
    for (const v of g.versions)
      out.push(localAPIService(g.name, v, crdGroupVersions.has(`${g.name}/${v}`) ? 'true' : 'onstart'));
  return out;
}

/** `group/version` of every served CRD version. */
function crdGroupVersions(stores: StoreLookup): Set<string> {
  const out = new Set<string>();
  for (const { obj } of stores('apiextensions.k8s.io', 'customresourcedefinitions')?.cache.list() ?? []) {
    const crd = obj as { spec?: { group?: string; versions?: { name: string; served?: boolean }[] } };
    for (const v of crd.spec?.versions ?? []) if (v.served) out.add(`${crd.spec?.group}/${v.name}`);
  }
  return out;
}

const ignoreConflicts = (err: unknown) => {
  if (!(err instanceof ApiError && (err.code === 409 || err.code === 404))) throw err;
};

export class AutoRegistration {
  private scheduled = false;
  private running?: Promise<void>;
  private again = false;
  private unsubscribe?: () => void;

  constructor(
    private readonly registry: ResourceRegistry,
    private readonly stores: StoreLookup,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.unsubscribe = this.registry.onChange(() => this.schedule());
    await this.sync();
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /**
   * Sync soon: many registry changes in a row (start-up, a CRD's versions) make one sync, and
   * so does the deletion of an APIService (a Local one deleted by hand comes back).
   */
  schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.sync().catch((err: unknown) => this.log.error({ err }, 'registering local APIServices failed'));
    });
  }

  /** Resolves once the APIServices match what is served (for tests). */
  async sync(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.syncOnce();
      } while (this.again);
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  private async syncOnce(): Promise<void> {
    const store = this.stores(GROUP, 'apiservices');
    if (!store) return;
    const ctx = systemWriteContext('kube-apiserver');
    const desired = desiredLocalAPIServices(this.registry.groups(), crdGroupVersions(this.stores));
    const wanted = new Set(desired.map((d) => d.metadata.name));
    for (const want of desired) {
      const name = want.metadata.name!;
      const cur = store.tryGet(undefined, name)?.obj as APIService | undefined;
      if (!cur) await store.create(want, ctx).catch(ignoreConflicts);
      else if (
        // Someone pointed it at a Service (metrics-server's manifest does for v1beta1.metrics.k8s.io):
        // their remote server takes over the group version, and the registration stays theirs.
        !cur.spec?.service &&
        cur.metadata.labels?.[AUTOMANAGED_LABEL] &&
        JSON.stringify([cur.spec, cur.metadata.labels[AUTOMANAGED_LABEL]]) !==
          JSON.stringify([want.spec, want.metadata.labels![AUTOMANAGED_LABEL]])
      )
        await store
          .update(
            undefined,
            name,
            (c) => {
              const next = structuredClone(c.obj as APIService);
              next.metadata.labels = { ...next.metadata.labels, ...want.metadata.labels };
              next.spec = want.spec;
              return next;
            },
            ctx,
          )
          .catch(ignoreConflicts);
    }
    for (const { obj } of store.cache.list()) {
      const o = obj as APIService;
      if (!o.metadata.labels?.[AUTOMANAGED_LABEL] || o.spec?.service || wanted.has(o.metadata.name)) continue;
      await store.delete(undefined, o.metadata.name ?? '', {}, ctx).catch(ignoreConflicts);
    }
  }
}
