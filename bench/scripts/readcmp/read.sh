#!/bin/bash
# One cold read phase of issue 28's limited set in a 768 MiB memory cgroup (page cache charged),
# with perf stat counters (major faults, syscalls, CPU) around the worker.
# Usage: read.sh NAME WORKER ENGINE DB BENCH THREADS [SECONDS] [extra perf args...]
set -u
W=${W:-/work/readcmp}
name=$1 worker=$2 eng=$3 db=$4 bench=$5 threads=$6 secs=${7:-30}
shift 7 2>/dev/null || shift $#
CG=/sys/fs/cgroup/memory/reads-$$
mkdir -p $CG; echo $((768<<20)) > $CG/memory.limit_in_bytes
common="--block_size=4096 --bloom_bits=10 --cache_size=134217728 --compression_ratio=0.5 --compression_type=snappy --key_size=16 --num=20000000 --seed=1000 --sync=0 --value_size=100 --write_buffer_size=67108864 --histogram=1"
sync; echo 3 > /proc/sys/vm/drop_caches
mkdir -p $W/out
$W/bin/launcher --cgroup $CG $W/out/$name.rusage perf stat -x, -o $W/out/$name.perf \
  -e task-clock,major-faults,minor-faults,raw_syscalls:sys_enter,context-switches "$@" -- \
  $worker --engine=$eng $common --db=$db --use_existing_db=1 --benchmarks=waitforcompaction,$bench,stats \
  --threads=$threads --duration=$secs --reads=1073741824 > $W/out/$name.log 2>&1
cat $CG/memory.max_usage_in_bytes > $W/out/$name.cgmax
rmdir $CG
ops=$(grep -E "^$bench" $W/out/$name.log | sed -E 's/.* ([0-9]+) operations.*/\1/')
rate=$(grep -E "^$bench" $W/out/$name.log | sed -E 's/.* ([0-9]+) ops\/sec.*/\1/')
rb=$(awk '/^read_bytes/{print $2}' $W/out/$name.rusage)
awk -F, -v ops=$ops -v rate=$rate -v rb=$rb -v name=$name '
 $3=="task-clock"{cpu=$1} $3=="major-faults"{mj=$1} $3=="minor-faults"{mn=$1} $3=="raw_syscalls:sys_enter"{sc=$1} $3=="context-switches"{cs=$1}
 END{printf "%s ops/s=%s ops=%d KiB/op=%.2f majflt/op=%.2f minflt/op=%.2f syscalls/op=%.2f cpu_us/op=%.1f csw/op=%.2f\n", name, rate, ops, rb/1024/ops, mj/ops, mn/ops, sc/ops, cpu*1000/ops, cs/ops}' $W/out/$name.perf
