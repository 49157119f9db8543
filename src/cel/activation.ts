// The variables admission CEL expressions are evaluated with, built from one request
// (upstream admission/plugin/cel activation: object, oldObject, request, params, namespaceObject,
// authorizer).
import { toCel } from './values.js';
import { type AuthorizeFn, AuthorizerVal } from './libraries/authz.js';

export interface AdmissionRequestInfo {
  uid?: string;
  kind: { group: string; version: string; kind: string };
  resource: { group: string; version: string; resource: string };
  subResource?: string;
  name: string;
  namespace: string;
  operation: string;
  userInfo: { username: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  dryRun: boolean;
  options?: unknown;
}

/** object/oldObject are null when absent (DELETE has no object, CREATE no oldObject), as upstream. */
export function admissionActivation(opts: {
  object?: unknown;
  oldObject?: unknown;
  request: AdmissionRequestInfo;
  params?: unknown;
  namespaceObject?: unknown;
  /** The server's authorizer: `authorizer` checks the request's user with it (null without one). */
  authorize?: AuthorizeFn;
}): Record<string, unknown> {
  const req = opts.request;
  const user = req.userInfo;
  return {
    object: opts.object === undefined ? null : toCel(opts.object),
    oldObject: opts.oldObject === undefined ? null : toCel(opts.oldObject),
    request: toCel({
      ...req,
      requestKind: req.kind,
      requestResource: req.resource,
      subResource: req.subResource ?? '',
    }),
    params: opts.params === undefined ? null : toCel(opts.params),
    namespaceObject: opts.namespaceObject === undefined ? null : toCel(opts.namespaceObject),
    authorizer: opts.authorize
      ? new AuthorizerVal(
          { name: user.username, groups: user.groups ?? [], uid: user.uid, extra: user.extra },
          opts.authorize,
          {
            group: req.resource.group,
            resource: req.resource.resource,
            subresource: req.subResource,
            namespace: req.namespace,
            name: req.name,
          },
        )
      : null,
    variables: null,
  };
}
