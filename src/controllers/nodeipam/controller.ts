// Node IPAM (upstream pkg/controller/nodeipam, the RangeAllocator): every node gets a
// spec.podCIDR (and podCIDRs) carved out of --cluster-cidr, /24 by default, so the node agent
// (or a simulated node) hands out pod IPs from its own range. A deleted node's range is freed.
// Dual-stack (`--cluster-cidr 10.42.0.0/16,fd42::/56`): every node also gets the IPv6 /64 of the
// same index (upstream's default --node-cidr-mask-size-ipv6), listed second in spec.podCIDRs.
import type { Node } from 'kubernetes-types/core/v1.js';
import type { Logger } from 'pino';
import type { Stored } from '../../client/types.js';
import { R, type Client } from '../../client/client.js';
import { ControllerRunner } from '../../client/controller.js';
import { EventRecorder } from '../../client/events.js';
import { isNotFound } from '../../client/errors.js';
import type { SharedIndexInformer } from '../../client/informer.js';
import type { Controller, ControllerContext } from '../types.js';
import { formatIP, parseIP } from '../../machinery/ipaddr.js';

const ipToNumber = (s: string) => s.split('.').reduce((a, b) => ((a << 8) | Number(b)) >>> 0, 0) >>> 0;
const ipToString = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

/** The /maskSize subnets of an IPv4 CIDR, by index. */
export class CidrSet {
  readonly base: number;
  readonly count: number;
  constructor(
    cidr: string,
    readonly maskSize: number,
  ) {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
    if (!m) throw new Error(`--cluster-cidr: only IPv4 CIDRs are supported, got ${JSON.stringify(cidr)}`);
    const bits = Number(m[2]);
    if (maskSize < bits || maskSize > 30) throw new Error(`--node-cidr-mask-size ${maskSize} does not fit in ${cidr}`);
    const size = 2 ** (32 - bits);
    this.base = (ipToNumber(m[1]) - (ipToNumber(m[1]) % size)) >>> 0;
    this.count = 2 ** (maskSize - bits);
  }
  cidr(i: number): string {
    return `${ipToString((this.base + i * 2 ** (32 - this.maskSize)) >>> 0)}/${this.maskSize}`;
  }
  indexOf(cidr: string): number | undefined {
    const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
    if (!m || Number(m[2]) !== this.maskSize) return undefined;
    const off = ipToNumber(m[1]) - this.base;
    const step = 2 ** (32 - this.maskSize);
    if (off < 0 || off % step !== 0 || off / step >= this.count) return undefined;
    return off / step;
  }
}

/** The /maskSize subnets of an IPv6 CIDR, by index (the dual-stack side of CidrSet). */
export class Cidr6Set {
  readonly base: bigint;
  readonly count: number;
  constructor(
    cidr: string,
    readonly maskSize: number,
  ) {
    const [addr, bitsText] = cidr.split('/');
    const n = parseIP(addr ?? '');
    const bits = Number(bitsText);
    if (n === undefined || !addr.includes(':') || !/^\d+$/.test(bitsText ?? '') || bits > 128)
      throw new Error(`--cluster-cidr: ${JSON.stringify(cidr)} is not an IPv6 CIDR`);
    if (maskSize < bits) throw new Error(`--cluster-cidr: ${cidr} is smaller than a /${maskSize} per node`);
    const size = 1n << BigInt(128 - bits);
    this.base = (BigInt(n) / size) * size;
    this.count = Number(1n << BigInt(Math.min(maskSize - bits, 30)));
  }
  cidr(i: number): string {
    return `${formatIP(this.base + (BigInt(i) << BigInt(128 - this.maskSize)))}/${this.maskSize}`;
  }
}

export class NodeIpamController implements Controller {
  readonly name = 'nodeipam';
  private readonly client: Client;
  private readonly log: Logger;
  private readonly informer: SharedIndexInformer<Node>;
  private readonly runner: ControllerRunner;
  private readonly set: CidrSet;
  private readonly set6?: Cidr6Set;
  /** index → node name, and back. */
  private readonly used = new Map<number, string>();
  private readonly indexOfNode = new Map<string, number>();
  private cursor = 0;
  private readonly recorder: EventRecorder;

  constructor(ctx: ControllerContext) {
    this.client = ctx.client;
    this.log = ctx.logger.child({ controller: 'nodeipam' });
    const [v4, v6, ...more] = (ctx.options?.clusterCIDR ?? '10.42.0.0/16').split(',').map((c) => c.trim());
    if (more.length || v4.includes(':'))
      throw new Error(
        `--cluster-cidr: an IPv4 CIDR, optionally followed by an IPv6 one; got ${ctx.options?.clusterCIDR}`,
      );
    this.set = new CidrSet(v4, ctx.options?.nodeCIDRMaskSize ?? 24);
    if (v6) this.set6 = new Cidr6Set(v6, 64);
    this.recorder = new EventRecorder(ctx.client, { component: 'cidrAllocator' }, this.log);
    this.informer = ctx.informers.forResource(R.nodes);
    this.runner = new ControllerRunner({
      name: 'nodeipam',
      // As upstream's cidrUpdateWorkers: a range is picked synchronously, but its write waits on the
      // API; one at a time, 5,000 registering nodes waited minutes for their ranges on a busy server.
      workers: 30,
      reconcile: (key) => this.sync(key),
      logger: this.log,
    });
    this.informer.addEventHandler({
      add: (n) => this.observe(n),
      update: (_o, n) => this.observe(n),
      delete: (n) => {
        for (const c of n?.spec?.podCIDRs ?? (n?.spec?.podCIDR ? [n.spec.podCIDR] : [])) {
          const i = this.set.indexOf(c);
          if (i !== undefined && this.used.get(i) === n.metadata.name) this.release(i);
        }
      },
    });
  }

  private observe(n: Stored<Node>): void {
    const cidr = n?.spec?.podCIDR;
    if (cidr) {
      const i = this.set.indexOf(cidr);
      if (i !== undefined) this.hold(i, n.metadata.name);
    } else this.runner.enqueue(n.metadata.name);
  }

  private hold(index: number, name: string): void {
    this.used.set(index, name);
    this.indexOfNode.set(name, index);
  }

  private release(index: number): void {
    const name = this.used.get(index);
    this.used.delete(index);
    if (name !== undefined && this.indexOfNode.get(name) === index) this.indexOfNode.delete(name);
  }

  start(): void {
    this.runner.start();
  }

  stop(): Promise<void> {
    return this.runner.stop();
  }

  private async sync(name: string): Promise<void> {
    const node = this.informer.store.get(name);
    if (!node || node.spec?.podCIDR || node.metadata?.deletionTimestamp) return;
    // A range this node already holds (a write we made that the cache has not seen yet).
    let index = this.indexOfNode.get(name);
    if (index === undefined) {
      const count = Math.min(this.set.count, this.set6?.count ?? Infinity);
      for (let k = 0; k < count; k++) {
        const i = (this.cursor + k) % count;
        if (!this.used.has(i)) {
          index = i;
          this.cursor = (i + 1) % count;
          break;
        }
      }
    }
    if (index === undefined) {
      this.recorder.event(node, 'Normal', 'CIDRNotAvailable', `Node ${name} status is now: CIDRNotAvailable`);
      throw new Error(`no CIDR left in ${this.set.cidr(0)}… for node ${name}`);
    }
    this.hold(index, name);
    const cidr = this.set.cidr(index);
    try {
      const podCIDRs = this.set6 ? [cidr, this.set6.cidr(index)] : [cidr];
      await this.client.resource(R.nodes).patch(name, 'merge', { spec: { podCIDR: cidr, podCIDRs } });
      this.log.debug({ node: name, cidr }, 'allocated podCIDR');
    } catch (err) {
      this.release(index);
      if (isNotFound(err)) return;
      throw err;
    }
  }
}
