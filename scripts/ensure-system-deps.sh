#!/usr/bin/env bash
# Installs the Debian packages the tests and the demo need, only when missing.
# Each entry: a command that proves the package is present, then the package.
set -euo pipefail
need=()
check() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
checkfile() { [ -e "$1" ] || need+=("$2"); }
check fw_printenv libubootenv-tool
check sfdisk fdisk
check mosquitto mosquitto
# The PKI tests judge certificates and CRLs with the real openssl.
check openssl openssl
check qemu-system-aarch64 qemu-system-arm
check qemu-system-x86_64 qemu-system-x86
checkfile /usr/lib/u-boot/qemu_arm64/u-boot.bin u-boot-qemu
check mkimage u-boot-tools
check aarch64-linux-gnu-as binutils-aarch64-linux-gnu
check chromium chromium
# The uniota ACL plugin for mosquitto (scripts/build-mosquitto-plugin.sh) is compiled against these.
check gcc gcc
checkfile /usr/include/mosquitto_plugin.h mosquitto-dev
checkfile /usr/include/mosquitto.h libmosquitto-dev
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
