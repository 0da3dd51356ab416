#!/bin/sh
# Sourced by dracut's emergency hook on a recon peer whose root did not arrive (module-setup.sh).
# Reads only the kernel command line; no dracut library needed, so a test can run it on any host:
# RECON_CMDLINE_FILE (default /proc/cmdline) and RECON_CONSOLE (default /dev/console) replace the two files.

recon_root_failed() {
    cmdline_file=${RECON_CMDLINE_FILE:-/proc/cmdline}
    console=${RECON_CONSOLE:-/dev/console}
    master="" token="" bootif="" root="" netroot=""
    for arg in $(cat "$cmdline_file"); do
        case "$arg" in
            recon.master=*) master=${arg#recon.master=} ;;
            recon.token=*) token=${arg#recon.token=} ;;
            BOOTIF=*) bootif=${arg#BOOTIF=} ;;
            root=*) root=${arg#root=} ;;
            netroot=*) netroot=${arg#netroot=} ;;
        esac
    done
    # Not a node recon booted (no master on its command line): dracut's own words are all there is.
    [ -n "$master" ] || return 0
    case "$netroot:$root" in
        nbd:*) transport=nbd what="the master's nbd-server (port 10809) did not give this node its export ${netroot##*:}" ;;
        *:nbd:*) transport=nbd-rw what="the master's nbd-server did not give this node its writable copy (held by another client, or not made)" ;;
        *:nfs*) transport=nfs what="the master's NFS server did not let this node mount ${root#*:}" ;;
        *:live:http*) transport=http what="the image ${root#live:} could not be fetched" ;;
        *:live:torrent*) transport=http what="the image could not be fetched by BitTorrent nor by HTTP from the master (torrent ${root#live:})" ;;
        *) transport=unknown what="the root named on the command line never appeared" ;;
    esac
    mac=$(echo "${bootif#01-}" | tr 'A-F-' 'a-f:')
    shown="root=$root${netroot:+ netroot=$netroot}"
    {
        echo "recon: this node's root file system did not arrive over $transport: $what."
        echo "recon: waited for $shown; the master at $master is told (its log: msg=\"peer boot failed\" mac=$mac)."
        echo "recon: check the master is up and serves this transport, and this node's link; then power the node on again."
    } >> "$console" 2>/dev/null
    [ -n "$mac" ] && [ -n "$token" ] || return 0
    # The token goes to curl in a header file, never in its argv.
    auth=/tmp/recon-boot-failure.auth
    (umask 077 && printf 'Authorization: Bearer %s\n' "$token" > "$auth")
    detail=$(printf '%s: %s' "$shown" "$what" | tr -d '"\\' | cut -c1-400)
    if curl --silent --max-time 10 --output /dev/null --fail -H "@$auth" -H "Content-Type: application/json" \
        --data "{\"stage\":\"initrd\",\"root\":\"$transport\",\"detail\":\"$detail\"}" \
        "http://$master/api/v1/nodes/$mac/boot-failure"; then
        echo "recon: the master has been told." >> "$console" 2>/dev/null
    else
        echo "recon: the master at $master did not take the report (unreachable, or it refused this node's token)." >> "$console" 2>/dev/null
    fi
    rm -f "$auth"
}
recon_root_failed
