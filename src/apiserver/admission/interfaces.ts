// The admission chain, in the manner of upstream k8s.io/apiserver/pkg/admission: every write the
// generic store performs (create, update, delete, subresources included) passes first through the
// mutating plugins (after defaulting, before the strategy prepares and validates the object),
// then, once the object validated, through the validating plugins. A plugin refuses by throwing
// an ApiError (forbiddenFor builds upstream's admission.NewForbidden). Admission webhooks are one
// more MutatingPlugin / ValidatingPlugin each (webhook/).
import type { ExcludedLatency } from '../excludedlatency.js';
import type { ResourceDef } from '../../api/types.js';
import * as errors from '../../machinery/errors.js';
import type { UserInfo } from '../user.js';

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

/** Everything a plugin learns about one request (upstream admission.Attributes). */
export interface AdmissionAttributes {
  operation: Operation;
  /** The resource: group, storage version and plural, and its kind. */
  group: string;
  version: string;
  resource: string;
  kind: string;
  /** '' for the main resource. */
  subresource: string;
  namespace: string;
  name: string;
  /** The new object (storage version); mutating plugins change it in place. Absent on DELETE. */
  object?: any;
  /** The current object on UPDATE and DELETE. */
  oldObject?: any;
  user: UserInfo;
  dryRun: boolean;
  /** The resource's strategy, for plugins that need more than names. */
  def: ResourceDef;
  /** The version the client addressed (a webhook's requestKind); undefined: the storage version. */
  requestVersion?: string;
  /** The request's warnings for the client (webhooks add theirs). */
  warnings?: string[];
  /** Audit annotations admission adds (webhooks' auditAnnotations), kept on the request for the audit log. */
  auditAnnotations?: Record<string, string>;
  /** The request's time its latency SLI leaves out: webhooks add the time they take. */
  excluded?: ExcludedLatency;
  /** The write's field manager (a webhook's CreateOptions/UpdateOptions). */
  fieldManager?: string;
  /** A delete's options (a webhook's DeleteOptions). */
  deleteOptions?: Record<string, unknown>;
}

export interface AdmissionPlugin {
  readonly name: string;
  /** Whether the plugin wants this request at all (cheap; called for every write). */
  handles(a: AdmissionAttributes): boolean;
}

export interface MutatingPlugin extends AdmissionPlugin {
  admit(a: AdmissionAttributes): void | Promise<void>;
}

export interface ValidatingPlugin extends AdmissionPlugin {
  validate(a: AdmissionAttributes): void | Promise<void>;
}

/** upstream admission.NewForbidden: `<resource> "<name>" is forbidden: <why>`, 403. */
export function forbiddenFor(
  a: Pick<AdmissionAttributes, 'group' | 'resource' | 'name'>,
  why: string,
): errors.ApiError {
  return errors.forbidden({ group: a.group, resource: a.resource }, a.name, why);
}

/** An ordered set of plugins; mutating ones run first, validating ones after validation. */
export class AdmissionChain {
  readonly mutating: MutatingPlugin[] = [];
  readonly validating: ValidatingPlugin[] = [];

  constructor(plugins: (MutatingPlugin | ValidatingPlugin | (MutatingPlugin & ValidatingPlugin))[] = []) {
    for (const p of plugins) this.register(p);
  }

  /** Append a plugin (webhooks register themselves here at run time). */
  register(p: MutatingPlugin | ValidatingPlugin | (MutatingPlugin & ValidatingPlugin)): void {
    if ('admit' in p && typeof p.admit === 'function') this.mutating.push(p);
    if ('validate' in p && typeof p.validate === 'function') this.validating.push(p);
  }

  /** A Promise only once a plugin's answer is one: most writes pass every plugin synchronously. */
  admit(a: AdmissionAttributes): void | Promise<void> {
    return runPlugins(this.mutating, a, (p) => p.admit(a), 0);
  }

  validate(a: AdmissionAttributes): void | Promise<void> {
    return runPlugins(this.validating, a, (p) => p.validate(a), 0);
  }
}

/** Plugins from `from` on, in order, each asked `handles` once the previous one is done. */
function runPlugins<P extends AdmissionPlugin>(
  plugins: P[],
  a: AdmissionAttributes,
  call: (p: P) => void | Promise<void>,
  from: number,
): void | Promise<void> {
  for (let i = from; i < plugins.length; i++) {
    const p = plugins[i];
    if (!p.handles(a)) continue;
    const r = call(p);
    if (r instanceof Promise) return r.then(() => runPlugins(plugins, a, call, i + 1));
  }
}
