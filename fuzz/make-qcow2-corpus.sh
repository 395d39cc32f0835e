#!/bin/sh
# Seeds for the qcow2_open fuzz target: small qcow2 files made by qemu-img / qemu-io (512-byte
# clusters keep them a few KiB), one per structure the reader takes apart.
set -eu
out=$(dirname "$0")/corpus/qcow2_open
mkdir -p "$out"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
w() { qemu-io -f qcow2 "$1" -c "write -P 0x5a 0 1k" -c "write -z 2k 1k" -c "write -P 0x33 7k 512" >/dev/null; }
qemu-img create -q -f qcow2 -o compat=0.10,cluster_size=512 "$out/v2-512.qcow2" 8k; w "$out/v2-512.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=512,refcount_bits=2 "$out/v3-512-ref2.qcow2" 8k; w "$out/v3-512-ref2.qcow2"
qemu-img snapshot -c s1 "$out/v3-512-ref2.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=512 "$t/src.qcow2" 8k; w "$t/src.qcow2"
qemu-img convert -c -O qcow2 -o cluster_size=512 "$t/src.qcow2" "$out/zlib-512.qcow2"
qemu-img convert -c -O qcow2 -o cluster_size=512,compression_type=zstd "$t/src.qcow2" "$out/zstd-512.qcow2"
qemu-img create -q -f qcow2 -o cluster_size=16k,extended_l2=on "$out/extl2-16k.qcow2" 64k
qemu-io -f qcow2 "$out/extl2-16k.qcow2" -c "write -P 0x11 0 1k" -c "write -z 4k 2k" >/dev/null
