// What admission policies (validating and mutating) share beyond matching: the params objects a
// binding's paramRef selects for a policy's paramKind, the CEL variables of one request, and
// the evaluation failure that the policy's failurePolicy weighs.
import type { ParamKind, ParamRef } from 'kubernetes-types/admissionregistration/v1.js';
import type { ObjectMeta } from 'kubernetes-types/meta/v1.js';
import type { Store } from '../../store.js';
import { labelSelectorMatches } from '../../../machinery/labels.js';
import { type AuthorizeFn, type AuthzAttributes, admissionActivation } from '../../../cel/index.js';
import type { AdmissionAttributes } from '../interfaces.js';

/** A failure the policy's failurePolicy decides about (Fail: refuse, Ignore: skip). */
export class EvaluationFailure extends Error {}

/**
 * The params objects `ref` selects (undefined: the policy takes none; []: none found).
 * Throws EvaluationFailure with upstream's text when the binding or the kind is unusable.
 */
export function collectParams(
  storeForKind: ((group: string, kind: string) => Store | undefined) | undefined,
  paramKind: ParamKind | undefined,
  ref: ParamRef | undefined,
  requestNamespace: string,
): unknown[] | undefined {
  if (!paramKind?.apiVersion || !paramKind.kind) return undefined;
  if (!ref) throw new EvaluationFailure('failed to configure binding: paramRef is required when paramKind is set');
  const [group, version] = paramKind.apiVersion.includes('/')
    ? paramKind.apiVersion.split('/', 2)
    : ['', paramKind.apiVersion];
  const store = storeForKind?.(group, paramKind.kind);
  if (!store) {
    throw new EvaluationFailure(
      `failed to configure policy: failed to find resource referenced by paramKind: '${group ? `${group}/` : ''}${version}, Kind=${paramKind.kind}'`,
    );
  }
  const namespace = store.def.namespaced ? ref.namespace || requestNamespace : undefined;
  if (ref.name) {
    const found: unknown = store.tryGet(namespace, ref.name)?.obj;
    return found ? [found] : [];
  }
  return store.cache
    .list(store.keyPrefix(namespace))
    .map((x): unknown => x.obj)
    .filter((o) => labelSelectorMatches(ref.selector, (o as { metadata?: ObjectMeta }).metadata?.labels ?? {}));
}

/** The CEL variables a policy's expressions see for request `a` with one params object (`authorize`: the server's authorizer). */
export function policyActivation(
  a: AdmissionAttributes,
  params: unknown,
  namespaceObject: unknown,
  authorize?: AuthorizeFn,
): Record<string, unknown> {
  return admissionActivation({
    authorize,
    object: a.object,
    oldObject: a.oldObject,
    params,
    namespaceObject,
    request: {
      kind: { group: a.group, version: a.version, kind: a.kind },
      resource: { group: a.group, version: a.version, resource: a.resource },
      subResource: a.subresource,
      name: a.name,
      namespace: a.namespace,
      operation: a.operation,
      userInfo: { username: a.user.name, uid: a.user.uid, groups: a.user.groups, extra: a.user.extra },
      dryRun: a.dryRun,
    },
  });
}

/** The server's authorizer as the CEL `authorizer` library calls it (undefined: none configured). */
export function authorizeFn(deps: {
  authorizer?(): { authorize(a: AuthzAttributes): { decision: string; reason: string } } | undefined;
}): AuthorizeFn | undefined {
  const authz = deps.authorizer?.();
  return authz ? (x) => authz.authorize(x) : undefined;
}
