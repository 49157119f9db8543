// From a request to authorization attributes (upstream RequestInfoFactory's verb and name rules),
// and the 403 a refusal answers with (upstream responsewriters.Forbidden).
import * as errors from '../../machinery/errors.js';
import type { RequestInfo } from '../requestinfo.js';
import type { UserInfo } from '../user.js';
import type { Attributes } from './types.js';

/** `metadata.name=X` (alone or among other requirements) of a list/watch field selector. */
export function nameFromFieldSelector(selector: string | null): string {
  if (!selector) return '';
  for (const term of selector.split(',')) {
    const m = /^\s*metadata\.name\s*==?\s*(.*?)\s*$/.exec(term);
    if (m) return m[1];
  }
  return '';
}

const isTrue = (v: string | null) => v !== null && v !== '0' && v.toLowerCase() !== 'false';

export function requestAttributes(
  user: UserInfo,
  info: RequestInfo,
  method: string,
  query: URLSearchParams,
): Attributes {
  if (info.kind === 'other')
    return {
      user,
      verb: method.toLowerCase(),
      resourceRequest: false,
      namespace: '',
      apiGroup: '',
      apiVersion: '',
      resource: '',
      subresource: '',
      name: '',
      path: info.path,
    };
  let verb: string;
  let name = info.name ?? '';
  switch (method) {
    case 'GET':
    case 'HEAD':
      verb = name ? 'get' : isTrue(query.get('watch')) || info.legacyWatch ? 'watch' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = name ? 'delete' : 'deletecollection';
      break;
    default:
      verb = method.toLowerCase();
  }
  // A list or watch of one object by field selector is authorized as that object (a node may watch its own Node).
  if ((verb === 'list' || verb === 'watch') && !name) name = nameFromFieldSelector(query.get('fieldSelector'));
  // /api/v1/namespaces/{name} is in the namespace it names.
  const namespace = info.namespace ?? (info.resource === 'namespaces' && info.name ? info.name : '');
  return {
    user,
    verb,
    resourceRequest: true,
    namespace,
    apiGroup: info.group,
    apiVersion: info.version,
    resource: info.resource,
    subresource: info.subresource ?? '',
    name,
    path: '',
  };
}

/** upstream forbiddenMessage. */
export function forbiddenMessage(a: Attributes): string {
  const who = JSON.stringify(a.user.name);
  if (!a.resourceRequest) return `User ${who} cannot ${a.verb} path ${JSON.stringify(a.path)}`;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const where = a.namespace ? `in the namespace ${JSON.stringify(a.namespace)}` : 'at the cluster scope';
  return `User ${who} cannot ${a.verb} resource ${JSON.stringify(resource)} in API group ${JSON.stringify(a.apiGroup)} ${where}`;
}

/** The 403 Status of a refused request: `secrets "x" is forbidden: User ...`, reason appended. */
export function forbiddenError(a: Attributes, reason: string): errors.ApiError {
  const why = reason ? `${forbiddenMessage(a)}: ${reason}` : forbiddenMessage(a);
  if (!a.resourceRequest || !a.resource) return new errors.ApiError(403, 'Forbidden', `forbidden: ${why}`, {});
  return errors.forbidden({ group: a.apiGroup, resource: a.resource }, a.name, why);
}
