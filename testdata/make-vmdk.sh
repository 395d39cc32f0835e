#!/usr/bin/env bash
# Makes VMDK test images with qemu-img and qemu-io (qemu 10), into DIR, for the cases named:
#
#   testdata/make-vmdk.sh DIR CASE...
#
# Cases (each writes DIR/CASE.vmdk, or DIR/CASE.ova, plus the extent files it needs):
#   monolithicSparse monolithicFlat streamOptimized   64 MiB disks with data written by qemu-io
#                        at grain-aligned and unaligned places, and the last sector (whole
#                        grains in ascending order for streamOptimized, all qemu can write).
#   twoGbMaxExtentSparse twoGbMaxExtentFlat           5 GiB disks (sparse files, so cheap) with
#                        data before, across and after each 2 GiB extent boundary.
#   streamconv           streamOptimized made by `qemu-img convert` from a RAW written by qemu-io.
#   zeroed               monolithicSparse with zeroed_grain=on, data, then `write -z` over part
#                        of it (grain table entries of 1).
#   stream-gd-at-end     streamconv rewritten the way VMware lays a stream out: GD_AT_END in
#                        the header, the real header in a footer before the end-of-stream marker.
#   ova                  streamconv's disk + a small .ovf, in a ustar archive made with tar.
#   child                base.vmdk (data) and child.vmdk (`-b base.vmdk -F vmdk`) with its own
#                        writes and a zeroed range over the base's data.
#   bad-*                malformed copies of monolithicSparse / streamconv / child, edited by
#                        the python below at the field each names.
#   bad-parent-rgd       a child (bad-parent-rgd.vmdk) whose parent (bad-parent-rgd-base.vmdk)
#                        has entry 0 of its first redundant grain table changed: the child reads
#                        (reads use the primary directory) but the parent's check finds it.
set -euo pipefail
dir=$1
shift
cd "$dir"

io() { qemu-io -f "$1" "$2" "${@:3}" >/dev/null; }

data_small() { # write a pattern set into a 64 MiB image of format $1
  io "$1" "$2" -c "write -P 0x11 0 64k" -c "write -P 0x22 1m 4608" \
    -c "write -P 0x33 3m 1m" -c "write -P 0x44 40m 100k" -c "write -P 0x55 67108352 512"
}

data_big() { # 5 GiB: around the 2 GiB and 4 GiB extent boundaries, and the end
  io "$1" "$2" -c "write -P 0x61 0 64k" -c "write -P 0x62 2147418112 131072" \
    -c "write -P 0x63 3g 1m" -c "write -P 0x64 4294901760 131072" -c "write -P 0x65 5368708096 1024"
}

make_raw_src() {
  qemu-img create -q -f raw "$1" 64M
  data_small raw "$1"
}

patch() { # patch FILE OFFSET HEXBYTES
  python3 - "$@" <<'PY'
import sys
f, off, data = sys.argv[1], int(sys.argv[2], 0), bytes.fromhex(sys.argv[3])
with open(f, 'r+b') as h:
    h.seek(off); h.write(data)
PY
}

le32() { python3 -c "import struct,sys; print(struct.pack('<I', int(sys.argv[1], 0)).hex())" "$1"; }
le64() { python3 -c "import struct,sys; print(struct.pack('<Q', int(sys.argv[1], 0)).hex())" "$1"; }
# A header field of FILE as a number: field FILE OFFSET SIZE
field() { python3 -c "import sys; b=open(sys.argv[1],'rb').read()[int(sys.argv[2]):int(sys.argv[2])+int(sys.argv[3])]; print(int.from_bytes(b,'little'))" "$1" "$2" "$3"; }

for c in "$@"; do
  case $c in
    monolithicSparse | monolithicFlat)
      qemu-img create -q -f vmdk -o subformat="$c" "$c.vmdk" 64M
      data_small vmdk "$c.vmdk"
      ;;
    streamOptimized)
      # qemu writes a stream only in whole grains, each once, in ascending order.
      qemu-img create -q -f vmdk -o subformat="$c" "$c.vmdk" 64M
      io vmdk "$c.vmdk" -c "write -P 0x11 0 64k" -c "write -P 0x33 3m 1m" \
        -c "write -P 0x44 40m 128k" -c "write -P 0x55 67043328 64k"
      ;;
    twoGbMaxExtentSparse | twoGbMaxExtentFlat)
      qemu-img create -q -f vmdk -o subformat="$c" "$c.vmdk" 5G
      data_big vmdk "$c.vmdk"
      ;;
    streamconv)
      make_raw_src streamconv.src.raw
      qemu-img convert -f raw -O vmdk -o subformat=streamOptimized streamconv.src.raw streamconv.vmdk
      ;;
    zeroed)
      qemu-img create -q -f vmdk -o subformat=monolithicSparse,zeroed_grain=on zeroed.vmdk 64M
      data_small vmdk zeroed.vmdk
      io vmdk zeroed.vmdk -c "write -z 3m 512k"
      ;;
    ova)
      mkdir -p ova.d
      make_raw_src ova.src.raw
      qemu-img convert -f raw -O vmdk -o subformat=streamOptimized ova.src.raw ova.d/vm-disk1.vmdk
      cat > ova.d/vm.ovf <<'OVF'
<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1">
  <References>
    <File ovf:href="vm-disk1.vmdk" ovf:id="file1"/>
  </References>
  <DiskSection><Info>Virtual disk information</Info>
    <Disk ovf:capacity="64" ovf:capacityAllocationUnits="byte * 2^20" ovf:diskId="vmdisk1"
      ovf:fileRef="file1" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>
  </DiskSection>
</Envelope>
OVF
      echo "not a disk" > ova.d/vm.mf
      tar -C ova.d --format=ustar -cf ova.ova vm.ovf vm.mf vm-disk1.vmdk
      ;;
    child)
      qemu-img create -q -f vmdk base.vmdk 64M
      data_small vmdk base.vmdk
      qemu-img create -q -f vmdk -o zeroed_grain=on -b base.vmdk -F vmdk child.vmdk
      io vmdk child.vmdk -c "write -P 0x77 1m 512" -c "write -P 0x78 20m 64k" -c "write -z 3m 64k"
      ;;
    bad-version | bad-grain | bad-gtes | bad-gd | bad-descriptor-size | unclean | bad-rgd | bad-gte-past-end)
      qemu-img create -q -f vmdk "$c.vmdk" 64M
      data_small vmdk "$c.vmdk"
      gd=$(field "$c.vmdk" 56 8); rgd=$(field "$c.vmdk" 48 8)
      case $c in
        bad-version) patch "$c.vmdk" 4 "$(le32 9)" ;;                  # version 9: only 1..3 exist
        bad-grain) patch "$c.vmdk" 20 "$(le64 96)" ;;                  # grain size 96 sectors: not a power of two
        bad-gtes) patch "$c.vmdk" 44 "$(le32 1024)" ;;                 # numGTEsPerGT 1024: must be 512
        bad-gd) patch "$c.vmdk" 56 "$(le64 0x7fffffff)" ;;             # GD far past the end of the file
        bad-descriptor-size) patch "$c.vmdk" 36 "$(le64 0x100000)" ;;  # a 512 MiB embedded descriptor
        unclean) patch "$c.vmdk" 72 01 ;;                              # uncleanShutdown = 1
        bad-rgd)                                                       # first redundant GT, entry 0 changed
          gt=$(field "$c.vmdk" $((rgd * 512)) 4); patch "$c.vmdk" $((gt * 512)) "$(le32 12345)" ;;
        bad-gte-past-end)                                              # primary GT entry 0 -> far past the end
          gt=$(field "$c.vmdk" $((gd * 512)) 4); patch "$c.vmdk" $((gt * 512)) "$(le32 0x7ffffff0)" ;;
      esac
      ;;
    bad-parent-rgd)
      qemu-img create -q -f vmdk bad-parent-rgd-base.vmdk 64M
      data_small vmdk bad-parent-rgd-base.vmdk
      qemu-img create -q -f vmdk -b bad-parent-rgd-base.vmdk -F vmdk bad-parent-rgd.vmdk
      io vmdk bad-parent-rgd.vmdk -c "write -P 0x77 1m 512"
      rgd=$(field bad-parent-rgd-base.vmdk 48 8)
      gt=$(field bad-parent-rgd-base.vmdk $((rgd * 512)) 4)
      patch bad-parent-rgd-base.vmdk $((gt * 512)) "$(le32 12345)"   # parent's first RGT entry 0
      ;;
    bad-marker-lba)
      make_raw_src bad-marker-lba.src.raw
      qemu-img convert -f raw -O vmdk -o subformat=streamOptimized bad-marker-lba.src.raw bad-marker-lba.vmdk
      # qemu keeps the real grain directory offset in the header: find the first grain's
      # marker through it and its first grain table, and make its LBA 128.
      gd=$(field bad-marker-lba.vmdk 56 8)
      gt=$(field bad-marker-lba.vmdk $((gd * 512)) 4)
      g0=$(field bad-marker-lba.vmdk $((gt * 512)) 4)
      patch bad-marker-lba.vmdk $((g0 * 512)) "$(le64 128)"
      ;;
    stream-gd-at-end)
      # What VMware writes and qemu does not: the header says GD_AT_END and the real header is
      # the footer (footer marker, footer, end-of-stream marker as the last three sectors).
      make_raw_src stream-gd-at-end.src.raw
      qemu-img convert -f raw -O vmdk -o subformat=streamOptimized stream-gd-at-end.src.raw stream-gd-at-end.vmdk
      python3 - stream-gd-at-end.vmdk <<'PY'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
assert b[-512:] == bytes(512), "qemu ends the stream with an end-of-stream marker"
header = bytes(b[:512])
del b[-512:]
b += struct.pack('<QII', 1, 0, 3).ljust(512, b'\0')  # footer marker: 1 sector, type 3
b += header                                          # the footer: the header, real gdOffset
b += bytes(512)                                      # end-of-stream marker
b[56:64] = struct.pack('<Q', 0xffffffffffffffff)     # the header: gdOffset = GD_AT_END
open(p, 'wb').write(b)
PY
      ;;
    bad-cid)
      qemu-img create -q -f vmdk bad-cid-base.vmdk 64M
      qemu-img create -q -f vmdk -b bad-cid-base.vmdk -F vmdk bad-cid.vmdk
      # Change the base's CID after the child was made. QEMU writes the CID without leading
      # zeros ("CID=%x"), so it may have fewer than 8 digits: replace exactly its digits.
      python3 - <<'PY'
p = 'bad-cid-base.vmdk'
b = bytearray(open(p, 'rb').read())
i = b.index(b'\nCID=') + 5
j = b.index(b'\n', i)
assert 1 <= j - i <= 8, b[i:j]
b[i:j] = b'badc1d0f'[: j - i]  # as many digits as the old CID: nothing moves
open(p, 'wb').write(b)
PY
      ;;
    *) echo "make-vmdk.sh: unknown case $c" >&2; exit 2 ;;
  esac
done
