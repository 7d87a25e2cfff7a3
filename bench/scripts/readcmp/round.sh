#!/bin/bash
# Interleaved round with the final build: a 1-second run of each build (the open's fixed cost),
# then old/new Strata and Pebble in turn on each phase.
r=$1; secs=${2:-30}
W=${W:-/work/readcmp}
pick() { case $1 in pebble) w=$W/bin/worker-pebble e=pebble db=$W/base-pebble;; *) w=$W/bin/worker-strata-$1 e=strata db=$W/base-strata;; esac; }
for v in old new pebble; do pick $v; $(dirname $0)/read.sh fixed-$v-r$r $w $e $db readrandom 1 1; done
for b in readrandom seekrandom; do for t in 1 2; do
  for v in old new pebble; do
    pick $v
    $(dirname $0)/read.sh $b-$t-$v-r$r $w $e $db $b $t $secs
    echo "   write_bytes $(awk '/^write_bytes/{print $2}' $W/out/$b-$t-$v-r$r.rusage) cache: $(grep 'block cache' $W/out/$b-$t-$v-r$r.log | cut -c1-60)"
  done
done; done
