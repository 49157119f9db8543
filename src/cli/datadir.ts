// Where a k8ts installation keeps its state when --data-dir is not given (as k3s: a system
// location for root, the home directory otherwise).
import { homedir } from 'node:os';
import { join } from 'node:path';

export const defaultDataDir = () => (process.getuid?.() === 0 ? '/var/lib/k8ts' : join(homedir(), '.k8ts'));
