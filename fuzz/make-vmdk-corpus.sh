#!/usr/bin/env bash
# Seeds for the vmdk_open fuzz target (fuzz/corpus/vmdk_open/), made with qemu-img, qemu-io,
# tar and testdata/make-vmdk.sh's stream-gd-at-end rewrite. Small disks (1 MiB, one or two
# grains of data) so each seed stays small. A descriptor seed is the descriptor, a line
# "#CUT", then its one extent file (see src/fuzzing.rs, vmdk_open).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/corpus/vmdk_open"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
cd "$tmp"
w() { qemu-io -f vmdk "$1" -c "write -P 0x5a 0 64k" -c "write -P 0xa5 512k 64k" >/dev/null; }
qemu-img create -q -f vmdk -o subformat=monolithicSparse,zeroed_grain=on sparse.vmdk 1M
w sparse.vmdk
qemu-io -f vmdk sparse.vmdk -c "write -z 256k 64k" >/dev/null
cp sparse.vmdk "$out/sparse.vmdk"
qemu-img create -q -f vmdk -o subformat=streamOptimized stream.vmdk 1M
w stream.vmdk
cp stream.vmdk "$out/stream.vmdk"
python3 - stream.vmdk "$out/stream-gd-at-end.vmdk" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
h = bytes(b[:512]); del b[-512:]
b += struct.pack('<QII', 1, 0, 3).ljust(512, b'\0') + h + bytes(512)
b[56:64] = struct.pack('<Q', 0xffffffffffffffff)
open(sys.argv[2], 'wb').write(b)
PY
# Descriptor + one extent: a flat one (4 KiB of data) and a sparse one.
printf '# Disk DescriptorFile\nversion=1\nCID=11111111\nparentCID=ffffffff\ncreateType="monolithicFlat"\nRW 8 FLAT "extent.vmdk" 0\nRDONLY 8 ZERO\nddb.geometry.cylinders = "1"\nddb.adapterType = "lsilogic"\n#CUT\n' > "$out/flat-descriptor"
head -c 4096 /dev/urandom >> "$out/flat-descriptor"
qemu-img create -q -f vmdk -o subformat=twoGbMaxExtentSparse split.vmdk 1M
w split.vmdk
sed 's/split-s001.vmdk/extent.vmdk/' split.vmdk | tr -d '\0' | sed 's/ *$//' > "$out/sparse-descriptor"
printf '#CUT\n' >> "$out/sparse-descriptor"
cat split-s001.vmdk >> "$out/sparse-descriptor"
# An OVA: a .ovf and the stream.
printf '<Envelope><References><File ovf:href="stream.vmdk"/></References></Envelope>\n' > vm.ovf
tar --format=ustar -cf "$out/vm.ova" vm.ovf stream.vmdk
ls -l "$out"
