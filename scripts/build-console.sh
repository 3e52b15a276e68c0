#!/usr/bin/env bash
# Builds the web console (update-server/console -> update-server/console-dist)
# with Vite. The update server serves that folder; scripts/test.sh and
# scripts/start.sh run this first. Skips the build when nothing changed.
set -euo pipefail
cd "$(dirname "$0")/.."
src=update-server/console
out=update-server/console-dist
if [ -f "$out/index.html" ] && [ -z "$(find "$src" -newer "$out/index.html" -type f -print -quit)" ]; then
  exit 0
fi
npx tsc -p "$src/tsconfig.json" --noEmit
npx vite build --config "$src/vite.config.ts"
echo "console built into $out"
