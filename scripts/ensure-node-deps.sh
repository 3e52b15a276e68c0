#!/usr/bin/env bash
# Installs the npm dependencies when node_modules is missing or older than the
# lock file. better-sqlite3 builds from source here (about two minutes), so a
# clean reinstall is done only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/.."
stamp=node_modules/.uniota-lock.sha256
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
  echo "$want" > "$stamp"
fi
