// The ServiceAccount controller (upstream pkg/controller/serviceaccount): a `default`
// ServiceAccount in every active namespace, created when the namespace appears and again if it
// is deleted; and the root CA publisher (upstream pkg/controller/certificates/rootcacertpublisher):
// a `kube-root-ca.crt` ConfigMap with the cluster CA in every active namespace, put back if it is
// deleted or changed.
import type { ConfigMap, Namespace, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isAlreadyExists, isForbidden, isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext } from '../types.js';

export const DEFAULT_SERVICE_ACCOUNT = 'default';
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
export const ROOT_CA_DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

const active = (ns: Namespace | undefined) =>
  !!ns && !ns.metadata?.deletionTimestamp && ns.status?.phase !== 'Terminating';

export class ServiceAccountsController implements Controller {
  readonly name = 'serviceaccount';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly namespaces: SharedIndexInformer<Namespace>;
  private readonly serviceAccounts: SharedIndexInformer<ServiceAccount>;
  private readonly runner: ControllerRunner;

  constructor(ctx: ControllerContext, opts: { workers?: number } = {}) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'serviceaccount' });
    this.namespaces = ctx.informers.forResource(R.namespaces);
    this.serviceAccounts = ctx.informers.forResource(R.serviceaccounts);
    this.runner = new ControllerRunner({
      name: 'serviceaccount',
      workers: opts.workers ?? 1,
      reconcile: (ns) => this.syncNamespace(ns),
      logger: this.log,
    });
    const onNs = (ns: Stored<Namespace>) => active(ns) && this.runner.enqueue(ns.metadata.name);
    this.namespaces.addEventHandler({ add: onNs, update: (_o, n) => onNs(n) });
    this.serviceAccounts.addEventHandler({
      delete: (sa) => sa.metadata.name === DEFAULT_SERVICE_ACCOUNT && this.runner.enqueue(sa.metadata.namespace ?? ''),
    });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async syncNamespace(name: string): Promise<void> {
    if (!active(this.namespaces.indexer.get(name))) return;
    if (this.serviceAccounts.indexer.getByName(name, DEFAULT_SERVICE_ACCOUNT)) return;
    try {
      await this.client
        .resource(R.serviceaccounts)
        .namespace(name)
        .create({
          apiVersion: 'v1',
          kind: 'ServiceAccount',
          metadata: { name: DEFAULT_SERVICE_ACCOUNT, namespace: name },
        });
      this.log.debug({ namespace: name }, 'created default service account');
    } catch (err) {
      // Exists already (cache behind), or the namespace is going away.
      if (isAlreadyExists(err) || isNotFound(err)) return;
      if (isForbidden(err) && !active(this.namespaces.indexer.get(name))) return;
      throw err;
    }
  }
}

export class RootCACertPublisher implements Controller {
  readonly name = 'root-ca-cert-publisher';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly namespaces: SharedIndexInformer<Namespace>;
  private readonly configMaps: SharedIndexInformer<ConfigMap>;
  private readonly runner: ControllerRunner;

  constructor(
    ctx: ControllerContext,
    private readonly rootCA: string,
  ) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'root-ca-cert-publisher' });
    this.namespaces = ctx.informers.forResource(R.namespaces);
    // Only the published ConfigMaps: every other ConfigMap's event would be decoded for nothing.
    this.configMaps = ctx.informers.forResource(R.configmaps, { fieldSelector: `metadata.name=${ROOT_CA_CONFIGMAP}` });
    this.runner = new ControllerRunner({
      name: 'root_ca_cert_publisher',
      workers: 1,
      reconcile: (ns) => this.syncNamespace(ns),
      logger: this.log,
    });
    const onNs = (ns: Stored<Namespace>) => active(ns) && this.runner.enqueue(ns.metadata.name);
    this.namespaces.addEventHandler({ add: onNs, update: (_o, n) => onNs(n) });
    const onCm = (cm: Stored<ConfigMap>) =>
      cm.metadata.name === ROOT_CA_CONFIGMAP && this.runner.enqueue(cm.metadata.namespace ?? '');
    this.configMaps.addEventHandler({ update: (_o, n) => onCm(n), delete: onCm });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async syncNamespace(name: string): Promise<void> {
    if (!this.rootCA || !active(this.namespaces.indexer.get(name))) return;
    const data = { 'ca.crt': this.rootCA };
    const cms = this.client.resource(R.configmaps).namespace(name);
    const cm = this.configMaps.indexer.getByName(name, ROOT_CA_CONFIGMAP);
    try {
      if (!cm) {
        await cms.create({
          apiVersion: 'v1',
          kind: 'ConfigMap',
          metadata: {
            name: ROOT_CA_CONFIGMAP,
            namespace: name,
            annotations: { 'kubernetes.io/description': ROOT_CA_DESCRIPTION },
          },
          data,
        });
        return;
      }
      const sameData = JSON.stringify(cm.data ?? {}) === JSON.stringify(data);
      const hasDescription = cm.metadata?.annotations?.['kubernetes.io/description'] === ROOT_CA_DESCRIPTION;
      if (sameData && hasDescription) return;
      const next = structuredClone(cm);
      next.data = data;
      next.metadata.annotations = {
        ...(next.metadata.annotations ?? {}),
        'kubernetes.io/description': ROOT_CA_DESCRIPTION,
      };
      await cms.update(next);
    } catch (err) {
      if (isAlreadyExists(err) || isNotFound(err)) throw err; // the cache catches up; retried
      if (isForbidden(err) && !active(this.namespaces.indexer.get(name))) return;
      throw err;
    }
  }
}
