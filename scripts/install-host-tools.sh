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
  systemd-container
)
test_pkgs=(
  qemu-system-x86 ovmf ipxe ipxe-qemu dnsmasq-base busybox-static tftp-hpa
  ipmitool openipmi curl iproute2 nginx-light isc-dhcp-client
  lshw pciutils ethtool smartmontools nvme-cli lldpd
  stress-ng memtester fio
  nbd-server nbd-client libnbd-bin
  aria2 opentracker mktorrent
  chromium
  shim-signed grub-efi-amd64-signed sbsigntool
)

case "${1:-all}" in
  build) want=("${build_pkgs[@]}") ;;
  test)  want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  all)   want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 build|test|all" >&2; exit 2 ;;
esac

# Node.js: the build needs >= 18.19 (tsx, esbuild, execa 9), which Debian 12's own nodejs package
# gives; the tests need >= 20.19 (vitest 4 runs on vite 7: ^20.19 || >=22.12), which Debian 12 does
# not ship. The image itself always runs Debian's Node 18 (the runtime is bundled for node18).
node_min_build=18.19.0
node_min_test=20.19.0
case "${1:-all}" in build) node_min=$node_min_build ;; *) node_min=$node_min_test ;; esac
node_version() { node --version 2>/dev/null | sed 's/^v//'; }
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  # Debian's nodejs + npm are enough to build; for the tests the check below says what else to do.
  build_pkgs+=(nodejs npm)
  test_pkgs+=(nodejs npm)
  case "${1:-all}" in build) want=("${build_pkgs[@]}") ;; *) want=("${build_pkgs[@]}" "${test_pkgs[@]}") ;; esac
fi

check_node() {
  local have
  have=$(node_version)
  if [ -z "$have" ] || ! version_ge "$have" "$node_min"; then
    {
      echo "host tools: Node.js ${have:-(none)} is too old: ${1:-all} needs Node.js >= $node_min."
      if [ "$node_min" = "$node_min_test" ]; then
        echo "  The tests run on vitest 4, whose vite 7 needs Node.js ^20.19 or >= 22.12; Debian 12 ships 18."
        echo "  Install Node.js 20.19+ or 22.12+ so that 'node --version' prints it (for example the nodejs"
        echo "  package of Debian 13, or NodeSource's nodejs 22.x for Debian 12), then run the command again."
        echo "  Building the image alone (./make-recipe-target <recipe> target) works with Debian 12's Node 18."
      else
        echo "  Install Debian's nodejs and npm (apt-get install nodejs npm) or a newer Node.js, then run the command again."
      fi
    } >&2
    exit 1
  fi
  echo "host tools: Node.js $have (>= $node_min)"
}

# UEFI HTTP boot under Secure Boot needs a signed GRUB with the http module. None of Debian 12's has it
# (docs/lab-facts.md); Debian 13's grubnetx64.efi.signed has, is signed by the same Debian Secure Boot CA
# that Debian 12's shim trusts, and loads Debian 12's signed kernel. One pinned file, checked by its
# .deb's SHA256 from Debian 13's Packages index; the build copies it into the image (src/build/describe.ts),
# the master serves it from there, and the tests use this host copy. RECON_DEBIAN_MIRROR overrides the mirror.
http_grub_dir=/usr/lib/recon/grub-http
http_grub_deb=grub-efi-amd64-signed_1+2.12+9+deb13u4_amd64.deb
http_grub_sha256=9090ac76b1bb4d009298583c6e5af1e7b2cae8bce96a40d42a271eb2f750b536
ensure_http_grub() {
  if [ -f "$http_grub_dir/grubnetx64.efi.signed" ] && grep -qx "sha256=$http_grub_sha256" "$http_grub_dir/SOURCE" 2>/dev/null; then
    echo "host tools: HTTP-boot GRUB present ($http_grub_dir)"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "host tools: $http_grub_dir/grubnetx64.efi.signed is missing; run this script as root" >&2
    exit 1
  fi
  local tmp url mirror
  tmp=$(mktemp -d)
  mirror=${RECON_DEBIAN_MIRROR:-http://deb.debian.org/debian}
  # Second source: snapshot.debian.org by the .deb's SHA1, for when the pool has moved on to a newer point release.
  for url in "$mirror/pool/main/g/grub-efi-amd64-signed/$http_grub_deb" \
             "http://snapshot.debian.org/file/9e9a49df61b49b71409ad08f76f26ee829c8d23c"; do
    if curl -fsS --max-time 300 -o "$tmp/$http_grub_deb" "$url" && echo "$http_grub_sha256  $tmp/$http_grub_deb" | sha256sum -c --quiet -; then
      dpkg-deb -x "$tmp/$http_grub_deb" "$tmp/x"
      install -D -m 0644 "$tmp/x/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed" "$http_grub_dir/grubnetx64.efi.signed"
      printf 'package=%s\nurl=%s\nsha256=%s\n' "$http_grub_deb" "$url" "$http_grub_sha256" > "$http_grub_dir/SOURCE"
      rm -rf "$tmp"
      echo "host tools: HTTP-boot GRUB installed from $url"
      return 0
    fi
    echo "host tools: could not fetch a matching $http_grub_deb from $url" >&2
  done
  rm -rf "$tmp"
  echo "host tools: no $http_grub_deb with SHA256 $http_grub_sha256; set RECON_DEBIAN_MIRROR to a Debian mirror that has it" >&2
  exit 1
}

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "host tools: all ${#want[@]} packages present"
  check_node "${1:-all}"
  ensure_http_grub
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
check_node "${1:-all}"
ensure_http_grub
