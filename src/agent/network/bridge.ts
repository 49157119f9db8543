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
