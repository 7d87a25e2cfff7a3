#!/usr/bin/python3
"""C++ LevelDB as an oracle for Strata's compatibility tests (via plyvel).

Usage:
  leveldb_oracle.py write DIR SEED N COMPRESSION   random workload; prints the
      expected final state ("hexkey<TAB>hexvalue" lines, key order) on stdout
      and "l0=<files at level 0>" on stderr.
  leveldb_oracle.py dump DIR      prints every entry (forward iteration), and
      checks the reverse iteration agrees.
  leveldb_oracle.py apply DIR OPS applies "P<TAB>hexkey<TAB>hexvalue" and
      "D<TAB>hexkey" lines
      in batches of 100, then closes without compacting.
"""
import random
import sys

import plyvel


def dump(db):
    fwd = list(db.iterator())
    rev = list(db.iterator(reverse=True))
    if rev != fwd[::-1]:
        sys.exit("reverse iteration disagrees with forward iteration")
    for k, v in fwd:
        print(k.hex() + "\t" + v.hex())


def write(path, seed, n, compression):
    rng = random.Random(seed)
    comp = None if compression == "none" else compression
    db = plyvel.DB(path, create_if_missing=True, error_if_exists=True,
                   write_buffer_size=512 << 10, block_size=1024, compression=comp)
    model = {}
    keys = []

    def new_key():
        kind = rng.random()
        if kind < 0.01:
            k = b""
        elif kind < 0.5:
            k = b"key%08d" % rng.randrange(10**8)
        else:
            k = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
        keys.append(k)
        return k

    def value(i):
        size = rng.choice([0, 1, 10, 100, 100, 100, 500, 4000]) if rng.random() > 0.002 else 20000
        prefix = b"v%d:" % i
        return (prefix + bytes(rng.randrange(256) for _ in range(min(size, 64))) * (size // 64 + 1))[:max(size, len(prefix))]

    i = 0
    while i < n:
        op = rng.random()
        if op < 0.1 and keys:
            # A batch mixing puts and deletes.
            with db.write_batch() as wb:
                for _ in range(rng.randrange(1, 20)):
                    k = rng.choice(keys) if rng.random() < 0.5 else new_key()
                    if rng.random() < 0.3:
                        wb.delete(k)
                        model.pop(k, None)
                    else:
                        v = value(i)
                        wb.put(k, v)
                        model[k] = v
                    i += 1
        elif op < 0.25 and keys:
            k = rng.choice(keys) if rng.random() < 0.8 else new_key()
            db.delete(k)
            model.pop(k, None)
            i += 1
        elif op < 0.5 and keys:
            k = rng.choice(keys)  # overwrite
            v = value(i)
            db.put(k, v)
            model[k] = v
            i += 1
        else:
            k = new_key()
            v = value(i)
            db.put(k, v)
            model[k] = v
            i += 1
    l0 = db.get_property(b"leveldb.num-files-at-level0").decode()
    # A last few small writes so the log is certainly not empty at close.
    for j in range(10):
        k = b"tail%02d" % j
        db.put(k, b"tail")
        model[k] = b"tail"
    db.close()
    for k in sorted(model):
        print(k.hex() + "\t" + model[k].hex())
    print("l0=" + l0, file=sys.stderr)


def apply(path, ops_file):
    db = plyvel.DB(path)
    batch = db.write_batch()
    count = 0
    with open(ops_file) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts == [""]:
                continue
            if parts[0] == "P":
                batch.put(bytes.fromhex(parts[1]), bytes.fromhex(parts[2]))
            else:
                batch.delete(bytes.fromhex(parts[1]))
            count += 1
            if count % 100 == 0:
                batch.write()
                batch = db.write_batch()
    batch.write()
    db.close()


def main():
    cmd = sys.argv[1]
    if cmd == "write":
        write(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    elif cmd == "dump":
        db = plyvel.DB(sys.argv[2])
        dump(db)
        db.close()
    elif cmd == "apply":
        apply(sys.argv[2], sys.argv[3])
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
