#!/bin/sh
# udhcpc -s script for simulated UEFI peers: configures the address like busybox's default script and,
# once bound, prints its whole environment as `recon-udhcpc-env NAME=value` lines. busybox exports the
# BOOTP fields (siaddr, boot_file), the options it knows by name (60 is `vendor`), the others as optNN (hex).
# Run udhcpc under `env -i` so that the dump holds only udhcpc's variables.
case "$1" in
  deconfig) ip addr flush dev "$interface" ;;
  bound|renew) ip addr replace "$ip/$mask" dev "$interface" ;;
esac
if [ "$1" = bound ]; then env | sort | sed 's/^/recon-udhcpc-env /'; fi
