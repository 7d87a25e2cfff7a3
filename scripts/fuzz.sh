#!/usr/bin/env bash
# Runs every fuzz target of the module for a while, one after another, and
# prints a summary: target, executions, new interesting inputs, result.
#
#   scripts/fuzz.sh                 # each target for 2 minutes
#   FUZZTIME=10m scripts/fuzz.sh    # longer
#   FUZZ_PARALLEL=1 scripts/fuzz.sh # fewer workers (default: GOMAXPROCS)
#   scripts/fuzz.sh FuzzReader      # only targets whose name matches
#   FUZZ_SEEDS=20 scripts/fuzz.sh   # afterwards, copy up to 20 of the
#                                   # corpus entries the fuzzer found per
#                                   # target into testdata/fuzz/<Target>/,
#                                   # the seeds every `go test` runs
#
# A failing input is written by go test to testdata/fuzz/<Target>/ in the
# target's package: fix the bug and keep the file as its regression test.
# The script exits 1 if any target failed.
set -uo pipefail
cd "$(dirname "$0")/.."

fuzztime="${FUZZTIME:-2m}"
filter="${1:-}"
parallel=()
if [ -n "${FUZZ_PARALLEL:-}" ]; then parallel=(-parallel "$FUZZ_PARALLEL"); fi
cache="$(go env GOCACHE)/fuzz"
module="$(go list -m)"

failed=0
summary=()
while IFS=: read -r file name; do
  [ -n "$filter" ] && [[ "$name" != *"$filter"* ]] && continue
  pkg="./$(dirname "$file")"
  echo "== $pkg $name ($fuzztime)"
  log="$(mktemp)"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "${parallel[@]}" "$pkg" 2>&1 | tee "$log" | grep -v '^fuzz: elapsed' ; then :; fi
  last="$(grep '^fuzz: elapsed' "$log" | tail -1)"
  execs="$(sed -n 's/.*execs: \([0-9]*\).*/\1/p' <<<"$last")"
  interesting="$(sed -n 's/.*new interesting: \([0-9]*\).*/\1/p' <<<"$last")"
  if grep -q '^ok' "$log"; then result=ok; else result=FAIL; failed=1; fi
  summary+=("$(printf '%-28s %-22s %12s execs %6s new  %s' "$pkg" "$name" "${execs:-?}" "${interesting:-?}" "$result")")
  rm -f "$log"
  if [ -n "${FUZZ_SEEDS:-}" ] && [ "$result" = ok ]; then
    src="$cache/$module/${pkg#./}/$name"
    dst="$(dirname "$file")/testdata/fuzz/$name"
    if [ -d "$src" ]; then
      mkdir -p "$dst"
      # The smallest entries: cheap to run, and the fuzzer keeps only
      # inputs that reached new code.
      ls -S -r "$src" | head -n "$FUZZ_SEEDS" | while read -r entry; do cp "$src/$entry" "$dst/$entry"; done
    fi
  fi
done < <(for dir in $(go list -f '{{.Dir}}' ./...); do
  grep -H -o '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null
done | sed 's/:func /:/' | sed "s|^$PWD/||" | sort)

echo
echo "== summary (each target $fuzztime)"
printf '%s\n' "${summary[@]}"
exit $failed
