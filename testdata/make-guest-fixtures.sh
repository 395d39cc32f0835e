#!/usr/bin/env bash
# Makes the guest fixtures in testdata/guest/ (issue 3: partitions, file systems, OS, arch,
# boot mode). CI does not run this: the tests use the committed .img.gz files. Run it again
# (as root, on Debian 12) only to change a fixture, and commit the result.
#
# Every file a test reads comes from a real Debian package (apt-get download + dpkg-deb -x):
# os-release from base-files, ELF binaries from bash, EFI loaders from shim-signed and
# grub-efi-arm64-bin, the MBR boot code from syslinux-common. Binaries are cut to their first
# 64 KiB (head -c): imgtool reads only their headers, and it keeps the fixtures small. No
# mounting except NTFS (ntfs-3g, FUSE), which has no "mkfs -d" equivalent.
#
# Fixtures (all RAW, gzip -9; tests gunzip them into a temp dir):
#   uefi-x86_64.img   GPT: ESP (FAT, EFI/BOOT/BOOTX64.EFI = shimx64) + ext4 Debian amd64
#   bios-i386.img     MBR with syslinux boot code: one bootable 0x83 ext4 Debian i386
#   uefi-arm64.img    GPT: ESP (EFI/BOOT/BOOTAA64.EFI = grubaa64) + ext4 Debian arm64
#   mbr-extended.img  MBR: ext2 primary + extended with logical swap and FAT16
#   windows-ntfs.img  MBR: one NTFS partition with Windows/System32/cmd.exe (a PE32+ x86-64)
#                     and Windows/System32/config/
#   superfloppy.img   ext4 over the whole disk, no partition table, Debian amd64
#   gpt-4k.img        GPT written for 4096-byte sectors (by the Python below), ext4 inside
#   symlink-loop.img  ext4 whose bin/bash -> /bin/bash and bin/sh -> ../bin/sh (loops), and a
#                     1 GiB sparse usr/lib/os-release
set -euo pipefail
export LC_ALL=C SOURCE_DATE_EPOCH=1700000000 E2FSPROGS_FAKE_TIME=1700000000
cd "$(dirname "$0")"
OUT=$PWD/guest
WORK=$(mktemp -d)
trap 'umount "$WORK/mnt" 2>/dev/null || true; rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

# Fixed UUIDs so the images (and the tests' expected values) do not change between runs.
UUID_ROOT=6f6b8c1e-1d2a-4c3b-9a1e-0a1b2c3d4e5f
HASH_SEED=0d9b3b5e-7c1d-4e2a-8f3a-112233445566

install_tools() {
    dpkg --add-architecture i386
    dpkg --add-architecture arm64
    # A mirror mid-sync can fail one index (seen on bookworm-security); the main archive
    # still has every package used here.
    apt-get update -qq || echo "apt-get update reported errors; going on" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        gdisk fdisk dosfstools mtools ntfs-3g e2fsprogs python3 >/dev/null
}

fetch_packages() {
    mkdir -p "$WORK/deb" && chmod 777 "$WORK/deb" && cd "$WORK/deb"
    apt-get download -qq base-files:amd64 base-files:i386 base-files:arm64 \
        bash:amd64 bash:i386 bash:arm64 shim-signed:amd64 grub-efi-arm64-bin:arm64 \
        syslinux-common
    mkdir -p "$WORK/x"
    for d in *.deb; do
        dpkg-deb -x "$d" "$WORK/x/${d%%_*}_$(echo "$d" | sed 's/.*_\(.*\)\.deb/\1/')"
    done
    cd - >/dev/null
}

# A Debian-like root tree: the real usr-merged layout (bin -> usr/bin, etc/os-release ->
# ../usr/lib/os-release), with the package's os-release and a truncated real bash.
make_root_tree() { # dir arch
    local dir=$1 arch=$2
    mkdir -p "$dir/etc" "$dir/usr/bin" "$dir/usr/lib"
    cp "$WORK/x/base-files_$arch/usr/lib/os-release" "$dir/usr/lib/os-release"
    ln -s ../usr/lib/os-release "$dir/etc/os-release"
    cp "$WORK/x/base-files_$arch/etc/debian_version" "$dir/etc/debian_version"
    printf '# /etc/fstab: static file system information.\n' >"$dir/etc/fstab"
    printf '127.0.0.1\tlocalhost\n' >"$dir/etc/hosts"
    head -c 65536 "$WORK/x/bash_$arch/bin/bash" >"$dir/usr/bin/bash"
    ln -s usr/bin "$dir/bin"
}

mkext4() { # image size_mib dir [label]
    rm -f "$1"
    mkfs.ext4 -q -F -U "$UUID_ROOT" -E hash_seed=$HASH_SEED,root_owner=0:0 \
        -L "${4:-root}" -d "$3" "$1" "$2M"
}

mkesp() { # image size_mib loader_src loader_name
    rm -f "$1"
    mkfs.vfat -C -F 12 -n ESP -i 1234ABCD "$1" $(($2 * 1024)) >/dev/null
    head -c 65536 "$3" >"$WORK/loader.efi"
    mmd -i "$1" ::EFI ::EFI/BOOT
    mcopy -i "$1" "$WORK/loader.efi" "::EFI/BOOT/$4"
}

put() { # disk fs_image start_mib
    dd if="$2" of="$1" bs=1M seek="$3" conv=notrunc,sparse status=none
}

finish() { # name
    gzip -9 -n -c "$WORK/$1.img" >"$OUT/$1.img.gz"
}

gpt_esp_root() { # name arch loader_src loader_name
    local img=$WORK/$1.img
    truncate -s 16M "$img"
    # No -q: with it this sgdisk (1.0.9) silently writes nothing.
    sgdisk -U 11111111-2222-3333-4444-555555555555 \
        -n 1:1M:+2M -t 1:EF00 -c 1:"EFI system partition" -u 1:AAAAAAAA-0000-0000-0000-000000000001 \
        -n 2:3M:0 -t 2:8300 -c 2:"root" -u 2:AAAAAAAA-0000-0000-0000-000000000002 "$img" >/dev/null
    mkesp "$WORK/esp.fat" 2 "$3" "$4"
    rm -rf "$WORK/root" && make_root_tree "$WORK/root" "$2"
    mkext4 "$WORK/root.ext4" 12 "$WORK/root"
    put "$img" "$WORK/esp.fat" 1
    put "$img" "$WORK/root.ext4" 3
    finish "$1"
}

bios_i386() {
    local img=$WORK/bios-i386.img
    truncate -s 8M "$img"
    printf 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, type=83, bootable\n' | sfdisk -q "$img"
    dd if="$WORK/x/syslinux-common_all/usr/lib/syslinux/mbr/mbr.bin" of="$img" bs=440 count=1 conv=notrunc status=none
    rm -rf "$WORK/root" && make_root_tree "$WORK/root" i386
    mkext4 "$WORK/root.ext4" 7 "$WORK/root"
    put "$img" "$WORK/root.ext4" 1
    finish bios-i386
}

mbr_extended() {
    local img=$WORK/mbr-extended.img
    truncate -s 16M "$img"
    # p1 ext2 2 MiB; p2 extended 3..16 MiB holding p5 swap (2 MiB) and p6 FAT16 (8 MiB).
    printf 'label: dos\nlabel-id: 0x0badcafe\nstart=2048, size=4096, type=83\nstart=6144, type=5\nstart=8192, size=4096, type=82\nstart=14336, size=16384, type=6\n' | sfdisk -q "$img"
    rm -f "$WORK/p1" && mkfs.ext2 -q -F -U "$UUID_ROOT" -L data "$WORK/p1" 2M
    rm -f "$WORK/swap" && truncate -s 2M "$WORK/swap" && mkswap -q -L swap0 -U "$UUID_ROOT" "$WORK/swap"
    rm -f "$WORK/fat16" && mkfs.vfat -C -F 16 -s 1 -n SHARED -i 0BADF00D "$WORK/fat16" 8192 >/dev/null
    put "$img" "$WORK/p1" 1
    put "$img" "$WORK/swap" 4
    put "$img" "$WORK/fat16" 7
    finish mbr-extended
}

windows_ntfs() {
    local img=$WORK/windows-ntfs.img
    truncate -s 16M "$img"
    printf 'label: dos\nlabel-id: 0x5eedf00d\nstart=2048, type=7, bootable\n' | sfdisk -q "$img"
    rm -f "$WORK/ntfs" && truncate -s 15M "$WORK/ntfs"
    mkntfs -q -F -f -L Windows -T "$WORK/ntfs"
    mkdir -p "$WORK/mnt"
    # ntfsprogs cannot make directories, so mount it once with ntfs-3g (FUSE).
    ntfs-3g "$WORK/ntfs" "$WORK/mnt"
    mkdir -p "$WORK/mnt/Windows/System32/config"
    head -c 65536 "$WORK/x/shim-signed_amd64/usr/lib/shim/shimx64.efi.signed" >"$WORK/mnt/Windows/System32/cmd.exe"
    printf 'regf' >"$WORK/mnt/Windows/System32/config/SOFTWARE"
    umount "$WORK/mnt"
    put "$img" "$WORK/ntfs" 1
    finish windows-ntfs
}

superfloppy() {
    rm -rf "$WORK/root" && make_root_tree "$WORK/root" amd64
    mkext4 "$WORK/superfloppy.img" 8 "$WORK/root" floppy
    finish superfloppy
}

symlink_loop() {
    rm -rf "$WORK/loop" && mkdir -p "$WORK/loop/bin" "$WORK/loop/etc"
    ln -s /bin/bash "$WORK/loop/bin/bash"
    ln -s ../bin/sh "$WORK/loop/bin/sh"
    ln -s /etc/os-release "$WORK/loop/etc/os-release"
    printf '127.0.0.1\tlocalhost\n' >"$WORK/loop/etc/hosts"
    # A 1 GiB (sparse) os-release: reading it must stop at imgtool's text cap.
    mkdir -p "$WORK/loop/usr/lib"
    printf 'ID=hugeos\nVERSION_ID=1\n' >"$WORK/loop/usr/lib/os-release"
    truncate -s 1G "$WORK/loop/usr/lib/os-release"
    mkext4 "$WORK/symlink-loop.img" 4 "$WORK/loop" loop
    finish symlink-loop
}

# sgdisk on a file always uses 512-byte sectors, so write the 4 KiB-sector GPT directly
# from the UEFI spec: protective MBR, header at LBA 1 (byte 4096), 128 entries x 128 bytes
# at LBA 2, backup entries and header at the end.
gpt_4k() {
    local img=$WORK/gpt-4k.img
    truncate -s 16M "$img"
    rm -rf "$WORK/root" && make_root_tree "$WORK/root" amd64
    mkext4 "$WORK/root.ext4" 8 "$WORK/root"
    python3 - "$img" <<'PY'
import struct, sys, uuid, zlib
path = sys.argv[1]
SECTOR = 4096
size = 16 * 1024 * 1024
lbas = size // SECTOR
entries_lbas = 128 * 128 // SECTOR          # 4
first_usable = 2 + entries_lbas              # 6
last_usable = lbas - 2 - entries_lbas        # before backup entries + header
def guid(s): return uuid.UUID(s).bytes_le
entry = struct.pack('<16s16sQQQ72s',
    guid('0FC63DAF-8483-4772-8E79-3D69D8477DE4'),
    guid('BBBBBBBB-0000-0000-0000-000000000001'),
    256, 256 + 2048 - 1, 0, 'root'.encode('utf-16-le'))
table = entry.ljust(128 * 128, b'\0')
def header(my, alt, entries_at):
    h = struct.pack('<8sIII I QQQQ 16s QIII', b'EFI PART', 0x10000, 92, 0, 0,
        my, alt, first_usable, last_usable, guid('22222222-3333-4444-5555-666666666666'),
        entries_at, 128, 128, zlib.crc32(table))
    crc = zlib.crc32(h)
    return (h[:16] + struct.pack('<I', crc) + h[20:]).ljust(SECTOR, b'\0')
mbr = bytearray(512)
mbr[446:462] = struct.pack('<B3sB3sII', 0, b'\0\2\0', 0xEE, b'\xff\xff\xff', 1, min(lbas - 1, 0xFFFFFFFF))
mbr[510:512] = b'\x55\xaa'
with open(path, 'r+b') as f:
    f.write(mbr)
    f.seek(SECTOR); f.write(header(1, lbas - 1, 2))
    f.seek(2 * SECTOR); f.write(table)
    f.seek((lbas - 1 - entries_lbas) * SECTOR); f.write(table)
    f.seek((lbas - 1) * SECTOR); f.write(header(lbas - 1, 1, lbas - 1 - entries_lbas))
PY
    put "$img" "$WORK/root.ext4" 1
    finish gpt-4k
}

install_tools
fetch_packages
gpt_esp_root uefi-x86_64 amd64 "$WORK/x/shim-signed_amd64/usr/lib/shim/shimx64.efi.signed" BOOTX64.EFI
gpt_esp_root uefi-arm64 arm64 "$WORK/x/grub-efi-arm64-bin_arm64/usr/lib/grub/arm64-efi/monolithic/grubaa64.efi" BOOTAA64.EFI
bios_i386
mbr_extended
windows_ntfs
superfloppy
symlink_loop
gpt_4k
ls -l "$OUT"
