// Subresources with their own semantics: pods/binding (schedulers), pods/eviction (drain,
// honouring PodDisruptionBudgets) and namespaces/finalize (the namespace controller).
import * as errors from '../machinery/errors.js';
import { selectorFromLabelSelector } from '../machinery/labels.js';
import { isPlainObject } from '../machinery/objects.js';
import { decodeBody, readBody, replyEncoding, sendReply } from './http.js';
import { defaultFieldManager, type RequestScope } from './rest.js';
import { checkObjectAddress } from './handlers/request.js';
import type { ServingApi } from './serving.js';
import { type WriteOptionsKind, writeOptions } from './options.js';
import type { Store, WriteContext } from './store.js';
import { type StoredObject, privateCopyOf } from '../storage/cacher.js';
import { rfc3339 } from '../machinery/time.js';

/** The request body (JSON, YAML or protobuf) as an object of `kind`. */
async function readBodyObject(scope: RequestScope, kind: string): Promise<any> {
  const body = await decodeBody(await readBody(scope.req), scope.req.headers['content-type']);
  if (!isPlainObject(body)) throw errors.badRequest(`the request body must be a ${kind} object`);
  if (body.kind !== undefined && body.kind !== kind) {
    // eslint-disable-next-line @typescript-eslint/no-base-to-string -- echoes the client's value as upstream's %v does
    throw errors.badRequest(`the kind in the data (${String(body.kind)}) does not match the expected kind (${kind})`);
  }
  return body;
}

/** The request's options (validated as upstream's Create/UpdateOptions) as a WriteContext. */
function writeContext(
  scope: RequestScope,
  subresource: string,
  kind: WriteOptionsKind = 'CreateOptions',
): WriteContext {
  const { dryRun } = writeOptions(scope.query, kind);
  return {
    dryRun,
    fieldManager: scope.query.get('fieldManager') || defaultFieldManager(scope.req.headers['user-agent']),
    user: scope.user,
    warnings: [],
    subresource,
  };
}

const podsRef = { group: '', resource: 'pods' };

/** Binding's and eviction's reply: upstream's create handler fills the Status's code with the 201 it answers. */
const createdStatus = () => ({ ...errors.successStatus(), code: 201 });

/** POST pods/{name}/binding: assign a pod to a node, once. */
async function bind(api: ServingApi, scope: RequestScope): Promise<void> {
  if (scope.req.method !== 'POST') throw errors.methodNotSupported(podsRef, (scope.req.method ?? '').toLowerCase());
  const encoding = replyEncoding(scope.req);
  const binding = await readBodyObject(scope, 'Binding');
  await bindPod(api, scope.info.namespace, scope.info.name!, binding, writeContext(scope, 'binding'));
  sendReply(scope.res, 201, createdStatus(), encoding);
}

/** The binding itself (also called in-process by the client transport). */
export async function bindPod(
  api: ServingApi,
  ns: string | undefined,
  name: string,
  binding: any,
  ctx: WriteContext,
): Promise<void> {
  const target = binding.target;
  if (binding.metadata?.name && binding.metadata.name !== name)
    throw errors.badRequest(
      `the name of the object (${binding.metadata.name}) does not match the name on the URL (${name})`,
    );
  if (!target?.name)
    throw errors.invalid('', 'Binding', name, [
      { type: 'FieldValueRequired', field: 'target.name', detail: 'Required value' },
    ]);
  if (target.kind && target.kind !== 'Node')
    throw errors.invalid('', 'Binding', name, [
      {
        type: 'FieldValueNotSupported',
        field: 'target.kind',
        detail: `Unsupported value: ${JSON.stringify(target.kind)}: supported values: "Node"`,
      },
    ]);
  const store = api.store('', 'pods');
  await store.rawUpdate(
    ns,
    name,
    (cur) => {
      const pod = privateCopyOf(cur);
      if (pod.metadata.deletionTimestamp)
        throw errors.conflict(podsRef, name, `pod ${name} is being deleted, cannot be assigned to a host`);
      if (pod.spec.nodeName)
        throw errors.conflict(podsRef, name, `pod ${name} is already assigned to node "${pod.spec.nodeName}"`);
      if (binding.metadata?.uid && binding.metadata.uid !== pod.metadata.uid) {
        throw errors.conflict(
          podsRef,
          name,
          `Precondition failed: UID in precondition: ${binding.metadata.uid}, UID in object meta: ${pod.metadata.uid}`,
        );
      }
      pod.spec.nodeName = target.name;
      if (binding.metadata?.annotations)
        // Not a spread: the stored object is frozen once shared, and a frozen spread is slow to read (copyWith).
        pod.metadata.annotations = Object.assign({}, pod.metadata.annotations, binding.metadata.annotations);
      const conditions = (pod.status ??= {}).conditions ?? [];
      const scheduled = { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: rfc3339() };
      const i = conditions.findIndex((c: any) => c.type === 'PodScheduled');
      if (i >= 0) conditions[i] = scheduled;
      else conditions.push(scheduled);
      pod.status.conditions = conditions;
      return pod;
    },
    ctx,
    // As upstream (BindingREST writes through storage): the pod's managedFields stay as they were.
    { manageFields: false },
  );
}

/** POST pods/{name}/eviction: a delete that a PodDisruptionBudget may refuse. */
async function evict(api: ServingApi, scope: RequestScope): Promise<void> {
  if (scope.req.method !== 'POST') throw errors.methodNotSupported(podsRef, (scope.req.method ?? '').toLowerCase());
  const encoding = replyEncoding(scope.req);
  const eviction = await readBodyObject(scope, 'Eviction');
  await evictPod(api, scope.info.namespace!, scope.info.name!, eviction, writeContext(scope, 'eviction'));
  sendReply(scope.res, 201, createdStatus(), encoding);
}

/** The eviction itself (also called in-process by the client transport). */
export async function evictPod(
  api: ServingApi,
  ns: string,
  name: string,
  eviction: any,
  ctx: WriteContext,
): Promise<void> {
  const pods = api.store('', 'pods');
  const pod = pods.get(ns, name).obj;
  const opts = eviction.deleteOptions ?? {};
  const terminal = pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
  if (!terminal && !pod.metadata.deletionTimestamp) {
    const pdbs = api.store('policy', 'poddisruptionbudgets');
    const matching = pdbs.cache
      .list(pdbs.keyPrefix(ns))
      .filter((s) => selectorFromLabelSelector(s.obj.spec?.selector).matches(pod.metadata.labels));
    if (matching.length > 1)
      throw new errors.ApiError(
        500,
        'InternalError',
        'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.',
      );
    if (matching.length === 1) {
      const pdbName = matching[0].obj.metadata.name;
      // Concurrent evictions (kubectl drain evicts every pod of a node at once) and the
      // disruption controller all write the budget's status: as upstream, a conflict re-reads
      // the budget and checks again (the store retries the mutation on the current object,
      // hence no resourceVersion in its result; this loop covers longer races).
      for (let attempt = 0; ; attempt++) {
        try {
          await decrementBudget(pdbs, ns, pdbName, name, ctx);
          break;
        } catch (err) {
          if (!(err instanceof errors.ApiError && err.code === 409) || attempt >= 20) throw err;
          await new Promise((r) => setTimeout(r, 20 + Math.random() * 80));
        }
      }
    }
  }
  await pods.delete(
    ns,
    name,
    { gracePeriodSeconds: opts.gracePeriodSeconds, preconditions: opts.preconditions },
    { ...ctx, subresource: undefined, dryRun: ctx.dryRun || (opts.dryRun?.length ?? 0) > 0 },
  );
}

/** Take one disruption from a budget's status, or refuse with 429 as upstream. */
async function decrementBudget(
  pdbs: Store,
  ns: string,
  pdbName: string,
  name: string,
  ctx: WriteContext,
): Promise<void> {
  await pdbs.update(
    ns,
    pdbName,
    (cur) => {
      const pdb = privateCopyOf(cur);
      delete pdb.metadata.resourceVersion;
      const st = pdb.status ?? {};
      // As upstream: only a budget the controller has not processed yet suggests a Retry-After;
      // a budget at 0 allowed disruptions answers without one (clients such as kubectl drain
      // retry on their own; with the header client-go would retry silently, 10 × 10 s).
      const refuse = (why: string, retryAfterSeconds?: number) =>
        new errors.ApiError(
          429,
          'TooManyRequests',
          "Cannot evict pod as it would violate the pod's disruption budget.",
          {
            causes: [{ reason: 'DisruptionBudget', message: why }],
            ...(retryAfterSeconds ? { retryAfterSeconds } : {}),
          },
        );
      if ((st.observedGeneration ?? 0) < (pdb.metadata.generation ?? 0))
        throw refuse(`The disruption budget ${pdbName} is still being processed by the server.`, 10);
      if ((st.disruptionsAllowed ?? 0) < 1) {
        throw refuse(
          `The disruption budget ${pdbName} needs ${st.desiredHealthy ?? 0} healthy pods and has ${st.currentHealthy ?? 0} currently`,
        );
      }
      st.disruptionsAllowed -= 1;
      st.disruptedPods = { ...(st.disruptedPods ?? {}), [name]: rfc3339() };
      pdb.status = st;
      return pdb;
    },
    { ...ctx, subresource: 'status' },
  );
}

/** PUT namespaces/{name}/finalize: only spec.finalizers change. */
async function finalize(api: ServingApi, scope: RequestScope): Promise<void> {
  if (scope.req.method !== 'PUT')
    throw errors.methodNotSupported({ group: '', resource: 'namespaces' }, (scope.req.method ?? '').toLowerCase());
  const encoding = replyEncoding(scope.req);
  const body = await readBodyObject(scope, 'Namespace');
  const stored = await finalizeNamespace(api, scope.info.name!, body, writeContext(scope, 'finalize', 'UpdateOptions'));
  sendReply(scope.res, 200, stored.obj, encoding);
}

/** The finalize write itself (also called in-process by the client transport). */
export async function finalizeNamespace(
  api: ServingApi,
  name: string,
  body: any,
  ctx: WriteContext,
): Promise<StoredObject> {
  // An update like any other upstream (FinalizeREST): the body must name this namespace.
  checkObjectAddress(body, name, undefined);
  const store = api.store('', 'namespaces');
  return store.rawUpdate(
    undefined,
    name,
    (cur) => {
      const ns = privateCopyOf(cur);
      if (body.metadata?.resourceVersion && body.metadata.resourceVersion !== ns.metadata.resourceVersion) {
        throw errors.conflict({ group: '', resource: 'namespaces' }, name, errors.OBJECT_MODIFIED);
      }
      ns.spec = { ...(ns.spec ?? {}), finalizers: body.spec?.finalizers ?? [] };
      if (!ns.spec.finalizers.length) delete ns.spec.finalizers;
      return ns;
    },
    ctx,
  );
}

export function registerSubresources(api: ServingApi): void {
  // `call` serves the in-process client transport: (namespace, name, body, ctx) → the reply.
  api.extraSubresources.set('/pods/binding', {
    info: { name: 'binding', kind: 'Binding', verbs: ['create'] },
    handle: (s) => bind(api, s),
    call: async (ns, name, body, ctx) => (await bindPod(api, ns, name, body, ctx), createdStatus()),
  });
  api.extraSubresources.set('/pods/eviction', {
    info: { name: 'eviction', kind: 'Eviction', group: 'policy', version: 'v1', verbs: ['create'] },
    handle: (s) => evict(api, s),
    call: async (ns, name, body, ctx) => (await evictPod(api, ns!, name, body, ctx), createdStatus()),
  });
  api.extraSubresources.set('/namespaces/finalize', {
    info: { name: 'finalize', kind: 'Namespace', verbs: ['update'] },
    handle: (s) => finalize(api, s),
    call: async (_ns, name, body, ctx) => (await finalizeNamespace(api, name, body, ctx)).obj,
  });
}
