// The controller manager: runs the controllers over one client (in-process inside `k8ts server`,
// HTTPS for a standalone controller manager), sharing informers between them, and — unless
// disabled — only while holding the kube-system/kube-controller-manager Lease, so two managers
// never act at once.
import type { Logger } from 'pino';
import type { Client } from '../client/client.js';
import { SharedInformerFactory } from '../client/informer.js';
import { LeaderRunner, type LeaseOptions } from '../client/leaderelection.js';
import { NamespaceController } from './namespace/controller.js';
import { NodeIpamController } from './nodeipam/controller.js';
import { NodeLifecycleController } from './nodelifecycle/controller.js';
import { GarbageCollector } from './garbagecollector/controller.js';
import { EndpointsController } from './endpoints/endpoints.js';
import { EndpointSliceController } from './endpoints/endpointslice.js';
import { RootCACertPublisher, ServiceAccountsController } from './serviceaccount/controller.js';
import { LegacyTokensController } from './serviceaccount/tokens.js';
import { TokenCleaner } from './bootstrap/tokencleaner.js';
import { PodGCController } from './podgc/controller.js';
import { DeploymentController } from './deployment/controller.js';
import { ReplicaSetController, newReplicationManager } from './replicaset/controller.js';
import { StatefulSetController } from './statefulset/controller.js';
import { DaemonSetController } from './daemonset/controller.js';
import { JobController } from './job/controller.js';
import { TTLAfterFinishedController } from './job/ttl.js';
import { CronJobController } from './cronjob/controller.js';
import { ResourceQuotaController } from './resourcequota/controller.js';
import { DisruptionController } from './disruption/controller.js';
import { HorizontalPodAutoscalerController } from './podautoscaler/controller.js';
import { PersistentVolumeController } from './persistentvolume/binder.js';
import { PVCProtectionController, PVProtectionController } from './persistentvolume/protection.js';
import { ServiceLBController } from './servicelb/controller.js';
import { SnapshotController } from './snapshot/controller.js';
import { LocalPathResizer } from './volumeexpand/localpath.js';
import { ClusterRoleAggregationController } from './clusterroleaggregation/controller.js';
import { CSRCleanerController, CSRSigningController } from './certificates/controller.js';
import { CSRApprovingController } from './certificates/approver.js';
import type { Controller, ControllerInit, ControllerOptions } from './types.js';

export type { Controller, ControllerContext, ControllerInit, ControllerOptions } from './types.js';

/** Every controller k8ts has, by upstream name. */
export const DEFAULT_CONTROLLERS: Record<string, ControllerInit> = {
  namespace: (ctx) => new NamespaceController(ctx),
  nodeipam: (ctx) => new NodeIpamController(ctx),
  nodelifecycle: (ctx) => new NodeLifecycleController(ctx),
  garbagecollector: (ctx) => new GarbageCollector(ctx),
  endpoint: (ctx) => new EndpointsController(ctx),
  endpointslice: (ctx) => new EndpointSliceController(ctx),
  serviceaccount: (ctx) => new ServiceAccountsController(ctx),
  'root-ca-cert-publisher': (ctx) => new RootCACertPublisher(ctx, ctx.options?.rootCA ?? ''),
  'serviceaccount-token': (ctx) => {
    // As upstream: without the service-account key the token controller does not run.
    const sign = ctx.options?.legacyServiceAccountToken;
    return sign && new LegacyTokensController(ctx, sign, ctx.options?.rootCA ?? '');
  },
  // Off by default upstream (kubeadm and k3s turn it on): expired bootstrap tokens are deleted.
  tokencleaner: (ctx) => new TokenCleaner(ctx),
  podgc: (ctx) => new PodGCController(ctx, { terminatedPodThreshold: ctx.options?.terminatedPodGCThreshold }),
  deployment: (ctx) => new DeploymentController(ctx, { workers: ctx.options?.concurrentDeploymentSyncs }),
  replicaset: (ctx) => new ReplicaSetController(ctx, undefined, { workers: ctx.options?.concurrentReplicaSetSyncs }),
  replicationcontroller: (ctx) => newReplicationManager(ctx),
  statefulset: (ctx) => new StatefulSetController(ctx),
  daemonset: (ctx) => new DaemonSetController(ctx),
  job: (ctx) => new JobController(ctx, { backoffBaseMs: ctx.options?.jobBackoffBaseMs as number | undefined }),
  'ttl-after-finished': (ctx) => new TTLAfterFinishedController(ctx),
  cronjob: (ctx) => new CronJobController(ctx),
  resourcequota: (ctx) => new ResourceQuotaController(ctx),
  disruption: (ctx) => new DisruptionController(ctx),
  horizontalpodautoscaling: (ctx) => new HorizontalPodAutoscalerController(ctx),
  'persistentvolume-binder': (ctx) => new PersistentVolumeController(ctx),
  'pvc-protection': (ctx) => new PVCProtectionController(ctx),
  'pv-protection': (ctx) => new PVProtectionController(ctx),
  // external-snapshotter's common controller (upstream a Deployment of its own): installs the CRDs.
  'snapshot-controller': (ctx) => new SnapshotController(ctx),
  // Expansion of local-path volumes (a directory: bookkeeping only, done here for every node).
  'local-path-resizer': (ctx) => new LocalPathResizer(ctx),
  servicelb: (ctx) => new ServiceLBController(ctx),
  'clusterrole-aggregation': (ctx) => new ClusterRoleAggregationController(ctx),
  csrcleaner: (ctx) => new CSRCleanerController(ctx),
  csrapproving: (ctx) => new CSRApprovingController(ctx),
};

/** csrsigning runs where the cluster CA's key is (the server's own controller manager). */
export function csrSigningController(signing: { certPem: string; keyPem: string }): ControllerInit {
  return (ctx) => new CSRSigningController(ctx, signing);
}

export type LeaderElectionOptions = LeaseOptions;

export interface ControllerManagerOptions {
  client: Client;
  logger: Logger;
  /** Default: DEFAULT_CONTROLLERS. */
  controllers?: Record<string, ControllerInit>;
  /** false: run without a lease (tests, a single manager by design). */
  leaderElection?: false | LeaderElectionOptions;
  /** Informer resync period (ms, default none). */
  resyncPeriodMs?: number;
  /** Settings handed to every controller (ControllerContext.options). */
  options?: ControllerOptions;
  /**
   * Each controller's own client (kube-controller-manager's --use-service-account-credentials):
   * its writes and reads act as its identity; the shared informers stay on `client`, as
   * upstream's shared informers use the manager's own credentials. Absent: every controller uses `client`.
   */
  clientFor?: (controller: string) => Client;
}

export class ControllerManager {
  private readonly log: Logger;
  private readonly runner: LeaderRunner;
  private running?: { factory: SharedInformerFactory; controllers: Controller[] };

  constructor(private readonly opts: ControllerManagerOptions) {
    this.log = opts.logger.child({ component: 'kube-controller-manager' });
    this.runner = new LeaderRunner({
      client: opts.client,
      logger: this.log,
      leaderElection: opts.leaderElection,
      defaultLeaseName: 'kube-controller-manager',
      start: () => this.startControllers(),
      stop: () => this.stopControllers(),
    });
  }

  get identity(): string {
    return this.runner.identity;
  }

  get isLeader(): boolean {
    return this.runner.isLeader;
  }

  start(): void {
    this.runner.start();
  }

  private async startControllers(): Promise<void> {
    if (this.running) return;
    // Controllers never read managedFields: kube-controller-manager trims them from its informers
    // too. Objects are frozen: in process, the informers share the watch cache's objects, and a
    // controller copies before it changes one.
    const factory = new SharedInformerFactory(this.opts.client, {
      logger: this.log,
      resyncPeriodMs: this.opts.resyncPeriodMs,
      dropManagedFields: true,
      frozen: true,
    });
    const ctx = { client: this.opts.client, informers: factory, logger: this.log, options: this.opts.options ?? {} };
    const controllers: Controller[] = [];
    for (const [name, init] of Object.entries(this.opts.controllers ?? DEFAULT_CONTROLLERS)) {
      try {
        const controller = init({ ...ctx, client: this.opts.clientFor?.(name) ?? ctx.client });
        if (controller) controllers.push(controller);
      } catch (err) {
        this.log.error({ err, controller: name }, 'failed to create controller');
      }
    }
    this.running = { factory, controllers };
    factory.start();
    await factory.waitForCacheSync();
    if (this.running?.factory !== factory) return;
    for (const c of controllers) c.start();
    this.log.info({ controllers: controllers.map((c) => c.name) }, 'controllers started');
  }

  private async stopControllers(): Promise<void> {
    const r = this.running;
    if (!r) return;
    this.running = undefined;
    await Promise.all(
      r.controllers.map((c) =>
        c.stop().catch((err) => this.log.error({ err, controller: c.name }, 'controller stop failed')),
      ),
    );
    await r.factory.shutdown();
  }

  /** Stop the controllers and give the lease back. */
  stop(): Promise<void> {
    return this.runner.stop();
  }
}
