// Whether a process still runs (signal 0), for the supervisors of child programs (etcd, NGINX)
// and `k8ts killall`.
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
