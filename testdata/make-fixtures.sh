#!/usr/bin/env bash
# Makes the committed image fixtures under testdata/golden/ (the tests make the rest, large and
# small, at run time into temporary folders with the same tools).
#
#   testdata/vhdgen.py  writes VHDs straight from Microsoft's VHD specification, independently of
#                       imgtool's code, with the RAW bytes each must read as. It makes what
#                       qemu-img cannot: Hyper-V ("win "), Virtual PC ("vpc "), Disk2vhd,
#                       XenServer creators, 512 KiB blocks, differencing chains with partial
#                       sector bitmaps, 511-byte footers. Its output is deterministic (unique ids
#                       derive from the fixture's name) so the golden reports below stay put.
#   qemu-img create -f vpc   dynamic, fixed and force_size images (made by the tests themselves,
#                       since their ids and timestamps change every run).
#
# After changing a fixture, regenerate the golden reports:
#   IMGTOOL_BLESS=1 cargo test --release golden
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out="$here/golden"
mkdir -p "$out"
python3 "$here/vhdgen.py" "$out" small-dynamic small-chain
# The expected RAW bytes are what the tests compare with; they are large and mostly zero, so
# they are not committed: the tests regenerate them.
rm -f "$out"/*.raw

# The README's sample: the Debian 12 UEFI guest fixture (see make-guest-fixtures.sh) as a
# dynamic VHD, the way a user would bring it.
mkdir -p "$here/sample"
gunzip -c "$here/guest/uefi-x86_64.img.gz" > "$here/sample/.uefi.raw"
qemu-img convert -f raw -O vpc -o subformat=dynamic,force_size=on \
  "$here/sample/.uefi.raw" "$here/sample/debian-12-uefi.vhd"
rm -f "$here/sample/.uefi.raw"
