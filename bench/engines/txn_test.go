package engines

import (
	"bytes"
	"testing"

	"github.com/strata-db/strata/tools/dbbench"
)

// TestTxnEngines runs the transaction benchmarks on every engine that has
// transactions (txncontended checks that no update was lost), and checks
// that the engines without a pessimistic mode refuse it.
func TestTxnEngines(t *testing.T) {
	for _, name := range []string{"strata", "badger", "bbolt", "goleveldb"} {
		eng, ok := All[name]
		if !ok {
			t.Fatalf("no engine %s", name)
		}
		t.Run(name, func(t *testing.T) {
			cfg := dbbench.DefaultConfig()
			cfg.DB = t.TempDir() + "/db"
			cfg.Num, cfg.Writes, cfg.Threads = 300, 40, 3
			cfg.TxnKeys = 20
			cfg.Benchmarks = []string{"fillbatch", "txnrmw", "txnbatch", "txncontended"}
			if name == "goleveldb" {
				cfg.Writes = 10 // a table per transaction
			}
			var out bytes.Buffer
			results, err := dbbench.Run(cfg, eng, &out)
			if err != nil {
				t.Fatalf("%v\n%s", err, out.String())
			}
			for _, r := range results[1:] {
				s, ok := dbbench.ParseTxnMessage(r.Message)
				if !ok || s.Committed == 0 {
					t.Errorf("%s: %q", r.Name, r.Message)
				}
			}
			cfg.Benchmarks, cfg.UseExistingDB, cfg.TxnPessimistic = []string{"txnrmw"}, true, true
			out.Reset()
			_, err = dbbench.Run(cfg, eng, &out)
			if (err == nil) != (name == "strata") {
				t.Errorf("pessimistic: %v", err)
			}
		})
	}
}
