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
#               /bin -> usr/bin, /usr/bin (block form, XDB3) holds bash. No long symlink here:
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
#   windows-2019.img  MBR: one NTFS partition with Windows/System32/cmd.exe (the first
#               64 KiB of Debian's shimx64.efi, a PE32+ x86-64) and Windows/System32/config/
#               SOFTWARE: an empty hive made by the Python below (hivex ships none), filled
#               by hivexsh -w with Microsoft\Windows NT\CurrentVersion = Windows Server 2019
#               Datacenter, build 17763, InstallationType Server, plus sibling keys so the
#               subkey lists hold several entries. hivexget reads it back as a cross-check.
#   btrfs.img   GPT: one 8300 partition at 1 MiB holding an empty 128 MiB Btrfs made by
#               mkfs.btrfs (label bdata, fixed fsid, 4 KiB sectors, 16 KiB nodes); the
#               values the tests expect are what btrfs inspect-internal dump-super prints.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")"
OUT=$PWD/guest
WORK=$(mktemp -d)
trap 'umount "$WORK/mnt" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

UUID_XFS=5e1f0c3a-9b7d-4e21-8a6c-3f2e1d0c9b8a

install_tools() {
    apt-get update -qq || echo "apt-get update reported errors; going on" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gdisk fdisk xfsprogs btrfs-progs lvm2 e2fsprogs ntfs-3g libhivex-bin python3 >/dev/null
}

fetch_packages() {
    mkdir -p "$WORK/deb" && chmod 777 "$WORK/deb"
    (cd "$WORK/deb" && apt-get download -qq bash:amd64 shim-signed:amd64 2>/dev/null)
    dpkg-deb -x "$WORK"/deb/bash_*.deb "$WORK/x"
    dpkg-deb -x "$WORK"/deb/shim-signed_*.deb "$WORK/x"
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
        # Enough names that /usr/bin is a block-form directory on v5 too (it would fit the
        # inode's short form with fewer).
        for t in awk basename cat chgrp chmod chown cp cut date dd df dirname du echo env \
            false find grep gzip head id kill ln ls mkdir mktemp mv nice ps pwd rm rmdir \
            sed sleep sort stat tail tar tee touch tr true uname wc xargs; do
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
    lvm_cmd lvs -o lv_name,seg_start_pe,seg_pe_ranges --segments vgroot
    lvm_cmd pvs -o pv_name,pe_start,pv_uuid
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

# An empty regf hive: hivexsh can edit a hive but not create one.
empty_hive() { # file
    python3 - "$1" <<'PY'
# An empty regf hive: base block, one 4 KiB bin with the root key (nk) and its security
# descriptor (sk, hivex needs one to copy to new keys), the rest one free cell.
import struct, sys
NONE = 0xFFFFFFFF
bin_ = bytearray(4096)
bin_[0:4] = b"hbin"
struct.pack_into("<II", bin_, 4, 0, 4096)              # offset of this bin, its size
nk = bytearray(88)
struct.pack_into("<i", nk, 0, -88)                     # allocated cell of 88 bytes
nk[4:6] = b"nk"
struct.pack_into("<H", nk, 6, 0x2C)                    # HIVE_ENTRY | NO_DELETE | COMP_NAME
struct.pack_into("<I", nk, 4 + 16, NONE)               # parent
struct.pack_into("<IIIIIIII", nk, 4 + 20, 0, 0, NONE, NONE, 0, NONE, 0x78, NONE)
struct.pack_into("<HH", nk, 4 + 72, 4, 0)              # name length, class length
nk[4 + 76:4 + 80] = b"ROOT"
bin_[0x20:0x20 + 88] = nk
sk = bytearray(48)
struct.pack_into("<i", sk, 0, -48)
sk[4:6] = b"sk"
struct.pack_into("<IIII", sk, 8, 0x78, 0x78, 1, 20)    # flink, blink (itself), refcount, size
struct.pack_into("<BBH", sk, 24, 1, 0, 0x8000)         # SD revision 1, self-relative, no ACLs
bin_[0x78:0x78 + 48] = sk
struct.pack_into("<i", bin_, 0xA8, 4096 - 0xA8)        # the rest: one free cell
base = bytearray(4096)
base[0:4] = b"regf"
struct.pack_into("<IIQIIIIIII", base, 4, 1, 1, 0, 1, 3, 0, 1, 0x20, 4096, 1)
x = 0
for i in range(0, 508, 4):
    x ^= struct.unpack_from("<I", base, i)[0]
struct.pack_into("<I", base, 508, x)
open(sys.argv[1], "wb").write(bytes(base + bin_))
PY
}

software_hive() { # file
    empty_hive "$1"
    hivexsh -w "$1" <<'EOF'
add Classes
add Clients
add Microsoft
add Policies
add RegisteredApplications
cd Microsoft
add Cryptography
add Windows
add Windows NT
add Windows Search
cd Windows NT
add CurrentVersion
cd CurrentVersion
setval 6
ProductName
string:Windows Server 2019 Datacenter
CurrentBuildNumber
string:17763
InstallationType
string:Server
EditionID
string:ServerDatacenter
CurrentMajorVersionNumber
dword:0x0000000a
SystemRoot
string:C:\Windows
commit
EOF
    hivexget "$1" 'Microsoft\Windows NT\CurrentVersion' ProductName
}

windows_2019() {
    local img=$WORK/windows-2019.img
    truncate -s 16M "$img"
    printf 'label: dos\nlabel-id: 0x20190001\nstart=2048, type=7, bootable\n' | sfdisk -q "$img"
    rm -f "$WORK/ntfs" && truncate -s 15M "$WORK/ntfs"
    mkntfs -q -F -f -L Windows -T "$WORK/ntfs"
    mkdir -p "$WORK/mnt"
    # ntfsprogs cannot make directories, so mount it once with ntfs-3g (FUSE).
    ntfs-3g "$WORK/ntfs" "$WORK/mnt"
    mkdir -p "$WORK/mnt/Windows/System32/config"
    head -c 65536 "$WORK/x/usr/lib/shim/shimx64.efi.signed" >"$WORK/mnt/Windows/System32/cmd.exe"
    software_hive "$WORK/mnt/Windows/System32/config/SOFTWARE"
    umount "$WORK/mnt"
    dd if="$WORK/ntfs" of="$img" bs=1M seek=1 conv=notrunc status=none
    finish windows-2019
}

btrfs_fixture() {
    local img=$WORK/btrfs.img
    truncate -s 130M "$img"
    sgdisk -U 11111111-2222-3333-4444-555555555557 \
        -n 1:1M:+128M -t 1:8300 -c 1:"data" -u 1:AAAAAAAA-0000-0000-0000-000000000021 "$img" >/dev/null
    rm -f "$WORK/fs" && truncate -s 128M "$WORK/fs"
    mkfs.btrfs -q -f -L bdata -U 0f0e0d0c-0b0a-4908-8706-050403020100 -s 4096 -n 16384 "$WORK/fs"
    btrfs inspect-internal dump-super "$WORK/fs" |
        grep -E '^(label|fsid|total_bytes|sectorsize|nodesize|num_devices|dev_item.total_bytes)'
    dd if="$WORK/fs" of="$img" bs=1M seek=1 conv=notrunc,sparse status=none
    finish btrfs
}

install_tools
fetch_packages
btrfs_fixture
windows_2019
lvm_fixture
protofile no
xfs_v5
protofile yes
xfs_v4
ls -l "$OUT"
