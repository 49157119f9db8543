// POST serviceaccounts/{name}/token: the TokenRequest API (authentication.k8s.io/v1), as
// upstream's pkg/registry/core/serviceaccount/storage/token.go serves it. Nothing is stored: the
// answer is the request with status.token and status.expirationTimestamp filled in.
import * as errors from '../../machinery/errors.js';
import * as field from '../../machinery/fielderrors.js';
import { isPlainObject } from '../../machinery/objects.js';
import { decodeBody, readBody, replyEncoding, sendReply, warningHeaders } from '../http.js';
import type { RequestScope } from '../rest.js';
import type { ServingApi } from '../serving.js';
import { EXPIRATION_EXTENSION_SECONDS, WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS, type TokenIssuer } from './tokens.js';
import { rfc3339 } from '../../machinery/time.js';
import type { AdmissionAttributes, AdmissionChain } from '../admission/interfaces.js';

export const TOKEN_REQUEST_GROUP = 'authentication.k8s.io';
export const DEFAULT_EXPIRATION_SECONDS = 3600;
const MIN_EXPIRATION_SECONDS = 600;
const MAX_EXPIRATION_SECONDS = 2 ** 32;

export interface TokenRequestOptions {
  issuer: TokenIssuer;
  /** Audiences tokens get when the request names none (the API server's own, --api-audiences). */
  apiAudiences: string[];
  /** Pod-bound 3607 s tokens for the API audiences last a year (default true, as upstream). */
  extendExpiration?: boolean;
  /** A longer requested lifetime is shortened to this, with a warning (0: no limit). */
  maxExpirationSeconds?: number;
  /** The admission chain a client's TokenRequest passes (NodeRestriction: nodes get tokens for their pods only). */
  admission?: AdmissionChain;
}

const saRef = { group: '', resource: 'serviceaccounts' };

function validate(req: any, name: string): void {
  const errs: field.FieldError[] = [];
  const spec = req.spec;
  const exp = spec.expirationSeconds;
  const p = field.path('spec', 'expirationSeconds');
  if (typeof exp !== 'number' || !Number.isInteger(exp)) errs.push(field.invalid(p, exp, 'must be an integer'));
  else if (exp < MIN_EXPIRATION_SECONDS)
    errs.push(field.invalid(p, exp, 'may not specify a duration less than 10 minutes'));
  else if (exp > MAX_EXPIRATION_SECONDS)
    errs.push(field.invalid(p, exp, 'may not specify a duration larger than 2^32 seconds'));
  if (
    spec.audiences !== undefined &&
    spec.audiences !== null &&
    (!Array.isArray(spec.audiences) || spec.audiences.some((a: unknown) => typeof a !== 'string'))
  ) {
    errs.push(field.invalid(field.path('spec', 'audiences'), spec.audiences, 'must be a list of strings'));
  }
  const ref = spec.boundObjectRef;
  if (ref !== undefined && ref !== null && !isPlainObject(ref))
    errs.push(field.invalid(field.path('spec', 'boundObjectRef'), ref, 'must be an object'));
  if (errs.length) throw errors.invalid(TOKEN_REQUEST_GROUP, 'TokenRequest', name, errs);
}

/** upstream GroupVersionKind.String() of the bound object's type, for error messages. */
function gvkString(ref: any): string {
  const apiVersion = String(ref.apiVersion ?? '');
  const slash = apiVersion.lastIndexOf('/');
  const group = slash >= 0 ? apiVersion.slice(0, slash) : '';
  const version = slash >= 0 ? apiVersion.slice(slash + 1) : apiVersion;
  return `${group}/${version}, Kind=${String(ref.kind ?? '')}`;
}

/** Issue a token for serviceaccounts/{name} in `ns`; returns the answered TokenRequest. */
export async function createToken(
  api: ServingApi,
  opts: TokenRequestOptions,
  ns: string,
  name: string,
  body: any,
  warnings: string[] = [],
): Promise<any> {
  if (!isPlainObject(body)) throw errors.badRequest('the request body must be a TokenRequest object');
  if (body.kind !== undefined && body.kind !== 'TokenRequest') {
    throw errors.badRequest(
      // eslint-disable-next-line @typescript-eslint/no-base-to-string -- echoes the client's value as upstream's %v does
      `the kind in the data (${String(body.kind)}) does not match the expected kind (TokenRequest)`,
    );
  }
  const req: any = structuredClone(body);
  req.apiVersion = `${TOKEN_REQUEST_GROUP}/v1`;
  req.kind = 'TokenRequest';
  req.metadata = isPlainObject(req.metadata) ? req.metadata : {};
  req.spec = isPlainObject(req.spec) ? req.spec : {};
  if (req.metadata.name && req.metadata.name !== name) {
    throw errors.invalid(TOKEN_REQUEST_GROUP, 'TokenRequest', name, [
      field.invalid(
        field.path('metadata', 'name'),
        req.metadata.name,
        'must match the service account name if specified',
      ),
    ]);
  }
  if (req.metadata.namespace && req.metadata.namespace !== ns) {
    throw errors.invalid(TOKEN_REQUEST_GROUP, 'TokenRequest', name, [
      field.invalid(
        field.path('metadata', 'namespace'),
        req.metadata.namespace,
        'must match the service account namespace if specified',
      ),
    ]);
  }
  if (req.spec.expirationSeconds === undefined || req.spec.expirationSeconds === null)
    req.spec.expirationSeconds = DEFAULT_EXPIRATION_SECONDS;

  const sa = api.store('', 'serviceaccounts').get(ns, name).obj;
  if (!req.spec.audiences?.length) req.spec.audiences = [...opts.apiAudiences];
  req.metadata.name = sa.metadata.name;
  req.metadata.namespace = sa.metadata.namespace;
  const nowMs = Date.now();
  req.metadata.creationTimestamp = rfc3339(nowMs);
  delete req.status;
  validate(req, name);

  let pod: any;
  let secret: any;
  let node: any;
  const ref = req.spec.boundObjectRef;
  if (ref) {
    const apiVersion = String(ref.apiVersion ?? '');
    const core = apiVersion === '' || apiVersion === 'v1';
    let uid: string;
    if (core && ref.kind === 'Pod') {
      pod = api.store('', 'pods').get(ns, String(ref.name ?? '')).obj;
      const podSA = pod.spec?.serviceAccountName ?? '';
      if (podSA !== name)
        throw errors.badRequest(
          `cannot bind token for serviceaccount "${name}" to pod running with serviceaccount "${podSA}"`,
        );
      uid = pod.metadata.uid;
      // The node is optional: a token is still issued when it can't be read.
      if (pod.spec?.nodeName) node = api.store('', 'nodes').tryGet(undefined, pod.spec.nodeName)?.obj;
    } else if (core && ref.kind === 'Secret') {
      secret = api.store('', 'secrets').get(ns, String(ref.name ?? '')).obj;
      uid = secret.metadata.uid;
    } else {
      throw errors.badRequest(`cannot bind token to object of type ${gvkString(ref)}`);
    }
    if (ref.uid && ref.uid !== uid) {
      throw errors.conflict(
        { group: '', resource: String(ref.kind) },
        String(ref.name),
        `the UID in the bound object reference (${ref.uid}) does not match the UID in record. The object might have been deleted and then recreated`,
      );
    }
  }

  if (opts.maxExpirationSeconds && req.spec.expirationSeconds > opts.maxExpirationSeconds) {
    warnings.push(
      `requested expiration of ${req.spec.expirationSeconds} seconds shortened to ${opts.maxExpirationSeconds} seconds`,
    );
    req.spec.expirationSeconds = opts.maxExpirationSeconds;
  }
  let exp = req.spec.expirationSeconds;
  let warnAfter = 0;
  const kubeAudiences = req.spec.audiences.every((a: string) => opts.apiAudiences.includes(a));
  if ((opts.extendExpiration ?? true) && pod && exp === WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS && kubeAudiences) {
    warnAfter = exp;
    exp = EXPIRATION_EXTENSION_SECONDS;
  }
  const now = Math.floor(nowMs / 1000);
  const { token } = await opts.issuer.issue({
    serviceAccount: sa,
    pod,
    secret,
    node,
    audiences: req.spec.audiences,
    expirationSeconds: exp,
    warnAfterSeconds: warnAfter,
    now,
  });
  req.status = { token, expirationTimestamp: rfc3339((now + req.spec.expirationSeconds) * 1000) };
  return req;
}

/** Serve serviceaccounts/token over HTTP and to in-process clients. */
export function registerTokenRequest(api: ServingApi, opts: TokenRequestOptions): void {
  api.extraSubresources.set('/serviceaccounts/token', {
    info: { name: 'token', kind: 'TokenRequest', group: TOKEN_REQUEST_GROUP, version: 'v1', verbs: ['create'] },
    handle: async (scope: RequestScope) => {
      if (scope.req.method !== 'POST') throw errors.methodNotSupported(saRef, (scope.req.method ?? '').toLowerCase());
      const encoding = replyEncoding(scope.req);
      const body = await decodeBody(await readBody(scope.req), scope.req.headers['content-type']);
      if (opts.admission) {
        const a: AdmissionAttributes = {
          operation: 'CREATE',
          group: '',
          version: 'v1',
          resource: 'serviceaccounts',
          kind: 'TokenRequest',
          subresource: 'token',
          namespace: scope.info.namespace!,
          name: scope.info.name!,
          object: body,
          user: scope.user,
          dryRun: false,
          def: api.store('', 'serviceaccounts').def,
        };
        await opts.admission.admit(a);
        await opts.admission.validate(a);
      }
      const warnings: string[] = [];
      const out = await createToken(api, opts, scope.info.namespace!, scope.info.name!, body, warnings);
      const headers = warningHeaders(warnings);
      sendReply(scope.res, 201, out, encoding, headers);
    },
    call: (ns, name, body) => createToken(api, opts, ns!, name, body),
  });
}
