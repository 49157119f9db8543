#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine of this kind, builds, and runs
# the unit and end-to-end suites with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || need_apt+=(python3 python3-kubernetes)
# Real containers: containerd + runc, CNI plugins, iptables; busybox-static for the test images;
# a registry and skopeo for the pull tests.
command -v containerd >/dev/null || need_apt+=(containerd)
command -v runc >/dev/null || need_apt+=(runc)
[ -x /usr/lib/cni/bridge ] || need_apt+=(containernetworking-plugins)
command -v iptables >/dev/null || need_apt+=(iptables)
[ -x /bin/busybox ] && /bin/busybox --list | grep -qx httpd || need_apt+=(busybox-static)
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
if [ "$(id -u)" = 0 ] && [ ${#need_apt[@]} -gt 0 ]; then
  echo "--- installing Debian packages: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! command -v kubectl >/dev/null; then
  echo "kubectl is required for the end-to-end tests and is not on PATH" >&2
  exit 1
fi

echo "--- npm ci && npm run build"
npm ci --no-audit --no-fund >/dev/null
npm run build >/dev/null

echo "--- tests"
node --test --test-concurrency=2 --test-timeout=600000 \
  dist/test/unit dist/test/e2e
