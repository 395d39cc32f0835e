#!/usr/bin/env python3
"""Makes VHDX test images into DIR, with qemu-img / qemu-io where they can and straight from
Microsoft's MS-VHDX specification where they cannot. Independent of imgtool's code.

    vhdxgen.py DIR

What it makes (each NAME.vhdx; where qemu-img is not a valid reference, NAME.expected.raw too):

  qemu-img create -f vhdx, data written by qemu-io:
    dyn-1m, dyn-32m, dyn-256m   dynamic, block_size 1, 32, 256 MiB (sizes not block multiples)
    (each qemu-made NAME.vhdx gets NAME.expected.raw from `qemu-img convert -O raw`)
    fixed-1m                    -o subformat=fixed
    log-4m                      -o log_size=4M
    zeros                       qemu-io `write -z` over allocated data (ZERO block states)
  qemu-img 10 has no option for the sector sizes (it always writes 512 logical, 4096 physical):
    sector-4k                   a copy of dyn-1m with the logical sector size item patched to
                                4096 (the disk is smaller than one chunk at either sector size,
                                so the BAT layout is the same); qemu-img 10 refuses to open it
                                (it reads only 512-byte logical sectors), so its expected RAW
                                is dyn-1m's
  qemu's VHDX driver cannot create differencing images, so these are built here from the spec:
    diff (+ base.vhdx)          a child of the qemu-made base.vhdx: blocks fully present,
                                partially present (with a sector bitmap), zero, unmapped, not
                                present; parent locator relative_path ".\\base.vhdx"; expected
                                RAW computed here from qemu's RAW of the base
    diff-badlink                the same, parent_linkage not the base's data write GUID
    diff-loop                   a child whose parent locator names itself
  a log that was never replayed (the file was not closed cleanly), appended to copies of
  dyn-1m; the reference is qemu-img's own replay (`qemu-img check -r all`) on a copy:
    dirty                       two entries: a BAT update (data descriptor) for a block whose
                                data was written past the old end, and a zero descriptor
    dirty-wrap                  the same, the first entry at the end of the log and the second
                                wrapping to its start
  damaged, each a copy of dyn-1m with one thing broken (CRCs recomputed unless the CRC is it):
    bad-header1                 header 1's checksum (header 2 still good: readable, a finding)
    bad-headers                 both headers' checksums
    bad-regions                 both region tables' checksums
    bad-blocksize               block size 3 MiB
    bad-sector                  logical sector size 1024
    bad-bat-eof                 a BAT entry pointing past the end of the file
    bad-required-region         an unknown region marked required
    bad-log                     dirty, with a data sector whose sequence number is wrong (CRC
                                recomputed, so the entry is valid and its content is damaged)
    bad-log-truncated           dirty, with FlushedFileOffset past the end of the file
"""
import os
import shutil
import struct
import subprocess
import sys
import uuid

MIB = 1 << 20

# CRC-32C (Castagnoli), reflected, table-driven.
_T = []
for i in range(256):
    c = i
    for _ in range(8):
        c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
    _T.append(c)


def crc32c(b):
    c = 0xFFFFFFFF
    for x in b:
        c = _T[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def with_crc(b, at=4):
    b = bytearray(b)
    b[at:at + 4] = b"\0\0\0\0"
    b[at:at + 4] = struct.pack("<I", crc32c(bytes(b)))
    return bytes(b)


def guid(text):
    return uuid.UUID(text).bytes_le


BAT_REGION = guid("2DC27766-F623-4200-9D64-115E9BFD4A08")
META_REGION = guid("8B7CA206-4790-4B9A-B8FE-575F050F886E")
FILE_PARAMS = guid("CAA16737-FA36-4D43-B3B6-33F0AA44E76B")
VDISK_SIZE = guid("2FA54224-CD1B-4876-B211-5DBED83BF4B8")
PAGE83 = guid("BECA12AB-B2E6-4523-93EF-C309E000C746")
LOGICAL = guid("8141BF1D-A96F-4709-BA47-F233A8FAAB5F")
PHYSICAL = guid("CDA348C7-445D-4471-9CC9-E9885251C556")
PARENT_LOC = guid("A8D35F2D-B30B-454D-ABF7-D3D84834AB0C")
PARENT_TYPE = guid("B04AEFB7-D19E-4A81-B789-25B8E9445913")


def run(*args):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)


def qemu_io(path, *cmds):
    args = ["qemu-io", "-f", "vhdx"]
    for c in cmds:
        args += ["-c", c]
    run(*args, path)


class Vhdx:
    """The parts of a VHDX file this script patches, parsed from the spec."""

    def __init__(self, path):
        self.path = path
        self.b = bytearray(open(path, "rb").read())
        seqs = [struct.unpack_from("<Q", self.b, o + 8)[0] for o in (64 << 10, 128 << 10)]
        self.hdr = (64 << 10) if seqs[0] >= seqs[1] else (128 << 10)
        rt = 192 << 10
        n = struct.unpack_from("<I", self.b, rt + 8)[0]
        for i in range(n):
            e = rt + 16 + 32 * i
            g = bytes(self.b[e:e + 16])
            off, ln = struct.unpack_from("<QI", self.b, e + 16)
            if g == BAT_REGION:
                self.bat = off
            if g == META_REGION:
                self.meta = off
        self.items = {}
        cnt = struct.unpack_from("<H", self.b, self.meta + 10)[0]
        for i in range(cnt):
            e = self.meta + 32 + 32 * i
            g = bytes(self.b[e:e + 16])
            off, ln = struct.unpack_from("<II", self.b, e + 16)
            self.items[g] = self.meta + off
        self.log_offset = struct.unpack_from("<Q", self.b, self.hdr + 72)[0]
        self.log_length = struct.unpack_from("<I", self.b, self.hdr + 68)[0]

    def data_write_guid(self):
        return bytes(self.b[self.hdr + 32:self.hdr + 48])

    def set_header(self, at, **kw):
        if "sequence" in kw:
            struct.pack_into("<Q", self.b, at + 8, kw["sequence"])
        if "log_guid" in kw:
            self.b[at + 48:at + 64] = kw["log_guid"]
        self.b[at:at + 4096] = with_crc(self.b[at:at + 4096])

    def save(self, path):
        open(path, "wb").write(self.b)


def qemu_raw(path, out):
    run("qemu-img", "convert", "-f", "vhdx", "-O", "raw", path, out)


def make_qemu(d):
    def create(name, size, *opts):
        p = os.path.join(d, name + ".vhdx")
        run("qemu-img", "create", "-f", "vhdx", *sum((["-o", o] for o in opts), []), p, size)
        return p

    p = create("dyn-1m", "64M", "block_size=1M")
    qemu_io(p, "write -P 0xab 1M 1M", "write -P 0x11 5000k 7k", "write -P 0x22 63M 1M",
            "write -P 0x33 10239k 2k")
    p = create("dyn-32m", "100M", "block_size=32M")
    qemu_io(p, "write -P 0x44 0 4k", "write -P 0x55 31M 2M", "write -P 0x66 99M 1M")
    p = create("dyn-256m", "300M", "block_size=256M")
    qemu_io(p, "write -P 0x77 255M 2M", "write -P 0x88 299M 512")
    p = create("fixed-1m", "16M", "block_size=1M", "subformat=fixed")
    qemu_io(p, "write -P 0x99 3M 5k")
    p = create("log-4m", "8M", "log_size=4M")
    qemu_io(p, "write -P 0xaa 2M 1k")
    p = create("zeros", "16M", "block_size=1M")
    qemu_io(p, "write -P 0xbb 0 8M", "write -z 2M 2M", "write -z 5000k 4k")
    # 4096-byte logical sectors: patched (see the docstring).
    v = Vhdx(os.path.join(d, "dyn-1m.vhdx"))
    struct.pack_into("<I", v.b, v.items[LOGICAL], 4096)
    v.save(os.path.join(d, "sector-4k.vhdx"))
    for name in ("dyn-1m", "dyn-32m", "dyn-256m", "fixed-1m", "log-4m", "zeros"):
        qemu_raw(os.path.join(d, name + ".vhdx"), os.path.join(d, name + ".expected.raw"))
    # qemu-img refuses 4096-byte logical sectors ("Operation not supported"); the patched copy
    # holds the same blocks at the same places, so it must read as dyn-1m does.
    shutil.copy(os.path.join(d, "dyn-1m.expected.raw"), os.path.join(d, "sector-4k.expected.raw"))


def build_child(d, name, base, linkage=None, rel=".\\base.vhdx"):
    """A differencing VHDX (1 MiB blocks, 512-byte sectors) over `base`, with its expected RAW."""
    size = 64 * MIB
    f = bytearray(7 * MIB)
    f[0:8] = b"vhdxfile"
    f[8:8 + 20] = "vhdxgen.py".encode("utf-16-le")
    me = uuid.uuid5(uuid.NAMESPACE_URL, "imgtool-vhdxgen-" + name)
    for at, seq in ((64 << 10, 1), (128 << 10, 2)):
        h = bytearray(4096)
        h[0:4] = b"head"
        struct.pack_into("<Q", h, 8, seq)
        h[16:32] = me.bytes_le
        h[32:48] = me.bytes_le
        struct.pack_into("<HHIQ", h, 64, 0, 1, MIB, MIB)
        f[at:at + 4096] = with_crc(h)
    rt = bytearray(64 << 10)
    rt[0:4] = b"regi"
    struct.pack_into("<I", rt, 8, 2)
    rt[16:32] = BAT_REGION
    struct.pack_into("<QII", rt, 32, 3 * MIB, MIB, 1)
    rt[48:64] = META_REGION
    struct.pack_into("<QII", rt, 64, 2 * MIB, MIB, 1)
    rt = with_crc(rt)
    f[192 << 10:256 << 10] = rt
    f[256 << 10:320 << 10] = rt
    # Metadata: table, then items from 64 KiB.
    m = 2 * MIB
    f[m:m + 8] = b"metadata"
    items = []
    loc_pairs = [
        ("parent_linkage", "{%s}" % (linkage or base.data_write_guid_text)),
        ("relative_path", rel),
        ("absolute_win32_path", "C:\\vms\\" + rel.split("\\")[-1]),
    ]
    kv = b""
    entries = b""
    off = 20 + 12 * len(loc_pairs)
    for k, v in loc_pairs:
        kb, vb = k.encode("utf-16-le"), v.encode("utf-16-le")
        entries += struct.pack("<IIHH", off, off + len(kb), len(kb), len(vb))
        kv += kb + vb
        off += len(kb) + len(vb)
    loc = PARENT_TYPE + struct.pack("<HH", 0, len(loc_pairs)) + entries + kv
    items = [
        (FILE_PARAMS, struct.pack("<II", MIB, 2), 4),
        (VDISK_SIZE, struct.pack("<Q", size), 6),
        (PAGE83, me.bytes_le, 6),
        (LOGICAL, struct.pack("<I", 512), 6),
        (PHYSICAL, struct.pack("<I", 4096), 6),
        (PARENT_LOC, loc, 4),
    ]
    struct.pack_into("<H", f, m + 10, len(items))
    at = 64 << 10
    for i, (g, data, flags) in enumerate(items):
        e = m + 32 + 32 * i
        f[e:e + 16] = g
        struct.pack_into("<III", f, e + 16, at, len(data), flags)
        f[m + at:m + at + len(data)] = data
        at += (len(data) + 7) // 8 * 8
    # BAT: chunk ratio 4096; 64 payload entries then, at 4096, the chunk's sector bitmap.
    bat = 3 * MIB

    def entry(block, state, off_mb=0):
        struct.pack_into("<Q", f, bat + 8 * block, state | (off_mb << 20))

    want = bytearray(open(base.raw, "rb").read())
    # Block 0: fully present at 4 MiB.
    entry(0, 6, 4)
    blk = bytes((i * 7 + 3) & 0xFF for i in range(MIB))
    f[4 * MIB:5 * MIB] = blk
    want[0:MIB] = blk
    # Block 1: partially present at 5 MiB; sectors 3..9 and 100 and 2040..2047 from the child.
    entry(1, 7, 5)
    struct.pack_into("<Q", f, bat + 8 * 4096, 6 | (6 << 20))
    blk = bytes((i * 13 + 5) & 0xFF for i in range(MIB))
    f[5 * MIB:6 * MIB] = blk
    for s in list(range(3, 10)) + [100] + list(range(2040, 2048)):
        sector = 2048 + s  # virtual sector (block 1 starts at sector 2048)
        f[6 * MIB + sector // 8] |= 1 << (sector % 8)
        want[MIB + s * 512:MIB + (s + 1) * 512] = blk[s * 512:(s + 1) * 512]
    # Block 2 zero, block 5 unmapped: zeros whatever the parent holds; block 3 not present.
    entry(2, 2)
    want[2 * MIB:3 * MIB] = bytes(MIB)
    entry(5, 3)
    want[5 * MIB:6 * MIB] = bytes(MIB)
    p = os.path.join(d, name + ".vhdx")
    open(p, "wb").write(f)
    open(os.path.join(d, name + ".expected.raw"), "wb").write(want)


class Base:
    pass


def make_diff(d):
    p = os.path.join(d, "base.vhdx")
    run("qemu-img", "create", "-f", "vhdx", "-o", "block_size=1M", p, "64M")
    qemu_io(p, "write -P 0xc1 0 4M", "write -P 0xc2 5M 2M", "write -P 0xc3 40M 1M")
    b = Base()
    b.raw = os.path.join(d, "base.qemu.raw")
    qemu_raw(p, b.raw)
    b.data_write_guid_text = str(uuid.UUID(bytes_le=Vhdx(p).data_write_guid()))
    build_child(d, "diff", b)
    build_child(d, "diff-badlink", b, linkage="01234567-89ab-cdef-0123-456789abcdef")
    me = uuid.uuid5(uuid.NAMESPACE_URL, "imgtool-vhdxgen-diff-loop")
    build_child(d, "diff-loop", b, linkage=str(me), rel=".\\diff-loop.vhdx")
    os.remove(os.path.join(d, "diff-badlink.expected.raw"))
    os.remove(os.path.join(d, "diff-loop.expected.raw"))


def log_entry(seq, tail, log_guid, descs, flushed, last):
    """One log entry: descs are ("data", file_offset, 4096 bytes) or ("zero", file_offset, n)."""
    n = len(descs)
    desc_sectors = (n + 2 + 127) // 128
    datas = [x for x in descs if x[0] == "data"]
    length = (desc_sectors + len(datas)) * 4096
    e = bytearray(length)
    e[0:4] = b"loge"
    struct.pack_into("<IIQII", e, 8, length, tail, seq, n, 0)
    e[32:48] = log_guid
    struct.pack_into("<QQ", e, 48, flushed, last)
    di = desc_sectors
    for i, (kind, off, x) in enumerate(descs):
        o = 64 + 32 * i
        if kind == "zero":
            e[o:o + 4] = b"zero"
            struct.pack_into("<IQQQ", e, o + 4, 0, x, off, seq)
        else:
            e[o:o + 4] = b"desc"
            struct.pack_into("<I", e, o + 4, struct.unpack_from("<I", x, 4092)[0])
            e[o + 8:o + 16] = x[0:8]
            struct.pack_into("<QQ", e, o + 16, off, seq)
            s = di * 4096
            e[s:s + 4] = b"data"
            struct.pack_into("<I", e, s + 4, seq >> 32)
            e[s + 8:s + 4092] = x[8:4092]
            struct.pack_into("<I", e, s + 4092, seq & 0xFFFFFFFF)
            di += 1
    return e


def make_dirty(d, name, wrap=False, damage=None):
    v = Vhdx(os.path.join(d, "dyn-1m.vhdx"))
    # Block 20 is not present in dyn-1m: give it data past the old end, as Hyper-V writes a
    # block's data before it logs the BAT update that points to it.
    old = (len(v.b) + MIB - 1) // MIB * MIB
    v.b += bytes(old - len(v.b))
    v.b += bytes((i * 5 + 1) & 0xFF for i in range(MIB))
    new_len = len(v.b)
    block = 20
    idx = block + block // 4096
    sector_at = v.bat + (idx * 8) // 4096 * 4096
    sec = bytearray(v.b[sector_at:sector_at + 4096])
    struct.pack_into("<Q", sec, (idx * 8) % 4096, 6 | ((old // MIB) << 20))
    log_guid = uuid.uuid5(uuid.NAMESPACE_URL, "imgtool-vhdxgen-log-" + name).bytes_le
    flushed = new_len + (4 * MIB if damage == "truncated" else 0)
    e1 = log_entry(7, 0, log_guid, [("data", sector_at, bytes(sec))], flushed, new_len)
    # The second entry zeroes 8 KiB of the new block.
    e2 = log_entry(8, 0, log_guid, [("zero", old + 4096, 8192)], new_len, new_len)
    if damage == "data-seq":
        struct.pack_into("<I", e1, 4096 + 4092, 99)
    e1, e2 = with_crc(e1), with_crc(e2)
    lo, ll = v.log_offset, v.log_length
    log = bytearray(v.b[lo:lo + ll])
    if wrap:
        start = ll - len(e1) - 4096  # e1 ends one sector before the end; e2 wraps
        e1 = bytearray(e1)
        struct.pack_into("<I", e1, 12, start)
        e2 = bytearray(e2)
        struct.pack_into("<I", e2, 12, start)
        e1, e2 = with_crc(e1), with_crc(e2)
        both = e1 + e2
        for i, x in enumerate(both):
            log[(start + i) % ll] = x
    else:
        log[0:len(e1) + len(e2)] = e1 + e2
    v.b[lo:lo + ll] = log
    v.set_header(v.hdr, log_guid=log_guid)
    p = os.path.join(d, name + ".vhdx")
    v.save(p)
    if damage is None:
        # qemu-img reads a dirty VHDX only after replaying its log into the file: on a copy.
        c = os.path.join(d, name + ".replayed.vhdx")
        shutil.copy(p, c)
        subprocess.run(["qemu-img", "check", "-r", "all", "-f", "vhdx", c],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        qemu_raw(c, os.path.join(d, name + ".expected.raw"))
        os.remove(c)


def make_damaged(d):
    src = os.path.join(d, "dyn-1m.vhdx")

    def variant(name, patch):
        v = Vhdx(src)
        patch(v)
        v.save(os.path.join(d, name + ".vhdx"))

    def bad_header(v, at):
        struct.pack_into("<I", v.b, at + 4, struct.unpack_from("<I", v.b, at + 4)[0] ^ 1)

    variant("bad-header1", lambda v: bad_header(v, 64 << 10))
    variant("bad-headers", lambda v: (bad_header(v, 64 << 10), bad_header(v, 128 << 10)))
    variant("bad-regions", lambda v: (bad_header(v, 192 << 10), bad_header(v, 256 << 10)))
    variant("bad-blocksize", lambda v: struct.pack_into("<I", v.b, v.items[FILE_PARAMS], 3 * MIB))
    variant("bad-sector", lambda v: struct.pack_into("<I", v.b, v.items[LOGICAL], 1024))

    def past_eof(v):
        struct.pack_into("<Q", v.b, v.bat + 8 * 30, 6 | ((len(v.b) // MIB + 10) << 20))

    variant("bad-bat-eof", past_eof)

    def required_region(v):
        for rt in (192 << 10, 256 << 10):
            n = struct.unpack_from("<I", v.b, rt + 8)[0]
            e = rt + 16 + 32 * n
            v.b[e:e + 16] = guid("11111111-2222-3333-4444-555555555555")
            struct.pack_into("<QII", v.b, e + 16, 60 * MIB, MIB, 1)
            struct.pack_into("<I", v.b, rt + 8, n + 1)
            v.b[rt:rt + (64 << 10)] = with_crc(v.b[rt:rt + (64 << 10)])

    variant("bad-required-region", required_region)


def main():
    d = sys.argv[1]
    os.makedirs(d, exist_ok=True)
    make_qemu(d)
    make_diff(d)
    make_dirty(d, "dirty")
    make_dirty(d, "dirty-wrap", wrap=True)
    make_dirty(d, "bad-log", damage="data-seq")
    make_dirty(d, "bad-log-truncated", damage="truncated")
    make_damaged(d)


if __name__ == "__main__":
    main()
