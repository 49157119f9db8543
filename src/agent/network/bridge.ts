// The node's pod bridge with its gateway address (the first address of the podCIDR), made before
// the first pod so the cluster DNS listener can bind that address at once. The CNI bridge plugin
// (isGateway) finds the bridge and the address already there and keeps them; `k8ts killall`
// deletes the bridge.
import { spawnSync } from 'node:child_process';

/** 10.42.3.0/24 → { gateway: 10.42.3.1, prefix: 24 }. */
export function bridgeGateway(podCIDR: string): { gateway: string; prefix: number } {
  const [net, prefix] = podCIDR.split('/');
  const n =
    net
      .split('.')
      .map(Number)
      .reduce((a, b) => a * 256 + b, 0) + 1;
  return { gateway: [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.'), prefix: Number(prefix) };
}

/** Creates the bridge (if missing), gives it the gateway address and brings it up; returns the gateway, or an error message. */
export function ensureBridgeGateway(bridge: string, podCIDR: string): { gateway: string } | { error: string } {
  const { gateway, prefix } = bridgeGateway(podCIDR);
  const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8' });
  if (ip('link', 'show', bridge).status !== 0) {
    const r = ip('link', 'add', 'name', bridge, 'type', 'bridge');
    if (r.status !== 0) return { error: `ip link add ${bridge}: ${r.stderr.trim()}` };
  }
  const shown = ip('-4', 'addr', 'show', 'dev', bridge).stdout;
  if (!shown.includes(` ${gateway}/`)) {
    const r = ip('addr', 'add', `${gateway}/${prefix}`, 'dev', bridge);
    if (r.status !== 0) return { error: `ip addr add ${gateway}/${prefix} dev ${bridge}: ${r.stderr.trim()}` };
  }
  const up = ip('link', 'set', bridge, 'up');
  if (up.status !== 0) return { error: `ip link set ${bridge} up: ${up.stderr.trim()}` };
  return { gateway };
}

/** How `ip route` starts the routes that are not unicast ones (it names no type for those). */
const ROUTE_TYPES = /^(local|broadcast|anycast|multicast|unreachable|blackhole|prohibit|throw|nat) /;

/**
 * The devices other than `bridge` with a connected route within `cidr`, from the output of
 * `ip -o route show table all root <cidr>`: the host's answers to pods of the range would leave
 * through them. Not counted: addresses (the node's VXLAN device holds the range's network address,
 * as flannel.1 does; an address takes no traffic from the bridge), and routes through a gateway,
 * which the node's own route reconcilers (host-gw, VXLAN) remove when they installed them for
 * another node that had the range before, and which would not run while the range is held.
 */
export function conflictingDevices(routes: string, bridge: string): string[] {
  const out = new Set<string>();
  for (const line of routes.split('\n')) {
    if (!line.trim() || ROUTE_TYPES.test(line) || line.includes(' via ')) continue;
    const dev = / dev (\S+)/.exec(line)?.[1];
    if (dev && dev !== bridge) out.add(dev);
  }
  return [...out];
}

/**
 * Why the pod bridge cannot serve `cidrs` (the node's pod ranges), or undefined: another device of
 * this host already has a connected route in a range, as the bridge of another cluster with the same
 * range does, or one a cluster left behind when it was not cleaned up (`k8ts killall`). The kernel
 * keeps using the older route, so the node's answers to its pods (the cluster DNS listener's, probes)
 * would go to that device and be lost while the pods' own packets still arrive.
 */
export function podCIDRConflict(bridge: string, cidrs: string[]): string | undefined {
  for (const cidr of cidrs) {
    const family = cidr.includes(':') ? '-6' : '-4';
    const r = spawnSync('ip', ['-o', family, 'route', 'show', 'table', 'all', 'root', cidr], { encoding: 'utf8' });
    if (r.status !== 0) continue;
    const devices = conflictingDevices(r.stdout, bridge);
    if (devices.length)
      return (
        `pod CIDR ${cidr} is already routed through ${devices.join(', ')}, not this node's bridge ${bridge}: ` +
        `the bridge of another cluster on this host with the same range, or one left by a cluster that was not ` +
        `cleaned up (remove it with "k8ts killall --data-dir" of that cluster, or "ip link delete ${devices[0]}")`
      );
  }
  return undefined;
}
