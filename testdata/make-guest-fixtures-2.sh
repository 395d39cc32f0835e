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
#   lvm.img     MBR: one 0x8e partition at 1 MiB, an LVM2 PV (pvcreate on a loop device,
#               --driverloaded n: nothing is activated) with VG vgroot (4 MiB extents):
#               LV root (16 MiB, two segments: PV extents 0-1 and 3-4, because it was
#               extended after LV swap took extent 2) holding ext4 with the Rocky tree, and
#               LV swap (4 MiB, linear, empty). The ext4 image is written into the PV with dd
#               at the offsets `lvs --segments` prints.
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
        gdisk fdisk xfsprogs lvm2 e2fsprogs python3 >/dev/null
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

# LVM without udev, lvmetad or a devices file, touching only the loop device given.
lvm_cmd() { # command args...
    LVM_SYSTEM_DIR=$WORK/lvmconf "$@" --devices "$LOOP" --driverloaded n -q 2>&1 |
        grep -v -e leaked -e 'Activation disabled' -e 'not zeroed' || true
}

lvm_fixture() {
    local img=$WORK/lvm.img
    truncate -s 40M "$img"
    printf 'label: dos\nlabel-id: 0x4c564d32\nstart=2048, type=8e\n' | sfdisk -q "$img"
    mkdir -p "$WORK/lvmconf"
    echo 'devices { use_devicesfile = 0 obtain_device_list_from_udev = 0 } activation { udev_sync = 0 udev_rules = 0 }' >"$WORK/lvmconf/lvm.conf"
    LOOP=$(losetup -f --show -o 1048576 "$img")
    lvm_cmd pvcreate -u Abcdef-0123-4567-89ab-cdef-0123-456789 --norestorefile "$LOOP"
    lvm_cmd vgcreate -s 4M vgroot "$LOOP"
    lvm_cmd lvcreate -an -Zn -n root -L 8M vgroot
    lvm_cmd lvcreate -an -Zn -n swap -L 4M vgroot
    lvm_cmd lvextend -L +8M vgroot/root
    lvm_cmd lvs -o lv_name,seg_start_pe,seg_pe_ranges,pe_start --segments vgroot
    losetup -d "$LOOP"
    # The tree: /bin -> usr/bin, /etc/os-release, fstab, hosts, usr/bin/bash.
    rm -rf "$WORK/tree" && mkdir -p "$WORK/tree/etc" "$WORK/tree/usr/bin"
    cp "$WORK/os-release" "$WORK/fstab" "$WORK/hosts" "$WORK/tree/etc/"
    cp "$WORK/bash" "$WORK/tree/usr/bin/bash"
    ln -s usr/bin "$WORK/tree/bin"
    rm -f "$WORK/root.ext4"
    mkfs.ext4 -q -F -U 6f6b8c1e-1d2a-4c3b-9a1e-0a1b2c3d4e60 -L lvroot \
        -E root_owner=0:0 -d "$WORK/tree" "$WORK/root.ext4" 16M
    # Partition at 1 MiB, first PE at 1 MiB into the PV, 4 MiB extents: LV extents 0-1 are
    # PV extents 0-1 (disk 2 MiB), LV extents 2-3 are PV extents 3-4 (disk 14 MiB).
    dd if="$WORK/root.ext4" of="$img" bs=1M count=8 seek=2 conv=notrunc status=none
    dd if="$WORK/root.ext4" of="$img" bs=1M skip=8 count=8 seek=14 conv=notrunc status=none
    finish lvm
}

install_tools
fetch_packages
lvm_fixture
protofile no
xfs_v5
protofile yes
xfs_v4
ls -l "$OUT"
