#!/usr/bin/env bash
# Makes the committed initramfs fixtures under testdata/initramfs/ (read by
# tests/it/initramfs.rs), with the tools the distributions' own initramfs builders call:
#
#   tree/           a small initramfs tree: /init, a busybox stand-in, modules.dep and a few
#                   modules under usr/lib/modules/6.1.0-30-cloud-amd64/kernel/ (pseudo-random
#                   contents, 1-2 KiB each, so they do not compress away), virtio_blk and
#                   virtio_net among them, nvme as nvme.ko.xz (the suffix Debian 13 uses).
#   main.cpio       (cd tree && find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0),
#                   as initramfs-tools' mkinitramfs and dracut make it.
#   main.list       `cpio -it < main.cpio`: the names GNU cpio sees, the reference the test
#                   compares imgtool's list with.
#   main.<ext>      main.cpio compressed as the kernel reads it and initramfs-tools calls the
#                   tools (mkinitramfs's COMPRESS): gzip -n -9, xz --check=crc32 (the kernel's
#                   xz decoder knows only CRC32), zstd -19, lz4 -9 -l (the legacy format, the
#                   only lz4 format the kernel reads), lzma -9, bzip2 -9; and main.lz4f, the lz4
#                   frame format (not for the kernel; read too).
#   early-<ext>     the early-microcode layout of initramfs-tools (and dracut): an
#                   uncompressed newc archive holding kernel/x86/microcode/GenuineIntel.bin,
#                   then the compressed main archive right after it.
#   novirtio.xz     early microcode + an xz main archive without virtio_blk and virtio_net.
#   padded.zst      microcode, 3 zero bytes (as a boot loader pads), the zstd main archive,
#                   then a second gzip archive with an extra module, then 512 zero bytes.
#
# Needs cpio, gzip, xz, lzma, zstd, lz4, bzip2 (Debian packages cpio, xz-utils, zstd, lz4,
# bzip2). The output is deterministic: fixed mtimes, sorted names, seeded contents.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/initramfs"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# Seeded pseudo-random bytes (python3 is on every machine, incl. CI).
noise() { python3 -c "import random,sys; r=random.Random($2); sys.stdout.buffer.write(bytes(r.getrandbits(8) for _ in range($1)))"; }

mk_tree() { # $1 = tree dir, $2 = "virtio" or "novirtio"
  local t=$1 ver=6.1.0-30-cloud-amd64
  local m="$t/usr/lib/modules/$ver/kernel"
  mkdir -p "$t/usr/bin" "$t/scripts" "$m/drivers/block" "$m/drivers/net" "$m/drivers/nvme/host" \
    "$m/drivers/ata" "$m/fs/ext4" "$t/kernel-less"
  printf '#!/bin/sh\nexec /sbin/init\n' > "$t/init"
  noise 1500 1 > "$t/usr/bin/busybox"
  noise 1200 2 > "$m/drivers/ata/libata.ko"
  noise 1200 3 > "$m/fs/ext4/ext4.ko"
  noise 1000 4 | xz --check=crc32 > "$m/drivers/nvme/host/nvme.ko.xz"
  if [ "$2" = virtio ]; then
    noise 1100 5 > "$m/drivers/block/virtio_blk.ko"
    noise 1100 6 > "$m/drivers/net/virtio_net.ko"
  fi
  echo "kernel/drivers/block/virtio_blk.ko:" > "$t/usr/lib/modules/$ver/modules.dep"
  rmdir "$t/kernel-less"
  find "$t" -exec touch -h -d '2024-01-01 00:00:00 UTC' {} +
}

newc() { # $1 = tree dir -> newc archive on stdout
  (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc --reproducible -R 0:0 --quiet)
}

mk_tree "$work/tree" virtio
mk_tree "$work/novirtio" novirtio
mkdir -p "$work/ucode/kernel/x86/microcode"
noise 2048 7 > "$work/ucode/kernel/x86/microcode/GenuineIntel.bin"
find "$work/ucode" -exec touch -h -d '2024-01-01 00:00:00 UTC' {} +

newc "$work/tree" > "$out/main.cpio"
cpio -it --quiet < "$out/main.cpio" > "$out/main.list"
newc "$work/ucode" > "$work/early.cpio"

gzip -n -9 < "$out/main.cpio" > "$out/main.gz"
xz --check=crc32 -9 < "$out/main.cpio" > "$out/main.xz"
zstd -q -19 < "$out/main.cpio" > "$out/main.zst"
lz4 -q -9 -l < "$out/main.cpio" > "$out/main.lz4"
lz4 -q -9 < "$out/main.cpio" > "$out/main.lz4f"
lzma -9 < "$out/main.cpio" > "$out/main.lzma"
bzip2 -9 < "$out/main.cpio" > "$out/main.bz2"
for ext in gz xz zst lz4 lzma bz2; do
  cat "$work/early.cpio" "$out/main.$ext" > "$out/early-$ext"
done
cat "$work/early.cpio" <(newc "$work/novirtio" | xz --check=crc32 -9) > "$out/novirtio.xz"

mkdir -p "$work/extra/usr/lib/modules/6.1.0-30-cloud-amd64/kernel/drivers/scsi"
noise 900 8 > "$work/extra/usr/lib/modules/6.1.0-30-cloud-amd64/kernel/drivers/scsi/virtio_scsi.ko"
find "$work/extra" -exec touch -h -d '2024-01-01 00:00:00 UTC' {} +
{
  cat "$work/early.cpio"
  printf '\0\0\0'
  cat "$out/main.zst"
  newc "$work/extra" | gzip -n -9
  head -c 512 /dev/zero
} > "$out/padded.zst"
ls -l "$out"
