// The device manager's bookkeeping, without any I/O: which devices each resource has and their
// health (from the plugins' ListAndWatch), and which devices each (pod, container) holds together
// with the plugin's answer for them. Serialised to the checkpoint file, so a restarted agent
// neither hands a device out twice nor asks a plugin again for a container it already set up.
import type { ContainerAllocateResponse, PluginDevice } from './api.js';
import { HEALTHY } from './api.js';

export interface AllocationEntry {
  podUID: string;
  container: string;
  resource: string;
  deviceIds: string[];
  /** The plugin's Allocate answer for these devices (absent while the call is in flight). */
  response?: ContainerAllocateResponse;
}

export interface CheckpointData {
  version: 1;
  entries: AllocationEntry[];
  /** Device IDs last advertised per resource (health is unknown again after a restart). */
  registered: Record<string, string[]>;
}

const key = (uid: string, container: string, resource: string) => `${uid}\u0000${container}\u0000${resource}`;

export class DeviceBook {
  /** resource → device ID → healthy. */
  private devices = new Map<string, Map<string, boolean>>();
  private entries = new Map<string, AllocationEntry>();

  /** Replaces a resource's device list (a ListAndWatch message). */
  setDevices(resource: string, list: PluginDevice[]): void {
    this.devices.set(resource, new Map(list.map((d) => [d.id, d.health === HEALTHY])));
  }

  /** The plugin went away: keep the devices (and who holds them) but none can be handed out. */
  markUnhealthy(resource: string): void {
    const m = this.devices.get(resource);
    if (m) for (const id of m.keys()) m.set(id, false);
  }

  /** Whether the resource is served (or was, before a restart) by a device plugin. */
  known(resource: string): boolean {
    return this.devices.has(resource);
  }

  resourceNames(): string[] {
    return [...this.devices.keys()].sort();
  }

  /** Healthy devices per resource: the node's capacity and allocatable for it. */
  healthyCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [r, m] of this.devices) out[r] = [...m.values()].filter(Boolean).length;
    return out;
  }

  get(uid: string, container: string, resource: string): AllocationEntry | undefined {
    return this.entries.get(key(uid, container, resource));
  }

  list(): AllocationEntry[] {
    return [...this.entries.values()];
  }

  /** Devices of the resource held by anyone, except by the given containers of the given pod. */
  inUse(resource: string, except?: { uid: string; containers: Set<string> }): Set<string> {
    const out = new Set<string>();
    for (const e of this.entries.values()) {
      if (e.resource !== resource) continue;
      if (except && e.podUID === except.uid && except.containers.has(e.container)) continue;
      for (const id of e.deviceIds) out.add(id);
    }
    return out;
  }

  /**
   * Healthy devices a container of pod `uid` may take: free ones, plus those held by `reusable`
   * containers of the same pod (init containers that have finished by the time it runs), which
   * come first in the list.
   */
  available(resource: string, uid: string, reusable: Iterable<string> = []): string[] {
    const m = this.devices.get(resource);
    if (!m) return [];
    const reuse = new Set(reusable);
    const taken = this.inUse(resource, { uid, containers: reuse });
    const ofReusable = new Set(
      this.list()
        .filter((e) => e.podUID === uid && e.resource === resource && reuse.has(e.container))
        .flatMap((e) => e.deviceIds),
    );
    const healthy = [...m.entries()].filter(([id, ok]) => ok && !taken.has(id)).map(([id]) => id);
    return [...healthy.filter((id) => ofReusable.has(id)), ...healthy.filter((id) => !ofReusable.has(id))];
  }

  /** Picks n of the available devices (reusable first, then in advertised order); throws if too few. */
  pick(resource: string, uid: string, n: number, reusable: Iterable<string> = []): string[] {
    const avail = this.available(resource, uid, reusable);
    if (avail.length < n) throw new InsufficientDevicesError(resource, n, avail.length);
    return avail.slice(0, n);
  }

  /** Records that the container holds these devices (replacing what it held of this resource). */
  commit(uid: string, container: string, resource: string, deviceIds: string[]): AllocationEntry {
    const e: AllocationEntry = { podUID: uid, container, resource, deviceIds: [...deviceIds] };
    this.entries.set(key(uid, container, resource), e);
    return e;
  }

  setResponse(uid: string, container: string, resource: string, response: ContainerAllocateResponse): void {
    const e = this.entries.get(key(uid, container, resource));
    if (e) e.response = response;
  }

  release(uid: string, container: string, resource: string): void {
    this.entries.delete(key(uid, container, resource));
  }

  /** Frees everything a pod holds; true when it held anything. */
  freePod(uid: string): boolean {
    let any = false;
    for (const [k, e] of this.entries) {
      if (e.podUID === uid) {
        this.entries.delete(k);
        any = true;
      }
    }
    return any;
  }

  /** Frees the devices of pods that are no longer active; returns their UIDs. */
  prune(isActive: (uid: string) => boolean): string[] {
    const gone = new Set<string>();
    for (const e of this.entries.values()) if (!isActive(e.podUID)) gone.add(e.podUID);
    for (const uid of gone) this.freePod(uid);
    return [...gone];
  }

  toJSON(): CheckpointData {
    const registered: Record<string, string[]> = {};
    for (const [r, m] of this.devices) registered[r] = [...m.keys()];
    return { version: 1, entries: this.list().filter((e) => e.response), registered };
  }

  /** Restores a checkpoint: allocations as they were, devices known but not healthy until their plugin reports. */
  static fromJSON(data: unknown): DeviceBook {
    const book = new DeviceBook();
    const d = data as Partial<CheckpointData> | null;
    if (!d || d.version !== 1) return book;
    for (const [r, ids] of Object.entries(d.registered ?? {})) {
      if (Array.isArray(ids)) book.devices.set(r, new Map(ids.map((id) => [String(id), false])));
    }
    for (const e of d.entries ?? []) {
      if (
        !e ||
        typeof e.podUID !== 'string' ||
        typeof e.container !== 'string' ||
        typeof e.resource !== 'string' ||
        !Array.isArray(e.deviceIds)
      )
        continue;
      book.entries.set(key(e.podUID, e.container, e.resource), {
        podUID: e.podUID,
        container: e.container,
        resource: e.resource,
        deviceIds: e.deviceIds.map(String),
        response: e.response,
      });
      if (!book.devices.has(e.resource))
        book.devices.set(e.resource, new Map(e.deviceIds.map((id) => [String(id), false])));
    }
    return book;
  }
}

export class InsufficientDevicesError extends Error {
  constructor(
    readonly resource: string,
    readonly requested: number,
    readonly availableCount: number,
  ) {
    super(
      `requested number of devices unavailable for ${resource}. Requested: ${requested}, Available: ${availableCount}`,
    );
  }
}
