#!/usr/bin/env python3
"""Seed corpora for the fuzz targets, made from the project's fixtures and generator.

    python3 fuzz/make-corpus.py      # writes fuzz/corpus/{vhd_open,vhd_chain,disk_inspect}/
"""
import gzip
import os
import struct
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "testdata"))
import vhdgen as g  # noqa: E402

out = os.path.join(here, "corpus")
tmp = os.path.join(out, ".tmp")
os.makedirs(tmp, exist_ok=True)
for t in ["vhd_open", "vhd_chain", "disk_inspect"]:
    os.makedirs(os.path.join(out, t), exist_ok=True)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def put(target, name, data):
    with open(os.path.join(out, target, name), "wb") as f:
        f.write(data)


# vhd_open: small images of every kind.
g._ids["name"] = "corpus"
size = 64 * 1024
img = g.Image(size, "c").fill(0, 2).fill(100, 3)
g.write_fixed(os.path.join(tmp, "fixed.vhd"), img, creator=b"vpc ")
g.write_fixed(os.path.join(tmp, "old.vhd"), img, old_511=True)
g.write_sparse(os.path.join(tmp, "dyn.vhd"), g.Image(1 << 20, "d").fill(0, 1).fill(1000, 2), block_size=4096)
for n in ["fixed", "old", "dyn"]:
    put("vhd_open", n + ".vhd", read(os.path.join(tmp, n + ".vhd")))

# vhd_chain: child -> parent -> base, small blocks, partial bitmaps; cut points up front.
base = g.Image(1 << 20, "b").fill(0, 8).fill(300, 5)
ft = g.write_sparse(os.path.join(tmp, "base.vhd"), base, block_size=4096)
par = g.Image(1 << 20, "p").fill(1, 2).zero(301, 1)
ft = g.write_sparse(os.path.join(tmp, "parent.vhd"), par, disk_type=g.DIFFERENCING, block_size=4096,
                    parent=(g.uid_of(ft), g.ts_of(ft), "base.vhd"), locators=[(b"W2ru", g.w2ru(".\\base.vhd"))])
ch = g.Image(1 << 20, "ch").fill(3, 1).fill(302, 2)
g.write_sparse(os.path.join(tmp, "child.vhd"), ch, disk_type=g.DIFFERENCING, block_size=4096,
               parent=(g.uid_of(ft), g.ts_of(ft), "parent.vhd"),
               locators=[(b"W2ru", g.w2ru(".\\parent.vhd")), (b"MacX", b"file:///nonexistent/parent.vhd")])
c, p, b = (read(os.path.join(tmp, n + ".vhd")) for n in ["child", "parent", "base"])
put("vhd_chain", "chain3", struct.pack("<II", len(c), len(c) + len(p)) + c + p + b)

# disk_inspect: the first MiB of each guest fixture (tables, superblocks, early metadata).
guest = os.path.join(here, "..", "testdata", "guest")
for f in sorted(os.listdir(guest)):
    if f.endswith(".img.gz"):
        with gzip.open(os.path.join(guest, f)) as z:
            put("disk_inspect", f[:-7], z.read(1 << 20))



# vhdx_open: images of testdata/vhdxgen.py in the target's compact form (file length in KiB,
# then offset/length/bytes patches of the non-zero 512-byte sectors below 8 MiB, 4 MiB for
# the differencing one; payload past
# that reads as zeros, which is enough to reach every structure).
def vhdx_seed(path, below=8 << 20):
    b = read(path)
    out = struct.pack("<I", (len(b) + 1023) // 1024)
    s = 0
    while s < min(len(b), below):
        if any(b[s:s + 512]):
            e = s + 512
            while e < min(len(b), below) and e - s < 32768 and any(b[e:e + 512]):
                e += 512
            out += struct.pack("<IH", s, e - s) + b[s:e]
            s = e
        else:
            s += 512
    return out


os.makedirs(os.path.join(out, "vhdx_open"), exist_ok=True)
import subprocess  # noqa: E402
subprocess.run([sys.executable, os.path.join(here, "..", "testdata", "vhdxgen.py"), tmp], check=True)
for n in ["dyn-1m", "fixed-1m", "sector-4k", "diff", "dirty-wrap", "bad-header1", "bad-log"]:
    put("vhdx_open", n, vhdx_seed(os.path.join(tmp, n + ".vhdx"), 4 << 20 if n == "diff" else 8 << 20))

for f in os.listdir(tmp):
    os.remove(os.path.join(tmp, f))
os.rmdir(tmp)
