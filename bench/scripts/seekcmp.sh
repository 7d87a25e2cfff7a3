#!/bin/bash
# Compare old vs new strata worker readrandom on identical copies of a 20M-key
# DB after fill + overwrite, each in a 768 MiB memory cgroup (page cache included).
# Usage (root): build /tmp/worker-old and /tmp/worker-new from two checkouts
# (cd bench && go build -o /tmp/worker-new ./worker), then run this script.
# It needs the launcher of a scale run at /work/scale-bench-data/launcher
# (go run . scale builds it) and ~10 GB in /work/seekcmp.
set -euo pipefail
W=/work/seekcmp; mkdir -p $W; cd $W
CG=/sys/fs/cgroup/memory/seekcmp
mkdir -p $CG; echo $((768<<20)) > $CG/memory.limit_in_bytes
common="--engine=strata --block_size=4096 --bloom_bits=10 --cache_size=134217728 --compression_ratio=0.5 --compression_type=snappy --key_size=16 --num=20000000 --seed=1000 --sync=0 --value_size=100 --write_buffer_size=67108864 --histogram=1"
run() { # name worker db benchmarks extra
  sync; echo 3 > /proc/sys/vm/drop_caches
  echo 0 > $CG/memory.max_usage_in_bytes 2>/dev/null || true
  /work/scale-bench-data/launcher --cgroup $CG $W/$1.rusage $2 $common --db=$3 --benchmarks=$4 $5 > $W/$1.log 2>&1
  grep -E "^(readrandom|seekrandom|overwrite|filluniquerandom)" $W/$1.log | sed "s/^/$1: /"
  grep -E "^(read_bytes|write_bytes)" $W/$1.rusage | tr '\n' ' '; echo
}
if [ ! -d base ]; then
  run build /tmp/worker-old $W/base filluniquerandom,overwrite,waitforcompaction "--use_existing_db=0"
fi
for rep in 1 2 3; do
  for v in old new; do
    rm -rf $W/db-$v; cp -a $W/base $W/db-$v
    run rr-$v-$rep /tmp/worker-$v $W/db-$v waitforcompaction,readrandom "--use_existing_db=1 --duration=30 --reads=1073741824 --threads=1"
  done
done
