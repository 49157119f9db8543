// Who may use the agent's API, decided as the kubelet does with webhook authentication and
// authorization (its defaults: anonymous off, mode Webhook): a client certificate of the cluster
// CA names a user (CN, O groups), a bearer token is sent to the API server in a TokenReview, and
// every request is put to the API server as a SubjectAccessReview on the node object (`nodes`,
// subresource proxy/log/stats/metrics/... by path). So a certificate or token of the cluster gets
// only what RBAC and the Node authorizer grant it on this node: the API server's kubelet client
// (system:masters or system:kubelet-api-admin) everything, a ServiceAccount without nodes/proxy
// nothing.
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { TokenReview } from 'kubernetes-types/authentication/v1.js';
import type { SubjectAccessReview } from 'kubernetes-types/authorization/v1.js';
import { LRUCache } from 'lru-cache';
import { spec, type Client } from '../client/client.js';
import { userFromSubject } from '../machinery/pki.js';

export interface AgentUser {
  name: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** The API server's answers the agent asks for (a Client's TokenReview and SubjectAccessReview creates). */
export interface AccessReviewer {
  reviewToken(token: string): Promise<AgentUser | undefined>;
  reviewAccess(user: AgentUser, attrs: NodeAttributes): Promise<{ allowed: boolean; reason?: string }>;
}

/** The node-scoped attributes of a request to the agent (upstream's nodeAuthorizerAttributesGetter). */
export interface NodeAttributes {
  verb: string;
  /** Asked in order; any one allowed lets the request through (fine-grained ones first, then the broad one). */
  subresources: string[];
  name: string;
  path: string;
}

const tokenReviews = spec<TokenReview>({
  group: 'authentication.k8s.io',
  version: 'v1',
  plural: 'tokenreviews',
  namespaced: false,
  kind: 'TokenReview',
});
const accessReviews = spec<SubjectAccessReview>({
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'subjectaccessreviews',
  namespaced: false,
  kind: 'SubjectAccessReview',
});

/** TokenReview and SubjectAccessReview through the agent's own API client (the node's identity). */
export function clientReviewer(client: Client): AccessReviewer {
  return {
    async reviewToken(token) {
      const r = await client
        .resource(tokenReviews)
        .create({ apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token } });
      const u = r.status?.user;
      if (!r.status?.authenticated || !u?.username) return undefined;
      const user: AgentUser = { name: u.username, groups: u.groups ?? [] };
      if (u.uid) user.uid = u.uid;
      if (u.extra) user.extra = u.extra;
      return user;
    },
    async reviewAccess(user, attrs) {
      const r = await client.resource(accessReviews).create({
        apiVersion: 'authorization.k8s.io/v1',
        kind: 'SubjectAccessReview',
        spec: {
          user: user.name,
          groups: user.groups,
          ...(user.uid ? { uid: user.uid } : {}),
          ...(user.extra ? { extra: user.extra } : {}),
          resourceAttributes: {
            verb: attrs.verb,
            group: '',
            version: 'v1',
            resource: 'nodes',
            subresource: attrs.subresources[0],
            name: attrs.name,
          },
        },
      });
      return { allowed: r.status?.allowed === true, reason: r.status?.reason };
    },
  };
}

/** The API verb of an HTTP method, as the kubelet maps it ('' for others, which nothing grants). */
function verbOf(method: string | undefined): string {
  switch (method) {
    case 'POST':
      return 'create';
    case 'GET':
      return 'get';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return 'delete';
  }
  return '';
}

/** Is `path` the endpoint `root` or below it (upstream's isSubpath)? */
function isSubpath(path: string, root: string): boolean {
  const r = root.replace(/\/$/, '');
  return path === r || (path.startsWith(r) && path[r.length] === '/');
}

/**
 * The attributes a request is authorized with: nodes/<subresource> of this node, the verb from
 * the method. Dedicated subresources for stats, metrics, node logs and checkpoints; the pod list
 * and health endpoints also accept their fine-grained ones (KubeletFineGrainedAuthz, on since
 * 1.33) before proxy; everything else, exec/attach/portForward/containerLogs included, is proxy.
 */
export function nodeAttributes(method: string | undefined, path: string, nodeName: string): NodeAttributes {
  let subresources: string[];
  if (isSubpath(path, '/stats/')) subresources = ['stats'];
  else if (isSubpath(path, '/metrics')) subresources = ['metrics'];
  else if (isSubpath(path, '/logs/')) subresources = ['log'];
  else if (isSubpath(path, '/checkpoint/')) subresources = ['checkpoint'];
  else if (isSubpath(path, '/pods') || isSubpath(path, '/runningpods/')) subresources = ['pods', 'proxy'];
  else if (isSubpath(path, '/healthz')) subresources = ['healthz', 'proxy'];
  else if (isSubpath(path, '/configz')) subresources = ['configz', 'proxy'];
  else subresources = ['proxy'];
  return { verb: verbOf(method), subresources, name: nodeName, path };
}

export type AuthDecision =
  { code: 200; user: AgentUser } | { code: 401 | 403 | 500; message: string; user?: AgentUser };

export interface AgentAuthOptions {
  reviewer: AccessReviewer;
  nodeName: string;
  /** How long a TokenReview's answer is kept (the kubelet's authentication.webhook.cacheTTL, 2 min). */
  tokenTTLms?: number;
  /** How long allowed / denied decisions are kept (authorization.webhook.cacheAuthorizedTTL 5 min, cacheUnauthorizedTTL 30 s). */
  allowedTTLms?: number;
  deniedTTLms?: number;
}

export class AgentAuth {
  /** Token → user (or null: refused), keyed by the token's hash so no token is held in memory. */
  private readonly tokens: LRUCache<string, AgentUser | { refused: true }>;
  private readonly decisions: LRUCache<string, boolean>;

  constructor(private readonly o: AgentAuthOptions) {
    this.tokens = new LRUCache({ max: 4096, ttl: o.tokenTTLms ?? 120_000 });
    this.decisions = new LRUCache({ max: 16_384, ttl: o.allowedTTLms ?? 300_000 });
  }

  /** Authenticate then authorize one request (HTTP or upgrade). */
  async check(req: IncomingMessage): Promise<AuthDecision> {
    const user = await this.authenticate(req);
    if (!user) return { code: 401, message: 'Unauthorized' };
    const path = new URL(req.url ?? '/', 'https://localhost').pathname;
    const attrs = nodeAttributes(req.method, path, this.o.nodeName);
    const describe = () =>
      `(user=${user.name}, verb=${attrs.verb}, resource=nodes, subresource(s)=[${attrs.subresources.join(' ')}])`;
    try {
      if (await this.authorize(user, attrs)) return { code: 200, user };
    } catch {
      return { code: 500, message: `Authorization error ${describe()}`, user };
    }
    return { code: 403, message: `Forbidden ${describe()}\n`, user };
  }

  /** The request's user: its client certificate's (verified against the cluster CA), else its bearer token's. */
  async authenticate(req: IncomingMessage): Promise<AgentUser | undefined> {
    const sock = req.socket as TLSSocket;
    const cert = typeof sock.getPeerCertificate === 'function' ? sock.getPeerCertificate() : undefined;
    if (cert && Object.keys(cert).length > 0) {
      // A certificate of another CA authenticates nobody (no fallback to the token).
      if (!sock.authorized) return undefined;
      const u = userFromSubject(cert.subject);
      return u ? { name: u.name, groups: [...u.groups] } : undefined;
    }
    const header = req.headers.authorization ?? '';
    const [scheme, token] = header.split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) return undefined;
    const key = createHash('sha256').update(token).digest('base64');
    const cached = this.tokens.get(key);
    if (cached) return 'refused' in cached ? undefined : cached;
    let user: AgentUser | undefined;
    try {
      user = await this.o.reviewer.reviewToken(token);
    } catch {
      return undefined; // The API server unreachable: refused now, asked again next time.
    }
    this.tokens.set(key, user ?? { refused: true });
    return user;
  }

  private async authorize(user: AgentUser, attrs: NodeAttributes): Promise<boolean> {
    for (const subresource of attrs.subresources) {
      const one = { ...attrs, subresources: [subresource] };
      const key = JSON.stringify([user.name, user.uid, user.groups, user.extra, attrs.verb, subresource, attrs.name]);
      let allowed = this.decisions.get(key);
      if (allowed === undefined) {
        allowed = (await this.o.reviewer.reviewAccess(user, one)).allowed;
        this.decisions.set(key, allowed, allowed ? undefined : { ttl: this.o.deniedTTLms ?? 30_000 });
      }
      if (allowed) return true;
    }
    return false;
  }
}
