#!/bin/bash
# abchain.sh ROUNDS TAG=WORKER...: chain.sh for each build in turn, ROUNDS times.
set -euo pipefail
R=$1; shift
for r in $(seq 1 $R); do
  for v in "$@"; do "$(dirname "$0")/chain.sh" "${v#*=}" "${v%%=*}"; done
done
