// The ClusterRole aggregation controller (upstream pkg/controller/clusterroleaggregation): a
// ClusterRole with an aggregationRule gets, as its rules, the rules of every ClusterRole its
// selectors match (without duplicates), kept up to date as those roles change.
import type { Logger } from 'pino';
import type { ClusterRole, PolicyRule } from 'kubernetes-types/rbac/v1.js';
import { spec, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import { labelSelectorMatches } from '../../machinery/labels.js';
import type { Controller, ControllerContext } from '../types.js';
import { compareStrings } from '../../machinery/order.js';

export const CLUSTER_ROLES = spec<ClusterRole>({
  group: 'rbac.authorization.k8s.io',
  version: 'v1',
  plural: 'clusterroles',
  namespaced: false,
  kind: 'ClusterRole',
});

const ruleKey = (r: PolicyRule) =>
  JSON.stringify([r.verbs, r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);

/** The rules `role` aggregates from `all`, in name order, each once. */
export function aggregatedRules(role: ClusterRole, all: ClusterRole[]): PolicyRule[] {
  const selectors = role.aggregationRule?.clusterRoleSelectors ?? [];
  const seen = new Set<string>();
  const out: PolicyRule[] = [];
  const sources = all
    .filter((c) => c.metadata?.name !== role.metadata?.name)
    .filter((c) => selectors.some((s) => labelSelectorMatches(s, c.metadata?.labels)))
    .sort((a, b) => compareStrings(a.metadata!.name!, b.metadata!.name!));
  for (const c of sources)
    for (const r of c.rules ?? []) {
      const k = ruleKey(r);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(r);
    }
  return out;
}

export class ClusterRoleAggregationController implements Controller {
  readonly name = 'clusterrole-aggregation';
  private readonly client: Client;
  private readonly roles: SharedIndexInformer<ClusterRole>;
  private readonly runner: ControllerRunner;
  private readonly log: Logger;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: this.name });
    this.roles = ctx.informers.forResource(CLUSTER_ROLES);
    this.runner = new ControllerRunner({
      name: this.name,
      workers: 1,
      reconcile: (name) => this.sync(name),
      logger: this.log,
    });
    // Any change may affect any aggregated role: requeue them all (there are few).
    const requeue = () => {
      for (const r of this.roles.indexer.list()) if (r.aggregationRule) this.runner.enqueue(r.metadata.name);
    };
    this.roles.addEventHandler({ add: requeue, update: requeue, delete: requeue });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async sync(name: string): Promise<void> {
    const role = this.roles.indexer.getByName(undefined, name);
    if (!role?.aggregationRule) return;
    const rules = aggregatedRules(role, this.roles.indexer.list());
    if (JSON.stringify(rules) === JSON.stringify(role.rules ?? [])) return;
    try {
      await this.client.resource(CLUSTER_ROLES).update({ ...role, rules });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
