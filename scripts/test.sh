#!/usr/bin/env bash
# Installs everything the tests need on a fresh Debian machine of this kind, builds, and runs
# the unit and end-to-end suites with node's test runner.
set -euo pipefail
cd "$(dirname "$0")/.."

# Python's official client for the client tests; a registry and skopeo for the pull tests.
extra=()
/usr/bin/python3 -c 'import kubernetes' 2>/dev/null || extra+=(python3 python3-kubernetes)
command -v docker-registry >/dev/null || extra+=(docker-registry)
command -v skopeo >/dev/null || extra+=(skopeo)
# The service proxy programs nftables and flushes stale UDP flows with conntrack.
command -v nft >/dev/null || extra+=(nftables)
command -v conntrack >/dev/null || extra+=(conntrack)
if ! command -v kubectl >/dev/null; then
  echo "kubectl is required for the end-to-end tests and is not on PATH" >&2
  exit 1
fi
bash scripts/setup.sh "${extra[@]}"

echo "--- layer rules (imports only point down; .dependency-cruiser.cjs)"
npm run --silent lint

echo "--- tests"
# The runner's output is kept so that, when something fails, the failures are repeated at the end
# (CI shows only the tail of a long log), followed again by the runner's summary lines.
log=$(mktemp)
set +e
node --test --test-concurrency=2 --test-timeout=600000 \
  dist/test/unit dist/test/e2e 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if [ "$status" -ne 0 ]; then
  echo "--- failed tests (each with the first lines of its report)"
  awk '/^ *not ok /{n=25} n>0{print; n--}' "$log"
  echo "--- summary"
  grep -a -E '^# (tests|suites|pass|fail|cancelled|skipped|todo|duration_ms) ' "$log" | tail -n 8
fi
rm -f "$log"
exit "$status"
