#!/usr/bin/env python3
"""Write VHD images straight from Microsoft's VHD specification (v1.0, 2006), independently of
imgtool's Rust code, together with the RAW bytes each image must read as.

Used by the tests (to build images qemu-img cannot make: Hyper-V, Virtual PC, Disk2vhd and
XenServer creators, 512 KiB blocks, differencing chains with partial sector bitmaps, 511-byte
footers, and malformed ones) and by `make-fixtures.sh`.

    python3 testdata/vhdgen.py DIR          # write every named fixture into DIR
    python3 testdata/vhdgen.py DIR NAME...  # only those

Each NAME.vhd comes with NAME.raw: the virtual disk's expected bytes (sparse where zero). For a
chain, the parents are written beside it (NAME.parent.vhd, NAME.grandparent.vhd).
"""
import os
import struct
import sys
import uuid as uuidlib

SECTOR = 512
VHD_EPOCH = 946684800
FIXED, DYNAMIC, DIFFERENCING = 2, 3, 4


def checksum(b, at):
    """Ones' complement of the byte sum, with the 4 checksum bytes at `at` counted as zero."""
    s = sum(b[:at]) + sum(b[at + 4:])
    return (~s) & 0xFFFFFFFF


def chs(total_sectors):
    """Appendix of the spec: CHS from a sector count."""
    ts = min(total_sectors, 65535 * 16 * 255)
    if ts >= 65535 * 16 * 63:
        spt, heads = 255, 16
        cth = ts // spt
    else:
        spt = 17
        cth = ts // spt
        heads = max((cth + 1023) // 1024, 4)
        if cth >= heads * 1024 or heads > 16:
            spt, heads = 31, 16
            cth = ts // spt
        if cth >= heads * 1024:
            spt, heads = 63, 16
            cth = ts // spt
    return cth // heads, heads, spt


# Unique ids are derived from the fixture's name and a counter, so every run writes the same
# bytes (golden outputs depend on it) while each file of a chain still gets its own id.
_ids = {"name": "", "n": 0}


def next_uid():
    _ids["n"] += 1
    return uuidlib.uuid5(uuidlib.NAMESPACE_URL, "imgtool-fixture:%s:%d" % (_ids["name"], _ids["n"])).bytes


def footer(disk_type, current_size, creator=b"win ", host=b"Wi2k", geometry=None,
           data_offset=0xFFFFFFFFFFFFFFFF, uid=None, timestamp=700000000, original_size=None,
           features=2, version=0x00010000, creator_version=0x000A0000, saved_state=0):
    if geometry is None:
        geometry = chs(current_size // SECTOR)
    c, h, s = geometry
    b = bytearray(512)
    b[0:8] = b"conectix"
    struct.pack_into(">I", b, 8, features)
    struct.pack_into(">I", b, 12, version)
    struct.pack_into(">Q", b, 16, data_offset)
    struct.pack_into(">I", b, 24, timestamp)
    b[28:32] = creator
    struct.pack_into(">I", b, 32, creator_version)
    b[36:40] = host
    struct.pack_into(">Q", b, 40, current_size if original_size is None else original_size)
    struct.pack_into(">Q", b, 48, current_size)
    struct.pack_into(">HBB", b, 56, c, h, s)
    struct.pack_into(">I", b, 60, disk_type)
    b[68:84] = uid or next_uid()
    b[84] = saved_state
    struct.pack_into(">I", b, 64, checksum(b, 64))
    return bytes(b)


def pattern(tag, sector):
    """512 deterministic, non-zero bytes that name the file and the sector they belong to."""
    head = ("%s:%08d:" % (tag, sector)).encode()
    return (head * (SECTOR // len(head) + 1))[:SECTOR]


class Image:
    """A virtual disk being described: which sectors hold what, in this file."""

    def __init__(self, size, tag):
        self.size = size
        self.tag = tag
        self.sectors = {}  # sector -> 512 bytes defined by this file

    def fill(self, start_sector, count):
        for s in range(start_sector, start_sector + count):
            self.sectors[s] = pattern(self.tag, s)
        return self

    def zero(self, start_sector, count):
        """Sectors this file defines as zeros (bit set, data zero)."""
        for s in range(start_sector, start_sector + count):
            self.sectors[s] = bytes(SECTOR)
        return self


def write_fixed(path, img, old_511=False, **kw):
    ft = footer(FIXED, img.size, **kw)
    with open(path, "wb") as f:
        f.truncate(img.size)
        for s, d in sorted(img.sectors.items()):
            f.seek(s * SECTOR)
            f.write(d)
        f.seek(img.size)
        f.write(ft[:511] if old_511 else ft)
    return ft


def write_sparse(path, img, disk_type=DYNAMIC, block_size=2 << 20, parent=None, locators=(),
                 full_bitmaps=None, **kw):
    """Dynamic or differencing disk. `parent` = (uid bytes, timestamp, name). `locators` =
    [(code, bytes)]. Blocks holding any defined sector are allocated; their bitmaps have the
    defined sectors' bits set (all bits for a dynamic disk unless full_bitmaps is False)."""
    spb = block_size // SECTOR
    nblocks = (img.size + block_size - 1) // block_size
    bitmap_size = ((spb + 7) // 8 + 511) // 512 * 512
    table_offset = 512 + 1024
    table_bytes = (nblocks * 4 + 511) // 512 * 512
    pos = table_offset + table_bytes
    loc_entries = []
    loc_data = []
    for code, data in locators:
        space = (len(data) + 511) // 512
        loc_entries.append((code, space, len(data), pos))
        loc_data.append((pos, data))
        pos += space * 512
    if full_bitmaps is None:
        full_bitmaps = disk_type == DYNAMIC
    blocks = sorted({s // spb for s in img.sectors})
    bat = [0xFFFFFFFF] * nblocks
    ft = footer(disk_type, img.size, data_offset=512, **kw)
    with open(path, "wb") as f:
        f.write(ft)
        for b in blocks:
            bat[b] = pos // SECTOR
            bitmap = bytearray(bitmap_size)
            for i in range(spb):
                s = b * spb + i
                if full_bitmaps or s in img.sectors:
                    bitmap[i // 8] |= 0x80 >> (i % 8)
            f.seek(pos)
            f.write(bitmap)
            for i in range(spb):
                s = b * spb + i
                if s in img.sectors:
                    f.seek(pos + bitmap_size + i * SECTOR)
                    f.write(img.sectors[s])
            pos += bitmap_size + block_size
        h = bytearray(1024)
        h[0:8] = b"cxsparse"
        struct.pack_into(">Q", h, 8, 0xFFFFFFFFFFFFFFFF)
        struct.pack_into(">Q", h, 16, table_offset)
        struct.pack_into(">I", h, 24, 0x00010000)
        struct.pack_into(">I", h, 28, nblocks)
        struct.pack_into(">I", h, 32, block_size)
        if parent:
            puid, pts, pname = parent
            h[40:56] = puid
            struct.pack_into(">I", h, 56, pts)
            name = pname.encode("utf-16-be")[:512]
            h[64:64 + len(name)] = name
        for i, (code, space, length, off) in enumerate(loc_entries):
            struct.pack_into(">4sIIIQ", h, 576 + 24 * i, code, space, length, 0, off)
        struct.pack_into(">I", h, 36, checksum(h, 36))
        f.seek(512)
        f.write(h)
        f.seek(table_offset)
        f.write(b"".join(struct.pack(">I", e) for e in bat).ljust(table_bytes, b"\xff"))
        for off, data in loc_data:
            f.seek(off)
            f.write(data)
        f.seek(pos)
        f.write(ft)
    return ft


def write_raw(path, size, layers):
    """Expected bytes: for each sector the first layer (child first) that defines it."""
    with open(path, "wb") as f:
        f.truncate(size)
        merged = {}
        for img in reversed(layers):
            merged.update({s: d for s, d in img.sectors.items() if s * SECTOR < size})
        for s, d in sorted(merged.items()):
            f.seek(s * SECTOR)
            f.write(d)


def uid_of(ft):
    return ft[68:84]


def ts_of(ft):
    return struct.unpack_from(">I", ft, 24)[0]


def w2ru(name):
    return name.encode("utf-16-le")


MiB = 1 << 20


def make(d, name):
    p = lambda suffix: os.path.join(d, name + suffix)
    _ids["name"], _ids["n"] = name, 0
    if name == "hyperv":
        # Hyper-V: creator "win ", current size not CHS-aligned (CHS covers less).
        img = Image(100 * MiB + 3 * SECTOR, "hyperv").fill(0, 8).fill(4096, 5).fill(204800 - 8, 11)
        write_sparse(p(".vhd"), img, creator=b"win ", creator_version=0x000A0000)
        write_raw(p(".raw"), img.size, [img])
    elif name == "vpc-chs":
        # Virtual PC: creator "vpc ", geometry smaller than the current size; size = CHS.
        size = 20 * MiB
        geo = chs(size // SECTOR)
        vsize = geo[0] * geo[1] * geo[2] * SECTOR
        img = Image(size, "vpc").fill(0, 4).fill(vsize // SECTOR - 2, 2)
        write_fixed(p(".vhd"), img, creator=b"vpc ", host=b"Wi2k", creator_version=0x00050003)
        write_raw(p(".raw"), vsize, [img])
    elif name == "d2v":
        img = Image(64 * MiB + 7 * SECTOR, "d2v").fill(1, 3).fill(70000, 64)
        write_sparse(p(".vhd"), img, creator=b"d2v\0", block_size=2 * MiB)
        write_raw(p(".raw"), img.size, [img])
    elif name == "xen512k":
        # XenServer: "tap\0", 512 KiB blocks.
        img = Image(48 * MiB, "xen").fill(0, 1).fill(1024, 1024).fill(98303, 1)
        write_sparse(p(".vhd"), img, creator=b"tap\0", host=b"Lnux" if False else b"Wi2k",
                     block_size=512 * 1024)
        write_raw(p(".raw"), img.size, [img])
    elif name == "old511":
        img = Image(4 * MiB, "old").fill(0, 2).fill(8000, 3)
        write_fixed(p(".vhd"), img, old_511=True, creator=b"vs  ")
        write_raw(p(".raw"), img.size, [img])
    elif name in ("chain2", "chain3"):
        size = 16 * MiB + 5 * SECTOR
        base = Image(size, "base").fill(0, 64).fill(4096, 4096).fill(size // SECTOR - 5, 5)
        ft = write_sparse(p(".base.vhd"), base, creator=b"win ")
        layers = [base]
        parent_file, parent_ft = name + ".base.vhd", ft
        levels = [("mid", 1)] if name == "chain2" else [("mid", 1), ("top", 2)]
        for tag, lvl in levels:
            img = Image(size, tag)
            # Partial bitmaps: odd sectors of the first block, a run across a block boundary,
            # zeros that shadow parent data, and a block the parent does not have.
            for s in range(1, 64, 2 + lvl):
                img.fill(s, 1)
            img.fill(4096 - 3 * lvl, 10).zero(4200 + lvl, 7).fill(12000 + lvl, 9)
            out = p(".vhd") if tag == levels[-1][0] else p(".%s.vhd" % tag)
            locs = [(b"W2ru", w2ru(".\\" + parent_file)),
                    (b"W2ku", w2ru("C:\\Hyper-V\\" + parent_file))]
            ft = write_sparse(out, img, disk_type=DIFFERENCING, creator=b"win ",
                              parent=(uid_of(parent_ft), ts_of(parent_ft), parent_file),
                              locators=locs)
            layers.insert(0, img)
            parent_file, parent_ft = os.path.basename(out), ft
        write_raw(p(".raw"), size, layers)
    elif name == "macx":
        size = 8 * MiB
        base = Image(size, "mbase").fill(0, 100)
        ft = write_sparse(p(".base.vhd"), base, creator=b"vpc ", host=b"Mac ",
                          geometry=chs(size // SECTOR))
        # The geometry rounds down; "vpc " creators are sized by it.
        c, h, s = chs(size // SECTOR)
        vsize = c * h * s * SECTOR
        child = Image(size, "mchild").fill(50, 10)
        url = ("file://localhost" + os.path.abspath(p(".base.vhd")).replace(" ", "%20")).encode()
        write_sparse(p(".vhd"), child, disk_type=DIFFERENCING, creator=b"vpc ", host=b"Mac ",
                     parent=(uid_of(ft), ts_of(ft), "ignored-name.vhd"), locators=[(b"MacX", url)])
        write_raw(p(".raw"), vsize, [child, base])
    elif name == "small-dynamic":
        # Committed golden fixture: Hyper-V style, 8 MiB + 3 sectors, 512 KiB blocks.
        img = Image(8 * MiB + 3 * SECTOR, "small").fill(0, 3).fill(2000, 20).fill(16386, 1)
        write_sparse(p(".vhd"), img, creator=b"win ", block_size=512 * 1024)
        write_raw(p(".raw"), img.size, [img])
    elif name == "small-chain":
        # Committed golden fixture: a differencing disk over a dynamic one, 512 KiB blocks.
        size = 4 * MiB
        base = Image(size, "sbase").fill(0, 8).fill(1500, 100)
        ft = write_sparse(p(".base.vhd"), base, creator=b"win ", block_size=512 * 1024)
        child = Image(size, "schild").fill(3, 2).fill(1510, 4).zero(1520, 2)
        write_sparse(p(".vhd"), child, disk_type=DIFFERENCING, creator=b"win ", block_size=512 * 1024,
                     parent=(uid_of(ft), ts_of(ft), name + ".base.vhd"),
                     locators=[(b"W2ru", w2ru(".\\" + name + ".base.vhd")),
                               (b"W2ku", w2ru("D:\\VMs\\" + name + ".base.vhd"))])
        write_raw(p(".raw"), size, [child, base])
    elif name.startswith("deep"):
        # deepN: a chain of N differencing disks over a base, 1 MiB, no data: for depth limits.
        depth = int(name[4:])
        size = 1 * MiB
        ft = write_sparse(p(".0.vhd"), Image(size, "d0"), creator=b"win ")
        for i in range(1, depth + 1):
            pname = "%s.%d.vhd" % (name, i - 1)
            out = p(".vhd") if i == depth else p(".%d.vhd" % i)
            ft = write_sparse(out, Image(size, "d%d" % i), disk_type=DIFFERENCING, creator=b"win ",
                              parent=(uid_of(ft), ts_of(ft), pname), locators=[(b"W2ru", w2ru(pname))])
    else:
        raise SystemExit("unknown fixture " + name)


ALL = ["hyperv", "vpc-chs", "d2v", "xen512k", "old511", "chain2", "chain3", "macx"]

if __name__ == "__main__":
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for n in sys.argv[2:] or ALL:
        make(out, n)
