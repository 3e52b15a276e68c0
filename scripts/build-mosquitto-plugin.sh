#!/usr/bin/env bash
# Builds the uniota ACL plugin for mosquitto (packages/protocol/mosquitto-plugin/uniota_acl.c)
# into packages/protocol/mosquitto-plugin/build/uniota_acl.so, only when the source is newer.
# Needs gcc and Debian's mosquitto-dev + libmosquitto-dev headers (scripts/ensure-system-deps.sh
# installs them). Prints the path of the built plugin.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
src="$here/packages/protocol/mosquitto-plugin/uniota_acl.c"
out_dir="${UNIOTA_MOSQUITTO_PLUGIN_DIR:-$here/packages/protocol/mosquitto-plugin/build}"
out="$out_dir/uniota_acl.so"
if [ -f "$out" ] && [ "$out" -nt "$src" ]; then echo "$out"; exit 0; fi
cc="${CC:-gcc}"
if ! command -v "$cc" >/dev/null 2>&1; then
  echo "build-mosquitto-plugin: no C compiler ($cc); install gcc (scripts/ensure-system-deps.sh does)" >&2
  exit 1
fi
for h in mosquitto_broker.h mosquitto_plugin.h mosquitto.h; do
  if [ ! -f "/usr/include/$h" ]; then
    echo "build-mosquitto-plugin: /usr/include/$h missing; install the Debian packages mosquitto-dev and libmosquitto-dev (scripts/ensure-system-deps.sh does)" >&2
    exit 1
  fi
done
mkdir -p "$out_dir"
# Built beside the final name and renamed, so a concurrent mosquitto never loads half a file.
tmp="$out.$$.tmp"
"$cc" -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Werror -fPIC -shared -o "$tmp" "$src"
mv -f "$tmp" "$out"
echo "$out"
