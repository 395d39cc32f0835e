#!/bin/sh
# Make the qcow2 test images into the folder $1 with qemu-img and qemu-io (QEMU 10.0.2 on the
# project's machines). Every image but the encrypted ones must read, through imgtool, byte for
# byte as `qemu-img convert -O raw` reads it; tests/it/qcow2_read.rs checks that.
#
# Names: <what>.qcow2; bases and data files have other extensions so the test can glob *.qcow2.
set -eu
out=$1
mkdir -p "$out"
cd "$out"
Q="qemu-img"
IO="qemu-io"
SIZE=16M

# Data at cluster-aligned and unaligned places, a zeroed range inside data, data at the end.
fill() {
	$IO -f qcow2 "$1" \
		-c "write -P 0x11 0 64k" \
		-c "write -P 0x22 1000k 4k" \
		-c "write -P 0x33 3m 1m" \
		-c "write -z 3200k 64k" \
		-c "write -P 0x44 7777k 3k" \
		-c "write -P 0x55 16380k 4k" >/dev/null
}

mk() { # name, options, [size]
	$Q create -q -f qcow2 -o "$2" "$1.qcow2" "${3:-$SIZE}"
	fill "$1.qcow2"
}

mk v2 compat=0.10
mk v3 compat=1.1
for c in 512 4k 64k 2M; do mk "cluster-$c" "cluster_size=$c"; done
for c in 16k 64k 2M; do
	mk "extl2-$c" "extended_l2=on,cluster_size=$c"
	# Subcluster-sized writes and zeroes inside an allocated cluster.
	$IO -f qcow2 "extl2-$c.qcow2" -c "write -P 0x66 5m 1k" -c "write -P 0x67 5124k 2k" \
		-c "write -z 5130k 512" -c "write -z 9m 1k" >/dev/null
done
for b in 1 2 4 8 16 32 64; do mk "refbits-$b" "refcount_bits=$b"; done
mk lazy lazy_refcounts=on
for p in metadata falloc full; do mk "prealloc-$p" "preallocation=$p"; done

# Compressed: from a patterned RAW file, with zlib and with zstd, and extended L2 compressed.
$Q create -q -f qcow2 src.tmp.qcow2 $SIZE
fill src.tmp.qcow2
$Q convert -O raw src.tmp.qcow2 pattern.raw
$Q convert -c -O qcow2 pattern.raw compressed-zlib.qcow2
$Q convert -c -O qcow2 -o compression_type=zstd pattern.raw compressed-zstd.qcow2
$Q convert -c -O qcow2 -o compression_type=zstd,cluster_size=4k pattern.raw compressed-zstd-4k.qcow2
$Q convert -c -O qcow2 -o cluster_size=2M pattern.raw compressed-zlib-2m.qcow2
$Q convert -c -O qcow2 -o extended_l2=on pattern.raw compressed-extl2.qcow2
rm -f src.tmp.qcow2

# Backing chains: qcow2 over qcow2 over qcow2, with writes and zeroes over the base's data.
$Q create -q -f qcow2 base.qcow2.base $SIZE
fill base.qcow2.base
$Q create -q -f qcow2 -b base.qcow2.base -F qcow2 mid.qcow2.mid
$IO -f qcow2 mid.qcow2.mid -c "write -P 0x77 2m 128k" -c "write -z 0 4k" >/dev/null
$Q create -q -f qcow2 -b mid.qcow2.mid -F qcow2 chain-qcow2.qcow2
$IO -f qcow2 chain-qcow2.qcow2 -c "write -P 0x88 2100k 8k" -c "write -z 3300k 64k" >/dev/null
# Extended L2 over a backing file: unallocated subclusters read from the base.
$Q create -q -f qcow2 -b base.qcow2.base -F qcow2 -o extended_l2=on chain-extl2.qcow2
$IO -f qcow2 chain-extl2.qcow2 -c "write -P 0x99 2m 2k" -c "write -z 3m 2k" >/dev/null
# RAW base, VHD base, and a base smaller than the disk.
$Q convert -O raw base.qcow2.base base.raw
$Q create -q -f qcow2 -b base.raw -F raw chain-raw.qcow2
$IO -f qcow2 chain-raw.qcow2 -c "write -P 0xaa 1m 64k" >/dev/null
$Q convert -O vpc base.qcow2.base base.vhd
$Q create -q -f qcow2 -b base.vhd -F vpc chain-vhd.qcow2 $SIZE
$IO -f qcow2 chain-vhd.qcow2 -c "write -P 0xab 1m 64k" >/dev/null
$Q create -q -f qcow2 -b base.raw -F raw chain-bigger.qcow2 24M
$IO -f qcow2 chain-bigger.qcow2 -c "write -P 0xac 20m 64k" >/dev/null

# An internal snapshot, then writes: the active layer is what is read.
mk snapshot compat=1.1
$Q snapshot -c first snapshot.qcow2
$IO -f qcow2 snapshot.qcow2 -c "write -P 0xbb 0 64k" -c "write -z 3m 128k" >/dev/null

# External data files (plain, and data_file_raw).
$Q create -q -f qcow2 -o data_file=datafile.data datafile.qcow2 $SIZE
fill datafile.qcow2
$Q create -q -f qcow2 -o data_file=datafile-raw.data,data_file_raw=on datafile-raw.qcow2 $SIZE
fill datafile-raw.qcow2

# Encrypted (refused by name): LUKS and the old AES.
$Q create -q -f qcow2 --object secret,id=s0,data=imgtool-test \
	-o encrypt.format=luks,encrypt.key-secret=s0,encrypt.iter-time=10 luks.qcow2.enc 1M
$Q create -q -f qcow2 --object secret,id=s0,data=imgtool-test \
	-o encrypt.format=aes,encrypt.key-secret=s0 aes.qcow2.enc 1M 2>/dev/null
