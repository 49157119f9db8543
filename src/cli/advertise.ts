// The address nodes and pods reach a server at (its `kubernetes` Service endpoint, its etcd member).
import { networkInterfaces } from 'node:os';

/** The address other machines (and pods) reach this server at: never loopback. */
export function advertiseAddress(bind: string): string | undefined {
  if (bind !== '0.0.0.0' && bind !== '::' && !bind.startsWith('127.') && bind !== '::1') return bind;
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return undefined;
}
