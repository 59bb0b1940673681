#!/usr/bin/env python3
"""Mark one symbol-version requirement of an ELF64 shared library weak (VER_FLG_WEAK).

    python3 patch_verneed_weak.py FILE.so [VERSION]      (VERSION defaults to GLIBCXX_3.4.32)

Walks the .gnu.version_r (SHT_GNU_verneed) section; for each Vernaux entry whose name is VERSION
it sets VER_FLG_WEAK (0x2) in vna_flags, in place. A weak version requirement that the needed
library does not provide is no longer fatal for the dynamic linker: the symbols that carry it are
bound to whatever definition the global scope has (here, the shim). Idempotent. It also lists the
dynamic symbols that need the version, so one can check that the shim covers all of them.
Patch only a copy (the build output), never the NuGet cache.
"""
import struct
import sys

SHT_DYNSYM = 11
SHT_GNU_VERNEED = 0x6FFFFFFE
SHT_GNU_VERSYM = 0x6FFFFFFF
VER_FLG_WEAK = 0x2


def cstr(data, off):
    return data[off:data.index(b"\0", off)].decode()


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    path = sys.argv[1]
    version = sys.argv[2] if len(sys.argv) == 3 else "GLIBCXX_3.4.32"
    with open(path, "rb") as f:
        data = bytearray(f.read())
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit(f"{path}: not a little-endian ELF64 file")

    e_shoff, = struct.unpack_from("<Q", data, 0x28)
    e_shentsize, e_shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = []
    for i in range(e_shnum):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, sh_addralign, sh_entsize
        sections.append(struct.unpack_from("<IIQQQQIIQQ", data, e_shoff + i * e_shentsize))

    verneed = [s for s in sections if s[1] == SHT_GNU_VERNEED]
    if not verneed:
        sys.exit(f"{path}: no .gnu.version_r section")
    _, _, _, _, vn_off, _, strndx, vn_num, _, _ = verneed[0]
    strtab = sections[strndx][4]

    patched, already, index = 0, 0, None
    off = vn_off
    for _ in range(vn_num):
        vn_version, vn_cnt, vn_file, vn_aux, vn_next = struct.unpack_from("<HHIII", data, off)
        aux = off + vn_aux
        for _ in range(vn_cnt):
            vna_hash, vna_flags, vna_other, vna_name, vna_next = struct.unpack_from("<IHHII", data, aux)
            if cstr(data, strtab + vna_name) == version:
                index = vna_other
                if vna_flags & VER_FLG_WEAK:
                    already += 1
                else:
                    struct.pack_into("<H", data, aux + 4, vna_flags | VER_FLG_WEAK)
                    patched += 1
                print(f"{path}: {version} needed from {cstr(data, strtab + vn_file)}, "
                      f"flags 0x{vna_flags:x} -> 0x{vna_flags | VER_FLG_WEAK:x}")
            aux += vna_next
        if vn_next == 0:
            break
        off += vn_next

    if index is None:
        print(f"{path}: no requirement of {version}; nothing to do")
        return

    # Which dynamic symbols carry that version (the shim must define all of them).
    versym = [s for s in sections if s[1] == SHT_GNU_VERSYM]
    dynsym = [s for s in sections if s[1] == SHT_DYNSYM]
    if versym and dynsym:
        ds = dynsym[0]
        dstr = sections[ds[6]][4]
        count = ds[5] // 24
        for i in range(count):
            if struct.unpack_from("<H", data, versym[0][4] + 2 * i)[0] & 0x7FFF == index:
                name_off, = struct.unpack_from("<I", data, ds[4] + 24 * i)
                print(f"  symbol needing {version}: {cstr(data, dstr + name_off)}")

    if patched:
        with open(path, "r+b") as f:
            f.write(data)
        print(f"{path}: marked {version} weak")
    else:
        print(f"{path}: {version} already weak")


if __name__ == "__main__":
    main()
