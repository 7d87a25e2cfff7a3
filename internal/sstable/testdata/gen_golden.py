#!/usr/bin/python3
"""Regenerates the C++ LevelDB golden tables in this directory.

Run from anywhere with the system Python that has plyvel (C++ LevelDB 1.23):

    /usr/bin/python3 internal/sstable/testdata/gen_golden.py

For each configuration it writes a deterministic set of entries (puts,
overwrites of the same user key, deletions, small and large, compressible
and incompressible values, binary keys) into a fresh database, closes it and
reopens it: recovery replays the log and writes the memtable as one level-0
table, keeping every version and tombstone with its sequence number. That
.ldb file is copied here. The Go tests only read the checked-in files; they
re-read every entry, rebuild the table with Strata's writer under the same
options and compare bytes, and rebuild the filter block.

Configurations (the file name encodes them):
  cpp_none_b4096_r16_bloom10.ldb    no compression, 4 KiB blocks, restart 16, bloom 10
  cpp_snappy_b4096_r16_bloom10.ldb  snappy, 4 KiB blocks, restart 16, bloom 10
  cpp_none_b1024_r4_nofilter.ldb    no compression, 1 KiB blocks, restart 4, no filter

(LevelDB clips block_size to at least 1 KiB, so smaller blocks cannot be made.)
"""
import glob
import os
import random
import shutil
import tempfile

import plyvel

HERE = os.path.dirname(os.path.abspath(__file__))


def ops():
    """Yields ('put', key, value) / ('del', key) in a fixed order."""
    rnd = random.Random(20240601)
    words = [b"alpha", b"bravo", b"charlie", b"delta", b"echo", b"foxtrot"]
    for i in range(1000):
        key = b"key%06d" % (i * 7 % 1000)
        r = rnd.random()
        if r < 0.4:
            val = b" ".join(rnd.choice(words) for _ in range(rnd.randrange(0, 20)))
        elif r < 0.8:
            val = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 120)))
        elif r < 0.995:
            val = b"x" * rnd.randrange(0, 300)
        else:
            val = bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(5000, 9000)))
        yield ("put", key, val)
        if i % 11 == 0:
            yield ("put", key, b"second version of " + key)
        if i % 13 == 0:
            yield ("del", key)
    # Binary keys, including 0xff runs that exercise the separator/successor.
    for i in range(200):
        key = bytes([0xfe, i % 256]) + bytes([0xff]) * (i % 5) + b"%d" % i
        yield ("put", key, b"bin%d" % i)
    yield ("put", b"\xff\xff\xff", b"last")


def build(name, **opts):
    tmp = tempfile.mkdtemp()
    try:
        path = os.path.join(tmp, "db")
        db = plyvel.DB(path, create_if_missing=True, write_buffer_size=64 << 20, **opts)
        for op in ops():
            if op[0] == "put":
                db.put(op[1], op[2])
            else:
                db.delete(op[1])
        db.close()
        db = plyvel.DB(path, write_buffer_size=64 << 20, **opts)  # recovery flushes the log
        db.close()
        tables = glob.glob(os.path.join(path, "*.ldb"))
        assert len(tables) == 1, tables
        shutil.copyfile(tables[0], os.path.join(HERE, name))
    finally:
        shutil.rmtree(tmp)


build("cpp_none_b4096_r16_bloom10.ldb", compression=None, block_size=4096,
      block_restart_interval=16, bloom_filter_bits=10)
build("cpp_snappy_b4096_r16_bloom10.ldb", compression="snappy", block_size=4096,
      block_restart_interval=16, bloom_filter_bits=10)
build("cpp_none_b1024_r4_nofilter.ldb", compression=None, block_size=1024,
      block_restart_interval=4)
