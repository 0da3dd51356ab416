#!/bin/bash
# recon-torrent: peer assist (issue #14 item 5, docs/peer-assist.md). A URL handler for livenet's
# root=live:torrent://<master>/torrent/<label>.torrent: the torrent by HTTP, the ISO by BitTorrent
# with aria2c (every piece checked against the torrent's SHA-1; the master's ISO URL is its web seed,
# so a peer alone still boots). Added by the recipe's dracut.conf.d (add_dracutmodules).

check() {
    return 255
}

depends() {
    echo url-lib
    return 0
}

install() {
    inst_multiple aria2c cp grep mount
    inst_simple "$moddir/recon-torrent-lib.sh" /lib/recon-torrent-lib.sh
    # url-lib.sh registers curl's and nfs's schemes and has no place for another one: it sources this
    # module's handler at its end (url-lib is installed first, 45 < 95). Every script that sources
    # url-lib.sh then knows the scheme, parse-livenet.sh's get_url_handler included.
    echo '[ -e /lib/recon-torrent-lib.sh ] && . /lib/recon-torrent-lib.sh' >> "${initdir}/lib/url-lib.sh"
}
