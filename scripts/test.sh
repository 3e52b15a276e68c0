#!/usr/bin/env bash
# The whole test suite, as the README's test command and CI run it:
# system packages and npm dependencies first, then the type check, then every
# test (unit, cross-package, fault sweep, end-to-end with real mosquitto, QEMU).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
bash scripts/ensure-node-deps.sh
echo "== mosquitto ACL plugin"
bash scripts/build-mosquitto-plugin.sh
echo "== type check"
npx tsc -p tsconfig.json --noEmit
echo "== web console build"
bash scripts/build-console.sh
echo "== tests"
mkdir -p test-results
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=test-results/vitest.json || status=$?
node scripts/test-summary.mjs test-results/vitest.json || status=1
exit $status
