#!/usr/bin/python3
"""Regenerates the C++ LevelDB MANIFEST fixtures used by version_edit_test.go.

Run with the system Python (C++ LevelDB 1.23 via plyvel):
    /usr/bin/python3 gen_cpp_manifests.py .
It writes cpp-session.manifest (the MANIFEST of a first session: flushes, a
manual compaction, compact pointers, deleted files) and cpp-reopen.manifest
(the MANIFEST written on reopen: a full snapshot record, then an edit). Both
are small enough that every record sits in the first 32 KiB log block.
"""
import os, shutil, sys, tempfile, plyvel

out = sys.argv[1]
tmp = tempfile.mkdtemp()
d = os.path.join(tmp, "db")

def manifest(path):
    with open(os.path.join(path, "CURRENT")) as f:
        return os.path.join(path, f.read().strip())

db = plyvel.DB(d, create_if_missing=True, write_buffer_size=64 * 1024, compression=None)
for r in range(3):
    wb = db.write_batch()
    for i in range(3000):
        wb.put(b"key%06d" % ((i * 7919 + r) % 5000), b"v%d-%d" % (r, i) * 4)
    wb.write()
for i in range(0, 5000, 3):
    db.delete(b"key%06d" % i)
db.compact_range(start=b"key001000", stop=b"key003000")
db.close()
shutil.copyfile(manifest(d), os.path.join(out, "cpp-session.manifest"))

db = plyvel.DB(d, write_buffer_size=64 * 1024, compression=None)
db.put(b"key999999", b"tail")
db.close()
shutil.copyfile(manifest(d), os.path.join(out, "cpp-reopen.manifest"))
shutil.rmtree(tmp)
