#!/bin/bash
# mk50.sh WORKER DB: the scale harness's 50M tree: filluniquerandom 50M, then
# overwrite 50M + waitforcompaction, then a reopen and waitforcompaction (each
# its own process, as the harness runs them), in a 1 GiB memory cgroup (v1).
set -euo pipefail
WORKER=$1; DB=$2
WD=${WD:-/work/ab}; LAUNCHER=${LAUNCHER:-/work/scale-work/launcher}
mkdir -p $WD/logs
rm -rf $DB
CG=/sys/fs/cgroup/memory/mk50-$$; mkdir $CG; echo 1073741824 > $CG/memory.limit_in_bytes
COMMON="--engine=strata --block_size=4096 --bloom_bits=10 --cache_size=134217728 --compression_ratio=0.5 --compression_type=snappy --db=$DB --disable_wal=0 --key_size=16 --num=50000000 --seed=1000 --sync=0 --threads=1 --value_size=100 --write_buffer_size=67108864"
$LAUNCHER --cgroup $CG $WD/logs/mk50-fill.rusage $WORKER $COMMON --benchmarks=filluniquerandom --use_existing_db=0 > $WD/logs/mk50-fill.log 2>&1
$LAUNCHER --cgroup $CG $WD/logs/mk50-ow.rusage $WORKER $COMMON --benchmarks=overwrite,waitforcompaction --use_existing_db=1 > $WD/logs/mk50-ow.log 2>&1
$LAUNCHER --cgroup $CG $WD/logs/mk50-settle.rusage $WORKER $COMMON --benchmarks=waitforcompaction --use_existing_db=1 > $WD/logs/mk50-settle.log 2>&1
rmdir $CG
