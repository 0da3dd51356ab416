#!/bin/bash
# recon-root: when a peer's initrd gives up waiting for its root (http, nbd, nfs; issue #13), say so on
# the console in words and tell the master, which logs `peer boot failed` and marks the node `error`.
# Added by the recipe's dracut.conf.d (add_dracutmodules); never chosen by dracut on its own.

check() {
    return 255
}

depends() {
    # url-lib brings curl, which the report needs.
    echo url-lib
    return 0
}

install() {
    inst_multiple cat tr cut
    # dracut runs the emergency hooks when it gives up (dracut-emergency.service, or emergency_shell).
    inst_hook emergency 05 "$moddir/recon-root-failed.sh"
}
