// The garbage collector's dependency graph (upstream pkg/controller/garbagecollector/graph.go and
// graph_builder.go): one node per object seen by any monitor, edges owner → dependent from
// metadata.ownerReferences. An owner referenced before it is observed gets a "virtual" node,
// which the collector verifies against the API server (and removes through a virtual delete
// event if it does not exist). Processing an event never talks to the API server: it only
// updates the graph and tells the collector which nodes to look at (attemptToDelete) or whose
// dependents to orphan (attemptToOrphan).

export const FINALIZER_ORPHAN = 'orphan';
export const FINALIZER_DELETE_DEPENDENTS = 'foregroundDeletion';

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** Coordinates of an object (an owner reference plus the namespace it is looked up in). */
export interface ObjectIdentity {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
}

export const identityKey = (i: ObjectIdentity) => `${i.apiVersion}|${i.kind}|${i.namespace}|${i.name}|${i.uid}`;
export const sameIdentity = (a: ObjectIdentity, b: ObjectIdentity) => identityKey(a) === identityKey(b);
export const identityString = (i: ObjectIdentity) =>
  `[${i.apiVersion}/${i.kind}, namespace: ${i.namespace}, name: ${i.name}, uid: ${i.uid}]`;

/** What a node without owner references holds (one array for all of them; never changed). */
const NO_OWNERS: OwnerReference[] = Object.freeze([]) as unknown as OwnerReference[];

/** What a node without dependents answers (no Set of its own: most objects have no dependents). */
const NO_DEPENDENTS: ReadonlySet<GraphNode> = new Set();

/**
 * One object in the graph. Kept small, as there is one per object of every resource the collector
 * watches (100,000 ConfigMaps took 36 MiB): the node carries its coordinates itself rather than
 * in an identity object, has a Set of dependents only once it has one, and nodes without owner
 * references share one empty array.
 */
export class GraphNode implements ObjectIdentity {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
  owners: OwnerReference[] = NO_OWNERS;
  /** Seen through an informer (a virtual node turns observed when its object shows up). */
  observed = false;
  beingDeleted = false;
  deletingDependents = false;
  private deps: Set<GraphNode> | undefined;

  constructor(
    identity: ObjectIdentity,
    readonly virtual: boolean,
  ) {
    this.apiVersion = identity.apiVersion;
    this.kind = identity.kind;
    this.name = identity.name;
    this.uid = identity.uid;
    this.namespace = identity.namespace;
  }

  /** Its coordinates: the node itself carries them. */
  get identity(): ObjectIdentity {
    return this;
  }

  get dependents(): ReadonlySet<GraphNode> {
    return this.deps ?? NO_DEPENDENTS;
  }

  addDependent(n: GraphNode): void {
    (this.deps ??= new Set()).add(n);
  }

  /** False if `n` was not a dependent. */
  removeDependent(n: GraphNode): boolean {
    if (!this.deps?.delete(n)) return false;
    if (!this.deps.size) this.deps = undefined;
    return true;
  }

  /** Dependents whose reference to this node has blockOwnerDeletion: true. */
  blockingDependents(): GraphNode[] {
    const out: GraphNode[] = [];
    for (const dep of this.dependents) {
      if (dep.owners.some((o) => o.uid === this.uid && o.blockOwnerDeletion)) out.push(dep);
    }
    return out;
  }

  /** A copy with the same edges, for replacing a node's identity in the graph. */
  clone(identity: ObjectIdentity): GraphNode {
    const n = new GraphNode(identity, this.virtual);
    if (this.deps) n.deps = new Set(this.deps);
    n.owners = this.owners;
    n.observed = this.observed;
    n.beingDeleted = this.beingDeleted;
    n.deletingDependents = this.deletingDependents;
    return n;
  }
}

/** The part of an object the graph needs. */
export interface ObjectMetadata {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: OwnerReference[];
  };
}

export type GraphEvent =
  | { type: 'add' | 'update'; obj: ObjectMetadata; oldObj?: ObjectMetadata }
  | { type: 'delete'; obj: ObjectMetadata }
  /** The collector verified that nothing with this identity exists. */
  | { type: 'virtualDelete'; identity: ObjectIdentity };

export interface GraphSink {
  /** Look at this node (by uid): delete it if its owners are gone, finish foreground deletion... */
  attemptToDelete(uid: string, rateLimited?: boolean): void;
  /** Remove the references to this owner (by uid) from its dependents, then its orphan finalizer. */
  attemptToOrphan(uid: string): void;
  /** A dependent names an owner in another namespace (upstream event OwnerRefInvalidNamespace). */
  invalidNamespaceOwnerRef?(dependent: GraphNode, owner: OwnerReference): void;
}

const hasFinalizer = (o: ObjectMetadata | undefined, f: string) => !!o?.metadata.finalizers?.includes(f);
const beingDeleted = (o: ObjectMetadata | undefined) => !!o?.metadata.deletionTimestamp;

export function identityOf(o: ObjectMetadata): ObjectIdentity {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    name: o.metadata.name,
    uid: o.metadata.uid,
    namespace: o.metadata.namespace ?? '',
  };
}

export function ownerIdentity(ref: OwnerReference, namespace: string): ObjectIdentity {
  return { apiVersion: ref.apiVersion, kind: ref.kind, name: ref.name, uid: ref.uid, namespace };
}

/** The object is being deleted and the finalizer `f` is there now but was not before. */
function deletionStartsWithFinalizer(oldObj: ObjectMetadata | undefined, obj: ObjectMetadata, f: string): boolean {
  if (!beingDeleted(obj) || !hasFinalizer(obj, f)) return false;
  if (!oldObj) return true;
  return !beingDeleted(oldObj) || !hasFinalizer(oldObj, f);
}

/** Owner references added, removed, or changed (same uid, different fields). */
export function referencesDiffs(old: OwnerReference[], next: OwnerReference[]) {
  const oldByUid = new Map(old.map((r) => [r.uid, r]));
  const added: OwnerReference[] = [];
  const changed: { oldRef: OwnerReference; newRef: OwnerReference }[] = [];
  for (const r of next) {
    const o = oldByUid.get(r.uid);
    if (!o) added.push(r);
    else {
      if (JSON.stringify(o) !== JSON.stringify(r)) changed.push({ oldRef: o, newRef: r });
      oldByUid.delete(r.uid);
    }
  }
  return { added, removed: [...oldByUid.values()], changed };
}

/** A bounded set (upstream's absentOwnerCache is an LRU of 500 identities). */
export class AbsentOwnerCache {
  private readonly items = new Map<string, true>();
  constructor(private readonly max = 500) {}
  add(i: ObjectIdentity): void {
    const k = identityKey(i);
    this.items.delete(k);
    this.items.set(k, true);
    if (this.items.size > this.max) this.items.delete(this.items.keys().next().value!);
  }
  has(i: ObjectIdentity): boolean {
    const k = identityKey(i);
    if (!this.items.has(k)) return false;
    this.items.delete(k);
    this.items.set(k, true);
    return true;
  }
}

/** Split dependents into those whose reference to `owner` matches its identity and those that do not. */
export function partitionDependents(
  deps: Iterable<GraphNode>,
  owner: ObjectIdentity,
): { matching: GraphNode[]; nonMatching: GraphNode[] } {
  const matching: GraphNode[] = [];
  const nonMatching: GraphNode[] = [];
  const ownerNamespaced = owner.namespace !== '';
  for (const dep of deps) {
    let found = false;
    for (const ref of dep.owners) {
      if (ref.uid !== owner.uid) continue;
      found = true;
      const id = ownerIdentity(ref, ownerNamespaced ? dep.identity.namespace : '');
      if (sameIdentity(id, owner)) matching.push(dep);
      else nonMatching.push(dep);
      break;
    }
    if (!found) nonMatching.push(dep);
  }
  return { matching, nonMatching };
}

export class DependencyGraph {
  readonly uidToNode = new Map<string, GraphNode>();
  readonly absentOwnerCache = new AbsentOwnerCache();

  constructor(private readonly sink: GraphSink) {}

  node(uid: string): GraphNode | undefined {
    return this.uidToNode.get(uid);
  }

  get size(): number {
    return this.uidToNode.size;
  }

  process(event: GraphEvent): void {
    if (event.type === 'virtualDelete') return this.processVirtualDelete(event.identity);
    const obj = event.obj;
    const uid = obj.metadata.uid;
    if (!uid) return;
    let existing = this.uidToNode.get(uid);
    if (existing && event.type !== 'delete' && !existing.observed) {
      // The object behind a virtual node shows up: adopt its real coordinates.
      const observedIdentity = identityOf(obj);
      if (!sameIdentity(observedIdentity, existing.identity)) {
        const { nonMatching } = partitionDependents(existing.dependents, observedIdentity);
        for (const dep of nonMatching) {
          if (observedIdentity.namespace && dep.identity.namespace !== observedIdentity.namespace) {
            const ref = dep.owners.find((o) => o.uid === uid);
            if (ref) this.sink.invalidNamespaceOwnerRef?.(dep, ref);
          }
          this.sink.attemptToDelete(dep.uid);
        }
        const replacement = existing.clone(observedIdentity);
        this.replaceNode(existing, replacement);
        existing = replacement;
      }
      existing.observed = true;
    }

    if (event.type !== 'delete' && !existing) {
      const n = new GraphNode(identityOf(obj), false);
      n.observed = true;
      n.owners = obj.metadata.ownerReferences ?? NO_OWNERS;
      n.beingDeleted = beingDeleted(obj);
      n.deletingDependents = n.beingDeleted && hasFinalizer(obj, FINALIZER_DELETE_DEPENDENTS);
      this.insertNode(n);
      this.processTransitions(event.oldObj, obj, n);
      return;
    }
    if (event.type !== 'delete' && existing) {
      const { added, removed, changed } = referencesDiffs(existing.owners, obj.metadata.ownerReferences ?? NO_OWNERS);
      if (added.length || removed.length || changed.length) {
        this.addUnblockedOwnersToDeleteQueue(removed, changed);
        existing.owners = obj.metadata.ownerReferences ?? NO_OWNERS;
        this.addDependentToOwners(existing, added);
        this.removeDependentFromOwners(existing, removed);
      }
      if (beingDeleted(obj)) existing.beingDeleted = true;
      this.processTransitions(event.oldObj, obj, existing);
      return;
    }
    // delete
    if (!existing) return;
    this.removeAndNotify(existing, identityOf(obj));
  }

  private processVirtualDelete(deleted: ObjectIdentity): void {
    const existing = this.uidToNode.get(deleted.uid);
    if (!existing) return;
    if (existing.virtual && !existing.observed) {
      // Not sure of a virtual node's coordinates: dependents may name it differently.
      const { matching, nonMatching } = partitionDependents(existing.dependents, deleted);
      if (nonMatching.length) {
        if (matching.length) {
          this.absentOwnerCache.add(deleted);
          for (const dep of matching) this.sink.attemptToDelete(dep.uid);
        }
        if (sameIdentity(existing.identity, deleted)) {
          const alt = alternateOwnerIdentity(nonMatching, deleted);
          if (alt) {
            const replacement = existing.clone(alt);
            this.replaceNode(existing, replacement);
            this.sink.attemptToDelete(replacement.uid, true);
          }
        }
        return;
      }
    } else if (!sameIdentity(existing.identity, deleted)) {
      // An observed node disagrees with the coordinates verified absent: keep it, but the
      // dependents that name those coordinates have a dangling reference.
      const { matching } = partitionDependents(existing.dependents, deleted);
      if (matching.length) {
        this.absentOwnerCache.add(deleted);
        for (const dep of matching) this.sink.attemptToDelete(dep.uid);
      }
      return;
    }
    this.removeAndNotify(existing, deleted);
  }

  private removeAndNotify(n: GraphNode, deletedIdentity: ObjectIdentity): void {
    this.removeNode(n);
    if (n.dependents.size) this.absentOwnerCache.add(deletedIdentity);
    for (const dep of n.dependents) this.sink.attemptToDelete(dep.uid);
    for (const ref of n.owners) {
      const owner = this.uidToNode.get(ref.uid);
      // An owner waiting for its dependents may be done now.
      if (owner?.deletingDependents) this.sink.attemptToDelete(owner.uid);
    }
  }

  private replaceNode(old: GraphNode, replacement: GraphNode): void {
    this.uidToNode.set(replacement.uid, replacement);
    // Owners point at the node object: swap it in their dependent sets.
    for (const ref of old.owners) {
      const owner = this.uidToNode.get(ref.uid);
      if (owner?.removeDependent(old)) owner.addDependent(replacement);
    }
  }

  private insertNode(n: GraphNode): void {
    this.uidToNode.set(n.uid, n);
    this.addDependentToOwners(n, n.owners);
  }

  private addDependentToOwners(n: GraphNode, owners: OwnerReference[]): void {
    for (const ref of owners) {
      let owner = this.uidToNode.get(ref.uid);
      if (!owner) {
        // A virtual node for an owner not seen (yet); the collector checks whether it exists.
        owner = new GraphNode(ownerIdentity(ref, n.identity.namespace), true);
        this.uidToNode.set(owner.uid, owner);
        owner.addDependent(n);
        this.sink.attemptToDelete(owner.uid);
        continue;
      }
      owner.addDependent(n);
      const ownerNamespace = owner.identity.namespace;
      if (ownerNamespace && ownerNamespace !== n.identity.namespace) {
        // A cluster-scoped dependent, or one in another namespace, naming a namespaced owner.
        if (owner.observed) this.sink.invalidNamespaceOwnerRef?.(n, ref);
        this.sink.attemptToDelete(n.uid);
      }
    }
  }

  private removeDependentFromOwners(n: GraphNode, owners: OwnerReference[]): void {
    for (const ref of owners) this.uidToNode.get(ref.uid)?.removeDependent(n);
  }

  private removeNode(n: GraphNode): void {
    if (this.uidToNode.get(n.uid) === n) this.uidToNode.delete(n.uid);
    this.removeDependentFromOwners(n, n.owners);
  }

  /** Owners waiting for dependents may proceed when a blocking reference goes away. */
  private addUnblockedOwnersToDeleteQueue(
    removed: OwnerReference[],
    changed: { oldRef: OwnerReference; newRef: OwnerReference }[],
  ): void {
    const check = (uid: string) => {
      const owner = this.uidToNode.get(uid);
      if (owner?.deletingDependents) this.sink.attemptToDelete(owner.uid);
    };
    for (const r of removed) if (r.blockOwnerDeletion) check(r.uid);
    for (const c of changed) if (c.oldRef.blockOwnerDeletion && !c.newRef.blockOwnerDeletion) check(c.newRef.uid);
  }

  private processTransitions(oldObj: ObjectMetadata | undefined, obj: ObjectMetadata, n: GraphNode): void {
    if (deletionStartsWithFinalizer(oldObj, obj, FINALIZER_ORPHAN)) {
      this.sink.attemptToOrphan(n.uid);
      return;
    }
    if (deletionStartsWithFinalizer(oldObj, obj, FINALIZER_DELETE_DEPENDENTS)) {
      n.deletingDependents = true;
      for (const dep of n.dependents) this.sink.attemptToDelete(dep.uid);
      this.sink.attemptToDelete(n.uid);
    }
  }
}

/** Another identity the non-matching dependents use for the owner (sorted, as upstream). */
function alternateOwnerIdentity(deps: GraphNode[], verifiedAbsent: ObjectIdentity): ObjectIdentity | undefined {
  const absentNamespaced = verifiedAbsent.namespace !== '';
  let first: ObjectIdentity | undefined;
  let firstAfter: ObjectIdentity | undefined;
  const after = identityKey(verifiedAbsent);
  for (const dep of deps) {
    for (const ref of dep.owners) {
      if (ref.uid !== verifiedAbsent.uid) continue;
      const id = ownerIdentity(ref, absentNamespaced ? dep.identity.namespace : '');
      if (sameIdentity(id, verifiedAbsent)) continue;
      const k = identityKey(id);
      if (!first || k < identityKey(first)) first = id;
      if (k > after && (!firstAfter || k < identityKey(firstAfter))) firstAfter = id;
    }
  }
  return firstAfter ?? first;
}
