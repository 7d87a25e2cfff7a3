// Command worker runs db_bench benchmarks on one Go engine: the bench
// runner starts one worker process per step.
//
// The runner builds this command once per engine, with the tags
// bench_single,bench_<engine> (no tag beyond bench_single for Strata), so
// that each engine runs in a small binary holding only its own code: the
// bench module's main binary also links every peer and the chart renderer,
// whose code and start-up allocations added about 20 MiB to every Go
// engine's peak RSS.
//
//	go build -tags bench_single,bench_pebble -o worker-pebble ./worker
//	worker-pebble --engine=pebble --benchmarks=fillrandom --num=100000
//
// --cpuprofile=FILE writes a CPU profile of the whole run (go tool pprof).
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"sort"
	"strings"

	"github.com/strata-db/strata/bench/engines"
	"github.com/strata-db/strata/tools/dbbench"
)

func main() {
	cfg := dbbench.DefaultConfig()
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	engine := fs.String("engine", "strata", "engine to run")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	cfg.RegisterFlags(fs)
	fs.Parse(os.Args[1:])
	eng, ok := engines.All[*engine]
	if !ok {
		var names []string
		for n := range engines.All {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(os.Stderr, "worker: engine %q is not in this build (it has %s)\n", *engine, strings.Join(names, ", "))
		os.Exit(2)
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "worker: --cpuprofile: %v\n", err)
			os.Exit(1)
		}
		defer f.Close()
	}
	_, err := dbbench.Run(cfg, eng, os.Stdout)
	pprof.StopCPUProfile()
	if err != nil {
		fmt.Fprintf(os.Stderr, "worker: %v\n", err)
		os.Exit(1)
	}
}
