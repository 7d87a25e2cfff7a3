#!/bin/bash
# chain.sh WORKER TAG: a fresh copy of $SNAP (tables hard-linked), then the
# scale harness's read phases in order, each a new process after
# waitforcompaction, caches dropped, 1 GiB memory cgroup (v1). One line per
# phase: ops/s, P99 (µs), MiB written and read by the process. Needs root.
set -euo pipefail
WORKER=$1; TAG=$2
WD=${WD:-/work/ab}
SNAP=${SNAP:-$WD/snap50}; DB=$WD/db-$TAG
LAUNCHER=${LAUNCHER:-/work/scale-work/launcher}
mkdir -p $WD/logs
rm -rf $DB; mkdir -p $DB
for f in $SNAP/*; do n=$(basename $f); case $n in *.ldb|*.sst) ln $f $DB/$n;; *) cp -a $f $DB/$n;; esac; done
PHASES=${PHASES:-"readrandom:1:30 readrandom:2:30 seekrandom:1:30 seekrandom:2:30 readwhilewriting:1:60"}
for p in $PHASES; do
  IFS=: read B T DUR <<< "$p"
  CG=/sys/fs/cgroup/memory/ch-$TAG-$$; mkdir $CG; echo 1073741824 > $CG/memory.limit_in_bytes
  sync; echo 3 > /proc/sys/vm/drop_caches
  LOG=$WD/logs/ch-$TAG-$B-$T-$(date +%H%M%S).log
  EXTRA=""; [ $B = readwhilewriting ] && EXTRA="--benchmark_write_rate_limit=2320000"
  $LAUNCHER --cgroup $CG $LOG.rusage $WORKER --engine=strata --benchmarks=waitforcompaction,$B --block_size=4096 --bloom_bits=10 --cache_size=134217728 --compression_ratio=0.5 --compression_type=snappy --db=$DB --disable_wal=0 --histogram=1 --key_size=16 --num=50000000 --seed=1000 --seek_nexts=10 --sync=0 --threads=$T --use_existing_db=1 --value_size=100 --write_buffer_size=67108864 --duration=$DUR --reads=1073741824 $EXTRA > $LOG 2>&1
  rmdir $CG
  ops=$(grep -E "^$B " $LOG | awk '{print $5}')
  p99=$(grep -E "^Percentiles" $LOG | tail -1 | awk '{print $7}')
  wb=$(awk '/^write_bytes/{print $2}' $LOG.rusage)
  rb=$(awk '/^read_bytes/{print $2}' $LOG.rusage)
  echo "$TAG $B-$T ops/s=$ops p99=$p99 wrMiB=$(( ${wb:-0} >> 20 )) rdMiB=$(( ${rb:-0} >> 20 ))"
done
if [ -n "${STRATA:-}" ]; then $STRATA stats --db $DB 2>/dev/null | sed -n 2,10p | tr '\n' ';'; echo; fi
rm -rf $DB
