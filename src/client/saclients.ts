// Clients that act as service accounts, as kube-controller-manager's
// --use-service-account-credentials builds them (upstream controller-manager clientbuilder's
// DynamicControllerClientBuilder): for each controller the manager's own client makes sure the
// account kube-system/NAME exists, asks for a token with a TokenRequest (an hour by default),
// and the controller's client presents that token instead of the manager's credentials. The
// token is requested again at 80 % of its lifetime; a failure keeps the old token and retries.
import type { TokenRequest } from 'kubernetes-types/authentication/v1.js';
import { Client, R } from './client.js';
import { HttpsTransport } from './https.js';
import type { ClientConfig } from './kubeconfig.js';
import { isNotFound, isAlreadyExists } from './errors.js';

/** Upstream's default token lifetime for controller clients. */
const DEFAULT_EXPIRATION_SECONDS = 3600;
const RETRY_MS = 10_000;

export interface ServiceAccountClientsOptions {
  /** The manager's own client: it creates the accounts and requests their tokens. */
  root: Client;
  /** The manager's connection (server, CA); its client certificate is not sent with a token. */
  config: ClientConfig;
  fieldManager: string;
  namespace?: string;
  expirationSeconds?: number;
  log?: { warn(obj: object, msg: string): void };
}

interface Account {
  client: Client;
  transport: HttpsTransport;
  timer?: NodeJS.Timeout;
}

export class ServiceAccountClients {
  private readonly accounts = new Map<string, Account>();
  private stopped = false;

  constructor(private readonly o: ServiceAccountClientsOptions) {}

  private get namespace(): string {
    return this.o.namespace ?? 'kube-system';
  }

  /** The client of account `name` once it holds a token (the account is created if missing). */
  async clientFor(name: string): Promise<Client> {
    const have = this.accounts.get(name);
    if (have) return have.client;
    await this.ensureAccount(name);
    const token = await this.requestToken(name);
    const { cert: _cert, key: _key, token: _token, ...connection } = this.o.config;
    const transport = new HttpsTransport({ ...connection, token: token.token }, { fieldManager: this.o.fieldManager });
    const account: Account = { client: new Client(transport), transport };
    this.accounts.set(name, account);
    this.scheduleRefresh(name, account, token.lifetimeMs);
    return account.client;
  }

  private async ensureAccount(name: string): Promise<void> {
    const accounts = this.o.root.resource(R.serviceaccounts).namespace(this.namespace);
    try {
      await accounts.get(name);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await accounts.create({ metadata: { name, namespace: this.namespace } });
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    }
  }

  private async requestToken(name: string): Promise<{ token: string; lifetimeMs: number }> {
    const requested = this.o.expirationSeconds ?? DEFAULT_EXPIRATION_SECONDS;
    // POST /api/v1/namespaces/NS/serviceaccounts/NAME/token
    const answer: TokenRequest = await this.o.root
      .resource(R.serviceaccounts)
      .namespace(this.namespace)
      .createSubresource(name, 'token', {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { audiences: [], expirationSeconds: requested },
      });
    const token = answer.status?.token;
    if (!token) throw new Error(`TokenRequest for ${this.namespace}/${name} returned no token`);
    const expiry = answer.status?.expirationTimestamp ? Date.parse(answer.status.expirationTimestamp) : NaN;
    const lifetimeMs = Number.isFinite(expiry) ? expiry - Date.now() : requested * 1000;
    return { token, lifetimeMs };
  }

  private scheduleRefresh(name: string, account: Account, lifetimeMs: number): void {
    if (this.stopped) return;
    account.timer = setTimeout(
      () => {
        this.requestToken(name).then(
          (t) => {
            account.transport.setBearerToken(t.token);
            this.scheduleRefresh(name, account, t.lifetimeMs);
          },
          (err: unknown) => {
            this.o.log?.warn({ err, serviceAccount: name }, 'renewing a controller token failed; retrying');
            this.scheduleRefresh(name, account, (RETRY_MS * 10) / 8);
          },
        );
      },
      Math.max(1000, lifetimeMs * 0.8),
    );
    account.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const a of this.accounts.values()) {
      clearTimeout(a.timer);
      await a.client.close().catch(() => undefined);
    }
  }
}
