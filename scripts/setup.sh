#!/usr/bin/env bash
# Everything `k8ts server` needs on a fresh Debian machine of this kind: the packages for real
# containers (as root: containerd, runc, CNI plugins, iptables, and busybox-static for the test
# images; etcd and etcdctl for the etcd datastore and its tests), then `npm ci` and the build.
# Extra Debian packages can be named as arguments.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=("$@")
command -v containerd >/dev/null || need_apt+=(containerd)
command -v runc >/dev/null || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
command -v iptables >/dev/null || need_apt+=(iptables)
{ [ -x /bin/busybox ] && /bin/busybox --list | grep -qx httpd; } || need_apt+=(busybox-static)
command -v etcd >/dev/null || need_apt+=(etcd-server)
command -v etcdctl >/dev/null || need_apt+=(etcd-client)
# NGINX: the ingress's default data plane (src/ingress/nginx/, its TLS port needs the stream
# module) and the reference reverse proxy of the ingress benchmark (bench/ingress.ts).
[ -x /usr/sbin/nginx ] || need_apt+=(nginx-light)
[ -f /usr/lib/nginx/modules/ngx_stream_module.so ] || need_apt+=(libnginx-mod-stream)
# wrk: the load generator of the ingress benchmark.
command -v wrk >/dev/null || need_apt+=(wrk)
# Headless Chromium for the dashboard's browser tests and benchmark (test/e2e/browser.ts).
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# dnsmasq (the binary alone): the upstream resolver of the DNS forwarding e2e test and the reference of bench/dns.ts.
command -v dnsmasq >/dev/null || need_apt+=(dnsmasq-base)
# Prometheus for the monitoring e2e test (test/e2e/prometheus.test.ts).
command -v prometheus >/dev/null || need_apt+=(prometheus)
# OpenSSH's server for the `k8ts cluster up` e2e test (test/e2e/cluster-up.test.ts): it runs its
# own sshd in each network namespace it makes, so Debian's host-wide one is disabled below.
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "--- installing Debian packages: ${need_apt[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    # Debian starts NGINX's default site on port 80, the ingress's port: the benchmark runs its own.
    if printf '%s\n' "${need_apt[@]}" | grep -qxE 'nginx-light|libnginx-mod-stream' && command -v systemctl >/dev/null; then
      systemctl disable --now nginx >/dev/null 2>&1 || true
    fi
    if printf '%s\n' "${need_apt[@]}" | grep -qx openssh-server && command -v systemctl >/dev/null; then
      systemctl disable --now ssh >/dev/null 2>&1 || true
    fi
  else
    echo "--- not root: skipping Debian packages (${need_apt[*]}); k8ts will use the process runtime" >&2
  fi
fi

echo "--- npm ci && npm run build"
npm ci --no-audit --no-fund >/dev/null
npm run build >/dev/null
