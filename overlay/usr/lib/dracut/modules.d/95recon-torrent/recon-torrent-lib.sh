#!/bin/sh
# Sourced at the end of url-lib.sh in a recon initrd (module-setup.sh). fetch_url's handler for
# torrent://<host>/torrent/<label>.torrent: prints the path of the verified ISO, as curl's handler
# does, so livenetroot loop-mounts it and dmsquash-live copies its squashfs to RAM (rd.live.ram=1).
#
# The torrent and the ISO stay in RECON_TORRENT_DIR, a tmpfs of its own under /run (RAM, kept over the
# switch to the real root; /run itself is capped at a fifth of the RAM, too small for an ISO beside the
# live overlay on a small node). dmsquash-live copies its squashfs into /run as over HTTP (rd.live.ram=1;
# reading the root through the ISO's loop device started systemd 15 times slower under TCG); the ISO
# stays, and the agent seeds it to the peers still booting, bounded by recon.seed= (src/agent/seed.ts).
# A second call (livenetroot retries a failed fetch) fetches the ISO by plain HTTP from the master,
# the torrent's own web seed, and says so on the console: BitTorrent may fail, the boot does not.
# aria2c's options mirror aria2cArgs in src/lib/aria2c.ts (a unit test compares them).

recon_torrent_fetch_url() {
    local url="$1" outloc="$2"
    local dir="${RECON_TORRENT_DIR:-/run/initramfs/recon-torrent}" console="${RECON_CONSOLE:-/dev/console}"
    local torrent_url="http://${url#torrent://}" iso="" status=0
    local name="${torrent_url##*/}"
    # The master serves /torrent/<label>.torrent beside /isos/<label>.iso (src/master/http/image-routes.ts).
    local iso_url="${torrent_url%/torrent/*}/isos/${name%.torrent}.iso"
    mkdir -p "$dir"
    # Its own tmpfs, at most three quarters of the RAM (a limit, not a reservation). RECON_TORRENT_TMPFS=0: a test's directory.
    if [ "${RECON_TORRENT_TMPFS:-1}" = 1 ] && ! grep -q " $dir tmpfs " /proc/mounts; then
        mount -t tmpfs -o size=75%,mode=0755 recon-torrent "$dir" || return $?
    fi
    if [ -e "$dir/attempted" ]; then
        echo "recon: the BitTorrent fetch failed before; fetching the image by HTTP from the master: $iso_url" >> "$console"
        rm -f "$dir"/*.iso "$dir"/*.aria2 "$dir/image.torrent"
        curl_fetch_url "$iso_url" "$outloc"
        return $?
    fi
    : > "$dir/attempted"
    curl $curl_args --silent --output "$dir/image.torrent" -- "$torrent_url" || return $?
    echo "recon: fetching the image by BitTorrent from the other peers and the master (web seed): $torrent_url" >> "$console"
    # Download only (--seed-time=0): aria2c exits once every piece is in and checked. Its lines go to
    # the console (progress every 10 s), never to stdout, which carries the path for livenetroot.
    aria2c --dir="$dir" --seed-time=0 --seed-ratio=0 --bt-tracker-interval=5 --listen-port=6881 \
        --enable-dht=false --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false \
        --file-allocation=none --summary-interval=10 --enable-color=false --console-log-level=notice \
        --download-result=hide --bt-stop-timeout=120 "$dir/image.torrent" >> "$console" 2>&1 || status=$?
    for iso in "$dir"/*.iso; do
        [ -f "$iso" ] || iso=""
        break
    done
    if [ "$status" -ne 0 ] || [ -z "$iso" ] || [ -e "$iso.aria2" ]; then
        echo "recon: the BitTorrent fetch of $torrent_url failed (aria2c exit $status)" >> "$console"
        [ "$status" -ne 0 ] || status=253
        return "$status"
    fi
    echo "recon: image fetched by BitTorrent and every piece checked: $iso" >> "$console"
    if [ -n "$outloc" ]; then
        cp -f -- "$iso" "$outloc" || return $?
    else
        echo "$iso"
    fi
}
add_url_handler recon_torrent_fetch_url torrent
