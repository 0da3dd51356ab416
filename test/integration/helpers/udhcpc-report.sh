#!/bin/sh
# udhcpc -s script for simulated peers: configures the address like busybox's default script
# and prints what the server sent as one `recon-udhcpc key=value …` line for the test to parse.
# Variable names are busybox's (networking/udhcp/dhcpc.c): siaddr/boot_file/sname are BOOTP
# header fields, serverid is option 54, bootfile is option 67, tftp is option 66.
case "$1" in
  deconfig) ip addr flush dev "$interface" ;;
  bound|renew) ip addr replace "$ip/$mask" dev "$interface" ;;
esac
echo "recon-udhcpc event=$1 interface=$interface ip=$ip mask=$mask siaddr=$siaddr serverid=$serverid bootfile=$bootfile boot_file=$boot_file tftp=$tftp"
