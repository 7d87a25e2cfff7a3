#!/bin/bash
# fill.sh ENGINE [BUILD]: the 20M-key database of ENGINE (worker-ENGINE[-BUILD]) under $W, settled.
set -eu
W=${W:-/work/readcmp}
eng=$1 bin=$W/bin/worker-$1${2:+-$2}
common="--block_size=4096 --bloom_bits=10 --cache_size=134217728 --compression_ratio=0.5 --compression_type=snappy --key_size=16 --num=20000000 --seed=1000 --sync=0 --value_size=100 --write_buffer_size=67108864"
$W/bin/launcher $W/fill-$eng.rusage $bin --engine=$eng $common --db=$W/base-$eng \
  --benchmarks=filluniquerandom,waitforcompaction,stats --use_existing_db=0 > $W/fill-$eng.log 2>&1
$W/bin/launcher $W/settle-$eng.rusage $bin --engine=$eng $common --db=$W/base-$eng \
  --benchmarks=waitforcompaction --use_existing_db=1 > $W/settle-$eng.log 2>&1
