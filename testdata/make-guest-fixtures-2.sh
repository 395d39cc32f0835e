#!/usr/bin/env bash
# Makes the issue-6 guest fixtures in testdata/guest/: XFS (v5 and v4), LVM2, a Windows
# SOFTWARE hive on NTFS, Btrfs. CI does not run this: the tests use the committed .img.gz
# files. Run it again (as root, on Debian 12) only to change a fixture, and commit the result.
#
# Nothing is mounted except NTFS (ntfs-3g, FUSE) as in make-guest-fixtures.sh. XFS is filled
# by mkfs.xfs -p (a protofile); the ELF is the first 64 KiB of Debian's bash (apt-get
# download); the os-release is Rocky Linux 9's text. XFS refuses file systems under 300 MiB,
# so these images are sparse and gzip to almost nothing.
#
# Fixtures (all RAW, gzip -9; tests gunzip them into a temp dir):
#   xfs-v5.img  GPT: one 8300 partition at 1 MiB holding XFS v5 (CRC, ftype, 512-byte
#               inodes). /etc has 2000 extra entries (a node-form directory: several data
#               blocks plus leaf and free blocks), /etc/os-release -> ../usr/lib/os-release,
#               /bin -> usr/bin, /usr/bin (block form) holds bash. No long symlink here:
#               mkfs.xfs 6.1 -p writes v5 remote symlinks without their XSLM block header
#               (xfs_repair junks them); a unit test covers the v5 remote form instead.
#   xfs-v4.img  XFS v4 over the whole disk (crc=0, ftype=0, 256-byte v2 inodes), same tree
#               plus /etc/long-link, a 600-byte symlink stored in a block (v4: no header). Its /etc is
#               btree-format: 16 extents do not fit a 256-byte inode.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")"
OUT=$PWD/guest
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

UUID_XFS=5e1f0c3a-9b7d-4e21-8a6c-3f2e1d0c9b8a

install_tools() {
    apt-get update -qq || echo "apt-get update reported errors; going on" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gdisk xfsprogs python3 >/dev/null
}

fetch_packages() {
    mkdir -p "$WORK/deb" && chmod 777 "$WORK/deb"
    (cd "$WORK/deb" && apt-get download -qq bash:amd64 2>/dev/null)
    dpkg-deb -x "$WORK"/deb/bash_*.deb "$WORK/x"
    head -c 65536 "$WORK/x/bin/bash" >"$WORK/bash"
    cat >"$WORK/os-release" <<'EOF'
NAME="Rocky Linux"
VERSION="9.3 (Blue Onyx)"
ID="rocky"
ID_LIKE="rhel centos fedora"
VERSION_ID="9.3"
PLATFORM_ID="platform:el9"
PRETTY_NAME="Rocky Linux 9.3 (Blue Onyx)"
ANSI_COLOR="0;32"
LOGO="fedora-logo-icon"
CPE_NAME="cpe:/o:rocky:rocky:9::baseos"
HOME_URL="https://rockylinux.org/"
BUG_REPORT_URL="https://bugs.rockylinux.org/"
EOF
    printf 'Rocky Linux release 9.3 (Blue Onyx)\n' >"$WORK/redhat-release"
    printf '/dev/mapper/rl-root / xfs defaults 0 0\n' >"$WORK/fstab"
    printf '127.0.0.1\tlocalhost\n' >"$WORK/hosts"
    : >"$WORK/empty"
}

# The tree, as a protofile (see mkfs.xfs(8)): name, type+mode, uid, gid, then the source
# file or the symlink target; `$` closes a directory.
protofile() { # with_long_link (yes|no)
    local long
    long=$(printf 'x%.0s' $(seq 1 600))
    {
        echo /dev/null
        echo '0 0'
        echo 'd--755 0 0'
        echo 'etc d--755 0 0'
        for i in $(seq -w 1 2000); do echo "conf-$i.d ---644 0 0 $WORK/empty"; done
        echo "fstab ---644 0 0 $WORK/fstab"
        echo "hosts ---644 0 0 $WORK/hosts"
        echo "redhat-release ---644 0 0 $WORK/redhat-release"
        echo 'os-release l--777 0 0 ../usr/lib/os-release'
        if [ "$1" = yes ]; then echo "long-link l--777 0 0 $long"; fi
        echo '$'
        echo 'bin l--777 0 0 usr/bin'
        echo 'usr d--755 0 0'
        echo ' bin d--755 0 0'
        echo "  bash ---755 0 0 $WORK/bash"
        for t in cat chmod cp date dd df echo false grep kill ln ls mkdir mv ps pwd rm sed sleep true; do
            echo "  $t ---755 0 0 $WORK/empty"
        done
        echo ' $'
        echo ' lib d--755 0 0'
        echo "  os-release ---644 0 0 $WORK/os-release"
        echo ' $'
        echo '$'
        echo '$'
    } >"$WORK/proto"
}

finish() { # name
    gzip -9 -n -c "$WORK/$1.img" >"$OUT/$1.img.gz"
}

xfs_v5() {
    local img=$WORK/xfs-v5.img
    truncate -s 302M "$img"
    sgdisk -U 11111111-2222-3333-4444-555555555556 \
        -n 1:1M:0 -t 1:8300 -c 1:"root" -u 1:AAAAAAAA-0000-0000-0000-000000000011 "$img" >/dev/null
    rm -f "$WORK/fs" && truncate -s 300M "$WORK/fs"
    mkfs.xfs -q -f -L rocky -m uuid=$UUID_XFS -i size=512 -p "$WORK/proto" "$WORK/fs"
    dd if="$WORK/fs" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
    finish xfs-v5
}

xfs_v4() {
    local img=$WORK/xfs-v4.img
    rm -f "$img" && truncate -s 300M "$img"
    mkfs.xfs -q -f -L rocky4 -m crc=0,uuid=$UUID_XFS -n ftype=0 -i size=256 -p "$WORK/proto" "$img"
    finish xfs-v4
}

install_tools
fetch_packages
protofile no
xfs_v5
protofile yes
xfs_v4
ls -l "$OUT"
