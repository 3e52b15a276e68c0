#!/usr/bin/env bash
# The README's first command: install what is missing, then run uniota on its
# embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-node-deps.sh
bash scripts/build-console.sh
exec node packages/cli/bin/uniota.mjs up "$@"
