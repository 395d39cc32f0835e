#!/usr/bin/env bash
# Makes testdata/guest/xfs-frag.img.gz: an XFS v5 file system (whole disk, 300 MiB sparse,
# 1 KiB blocks, 512-byte inodes) holding /frag.bin, a file whose data fork is an extent
# B+tree two levels deep: 2600 blocks written, then every other block punched out, leaves
# 1300 extents (a 512-byte inode's root holds 20 pointers, a 1 KiB leaf 59 records, so one
# level of 20 leaves holds at most 1180). Each 1 KiB block i starts with the 17-byte line
# "block %010d\n" (i) and is zero after it, so a test can check every byte and gzip keeps
# the image small; punched blocks read as zeros. mkfs.xfs -p cannot punch holes, so this one script mounts
# (a loop device; run as root). CI does not run it: the tests use the committed .img.gz.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")"
OUT=$PWD/guest
WORK=$(mktemp -d)
trap 'umount "$WORK/mnt" 2>/dev/null || true; rm -rf "$WORK"' EXIT
command -v mkfs.xfs >/dev/null || apt-get install -y -qq xfsprogs >/dev/null
img=$WORK/xfs-frag.img
truncate -s 300M "$img"
mkfs.xfs -q -f -b size=1024 -L frag -m uuid=0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 -i size=512 "$img"
mkdir "$WORK/mnt"
mount -o loop "$img" "$WORK/mnt"
python3 - "$WORK/mnt/frag.bin" <<'PY'
import sys
with open(sys.argv[1], "wb") as f:
    for i in range(2600):
        f.write((b"block %010d\n" % i).ljust(1024, b"\0"))
PY
sync
for ((i = 1; i < 2600; i += 2)); do
    fallocate -p -o $((i * 1024)) -l 1024 "$WORK/mnt/frag.bin"
done
xfs_bmap "$WORK/mnt/frag.bin" | grep -vc hole | sed 's/^/extents+1: /'
umount "$WORK/mnt"
xfs_db -r -c 'path /frag.bin' -c 'print core.format core.nextents u3.bmbt.level' "$img"
gzip -9 -n -c "$img" >"$OUT/xfs-frag.img.gz"
ls -l "$OUT/xfs-frag.img.gz"
