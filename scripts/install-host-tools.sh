#!/usr/bin/env bash
# Installs the Debian packages recon needs on the build/test host, only those missing.
# Usage: scripts/install-host-tools.sh build|test|all
# One place for every host tool: make-recipe-target, `make test` and .ci/run all call it.
set -euo pipefail

build_pkgs=(
  kiwi kiwi-systemdeps-iso-media kiwi-systemdeps-disk-images
  debootstrap xorriso squashfs-tools dosfstools mtools rsync gnupg debian-archive-keyring
  grub-pc-bin grub-efi-amd64-bin grub2-common e2fsprogs qemu-utils
  libxml2-utils cpio zstd xz-utils fdisk
  rpm zypper curl
)
test_pkgs=(
  qemu-system-x86 ovmf ipxe ipxe-qemu dnsmasq-base busybox-static tftp-hpa
  ipmitool openipmi curl iproute2 nginx-light isc-dhcp-client
  lshw pciutils ethtool smartmontools nvme-cli lldpd
  chromium
)

case "${1:-all}" in
  build) want=("${build_pkgs[@]}") ;;
  test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  all)   want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|all" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "host tools: all ${#want[@]} packages present"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "host tools: missing ${missing[*]}; run this script as root (it uses apt-get)" >&2
  exit 1
fi
echo "host tools: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
echo "host tools: installed ${#missing[@]} packages"
