// What the csrsigning and csrapproving controllers share: an informer over
// CertificateSigningRequests and one worker syncing a request, by name, whenever it is added or
// changes. Each says what a sync does.
import type { Logger } from 'pino';
import type { CertificateSigningRequest } from 'kubernetes-types/certificates/v1.js';
import { spec, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Controller, ControllerContext } from '../types.js';

export const CERTIFICATE_SIGNING_REQUESTS = spec<CertificateSigningRequest>({
  group: 'certificates.k8s.io',
  version: 'v1',
  plural: 'certificatesigningrequests',
  namespaced: false,
  kind: 'CertificateSigningRequest',
});

export abstract class CSRSyncController implements Controller {
  protected readonly client: Client;
  protected readonly csrs: SharedIndexInformer<CertificateSigningRequest>;
  protected readonly log: Logger;
  private readonly runner: ControllerRunner;

  constructor(
    readonly name: string,
    ctx: ControllerContext,
  ) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: name });
    this.csrs = ctx.informers.forResource(CERTIFICATE_SIGNING_REQUESTS);
    this.runner = new ControllerRunner({ name, workers: 1, reconcile: (key) => this.sync(key), logger: this.log });
    const enqueue = (csr: CertificateSigningRequest) => this.runner.enqueue(csr.metadata!.name!);
    this.csrs.addEventHandler({ add: enqueue, update: (_old, csr) => enqueue(csr) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  abstract sync(name: string): Promise<void>;
}
