// Which FlowSchema a request matches, as upstream's APF classifier: the schemas in order of
// matchingPrecedence (then name), the first with a rule whose subjects include the user and
// whose resource or non-resource rule covers the request; its distinguisher (ByUser: the user's
// name, ByNamespace: the request's namespace) names the request's flow within the schema.
import type {
  FlowSchema,
  NonResourcePolicyRule,
  ResourcePolicyRule,
  Subject,
} from 'kubernetes-types/flowcontrol/v1.js';
import type { Attributes } from '../authz/types.js';
import type { UserInfo } from '../user.js';

const SA_PREFIX = 'system:serviceaccount:';

function subjectMatches(s: Subject, user: UserInfo): boolean {
  switch (s.kind) {
    case 'User':
      return s.user?.name === '*' || s.user?.name === user.name;
    case 'Group': {
      const g = s.group?.name;
      return g === '*' || (g !== undefined && user.groups.includes(g));
    }
    case 'ServiceAccount': {
      if (!user.name.startsWith(SA_PREFIX)) return false;
      const rest = user.name.slice(SA_PREFIX.length);
      const colon = rest.indexOf(':');
      if (colon < 0) return false;
      const sa = s.serviceAccount;
      return !!sa && sa.namespace === rest.slice(0, colon) && (sa.name === '*' || sa.name === rest.slice(colon + 1));
    }
    default:
      return false;
  }
}

const has = (list: string[] | undefined, v: string) => !!list && (list.includes(v) || list.includes('*'));

function resourceMatches(r: ResourcePolicyRule, a: Attributes): boolean {
  if (!has(r.verbs, a.verb) || !has(r.apiGroups, a.apiGroup)) return false;
  const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  if (!has(r.resources, resource)) return false;
  if (!a.namespace) return !!r.clusterScope;
  return has(r.namespaces, a.namespace);
}

function nonResourceMatches(r: NonResourcePolicyRule, a: Attributes): boolean {
  if (!has(r.verbs, a.verb)) return false;
  for (const u of r.nonResourceURLs ?? []) {
    if (u === '*' || u === a.path) return true;
    if (u.endsWith('/*') && a.path.startsWith(u.slice(0, -1))) return true;
  }
  return false;
}

export function schemaMatches(fs: FlowSchema, a: Attributes): boolean {
  for (const rule of fs.spec?.rules ?? []) {
    if (!rule.subjects?.some((s) => subjectMatches(s, a.user))) continue;
    if (a.resourceRequest) {
      if (rule.resourceRules?.some((r) => resourceMatches(r, a))) return true;
    } else if (rule.nonResourceRules?.some((r) => nonResourceMatches(r, a))) return true;
  }
  return false;
}

/** Upstream's order: matchingPrecedence ascending, then name. */
export function byPrecedence(a: FlowSchema, b: FlowSchema): number {
  const d = (a.spec?.matchingPrecedence ?? 0) - (b.spec?.matchingPrecedence ?? 0);
  if (d) return d;
  const an = a.metadata?.name ?? '';
  const bn = b.metadata?.name ?? '';
  return an < bn ? -1 : an > bn ? 1 : 0;
}

/** The flow distinguisher of a request under a schema ('' without a distinguisher method). */
export function distinguisher(fs: FlowSchema, a: Attributes): string {
  switch (fs.spec?.distinguisherMethod?.type) {
    case 'ByUser':
      return a.user.name;
    case 'ByNamespace':
      return a.namespace;
    default:
      return '';
  }
}
