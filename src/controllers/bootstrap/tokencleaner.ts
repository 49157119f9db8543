// The token cleaner (upstream pkg/controller/bootstrap/tokencleaner.go): bootstrap token Secrets
// in kube-system are deleted once their `expiration` has passed, so an expired token is gone
// from the cluster and not only refused by the authenticator.
import type { Secret } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner, type ReconcileResult } from '../../client/controller.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import {
  BOOTSTRAP_NAMESPACE,
  BOOTSTRAP_TOKEN_SECRET_TYPE,
  bootstrapTokenRemainingMs,
} from '../../machinery/bootstraptoken.js';
import type { Controller, ControllerContext } from '../types.js';

export class TokenCleaner implements Controller {
  readonly name = 'tokencleaner';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly secrets: SharedIndexInformer<Secret>;
  private readonly runner: ControllerRunner;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: this.name });
    this.secrets = ctx.informers.forResource(R.secrets, {
      namespace: BOOTSTRAP_NAMESPACE,
      fieldSelector: `type=${BOOTSTRAP_TOKEN_SECRET_TYPE}`,
    });
    this.runner = new ControllerRunner({
      name: 'token_cleaner',
      workers: 1,
      reconcile: (name) => this.syncSecret(name),
      logger: this.log,
    });
    const onSecret = (s: Stored<Secret>) => this.runner.enqueue(s.metadata.name);
    this.secrets.addEventHandler({ add: onSecret, update: (_o, n) => onSecret(n) });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  async syncSecret(name: string): Promise<ReconcileResult | void> {
    const secret = this.secrets.indexer.getByName(BOOTSTRAP_NAMESPACE, name);
    if (!secret || secret.metadata?.deletionTimestamp) return;
    const remaining = bootstrapTokenRemainingMs(secret);
    if (remaining === undefined) return;
    // Not yet: look again when it expires.
    if (remaining > 0) return { requeueAfterMs: remaining };
    this.log.info({ secret: name }, 'deleting expired bootstrap token');
    try {
      await this.client
        .resource(R.secrets)
        .namespace(BOOTSTRAP_NAMESPACE)
        .delete(name, { preconditions: { uid: secret.metadata?.uid } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }
}
