// The authorizer chain (--authorization-mode) as upstream's union authorizer: the first Allow
// or Deny decides; without one the request is refused with every authorizer's reason.
import type { UserInfo } from '../user.js';
import type { Attributes, AuthorizationResult, Authorizer } from './types.js';
import { ALLOW, NO_OPINION } from './types.js';

/** Members of this group may do everything, whatever the other authorizers say (upstream SystemPrivilegedGroup). */
export const PRIVILEGED_GROUP = 'system:masters';

export const isPrivileged = (user: UserInfo) => user.groups.includes(PRIVILEGED_GROUP);

export const privilegedGroupAuthorizer: Authorizer = {
  authorize: (a) => (isPrivileged(a.user) ? ALLOW : NO_OPINION),
};

export const alwaysAllow: Authorizer = { authorize: () => ALLOW };

export const alwaysDeny: Authorizer = {
  authorize: () => ({ decision: 'Deny', reason: 'Everything is forbidden.' }),
};

export class UnionAuthorizer implements Authorizer {
  constructor(private readonly members: Authorizer[]) {}

  authorize(a: Attributes): AuthorizationResult {
    let reasons: string[] | undefined;
    for (const m of this.members) {
      const r = m.authorize(a);
      if (r.decision !== 'NoOpinion') return r;
      if (r.reason) (reasons ??= []).push(r.reason);
    }
    return reasons ? { decision: 'NoOpinion', reason: reasons.join('\n') } : NO_OPINION;
  }
}

export const AUTHORIZATION_MODES = ['AlwaysAllow', 'AlwaysDeny', 'Node', 'RBAC'] as const;
export type AuthorizationMode = (typeof AUTHORIZATION_MODES)[number];
export const DEFAULT_AUTHORIZATION_MODES = 'Node,RBAC';

/** `--authorization-mode` (a comma list), checked as kube-apiserver does. */
export function parseAuthorizationModes(flag: string | undefined): AuthorizationMode[] {
  const modes = (flag ?? DEFAULT_AUTHORIZATION_MODES)
    .split(',')
    .map((m) => m.trim())
    .filter(Boolean);
  if (modes.length === 0) throw new Error('--authorization-mode: at least one authorization mode must be passed');
  const seen = new Set<string>();
  for (const m of modes) {
    if (!(AUTHORIZATION_MODES as readonly string[]).includes(m))
      throw new Error(`--authorization-mode: authorization-mode ${JSON.stringify(m)} is not a valid mode`);
    if (seen.has(m))
      throw new Error(
        `--authorization-mode: authorization-mode ${JSON.stringify(m)} has mode specified more than once`,
      );
    seen.add(m);
  }
  return modes as AuthorizationMode[];
}
