// The legacy service-account token controller (upstream pkg/controller/serviceaccount
// tokens_controller.go): a Secret of type kubernetes.io/service-account-token naming a service
// account in its `kubernetes.io/service-account.name` annotation gets a token, the cluster CA
// and its namespace written into its data; a token Secret whose service account is gone (or has
// another uid than the Secret names) is deleted, and so are a deleted service account's.
import type { Secret, ServiceAccount } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { isConflict, isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Stored } from '../../client/types.js';
import type { Controller, ControllerContext, LegacyTokenGenerator } from '../types.js';
import {
  SERVICE_ACCOUNT_NAME_KEY,
  SERVICE_ACCOUNT_TOKEN_TYPE,
  SERVICE_ACCOUNT_UID_KEY,
} from '../../api/core/v1/secret.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const dataOf = (s: Secret, key: string) =>
  s.data && Object.hasOwn(s.data, key) ? Buffer.from(s.data[key], 'base64').toString('utf8') : undefined;

/** Whether a token Secret refers to this service account (by name, and by uid if it names one). */
function refersTo(secret: Secret, sa: ServiceAccount): boolean {
  const a = secret.metadata?.annotations ?? {};
  if (a[SERVICE_ACCOUNT_NAME_KEY] !== sa.metadata?.name) return false;
  const uid = a[SERVICE_ACCOUNT_UID_KEY];
  return !uid || uid === sa.metadata?.uid;
}

export class LegacyTokensController implements Controller {
  readonly name = 'serviceaccount-token';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly secrets: SharedIndexInformer<Secret>;
  private readonly serviceAccounts: SharedIndexInformer<ServiceAccount>;
  /** Keys `secret/<ns>/<name>` and `sa/<ns>/<name>/<uid>` (a deleted service account's tokens). */
  private readonly runner: ControllerRunner;

  constructor(
    ctx: ControllerContext,
    private readonly generate: LegacyTokenGenerator,
    private readonly rootCA = '',
  ) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: this.name });
    this.secrets = ctx.informers.forResource(R.secrets, { fieldSelector: `type=${SERVICE_ACCOUNT_TOKEN_TYPE}` });
    this.serviceAccounts = ctx.informers.forResource(R.serviceaccounts);
    this.runner = new ControllerRunner({
      name: 'serviceaccount_tokens_secret',
      workers: 1,
      reconcile: (key) => (key.startsWith('sa/') ? this.syncDeletedServiceAccount(key) : this.syncSecret(key)),
      logger: this.log,
    });
    const onSecret = (s: Stored<Secret>) => this.runner.enqueue(`secret/${s.metadata.namespace}/${s.metadata.name}`);
    this.secrets.addEventHandler({ add: onSecret, update: (_o, n) => onSecret(n) });
    this.serviceAccounts.addEventHandler({
      delete: (sa) => this.runner.enqueue(`sa/${sa.metadata.namespace}/${sa.metadata.name}/${sa.metadata.uid}`),
    });
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  /** The service account a token Secret names, from the cache or (on a miss: it may be new) the server. */
  private async serviceAccountOf(secret: Secret): Promise<ServiceAccount | undefined> {
    const ns = secret.metadata?.namespace ?? '';
    const name = secret.metadata?.annotations?.[SERVICE_ACCOUNT_NAME_KEY];
    if (!name) return undefined;
    let sa: ServiceAccount | undefined = this.serviceAccounts.indexer.getByName(ns, name);
    if (!sa || !refersTo(secret, sa)) {
      try {
        sa = await this.client.resource(R.serviceaccounts).namespace(ns).get(name);
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    }
    return refersTo(secret, sa) ? sa : undefined;
  }

  async syncSecret(key: string): Promise<void> {
    const [, ns, name] = key.split('/');
    const cached = this.secrets.indexer.getByName(ns, name);
    if (!cached || cached.metadata?.deletionTimestamp) return;
    const sa = await this.serviceAccountOf(cached);
    const secrets = this.client.resource(R.secrets).namespace(ns);
    if (!sa) {
      await secrets.delete(name, { preconditions: { uid: cached.metadata?.uid } }).catch((err) => {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      });
      this.log.debug({ namespace: ns, secret: name }, 'deleted token secret of a missing service account');
      return;
    }
    if (this.complete(cached, sa)) return;
    // Fill what is missing on the current object (never overwrite a token that is there).
    let live: Secret;
    try {
      live = await secrets.get(name);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (this.complete(live, sa)) return;
    const next = structuredClone(live);
    next.data ??= {};
    if (this.rootCA) next.data['ca.crt'] = b64(this.rootCA);
    next.data.namespace = b64(ns);
    if (!dataOf(live, 'token')) next.data.token = b64(await this.generate(sa, live));
    next.metadata ??= {};
    next.metadata.annotations = {
      ...(next.metadata.annotations ?? {}),
      [SERVICE_ACCOUNT_NAME_KEY]: sa.metadata?.name ?? '',
      [SERVICE_ACCOUNT_UID_KEY]: sa.metadata?.uid ?? '',
    };
    await secrets.update(next); // a conflict is retried by the runner with the newer object
  }

  /** Token, CA, namespace and the service account's uid are all there. */
  private complete(secret: Secret, sa: ServiceAccount): boolean {
    return (
      !!dataOf(secret, 'token') &&
      dataOf(secret, 'namespace') === secret.metadata?.namespace &&
      (!this.rootCA || dataOf(secret, 'ca.crt') === this.rootCA) &&
      secret.metadata?.annotations?.[SERVICE_ACCOUNT_UID_KEY] === sa.metadata?.uid
    );
  }

  /** A deleted service account's token Secrets go with it. */
  async syncDeletedServiceAccount(key: string): Promise<void> {
    const [, ns, name, uid] = key.split('/');
    const secrets = this.client.resource(R.secrets).namespace(ns);
    // A service account of the same name made since keeps the Secrets that do not name the old uid.
    const successor = this.serviceAccounts.indexer.getByName(ns, name);
    const gone = { metadata: { name, uid } };
    for (const s of this.secrets.indexer.list()) {
      if (s.metadata.namespace !== ns || !refersTo(s, gone)) continue;
      if (successor && s.metadata.annotations?.[SERVICE_ACCOUNT_UID_KEY] !== uid) continue;
      await secrets.delete(s.metadata.name, { preconditions: { uid: s.metadata.uid } }).catch((err) => {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      });
    }
  }
}
