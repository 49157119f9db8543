// The generic store: create/get/list/update/delete semantics shared by every resource, in the
// manner of upstream's generic registry. A resource contributes only its ResourceDef strategy.
// Objects here are always in the storage version; conversion happens at the HTTP edge.
import type { ExcludedLatency } from './excludedlatency.js';
import { randomUUID } from 'node:crypto';
import type { KObject, ResourceDef, StrategyContext } from '../api/types.js';
import * as errors from '../machinery/errors.js';
import type { FieldError } from '../machinery/fielderrors.js';
import { FieldErrors, path } from '../machinery/fielderrors.js';
import { validateObjectMeta, validateObjectMetaUpdate } from '../machinery/validation.js';
import type { Backend } from '../storage/interface.js';
import { StorageError } from '../storage/interface.js';
import type { StoredObject, WatchCache } from '../storage/cacher.js';
import { apiVersionOf, storagePrefixOf, storageVersionOf } from './resources.js';
import { isPromise } from './convert.js';
import { deepCopy, deepEqual, encodeStored, nextTurn, takeOrCopy } from '../machinery/objects.js';
import { jsonLengthExceeds, jsonTextLengthExceeds } from '../machinery/jsonsize.js';
import type { AdmissionAttributes, AdmissionChain, Operation } from './admission/interfaces.js';

import { fillNilFields } from '../machinery/protobuf/nilfields.js';
import type { UserInfo } from './user.js';
import { nowRFC3339, rfc3339 } from '../machinery/time.js';
export type { UserInfo } from './user.js';

export interface WriteContext {
  dryRun: boolean;
  fieldManager: string;
  user: UserInfo;
  warnings: string[];
  subresource?: string;
  /** 'Apply' for server-side apply: the object already carries its final managedFields. */
  operation?: 'Apply' | 'Update';
  /** Bytes of the request body, when there was one: big writes are done in slices (see pause). */
  bodyBytes?: number;
  /** The version the client addressed (admission webhooks' requestKind). */
  requestVersion?: string;
  /** The request's audit annotations, which admission adds to. */
  auditAnnotations?: Record<string, string>;
  /** The request's time its latency SLI leaves out, which admission webhooks add to. */
  excluded?: ExcludedLatency;
}

/**
 * Writes of objects at least this big (request body or stored JSON) let the event loop run
 * between their phases (admission, validation, managedFields, encoding): each phase of a 3 MiB
 * object takes tens of milliseconds, and together they would hold up every other request.
 */
export const SLICED_WRITE_BYTES = 256 * 1024;

/** Lets pending I/O (other requests) run before the rest of a big write, when it is one. */
export function pause(bytes: number | undefined): Promise<void> | undefined {
  return bytes !== undefined && bytes >= SLICED_WRITE_BYTES ? nextTurn() : undefined;
}

/**
 * The largest object the store keeps, as JSON: etcd's default request limit (--max-request-bytes,
 * 1.5 MiB), which is what bounds kube-apiserver's objects. Request bodies may be twice that (3 MiB,
 * as upstream); an object that would be stored bigger is refused before the costly steps (field
 * management, encoding) run, and, when defaulting or field management make it grow past the
 * limit, as soon as that is known.
 */
export const MAX_STORED_OBJECT_BYTES = 1.5 * 1024 * 1024;

function tooLargeToStore(): errors.ApiError {
  // etcd's message (upstream passes it through, as a 500); a client's object, so a 413 here.
  return errors.entityTooLargeMessage(
    `etcdserver: request is too large (objects are stored up to ${MAX_STORED_OBJECT_BYTES} bytes)`,
  );
}

/** Refuse an encoded object longer (in UTF-8 bytes) than the store takes. */
function checkStoredLength(json: string): void {
  // A UTF-8 encoding is at least as long as the string and at most three times as long.
  if (
    json.length > MAX_STORED_OBJECT_BYTES ||
    (json.length > MAX_STORED_OBJECT_BYTES / 3 && Buffer.byteLength(json) > MAX_STORED_OBJECT_BYTES)
  )
    throw tooLargeToStore();
}

/** A dry run's result as JSON, held to the same limit as a real write (it does the same work). */
function storableJSON(obj: unknown): string {
  const json = JSON.stringify(obj);
  checkStoredLength(json);
  return json;
}

/**
 * Refuse a request body (JSON text, or protobuf bytes) whose object would certainly be stored
 * longer than the store takes, before it is decoded: decoding 3 MiB holds the event loop for
 * ~100 ms, the time every other request would wait. Two approximations, both documented in
 * docs/security.md: unknown fields a body carries count though pruning would drop them, and
 * protobuf is taken as no bigger than its JSON (upstream's etcd limit applies to protobuf).
 */
export function checkStorableBody(body: string | Buffer): void {
  const tooBig =
    typeof body === 'string'
      ? jsonTextLengthExceeds(body, MAX_STORED_OBJECT_BYTES)
      : body.length > MAX_STORED_OBJECT_BYTES;
  if (tooBig) throw tooLargeToStore();
}

/** Refuse an object whose JSON is certainly longer than the store takes (bounded work: see jsonLengthExceeds). */
export function checkStorableSize(obj: unknown): void {
  if (jsonLengthExceeds(obj, MAX_STORED_OBJECT_BYTES)) throw tooLargeToStore();
}

export interface DeleteOptions {
  gracePeriodSeconds?: number;
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
}

export interface DeleteResult {
  /** The object: gone (finalized) or only marked for deletion. */
  obj: any;
  deleted: boolean;
}

export interface StoreDeps {
  backend: Backend;
  cache: WatchCache;
  strategyContext(operation: StrategyContext['operation'], warnings: string[], subresource?: string): StrategyContext;
  /** Admission plugins every write passes through (NamespaceLifecycle, LimitRanger, ResourceQuota, ...). */
  admission?: AdmissionChain;
  /**
   * Records managedFields for a write. Big objects go off the event loop, hence the Promise, whose
   * value is then the object's storage form (or undefined); `checkStored` sees that form first and
   * may throw, before the answer is parsed.
   */
  manageFields(
    obj: any,
    old: any,
    ctx: WriteContext & { oldJson?: string; checkStored?: (json: string) => void },
    apiVersion: string,
  ): void | Promise<string | undefined>;
  /** Throws while the server cannot afford another object (HeapGuard). */
  admitNewObject?(): void;
}

/**
 * Unconditional writes re-read and retry after losing a race (upstream's GuaranteedUpdate retries
 * until it succeeds); each loser of a round sees the winner's write, so N racers need N rounds.
 */
const MAX_CONFLICT_RETRIES = 100;

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';
export function generateNameSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
  return s;
}

/** Fields of metadata owned by the server, never taken from a client's update. */
const SYSTEM_META = [
  'uid',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'generation',
  'selfLink',
] as const;

export class Store {
  readonly prefix: string;
  readonly ref: errors.ResourceRef;
  readonly storageApiVersion: string;

  constructor(
    readonly def: ResourceDef,
    private readonly deps: StoreDeps,
  ) {
    this.prefix = storagePrefixOf(def);
    this.ref = { group: def.group, resource: def.plural };
    this.storageApiVersion = apiVersionOf(def.group, storageVersionOf(def));
  }

  get cache(): WatchCache {
    return this.deps.cache;
  }

  /** This resource's backend (values already through its encryption transformer). */
  get backend(): Backend {
    return this.deps.backend;
  }

  key(namespace: string | undefined, name: string): string {
    return this.def.namespaced ? `${this.prefix}${namespace}/${name}` : `${this.prefix}${name}`;
  }

  /** Key prefix of a namespace's objects (or of all objects). */
  keyPrefix(namespace?: string): string {
    return this.def.namespaced && namespace ? `${this.prefix}${namespace}/` : this.prefix;
  }

  /** Storage form: resourceVersion is the row's revision, never stored inside the value. */
  static encode(obj: any): string {
    return encodeStored(obj);
  }

  /**
   * Write `obj` to storage, telling the watch cache the parsed form so it needn't parse it again.
   * `encoded`: its storage form, when the field-management thread made it.
   */
  private put(key: string, obj: any, expectedRev?: number, encoded?: string) {
    const value = encoded ?? Store.encode(obj);
    checkStoredLength(value);
    this.deps.cache.expect(key, value, obj);
    return expectedRev === undefined
      ? this.deps.backend.create(key, value)
      : this.deps.backend.update(key, value, expectedRev);
  }

  static decode(value: string, rev: number): any {
    const obj = JSON.parse(value);
    if (rev) obj.metadata.resourceVersion = String(rev);
    return obj;
  }

  get(namespace: string | undefined, name: string): StoredObject {
    const found = this.deps.cache.get(this.key(namespace, name));
    if (!found) throw errors.notFound(this.ref, name);
    return found;
  }

  tryGet(namespace: string | undefined, name: string): StoredObject | undefined {
    return this.deps.cache.get(this.key(namespace, name));
  }

  /** The request as admission plugins see it (undefined: no chain configured). */
  private admissionAttributes(
    operation: Operation,
    obj: any,
    old: any,
    ctx: WriteContext,
    deleteOptions?: DeleteOptions,
  ): AdmissionAttributes | undefined {
    if (!this.deps.admission) return undefined;
    const meta = (obj ?? old).metadata;
    return {
      operation,
      group: this.def.group,
      version: storageVersionOf(this.def),
      resource: this.def.plural,
      kind: this.def.kind,
      subresource: ctx.subresource ?? '',
      namespace: this.def.namespaced ? (meta.namespace ?? '') : '',
      name: meta.name ?? '',
      object: obj,
      oldObject: old,
      user: ctx.user,
      dryRun: ctx.dryRun,
      def: this.def,
      requestVersion: ctx.requestVersion,
      warnings: ctx.warnings,
      auditAnnotations: ctx.auditAnnotations,
      excluded: ctx.excluded,
      fieldManager: ctx.fieldManager,
      deleteOptions: deleteOptions && { ...deleteOptions },
    };
  }

  private fail(name: string, errs: FieldError[]): never {
    throw errors.invalid(this.def.group, this.def.kind, name, errs);
  }

  /** Run a strategy hook, turning FieldErrors it throws into a 422 for this object. */
  private guard(name: string, hook: () => void): void {
    try {
      hook();
    } catch (err) {
      if (err instanceof FieldErrors) this.fail(name, err.errors);
      throw err;
    }
  }

  private validateCommon(obj: KObject, ctx: StrategyContext, old?: any): FieldError[] {
    const errs = validateObjectMeta(
      obj.metadata,
      { namespaced: this.def.namespaced, nameRule: this.def.nameRule ?? 'dns1123-subdomain' },
      path('metadata'),
    );
    if (old) errs.push(...validateObjectMetaUpdate(obj.metadata, old.metadata, path('metadata')));
    if (this.def.validate) errs.push(...this.def.validate(obj, ctx));
    if (old && this.def.validateUpdate) errs.push(...this.def.validateUpdate(obj, old, ctx));
    return errs;
  }

  /**
   * Create an object. `owned`: the caller hands `input` over (a body it just decoded and keeps
   * no reference to), so it is written to in place instead of being copied first.
   */
  async create(input: any, ctx: WriteContext, owned = false): Promise<StoredObject> {
    if (!ctx.dryRun) this.deps.admitNewObject?.();
    const obj = owned ? input : takeOrCopy(input);
    obj.apiVersion = this.storageApiVersion;
    obj.kind = this.def.kind;
    const meta = (obj.metadata ??= {});
    if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${generateNameSuffix()}`;
    for (const f of SYSTEM_META) delete meta[f];
    const requestedVersion = meta.resourceVersion;
    delete meta.resourceVersion;
    meta.uid = randomUUID();
    meta.creationTimestamp = nowRFC3339();
    if (this.def.generationTracksSpec) meta.generation = 1;
    const sctx = this.deps.strategyContext('create', ctx.warnings);
    // (A request body was checked when it was read: here defaulting may have made it too big.)
    this.def.defaults?.(obj);
    // Go's nil lists, maps and pointers, as kube-apiserver's decoded object has them (niltable.ts).
    fillNilFields(obj);
    checkStorableSize(obj);
    const attrs = this.admissionAttributes('CREATE', obj, undefined, ctx);
    if (attrs) {
      const admitted = this.deps.admission!.admit(attrs);
      if (admitted) await admitted;
    }
    this.guard(meta.name ?? meta.generateName ?? '', () => this.def.prepareForCreate?.(obj, sctx));
    const paused = pause(ctx.bodyBytes);
    if (paused) await paused;
    const errs = this.validateCommon(obj, sctx);
    if (errs.length) {
      this.def.afterDelete?.(obj, sctx);
      this.fail(meta.name ?? meta.generateName ?? '', errs);
    }
    if (attrs) {
      try {
        const validated = this.deps.admission!.validate(attrs);
        if (validated) await validated;
      } catch (err) {
        this.def.afterDelete?.(obj, sctx);
        throw err;
      }
    }
    if (paused) await pause(ctx.bodyBytes);
    fillNilFields(obj); // again: strategies and admission may have set parts anew
    const managing = this.deps.manageFields(
      obj,
      undefined,
      { ...ctx, checkStored: checkStoredLength },
      this.storageApiVersion,
    );
    const encoded = managing ? await managing : undefined;
    if (paused) await pause(ctx.bodyBytes);
    const key = this.key(meta.namespace, meta.name);
    if (!ctx.dryRun && ctx.operation !== 'Apply' && setsResourceVersion(requestedVersion)) {
      // Upstream's storage refuses this after validation and admission (a dry run never gets
      // there, and an apply that creates goes through an update, which drops it). Its answer
      // is a 500 (the error is no Status); a client's mistake is a 400 here.
      this.def.afterDelete?.(obj, sctx);
      throw errors.badRequest('resourceVersion should not be set on objects to be created');
    }
    if (ctx.dryRun) {
      this.def.afterDelete?.(obj, sctx);
      if (this.deps.cache.get(key)) throw errors.alreadyExists(this.ref, meta.name);
      return { key, obj, json: storableJSON(obj), rev: 0, createRev: 0 };
    }
    try {
      const kv = await this.put(key, obj, undefined, encoded ?? undefined);
      return this.deps.cache.get(key) ?? fallbackStored(key, obj, kv.modRevision);
    } catch (err) {
      this.def.afterDelete?.(obj, sctx);
      if (err instanceof StorageError && err.code === 'KeyExists') throw errors.alreadyExists(this.ref, meta.name);
      throw err;
    }
  }

  /**
   * Replace an object. `mutate` computes the new object from the current one (a PUT body, a
   * patch applied to it); it is retried on a storage conflict unless the result carries an
   * explicit resourceVersion that no longer matches. It may return a Promise (a conversion
   * webhook converts the result); it is awaited only then.
   */
  /**
   * `conditional`: the client asked for a resourceVersion precondition, so a conflict is final.
   * By default that is when the new object names a resourceVersion (a PUT body); patches, whose
   * result always carries the version they were applied to, say whether the patch itself set one.
   */
  async update(
    namespace: string | undefined,
    name: string,
    mutate: (current: StoredObject) => any, // the new object, or a Promise of it
    ctx: WriteContext,
    conditional?: boolean,
  ): Promise<StoredObject> {
    for (let attempt = 0; ; attempt++) {
      const current = this.get(namespace, name);
      let next = mutate(current);
      // An asynchronous mutation (a conversion webhook): if the object changes meanwhile, the
      // write conflicts and is retried from the new current object.
      if (isPromise(next)) next = await next;
      await pause(Math.max(ctx.bodyBytes ?? 0, current.json.length));
      try {
        return await this.applyUpdate(current, next, ctx);
      } catch (err) {
        const final = conditional ?? !!next.metadata?.resourceVersion;
        if (err instanceof StorageError && err.code === 'Conflict' && attempt < MAX_CONFLICT_RETRIES && !final)
          continue;
        if (err instanceof StorageError && err.code === 'Conflict')
          throw errors.conflict(this.ref, name, errors.OBJECT_MODIFIED);
        if (err instanceof StorageError && err.code === 'NotFound') throw errors.notFound(this.ref, name);
        throw err;
      }
    }
  }

  private async applyUpdate(current: StoredObject, input: any, ctx: WriteContext): Promise<StoredObject> {
    const old = current.obj;
    const name = old.metadata.name;
    const obj = takeOrCopy(input);
    obj.apiVersion = this.storageApiVersion;
    obj.kind = this.def.kind;
    const meta = (obj.metadata ??= {});
    if (meta.resourceVersion && meta.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(this.ref, name, errors.OBJECT_MODIFIED);
    }
    // Unconditional updates (no resourceVersion) apply to the current version.
    meta.resourceVersion = old.metadata.resourceVersion;
    if (meta.uid && meta.uid !== old.metadata.uid) {
      throw errors.conflict(
        this.ref,
        name,
        `Precondition failed: UID in precondition: ${meta.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    for (const f of SYSTEM_META) {
      if (old.metadata[f] === undefined) delete meta[f];
      else meta[f] = old.metadata[f];
    }
    const sub = ctx.subresource;
    if (sub === 'status') {
      // A status write changes status only (and, as upstream, none of the metadata a user owns).
      // The rest of the old object is shared, not copied: nothing on the way writes to it
      // (strategies replace spec with the old one's), but metadata, which they may write.
      const metadata = { ...old.metadata };
      for (const k of Object.keys(metadata)) if (k !== 'managedFields') metadata[k] = deepCopy(metadata[k]);
      // (The old managedFields are decoded, never changed: field management replaces them.)
      metadata.managedFields = meta.managedFields ?? old.metadata.managedFields;
      const merged: any = { ...old, metadata, status: obj.status };
      if (obj.status === undefined) delete merged.status;
      return this.commitUpdate(current, merged, ctx);
    }
    if (this.def.subresources?.status && !(sub && this.def.subresources.writesStatus?.includes(sub))) {
      // A main-resource write never changes status (a subresource that writes it: its strategy decides).
      if (old.status === undefined) delete obj.status;
      else obj.status = deepCopy(old.status);
    }
    return this.commitUpdate(current, obj, ctx);
  }

  private async commitUpdate(current: StoredObject, obj: any, ctx: WriteContext): Promise<StoredObject> {
    const old = current.obj;
    const size = Math.max(ctx.bodyBytes ?? 0, current.json.length);
    const sctx = this.deps.strategyContext('update', ctx.warnings, ctx.subresource);
    await pause(size);
    // After the patch or body and defaulting: the object as it would be stored.
    if (!ctx.subresource) this.def.defaults?.(obj);
    fillNilFields(obj);
    checkStorableSize(obj);
    const attrs = this.admissionAttributes('UPDATE', obj, old, ctx);
    if (attrs) {
      const admitted = this.deps.admission!.admit(attrs);
      if (admitted) await admitted;
    }
    this.guard(old.metadata.name, () => this.def.prepareForUpdate?.(obj, old, sctx));
    await pause(size);
    if (this.def.generationTracksSpec && specChanged(obj, old))
      obj.metadata.generation = (old.metadata.generation ?? 0) + 1;
    const errs = this.validateCommon(obj, sctx, old);
    if (errs.length) this.fail(old.metadata.name, errs);
    if (attrs) {
      const validated = this.deps.admission!.validate(attrs);
      if (validated) await validated;
    }
    await pause(size);
    fillNilFields(obj);
    const encoded = await this.deps.manageFields(
      obj,
      old,
      { ...ctx, oldJson: current.json, checkStored: checkStoredLength },
      this.storageApiVersion,
    );
    await pause(size);
    // (resourceVersion is no part of the storage form, so `encoded` still holds.)
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    // No change, no write: resourceVersion stays, no event (kubectl apply relies on this).
    if (unchanged(obj, old)) return current;
    await pause(size);
    if (ctx.dryRun)
      return { key: current.key, obj, json: storableJSON(obj), rev: current.rev, createRev: current.createRev };
    // The last finalizer removed from an object being deleted: it goes now.
    if (
      obj.metadata.deletionTimestamp &&
      !obj.metadata.finalizers?.length &&
      !this.def.deletionHeld?.(obj) &&
      !obj.metadata.deletionGracePeriodSeconds
    ) {
      const { deleted } = await this.deps.backend.delete(current.key, current.rev);
      this.def.afterDelete?.(obj, sctx);
      return fallbackStored(current.key, Store.decode(Store.encode(obj), deleted.modRevision), deleted.modRevision);
    }
    const kv = await this.put(current.key, obj, current.rev, encoded ?? undefined);
    return this.deps.cache.get(current.key) ?? fallbackStored(current.key, obj, kv.modRevision);
  }

  /**
   * A write that bypasses the strategy (no defaulting, no validation), for subresources with
   * their own rules (pods/binding, namespaces/finalize). Retries on conflict like update().
   * `manageFields: false` leaves managedFields as they are: upstream's binding writes the pod
   * in storage directly, so no manager owns what it sets.
   */
  async rawUpdate(
    namespace: string | undefined,
    name: string,
    mutate: (current: StoredObject) => any,
    ctx: WriteContext,
    opts: { manageFields?: boolean } = {},
  ): Promise<StoredObject> {
    for (let attempt = 0; ; attempt++) {
      const current = this.get(namespace, name);
      const obj = mutate(current);
      obj.metadata.resourceVersion = current.obj.metadata.resourceVersion;
      if (opts.manageFields !== false) await this.deps.manageFields(obj, current.obj, ctx, this.storageApiVersion);
      if (unchanged(obj, current.obj)) return current;
      if (ctx.dryRun) return { ...current, obj, json: JSON.stringify(obj) };
      try {
        const m = obj.metadata;
        if (
          m.deletionTimestamp &&
          !m.finalizers?.length &&
          !this.def.deletionHeld?.(obj) &&
          !m.deletionGracePeriodSeconds
        ) {
          const { deleted } = await this.deps.backend.delete(current.key, current.rev);
          this.def.afterDelete?.(obj, this.deps.strategyContext('delete', ctx.warnings));
          return fallbackStored(current.key, obj, deleted.modRevision);
        }
        const kv = await this.put(current.key, obj, current.rev);
        return this.deps.cache.get(current.key) ?? fallbackStored(current.key, obj, kv.modRevision);
      } catch (err) {
        if (err instanceof StorageError && err.code === 'Conflict' && attempt < MAX_CONFLICT_RETRIES) continue;
        if (err instanceof StorageError && err.code === 'Conflict')
          throw errors.conflict(this.ref, name, errors.OBJECT_MODIFIED);
        if (err instanceof StorageError && err.code === 'NotFound') throw errors.notFound(this.ref, name);
        throw err;
      }
    }
  }

  async delete(
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions,
    ctx: WriteContext,
  ): Promise<DeleteResult> {
    for (let attempt = 0; ; attempt++) {
      const current = this.get(namespace, name);
      try {
        return await this.deleteOnce(current, opts, ctx);
      } catch (err) {
        if (
          err instanceof StorageError &&
          err.code === 'Conflict' &&
          attempt < MAX_CONFLICT_RETRIES &&
          !opts.preconditions?.resourceVersion
        )
          continue;
        if (err instanceof StorageError && err.code === 'Conflict')
          throw errors.conflict(this.ref, name, errors.OBJECT_MODIFIED);
        if (err instanceof StorageError && err.code === 'NotFound') throw errors.notFound(this.ref, name);
        throw err;
      }
    }
  }

  private async deleteOnce(current: StoredObject, opts: DeleteOptions, ctx: WriteContext): Promise<DeleteResult> {
    const old = current.obj;
    const name = old.metadata.name;
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== old.metadata.uid) {
      throw errors.conflict(
        this.ref,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${old.metadata.uid}`,
      );
    }
    if (pre?.resourceVersion && pre.resourceVersion !== old.metadata.resourceVersion) {
      throw errors.conflict(
        this.ref,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${old.metadata.resourceVersion}`,
      );
    }
    const sctx = this.deps.strategyContext('delete', ctx.warnings);
    this.def.admitDelete?.(old, sctx);
    const attrs = this.admissionAttributes('DELETE', undefined, old, ctx, opts);
    if (attrs) {
      const admitted = this.deps.admission!.admit(attrs);
      if (admitted) await admitted;
      const validated = this.deps.admission!.validate(attrs);
      if (validated) await validated;
    }
    const finalizers = [...(old.metadata.finalizers ?? [])];
    const policy = opts.propagationPolicy;
    if (policy === 'Orphan' && !finalizers.includes('orphan')) finalizers.push('orphan');
    if (policy === 'Foreground' && !finalizers.includes('foregroundDeletion')) finalizers.push('foregroundDeletion');
    if (policy === 'Background') {
      const i = finalizers.indexOf('orphan');
      if (i >= 0) finalizers.splice(i, 1);
    }
    const grace = this.def.gracefulDelete?.(old, opts.gracePeriodSeconds);
    const graceful = grace !== undefined && grace > 0;
    if (finalizers.length || graceful || this.def.deletionHeld?.(old)) {
      // Only mark: finalizers (or the node, for a graceful pod deletion) finish the job.
      const marked = deepCopy(old);
      const m = marked.metadata;
      if (!m.deletionTimestamp || (graceful && grace < (m.deletionGracePeriodSeconds ?? Infinity))) {
        m.deletionTimestamp = rfc3339(Date.now() + (graceful ? grace * 1000 : 0));
        m.deletionGracePeriodSeconds = graceful ? grace : 0;
      }
      if (finalizers.length) m.finalizers = finalizers;
      else delete m.finalizers;
      this.def.onMarkedForDeletion?.(marked);
      if (deepEqual(marked, old)) return { obj: old, deleted: false };
      if (ctx.dryRun) return { obj: marked, deleted: false };
      await this.put(current.key, marked, current.rev);
      return { obj: this.deps.cache.get(current.key)?.obj ?? marked, deleted: false };
    }
    if (ctx.dryRun) return { obj: old, deleted: true };
    const { revision } = await this.deps.backend.delete(current.key, current.rev);
    this.def.afterDelete?.(old, sctx);
    const gone = deepCopy(old);
    gone.metadata.resourceVersion = String(revision);
    return { obj: gone, deleted: true };
  }
}

/** A resourceVersion the storage layer would take as set: it parses as a non-zero uint64. */
function setsResourceVersion(rv: unknown): boolean {
  return typeof rv === 'string' && /^\d+$/.test(rv) && BigInt(rv) !== 0n && BigInt(rv) < 1n << 64n;
}

function fallbackStored(key: string, obj: any, rev: number): StoredObject {
  const o = deepCopy(obj);
  o.metadata.resourceVersion = String(rev);
  return { key, obj: o, json: JSON.stringify(o), rev, createRev: rev };
}

/** Did anything outside metadata and status change? */
function specChanged(a: any, b: any): boolean {
  const strip = (o: any) => {
    const { metadata: _m, status: _s, apiVersion: _a, kind: _k, ...rest } = o;
    return rest;
  };
  return !deepEqual(strip(a), strip(b));
}

/**
 * No change worth a write: equal but for resourceVersion and managedFields' timestamps (an
 * ownership change is a change, a timestamp alone is not). The content is compared first: it is
 * what usually differs, and a big object's field sets are as big as the object.
 */
function unchanged(obj: any, old: any): boolean {
  const a = splitVolatile(obj);
  const b = splitVolatile(old);
  return deepEqual(a.content, b.content) && deepEqual(a.ownership, b.ownership);
}

function splitVolatile(o: any): { content: any; ownership: unknown[] | undefined } {
  const { managedFields: mf, resourceVersion: _rv, ...meta } = o.metadata ?? {};
  const ownership =
    Array.isArray(mf) && mf.length
      ? mf.map((e: any) => (e && typeof e === 'object' ? { ...e, time: undefined } : e))
      : undefined;
  return { content: { ...o, metadata: meta }, ownership };
}
