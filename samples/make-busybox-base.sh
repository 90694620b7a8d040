#!/usr/bin/env bash
# Makes the small base image busybox:latest from Debian's static busybox (busybox-static):
# busybox with its applet links, /etc/passwd and /etc/group, imported with `imgbuild import`.
# Usage: samples/make-busybox-base.sh IMGBUILD [NAME] [extra imgbuild global options...]
set -euo pipefail
imgbuild=${1:?usage: make-busybox-base.sh IMGBUILD [NAME] [options]}
name=${2:-busybox:latest}
shift $(( $# >= 2 ? 2 : 1 ))
busybox=/bin/busybox
[[ -x $busybox ]] || { echo "make-busybox-base: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }
file -b "$busybox" 2>/dev/null | grep -q 'statically linked' || [[ ! -x /usr/bin/file ]] ||
  { echo "make-busybox-base: $busybox is not static (install busybox-static)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,home,tmp,var/tmp,proc,sys,dev}
chmod 1777 "$root/tmp" "$root/var/tmp"
chmod 700 "$root/root"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list-full); do
  [[ $applet == bin/busybox ]] && continue
  mkdir -p "$root/$(dirname "$applet")"
  ln -sf /bin/busybox "$root/$applet"
done
cat > "$root/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
bin:x:2:2:bin:/bin:/bin/false
sys:x:3:3:sys:/dev:/bin/false
www-data:x:33:33:www-data:/var/www:/bin/false
nobody:x:65534:65534:nobody:/home:/bin/false
P
cat > "$root/etc/group" <<'G'
root:x:0:
daemon:x:1:
bin:x:2:
sys:x:3:
adm:x:4:
tty:x:5:
www-data:x:33:
users:x:100:
nogroup:x:65534:
G
# Fixed times and owners: the same busybox gives the same image id. That takes a fixed
# "created" too (SOURCE_DATE_EPOCH, by default the busybox binary's mtime, which the package
# fixes) and a history without the random temp path (so the tarball goes in on stdin).
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(stat -c %Y "$busybox")} "$imgbuild" "$@" import - "$name" <"$work/rootfs.tar"
