// Names of what a cluster creates on its host (bridge, nftables table, iptables chain prefix):
// stable for one data dir and distinct between data dirs, so two clusters on one host never
// share them. Interface names allow 15 characters, hence the short hash.
import { createHash } from 'node:crypto';

export function hostObjectName(dataDir: string, isDefaultDataDir: boolean): string {
  return isDefaultDataDir ? 'k8ts0' : `k8ts${createHash('sha256').update(dataDir).digest('hex').slice(0, 6)}`;
}
