// A tiny stand-in for nodes in end-to-end tests of workload controllers: pods nobody schedules
// within a grace period are bound to `fake-node-*`, and pods on those nodes become Running and
// Ready (through pods/status) after a configurable delay; pods marked for deletion on them are
// removed. Pods bound to other nodes (simulated nodes of `k8ts server --simulated-nodes`) are
// left to their node.
import { Client, R, SharedIndexInformer } from '../../src/client/index.js';

export class FakeKubelet {
  private client!: Client;
  private informer!: SharedIndexInformer;
  private timers = new Set<NodeJS.Timeout>();
  private ip = 1;
  /** Delay before a bound pod turns Running and Ready (ms). */
  readyDelayMs = 50;
  /** Pods still unbound after this long are bound to a fake node (ms). */
  bindGraceMs = 1500;

  constructor(private kubeconfig: string) {}

  async start(kubeconfig = this.kubeconfig): Promise<void> {
    this.kubeconfig = kubeconfig;
    this.client = Client.fromKubeconfig(kubeconfig, { fieldManager: 'fake-kubelet' });
    this.informer = new SharedIndexInformer(this.client, R.pods, { backoffInitialMs: 100, backoffMaxMs: 500 });
    this.informer.addEventHandler({ add: (p) => this.handle(p), update: (_o, p) => this.handle(p) });
    this.informer.start();
    await this.informer.waitForSync(10_000);
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.informer?.stop();
    await this.client?.close();
  }

  private later(ms: number, fn: () => Promise<unknown>): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn().catch(() => undefined);
    }, ms);
    this.timers.add(t);
  }

  private handle(pod: any): void {
    const { namespace, name } = pod.metadata;
    const pods = this.client.resource(R.pods).namespace(namespace);
    const node: string | undefined = pod.spec?.nodeName;
    if (pod.metadata.deletionTimestamp) {
      if (!node || node.startsWith('fake-')) this.later(0, () => pods.delete(name, { gracePeriodSeconds: 0 }));
      return;
    }
    if (!node) {
      this.later(this.bindGraceMs, async () => {
        const cur = this.informer.store.getByName(namespace, name);
        if (!cur || cur.spec?.nodeName || cur.metadata.uid !== pod.metadata.uid) return;
        await pods.createSubresource(name, 'binding', {
          apiVersion: 'v1',
          kind: 'Binding',
          metadata: { name, namespace },
          target: { apiVersion: 'v1', kind: 'Node', name: `fake-node-${this.ip % 3}` },
        });
      });
      return;
    }
    if (!node.startsWith('fake-') || pod.status?.phase === 'Running') return;
    const ip = `10.42.0.${(this.ip++ % 250) + 2}`;
    this.later(this.readyDelayMs, async () => {
      const cur = this.informer.store.getByName(namespace, name);
      if (
        !cur ||
        cur.metadata.uid !== pod.metadata.uid ||
        cur.metadata.deletionTimestamp ||
        cur.status?.phase === 'Running'
      )
        return;
      const t = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: t, lastProbeTime: null });
      await pods.patch(
        name,
        'merge',
        {
          status: {
            phase: 'Running',
            podIP: ip,
            podIPs: [{ ip }],
            hostIP: '127.0.0.1',
            startTime: t,
            conditions: [cond('PodScheduled'), cond('Initialized'), cond('ContainersReady'), cond('Ready')],
            containerStatuses: (cur.spec.containers ?? []).map((c: any) => ({
              name: c.name,
              image: c.image,
              imageID: '',
              ready: true,
              started: true,
              restartCount: 0,
              state: { running: { startedAt: t } },
            })),
          },
        },
        { subresource: 'status' },
      );
    });
  }
}
