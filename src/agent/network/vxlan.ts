// Pod networking between nodes over a VXLAN overlay, in the manner of flannel's vxlan backend (the
// k3s default): nodes need only reach each other by UDP, not share an L2 network.
//
// Every node has a VXLAN device `flannel.<VNI>` (VNI 1, UDP port 8472, address learning off, bound
// to the interface holding the node's IP, MTU = that interface's − 50 for the outer headers) with
// the network address of its podCIDR as a /32 (its VTEP address). It publishes the device's MAC on
// its Node, as flannel's kube subnet manager does:
//   flannel.alpha.coreos.com/backend-type: vxlan
//   flannel.alpha.coreos.com/backend-data: {"VNI":1,"VtepMAC":"<MAC>"}
//   flannel.alpha.coreos.com/public-ip: <node IP>
// For every other node with those annotations, three entries make its pods reachable:
//   ip route replace <its podCIDR> via <its VTEP address> dev flannel.1 onlink
//   ip neigh replace <its VTEP address> lladdr <its MAC> dev flannel.1 nud permanent   (no ARP)
//   bridge fdb replace <its MAC> dev flannel.1 dst <its public IP> self permanent      (where to send)
// so a packet for a pod there leaves through flannel.1 to the peer's MAC, which the FDB maps to the
// peer's IP: the kernel wraps it in UDP to <public IP>:8472, and the peer's flannel.1 unwraps it.
//
// The device's MAC is chosen once per agent and kept in <agent dir>/network/vxlan.json, so the
// device keeps it across restarts (peers' entries stay right) and only a device with that MAC is
// ever deleted (stop, `k8ts killall`): another installation's device of the same name is left alone.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Node } from 'kubernetes-types/core/v1.js';
import {
  byNodeName,
  FLANNEL_ANNOTATION,
  internalIP,
  podCIDROf,
  sh,
  type Cmd,
  type CmdResult,
  type NodeRoute,
  type RouteBackend,
  type SkippedNode,
} from './routes.js';

/** flannel's defaults, which k3s keeps. */
export const VXLAN_VNI = 1;
export const VXLAN_PORT = 8472;
/** Outer Ethernet (14) + IPv4 (20) + UDP (8) + VXLAN (8) headers. */
export const VXLAN_OVERHEAD = 50;

export function vxlanDeviceName(vni = VXLAN_VNI): string {
  return `flannel.${vni}`;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IPV4_RE = /^\d+\.\d+\.\d+\.\d+$/;

/** The VTEP address of a node: its podCIDR's network address (flannel gives flannel.1 that /32). */
export function vtepAddress(podCIDR: string): string {
  const [net, bits] = podCIDR.split('/');
  const n = net.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const size = 2 ** (32 - Number(bits));
  const base = n - (n % size);
  return [24, 16, 8, 0].map((s) => Math.floor(base / 2 ** s) % 256).join('.');
}

/** A random unicast, locally administered MAC. */
export function randomMac(): string {
  const b = randomBytes(6);
  b[0] = (b[0] & 0xfe) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** The VTEP of a Node as its annotations say (undefined: not a vxlan node, or not annotated yet). */
export function nodeVtep(node: Node | undefined): { mac: string; publicIP: string } | { missing: string } {
  const a = node?.metadata?.annotations ?? {};
  const type = a[FLANNEL_ANNOTATION.backendType];
  if (type !== 'vxlan') return { missing: type ? `its backend is ${type}, not vxlan` : 'no VTEP published yet' };
  let mac: unknown;
  try {
    mac = (JSON.parse(a[FLANNEL_ANNOTATION.backendData] ?? 'null') as { VtepMAC?: unknown } | null)?.VtepMAC;
  } catch {
    return { missing: `its ${FLANNEL_ANNOTATION.backendData} annotation is not JSON` };
  }
  if (typeof mac !== 'string' || !MAC_RE.test(mac.toLowerCase()))
    return { missing: `its ${FLANNEL_ANNOTATION.backendData} annotation has no VtepMAC` };
  const pub = a[FLANNEL_ANNOTATION.publicIP];
  const publicIP = pub && IPV4_RE.test(pub) ? pub : internalIP(node);
  if (!publicIP) return { missing: 'it has no public IP or InternalIP' };
  return { mac: mac.toLowerCase(), publicIP };
}

/** The overlay entries this node should have: one per other node with a podCIDR and a published VTEP. */
export function desiredVxlanRoutes(
  selfName: string,
  selfPodCIDR: string,
  nodes: Node[],
): { routes: NodeRoute[]; skipped: SkippedNode[] } {
  const out: { routes: NodeRoute[]; skipped: SkippedNode[] } = { routes: [], skipped: [] };
  const seen = new Set<string>([selfPodCIDR]);
  for (const n of [...nodes].sort(byNodeName)) {
    const name = n?.metadata?.name;
    if (!name || name === selfName || n.metadata?.deletionTimestamp) continue;
    const podCIDR = podCIDROf(n);
    if (!podCIDR || seen.has(podCIDR)) continue;
    const vtep = nodeVtep(n);
    if ('missing' in vtep) {
      out.skipped.push({ node: name, reason: `no overlay route to node ${name}'s pods yet: ${vtep.missing}` });
      continue;
    }
    seen.add(podCIDR);
    out.routes.push({ node: name, podCIDR, via: vtepAddress(podCIDR), mac: vtep.mac, dst: vtep.publicIP });
  }
  return out;
}

interface VxlanState {
  device: string;
  mac: string;
}

function loadState(file: string): VxlanState | undefined {
  try {
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<VxlanState>;
    return typeof v.device === 'string' && typeof v.mac === 'string' && MAC_RE.test(v.mac)
      ? { device: v.device, mac: v.mac }
      : undefined;
  } catch {
    return undefined;
  }
}

interface LinkInfo {
  address?: string;
  mtu?: number;
  operstate?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: { id?: number; port?: number; local?: string; learning?: boolean } };
  addr_info?: { family?: string; local?: string; prefixlen?: number }[];
}

function showLink(run: Cmd, device: string): LinkInfo | undefined {
  // `addr show` with -d: the link's details and its addresses in one.
  const r = run('ip', ['-j', '-d', 'addr', 'show', 'dev', device]);
  if (r.status !== 0) return undefined;
  try {
    return (JSON.parse(r.stdout) as LinkInfo[])[0];
  } catch {
    return undefined;
  }
}

/** The interface holding `ip` and its MTU (the underlay of the overlay). */
export function underlayOf(ip: string, run: Cmd = sh): { ifname: string; mtu: number } | undefined {
  const r = run('ip', ['-j', '-4', 'addr', 'show']);
  try {
    const links = JSON.parse(r.stdout) as (LinkInfo & { ifname?: string })[];
    const l = links.find((x) => x.addr_info?.some((a) => a.local === ip));
    return l?.ifname ? { ifname: l.ifname, mtu: l.mtu ?? 1500 } : undefined;
  } catch {
    return undefined;
  }
}

export interface VxlanBackendOptions {
  /** This node's IP (its public IP: the device's local address, where peers send to). */
  nodeIP: string;
  podCIDR: string;
  /** <agent dir>/network/vxlan.json: the device's name and MAC. */
  stateFile: string;
  run?: Cmd;
}

export class VxlanBackend implements RouteBackend {
  readonly type = 'vxlan';
  readonly device = vxlanDeviceName();
  private readonly run: Cmd;
  private mac: string;

  constructor(private readonly o: VxlanBackendOptions) {
    this.run = o.run ?? sh;
    this.mac = loadState(o.stateFile)?.mac ?? randomMac();
  }

  /** The MTU pods get: the underlay's minus the VXLAN headers (1450 on a 1500 network). */
  podMTU(): number | undefined {
    const u = underlayOf(this.o.nodeIP, this.run);
    return u ? u.mtu - VXLAN_OVERHEAD : undefined;
  }

  setUp(): { annotations: Record<string, string> } | { error: string } {
    const u = underlayOf(this.o.nodeIP, this.run);
    if (!u) return { error: `no interface of this host has the node IP ${this.o.nodeIP}: the VXLAN overlay needs one` };
    const mtu = u.mtu - VXLAN_OVERHEAD;
    let link = showLink(this.run, this.device);
    const data = link?.linkinfo?.info_data;
    const compatible =
      link?.linkinfo?.info_kind === 'vxlan' &&
      data?.id === VXLAN_VNI &&
      data?.port === VXLAN_PORT &&
      data?.learning === false &&
      data?.local === this.o.nodeIP;
    if (link && !compatible) {
      // flannel deletes a device of its name it cannot use; we do only when it is ours (our MAC):
      // another installation's on this host (one network namespace holds one VNI 1) stays.
      if (link.address?.toLowerCase() !== this.mac)
        return {
          error: `${this.device} exists with other settings (VNI ${data?.id}, port ${data?.port}, local ${data?.local}) and was not made by this agent: delete it, or use --flannel-backend host-gw`,
        };
      this.run('ip', ['link', 'delete', this.device]);
      link = undefined;
    }
    if (!link) {
      this.saveState();
      const made = this.run('ip', [
        ...['link', 'add', this.device, 'address', this.mac, 'mtu', String(mtu)],
        ...['type', 'vxlan', 'id', String(VXLAN_VNI), 'local', this.o.nodeIP, 'dev', u.ifname],
        ...['dstport', String(VXLAN_PORT), 'nolearning'],
      ]);
      if (made.status !== 0) return { error: `creating ${this.device} failed: ${made.stderr.trim()}` };
      link = showLink(this.run, this.device);
    }
    // A device kept from before (this agent's, or another installation's sharing the name): its MAC is the VTEP's.
    const mac = link?.address?.toLowerCase();
    if (mac && MAC_RE.test(mac)) this.mac = mac;
    const vtep = vtepAddress(this.o.podCIDR);
    for (const a of link?.addr_info ?? [])
      if (a.family === 'inet' && (a.local !== vtep || a.prefixlen !== 32))
        this.run('ip', ['addr', 'del', `${a.local}/${a.prefixlen}`, 'dev', this.device]);
    const addr = this.run('ip', ['addr', 'replace', `${vtep}/32`, 'dev', this.device]);
    if (addr.status !== 0) return { error: `addressing ${this.device} failed: ${addr.stderr.trim()}` };
    const up = this.run('ip', ['link', 'set', this.device, 'mtu', String(mtu), 'up']);
    if (up.status !== 0) return { error: `bringing ${this.device} up failed: ${up.stderr.trim()}` };
    return {
      annotations: {
        [FLANNEL_ANNOTATION.backendType]: 'vxlan',
        [FLANNEL_ANNOTATION.backendData]: JSON.stringify({ VNI: VXLAN_VNI, VtepMAC: this.mac }),
        [FLANNEL_ANNOTATION.publicIP]: this.o.nodeIP,
        [FLANNEL_ANNOTATION.subnetManager]: 'true',
      },
    };
  }

  ready(): boolean {
    const link = showLink(this.run, this.device);
    return !!link && link.address?.toLowerCase() === this.mac && !!link.flags?.includes('UP');
  }

  fingerprint(n: Node | undefined): string {
    const a = n?.metadata?.annotations ?? {};
    return JSON.stringify([
      podCIDROf(n),
      internalIP(n),
      !!n?.metadata?.deletionTimestamp,
      a[FLANNEL_ANNOTATION.backendType],
      a[FLANNEL_ANNOTATION.backendData],
      a[FLANNEL_ANNOTATION.publicIP],
    ]);
  }

  desired(selfName: string, selfPodCIDR: string, nodes: Node[]) {
    return desiredVxlanRoutes(selfName, selfPodCIDR, nodes);
  }

  install(r: NodeRoute, previous?: NodeRoute): CmdResult {
    if (!r.mac || !r.dst) return { status: 1, stdout: '', stderr: 'no VTEP MAC or public IP' };
    // The entry of the node's earlier VTEP (a new MAC or address after its reinstall).
    if (previous?.mac && (previous.mac !== r.mac || previous.dst !== r.dst)) this.forget(previous);
    for (const args of [
      ['ip', 'neigh', 'replace', r.via, 'lladdr', r.mac, 'dev', this.device, 'nud', 'permanent'],
      ['bridge', 'fdb', 'replace', r.mac, 'dev', this.device, 'dst', r.dst, 'self', 'permanent'],
      ['ip', 'route', 'replace', r.podCIDR, 'via', r.via, 'dev', this.device, 'onlink'],
    ]) {
      const res = this.run(args[0], args.slice(1));
      if (res.status !== 0) return res;
    }
    return { status: 0, stdout: '', stderr: '' };
  }

  remove(r: NodeRoute): CmdResult {
    const res = this.run('ip', ['route', 'del', r.podCIDR, 'via', r.via, 'dev', this.device]);
    this.forget(r);
    return res;
  }

  private forget(r: NodeRoute): void {
    this.run('ip', ['neigh', 'del', r.via, 'dev', this.device]);
    if (r.mac && r.dst) this.run('bridge', ['fdb', 'del', r.mac, 'dev', this.device, 'dst', r.dst, 'self']);
  }

  intact(r: NodeRoute): boolean {
    const route = this.run('ip', ['route', 'show', r.podCIDR]).stdout;
    const fdb = this.run('bridge', ['fdb', 'show', 'dev', this.device]).stdout;
    const neigh = this.run('ip', ['neigh', 'show', r.via, 'dev', this.device]).stdout;
    return (
      route.includes(`via ${r.via} dev ${this.device}`) &&
      !!r.mac &&
      fdb.split('\n').some((l) => l.startsWith(`${r.mac} `) && l.includes(`dst ${r.dst} `)) &&
      neigh.includes(r.mac)
    );
  }

  tearDown(): void {
    removeVxlanDevice(this.o.stateFile, this.run);
  }

  private saveState(): void {
    try {
      mkdirSync(dirname(this.o.stateFile), { recursive: true });
      writeFileSync(this.o.stateFile, `${JSON.stringify({ device: this.device, mac: this.mac })}\n`);
    } catch {
      // Without it the device gets a new MAC next time, and killall leaves it: nothing breaks.
    }
  }
}

/**
 * Deletes the VXLAN device this agent made (named in its state file, with the MAC it chose; a
 * device of the same name with another MAC belongs to someone else). For stop() and `k8ts killall`.
 * The state file stays: the MAC is reused by the next start.
 */
export function removeVxlanDevice(stateFile: string, run: Cmd = sh): void {
  const s = loadState(stateFile);
  if (!s) return;
  const link = showLink(run, s.device);
  if (link && link.address?.toLowerCase() === s.mac) run('ip', ['link', 'delete', s.device]);
}
