package strata

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/vfs"
)

// A randomized history checker for transactions, after Jepsen's Elle
// (Kingsbury and Alvaro, "Elle: Inferring Isolation Anomalies from
// Experimental Observations"), on list-append (issue 25, "Tests" point 2).
//
// Keys hold lists of unique 8-byte elements. Concurrent workers run random
// transactions of reads and appends over a small, sliding set of keys;
// appends are read-modify-writes (Get or GetForUpdate, then Put of the
// list with the element added) or merges with AppendMerger, and a scan
// reads a range of keys at once (a key it does not return holds the empty
// list). A transaction runs through BeginTxn and Commit or through
// UpdateWith (one attempt), and some configurations add plain DB.Merge
// appends beside the transactions. Each transaction, committed or not, is
// recorded with what it read and appended, and with the clock (a shared
// counter) before it began and after it ended. A read-only transaction
// reads every key at the end.
//
// Since each element is appended once, a read names the writes it saw:
// every read of a key is a prefix of the key's one order of appends, which
// is the longest list read (the final read). From these orders the checker
// builds the dependency graph of the committed transactions:
//
//	ww  T1 appended the element just before T2's in a key's order
//	wr  T2 read a list whose last element (not its own) T1 appended
//	rw  T1 read a list that T2's element comes next after
//	rt  T1 ended before T2 began (real time)
//
// Strict serializability means the graph has no cycle; the checker finds
// the strongly connected components (Tarjan) and prints a shortest cycle
// through one, with the kind of each edge. It also reports what needs no
// cycle: a read of an aborted transaction's element (G1a), of an element
// its writer followed with another on the same key (G1b, intermediate
// read), a duplicate element, a read that is no prefix of the key's order,
// a transaction's reads disagreeing with its own appends and earlier
// reads, and a committed append missing from the final read.
//
// Snapshot isolation allows cycles, but only those with two rw edges in a
// row (Fekete et al.: each cycle of an SI history has such a "dangerous
// structure"; a real-time edge, like ww and wr, goes from a commit to a
// later begin, so the proof holds with it). The checker looks for a cycle
// that never takes two rw edges in a row (a G0, G1c or G-single cycle, or
// a longer one) in the graph whose nodes are (transaction, whether it was
// reached by an rw edge): under SI there must be none.
//
// STRATA_ELLE_SEED fixes the seed of every run.

// elleOp is one operation of a transaction: an append of val to key, or a
// read of key that returned read.
type elleOp struct {
	append bool
	key    int
	val    uint64
	read   []uint64
}

// elleTxn is a transaction as the history records it.
type elleTxn struct {
	id               int
	ops              []elleOp
	ok               bool  // committed
	invoke, complete int64 // the clock before it began and after it ended
	how              string
	failed           string // why it did not commit
}

func (t *elleTxn) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "T%d %s [%d, %d]", t.id, t.how, t.invoke, t.complete)
	for _, o := range t.ops {
		if o.append {
			fmt.Fprintf(&b, " a(k%d, %d)", o.key, o.val)
		} else {
			fmt.Fprintf(&b, " r(k%d)=%v", o.key, o.read)
		}
	}
	return b.String()
}

// Edge kinds.
const (
	elleWW uint8 = 1 << iota
	elleWR
	elleRW
	elleRT
)

type elleEdge struct {
	kinds uint8
	key   [4]int // a key behind each kind (-1: none)
}

func edgeKindNames(k uint8) string {
	var names []string
	for i, n := range []string{"ww", "wr", "rw", "rt"} {
		if k&(1<<i) != 0 {
			names = append(names, n)
		}
	}
	return strings.Join(names, ",")
}

// elleCheck checks a history. complete says the history ends with a read
// of every key (so each key's longest read is its final state and a
// committed append missing from it is lost). snapshot checks snapshot
// isolation instead of strict serializability. It returns the anomalies
// found, one description each, and the number of strongly connected
// components of the dependency graph (under snapshot isolation, the allowed
// cycles).
func elleCheck(txns []*elleTxn, complete, snapshot bool) (anomalies []string, sccCount int) {
	report := func(format string, args ...any) {
		if len(anomalies) < 50 {
			anomalies = append(anomalies, fmt.Sprintf(format, args...))
		}
	}
	type who struct {
		t   *elleTxn
		key int
	}
	writer := map[uint64]who{}
	lastAppend := map[*elleTxn]map[int]uint64{} // a transaction's last element on a key
	for _, t := range txns {
		for _, o := range t.ops {
			if !o.append {
				continue
			}
			if w, ok := writer[o.val]; ok {
				report("element %d appended twice: by T%d and T%d", o.val, w.t.id, t.id)
				continue
			}
			writer[o.val] = who{t, o.key}
			if lastAppend[t] == nil {
				lastAppend[t] = map[int]uint64{}
			}
			lastAppend[t][o.key] = o.val
		}
	}

	// Each key's order: the longest list a committed transaction read.
	order := map[int][]uint64{}
	for _, t := range txns {
		for _, o := range t.ops {
			if !o.append && t.ok && len(o.read) > len(order[o.key]) {
				order[o.key] = o.read
			}
		}
	}
	isPrefix := func(l []uint64, k int) bool {
		return len(l) <= len(order[k]) && slices.Equal(l, order[k][:len(l)])
	}

	// Each read: its elements, the part other transactions wrote (ext),
	// and the transaction's own view.
	type readInfo struct {
		t   *elleTxn
		key int
		ext []uint64
	}
	var reads []readInfo
	for _, t := range txns {
		known := map[int][]uint64{} // a committed transaction's view of a key
		has := map[int]bool{}
		own := map[int][]uint64{} // its appends so far
		for _, o := range t.ops {
			if o.append {
				own[o.key] = append(own[o.key], o.val)
				if has[o.key] {
					known[o.key] = append(known[o.key], o.val)
				}
				continue
			}
			k, l := o.key, o.read
			seen := map[uint64]bool{}
			bad := false
			for _, v := range l {
				if seen[v] {
					report("duplicate element %d in T%d's read of k%d: %v", v, t.id, k, l)
					bad = true
				}
				seen[v] = true
				if _, ok := writer[v]; !ok {
					report("T%d read element %d of k%d, which nobody appended: %v", t.id, v, k, l)
					bad = true
				}
			}
			if bad {
				continue
			}
			i := slices.IndexFunc(l, func(v uint64) bool { return writer[v].t == t })
			if i < 0 {
				i = len(l)
			}
			ext, mine := l[:i], l[i:]
			if !slices.Equal(mine, own[k]) {
				report("internal: T%d read k%d = %v, its own appends %v not at the end\n      %v", t.id, k, l, own[k], t)
			}
			if t.ok && has[k] && !slices.Equal(l, known[k]) {
				report("internal: T%d read k%d = %v, after it read and appended %v\n      %v", t.id, k, l, known[k], t)
			}
			if t.ok {
				known[k], has[k] = l, true
			}
			for _, v := range ext {
				if w := writer[v]; !w.t.ok {
					report("G1a (aborted read): T%d read k%d = %v, with element %d of aborted T%d", t.id, k, l, v, w.t.id)
				} else if w.key != k {
					report("T%d read element %d in k%d, appended to k%d", t.id, v, k, w.key)
				}
			}
			if len(ext) > 0 {
				v := ext[len(ext)-1]
				if w := writer[v]; lastAppend[w.t][k] != v {
					report("G1b (intermediate read): T%d read k%d = %v, ending at %d, which T%d followed with %d",
						t.id, k, l, v, w.t.id, lastAppend[w.t][k])
				}
			}
			// A committed read holds its own appends too; an aborted one's
			// are not in any order.
			checked := l
			if !t.ok {
				checked = ext
			}
			if !isPrefix(checked, k) {
				report("incompatible order: T%d read k%d = %v, not a prefix of %v", t.id, k, l, order[k])
				continue
			}
			if t.ok {
				reads = append(reads, readInfo{t, k, ext})
			}
		}
	}
	if complete {
		for _, t := range txns {
			for _, o := range t.ops {
				if o.append && t.ok && !slices.Contains(order[o.key], o.val) {
					report("lost append: committed T%d appended %d to k%d, not in the final %v", t.id, o.val, o.key, order[o.key])
				}
			}
		}
	}

	// The graph of committed transactions.
	var nodes []*elleTxn
	index := map[*elleTxn]int{}
	for _, t := range txns {
		if t.ok {
			index[t] = len(nodes)
			nodes = append(nodes, t)
		}
	}
	edges := map[[2]int]*elleEdge{}
	adj := make([][]int, len(nodes))
	addEdge := func(from, to *elleTxn, kind uint8, key int) {
		if from == to || !from.ok || !to.ok {
			return
		}
		u, v := index[from], index[to]
		e := edges[[2]int{u, v}]
		if e == nil {
			e = &elleEdge{key: [4]int{-1, -1, -1, -1}}
			edges[[2]int{u, v}] = e
			adj[u] = append(adj[u], v)
		}
		e.kinds |= kind
		for i := range 4 {
			if kind == 1<<i && e.key[i] < 0 {
				e.key[i] = key
			}
		}
	}
	for k, l := range order {
		for i := 1; i < len(l); i++ {
			addEdge(writer[l[i-1]].t, writer[l[i]].t, elleWW, k)
		}
	}
	for _, r := range reads {
		l := order[r.key]
		if len(r.ext) > 0 {
			addEdge(writer[r.ext[len(r.ext)-1]].t, r.t, elleWR, r.key)
		}
		if len(r.ext) < len(l) {
			addEdge(r.t, writer[l[len(r.ext)]].t, elleRW, r.key)
		}
	}
	// Real time, transitively reduced: an edge from each transaction that
	// ended before T began and that no other such transaction followed.
	type event struct {
		at    int64
		t     *elleTxn
		begin bool
	}
	var events []event
	for _, t := range nodes {
		events = append(events, event{t.invoke, t, true}, event{t.complete, t, false})
	}
	slices.SortFunc(events, func(a, b event) int {
		if a.at != b.at {
			return int(a.at - b.at)
		}
		if a.begin != b.begin { // an end before a begin at the same instant
			if a.begin {
				return 1
			}
			return -1
		}
		return 0
	})
	frontier := map[*elleTxn]bool{}
	preds := map[*elleTxn][]*elleTxn{}
	for _, e := range events {
		if e.begin {
			for p := range frontier {
				addEdge(p, e.t, elleRT, -1)
				preds[e.t] = append(preds[e.t], p)
			}
			continue
		}
		for _, p := range preds[e.t] {
			delete(frontier, p)
		}
		frontier[e.t] = true
	}

	describe := func(path []int, rwAt func(i int) bool) string {
		var b strings.Builder
		var rw, wr, rtOnly int
		for i, u := range path {
			v := path[(i+1)%len(path)]
			e := edges[[2]int{u, v}]
			kinds := e.kinds &^ elleRW
			if rwAt(i) || kinds == 0 {
				kinds = elleRW
				rw++
			}
			if kinds&elleWR != 0 && kinds&elleWW == 0 {
				wr++
			}
			if kinds == elleRT {
				rtOnly++
			}
			var keys []string
			for j := range 4 {
				if kinds&(1<<j) != 0 && e.key[j] >= 0 {
					keys = append(keys, fmt.Sprintf("k%d", e.key[j]))
				}
			}
			fmt.Fprintf(&b, "T%d -%s", nodes[u].id, edgeKindNames(kinds))
			if len(keys) > 0 {
				fmt.Fprintf(&b, "(%s)", strings.Join(keys, ","))
			}
			b.WriteString("-> ")
		}
		fmt.Fprintf(&b, "T%d", nodes[path[0]].id)
		name := "G0"
		switch {
		case rw >= 2:
			name = "G2"
		case rw == 1:
			name = "G-single"
		case wr > 0:
			name = "G1c"
		}
		if rtOnly > 0 {
			name += "-realtime"
		}
		var txt strings.Builder
		for _, u := range path {
			fmt.Fprintf(&txt, "\n      %v", nodes[u])
		}
		return name + " cycle: " + b.String() + txt.String()
	}

	comps := tarjanSCC(len(nodes), adj)
	for _, c := range comps {
		if len(c) > 1 {
			sccCount++
		}
	}
	if !snapshot {
		for _, c := range comps {
			if len(c) > 1 {
				path := shortestCycle(adj, c)
				report("%s", describe(path, func(int) bool { return false }))
			}
		}
		return anomalies, sccCount
	}
	// Snapshot isolation: node 2u is u reached by a ww, wr or rt edge (or
	// the start), 2u+1 u reached by an rw edge; no rw edge leaves 2u+1.
	padj := make([][]int, 2*len(nodes))
	for uv, e := range edges {
		u, v := uv[0], uv[1]
		if e.kinds&^elleRW != 0 {
			padj[2*u] = append(padj[2*u], 2*v)
			padj[2*u+1] = append(padj[2*u+1], 2*v)
		}
		if e.kinds&elleRW != 0 {
			padj[2*u] = append(padj[2*u], 2*v+1)
		}
	}
	for _, c := range tarjanSCC(len(padj), padj) {
		if len(c) > 1 {
			ppath := shortestCycle(padj, c)
			path := make([]int, len(ppath))
			for i, p := range ppath {
				path[i] = p / 2
			}
			report("not snapshot isolation: %s", describe(path, func(i int) bool {
				return ppath[(i+1)%len(ppath)]%2 == 1
			}))
		}
	}
	return anomalies, sccCount
}

// tarjanSCC returns the strongly connected components of the graph.
func tarjanSCC(n int, adj [][]int) [][]int {
	index := make([]int, n)
	low := make([]int, n)
	on := make([]bool, n)
	for i := range index {
		index[i] = -1
	}
	var stack, comp []int
	var comps [][]int
	next := 0
	var visit func(u int)
	visit = func(u int) {
		index[u], low[u] = next, next
		next++
		stack = append(stack, u)
		on[u] = true
		for _, v := range adj[u] {
			switch {
			case index[v] < 0:
				visit(v)
				low[u] = min(low[u], low[v])
			case on[v]:
				low[u] = min(low[u], index[v])
			}
		}
		if low[u] == index[u] {
			comp = nil
			for {
				v := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				on[v] = false
				comp = append(comp, v)
				if v == u {
					break
				}
			}
			comps = append(comps, comp)
		}
	}
	for u := range n {
		if index[u] < 0 {
			visit(u)
		}
	}
	return comps
}

// shortestCycle returns a shortest cycle through comp[0] within the
// strongly connected component comp, as its nodes in order.
func shortestCycle(adj [][]int, comp []int) []int {
	in := map[int]bool{}
	for _, u := range comp {
		in[u] = true
	}
	start := comp[0]
	parent := map[int]int{start: -1}
	queue := []int{start}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		for _, v := range adj[u] {
			if v == start {
				var path []int
				for w := u; w != -1; w = parent[w] {
					path = append(path, w)
				}
				slices.Reverse(path)
				return path
			}
			if _, seen := parent[v]; !seen && in[v] {
				parent[v] = u
				queue = append(queue, v)
			}
		}
	}
	return comp // not reached: comp is strongly connected
}

// elleConfig is one workload.
type elleConfig struct {
	name string
	opts TxnOptions
	// appends: "rmw" (Get, then Put), "merge" (Merge with AppendMerger),
	// or "mixed" (either, and plain DB.Merge writes beside transactions).
	appends string
	window  int64 // Options.TxnConflictWindow (0: default)
	// refresh calls Txn.Refresh before half the operations (a no-op under
	// snapshot isolation, so only serializable configurations set it).
	refresh bool
}

// Pessimistic with SnapshotIsolation reads one snapshot: GetForUpdate of a
// key written since fails (TestAnomalyPessimisticSnapshotReads).
var elleConfigs = []elleConfig{
	{name: "serializable_rmw", appends: "rmw"},
	{name: "serializable_merge", appends: "merge"},
	{name: "serializable_mixed", appends: "mixed"},
	{name: "serializable_small_window", appends: "mixed", window: 1 << 10},
	{name: "serializable_refresh", appends: "mixed", refresh: true},
	{name: "serializable_refresh_small_window", appends: "mixed", window: 1 << 10, refresh: true},
	{name: "pessimistic_refresh", appends: "mixed", refresh: true, opts: TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 10 * time.Second}},
	{name: "pessimistic", appends: "mixed", opts: TxnOptions{Pessimistic: true, DeadlockDetect: true, LockTimeout: 10 * time.Second}},
	{name: "snapshot_rmw", appends: "rmw", opts: TxnOptions{Isolation: SnapshotIsolation}},
	{name: "snapshot_merge", appends: "merge", opts: TxnOptions{Isolation: SnapshotIsolation}},
	{name: "snapshot_pessimistic", appends: "mixed", opts: TxnOptions{Isolation: SnapshotIsolation, Pessimistic: true, DeadlockDetect: true, LockTimeout: 10 * time.Second}},
}

func elleSeed(t *testing.T) uint64 {
	if s := os.Getenv("STRATA_ELLE_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("STRATA_ELLE_SEED=%q: %v", s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

func TestElle(t *testing.T) {
	workers, perWorker := 8, 2000
	if testing.Short() {
		workers, perWorker = 4, 300
	}
	seed := elleSeed(t)
	siCycles := 0
	defer func() {
		// The long form's snapshot-isolation runs show write skew (some
		// hundreds of cycles): the workload is contended enough to make
		// the cycles the checker must find.
		if !testing.Short() && !t.Failed() && siCycles == 0 {
			t.Errorf("seed %d: snapshot isolation showed no cycle at all", seed)
		}
	}()
	for i, c := range elleConfigs {
		t.Run(c.name, func(t *testing.T) {
			s := seed + uint64(i)
			t.Logf("seed %d (STRATA_ELLE_SEED=%d reproduces the run's choices)", s, seed)
			start := time.Now()
			h := runElle(t, c, s, workers, perWorker)
			anomalies, cycles := elleCheck(h, true, c.opts.Isolation == SnapshotIsolation)
			var committed int
			failed := map[string]int{}
			for _, x := range h {
				if x.ok {
					committed++
				} else {
					failed[x.failed]++
				}
			}
			t.Logf("%d transactions, %d committed, failed %v, %d cycles, in %v",
				len(h), committed, failed, cycles, time.Since(start).Round(time.Millisecond))
			if len(anomalies) > 0 {
				t.Fatalf("seed %d (STRATA_ELLE_SEED=%d reproduces): %d anomalies:\n  %s", s, seed, len(anomalies), strings.Join(anomalies, "\n  "))
			}
			if c.opts.Isolation == SnapshotIsolation {
				siCycles += cycles
			} else if cycles > 0 {
				t.Fatalf("seed %d: %d cycles reported as none", s, cycles)
			}
			if committed < len(h)/10 {
				t.Fatalf("only %d of %d transactions committed", committed, len(h))
			}
		})
	}
}

// runElle runs the workload and returns its history, the final read last.
func runElle(t *testing.T, c elleConfig, seed uint64, workers, perWorker int) []*elleTxn {
	d, err := Open("db", &Options{FS: vfs.NewMem(), Merger: AppendMerger(nil), WriteBufferSize: 64 << 10, TxnConflictWindow: c.window})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	const keys, epoch = 8, 60 // keys at a time; transactions before the keys move on by half
	var clock, nextVal, started atomic.Int64
	var maxKey atomic.Int64
	histories := make([][]*elleTxn, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := range perWorker {
				n := started.Add(1)
				base := int(n/epoch) * keys / 2
				pick := func() int {
					k := base + rng.IntN(keys)
					for m := maxKey.Load(); int64(k) > m && !maxKey.CompareAndSwap(m, int64(k)); m = maxKey.Load() {
					}
					return k
				}
				x := &elleTxn{id: w*perWorker + i + 1}
				var err error
				if c.appends == "mixed" && rng.IntN(20) == 0 {
					err = ellePlainMerge(d, x, pick(), &clock, &nextVal)
				} else {
					err = elleTxnRun(d, c, rng, x, pick, &clock, &nextVal)
				}
				if err != nil {
					t.Errorf("T%d: %v", x.id, err)
					return
				}
				histories[w] = append(histories[w], x)
			}
		}()
	}
	wg.Wait()
	var h []*elleTxn
	for _, hw := range histories {
		h = append(h, hw...)
	}
	// The final read: every key, in one read-only transaction.
	final := &elleTxn{id: len(h) + 1, how: "final read", invoke: clock.Add(1)}
	tx, err := d.BeginTxn(context.Background(), &TxnOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	final.ops = elleScan(tx, 0, int(maxKey.Load())+1, nil)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	final.ok, final.complete = true, clock.Add(1)
	return append(h, final)
}

func elleKey(k int) []byte { return fmt.Appendf(nil, "k%06d", k) }

func elleDecode(v []byte) []uint64 {
	var l []uint64
	for ; len(v) >= 8; v = v[8:] {
		l = append(l, binary.BigEndian.Uint64(v))
	}
	if len(v) != 0 {
		l = append(l, 0) // not a list of 8-byte elements: no writer has 0
	}
	return l
}

// elleScan reads [lo, hi) with an iterator; a key it does not return reads
// as the empty list.
func elleScan(tx *Txn, lo, hi int, err *error) []elleOp {
	it := tx.NewIterator(&IterOptions{LowerBound: elleKey(lo), UpperBound: elleKey(hi)})
	got := map[int][]uint64{}
	for it.First(); it.Valid(); it.Next() {
		k, _ := strconv.Atoi(string(it.Key()[1:]))
		got[k] = elleDecode(it.Value())
	}
	if cerr := it.Close(); cerr != nil && err != nil {
		*err = cerr
	}
	var ops []elleOp
	for k := lo; k < hi; k++ {
		ops = append(ops, elleOp{key: k, read: got[k]})
	}
	return ops
}

// ellePlainMerge appends with DB.Merge, outside any transaction.
func ellePlainMerge(d *DB, x *elleTxn, k int, clock, nextVal *atomic.Int64) error {
	v := uint64(nextVal.Add(1))
	x.how = "plain merge"
	x.ops = []elleOp{{append: true, key: k, val: v}}
	x.invoke = clock.Add(1)
	err := d.Merge(elleKey(k), binary.BigEndian.AppendUint64(nil, v), nil)
	x.complete = clock.Add(1)
	x.ok = err == nil
	return err
}

// elleTxnRun runs one random transaction, through BeginTxn and Commit or
// through DB.Update with MaxRetries -1 (one attempt), and records it.
func elleTxnRun(d *DB, c elleConfig, rng *rand.Rand, x *elleTxn, pick func() int, clock, nextVal *atomic.Int64) error {
	nops := 1 + rng.IntN(4)
	type plan struct {
		kind byte // 'r' read, 's' scan, 'a' append
		key  int
		span int
		val  uint64
		rmw  bool
		gfu  bool // read with GetForUpdate
	}
	var plans []plan
	for range nops {
		p := plan{key: pick()}
		switch r := rng.IntN(20); {
		case r < 8:
			p.kind = 'r'
			p.gfu = rng.IntN(4) == 0
		case r < 10:
			p.kind, p.span = 's', 1+rng.IntN(4)
		default:
			p.kind, p.val = 'a', uint64(nextVal.Add(1))
			p.rmw = c.appends == "rmw" || c.appends == "mixed" && rng.IntN(2) == 0
			p.gfu = c.opts.Pessimistic || rng.IntN(4) == 0
		}
		plans = append(plans, p)
	}
	o := c.opts
	o.MaxRetries = -1
	get := func(tx *Txn, k int, gfu bool) ([]uint64, error) {
		var v []byte
		var err error
		if gfu {
			v, err = tx.GetForUpdate(elleKey(k))
		} else {
			v, err = tx.Get(elleKey(k))
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return elleDecode(v), nil
	}
	fn := func(tx *Txn) error {
		x.ops = x.ops[:0]
		for _, p := range plans {
			if rng.IntN(3) == 0 {
				runtime.Gosched() // let others in between
			}
			if c.refresh && rng.IntN(2) == 0 {
				if err := tx.Refresh(); err != nil {
					return err
				}
			}
			switch p.kind {
			case 'r':
				l, err := get(tx, p.key, p.gfu)
				if err != nil {
					return err
				}
				x.ops = append(x.ops, elleOp{key: p.key, read: l})
			case 's':
				var err error
				x.ops = append(x.ops, elleScan(tx, p.key, p.key+p.span, &err)...)
				if err != nil {
					return err
				}
			case 'a':
				elem := binary.BigEndian.AppendUint64(nil, p.val)
				if p.rmw {
					l, err := get(tx, p.key, p.gfu)
					if err != nil {
						return err
					}
					x.ops = append(x.ops, elleOp{key: p.key, read: l})
					var v []byte
					for _, e := range l {
						v = binary.BigEndian.AppendUint64(v, e)
					}
					if err := tx.Put(elleKey(p.key), append(v, elem...)); err != nil {
						return err
					}
				} else if err := tx.Merge(elleKey(p.key), elem); err != nil {
					return err
				}
				x.ops = append(x.ops, elleOp{append: true, key: p.key, val: p.val})
			}
		}
		return nil
	}
	x.invoke = clock.Add(1)
	var err error
	if rng.IntN(2) == 0 {
		x.how = "update"
		err = d.UpdateWith(context.Background(), &o, fn)
	} else {
		x.how = "commit"
		var tx *Txn
		if tx, err = d.BeginTxn(context.Background(), &o); err != nil {
			return err
		}
		if err = fn(tx); err == nil {
			err = tx.Commit()
		} else {
			tx.Rollback()
		}
	}
	x.complete = clock.Add(1)
	x.ok = err == nil
	if err != nil {
		x.how += ": " + err.Error()
		for _, e := range []struct {
			err  error
			name string
		}{{ErrConflict, "conflict"}, {ErrTxnTooOld, "too old"}, {ErrDeadlock, "deadlock"}, {ErrLockTimeout, "lock timeout"}} {
			if errors.Is(err, e.err) {
				x.failed = e.name
			}
		}
		if !IsRetryable(err) {
			return err
		}
	}
	return nil
}

// TestElleChecker feeds the checker hand-made histories, each with one
// anomaly, and checks that it reports it (and that a correct history
// passes): the negative controls that show the checker works.
func TestElleChecker(t *testing.T) {
	r := func(k int, l ...uint64) elleOp { return elleOp{key: k, read: l} }
	a := func(k int, v uint64) elleOp { return elleOp{append: true, key: k, val: v} }
	tx := func(id int, ok bool, inv, comp int64, ops ...elleOp) *elleTxn {
		return &elleTxn{id: id, ok: ok, invoke: inv, complete: comp, ops: ops, how: "hand-made"}
	}
	cases := []struct {
		name     string
		h        []*elleTxn
		complete bool
		ser, si  string // a word the report must hold ("" none)
	}{
		{name: "serial", h: []*elleTxn{
			tx(1, true, 1, 2, r(0), a(0, 1)),
			tx(2, true, 3, 4, r(0, 1), a(0, 2), a(1, 3)),
			tx(3, true, 5, 6, r(0, 1, 2), r(1, 3)),
		}, complete: true},
		{name: "write skew", h: []*elleTxn{
			tx(1, true, 1, 3, r(0), r(1), a(0, 1)),
			tx(2, true, 2, 4, r(0), r(1), a(1, 2)),
			tx(3, true, 5, 6, r(0, 1), r(1, 2)),
		}, complete: true, ser: "G2 cycle", si: ""},
		// Two rw edges, not in a row: no SI history has this cycle.
		{name: "G2 with rw edges apart", h: []*elleTxn{
			tx(1, true, 1, 5, r(0), r(3, 4)),
			tx(2, true, 2, 6, a(0, 2), a(1, 3)),
			tx(3, true, 3, 7, r(1, 3), r(2)),
			tx(4, true, 4, 8, a(2, 5), a(3, 4)),
			tx(5, true, 9, 10, r(0, 2), r(1, 3), r(2, 5), r(3, 4)),
		}, complete: true, ser: "G2 cycle", si: "not snapshot isolation: G2 cycle"},
		{name: "G0 write cycle", h: []*elleTxn{
			tx(1, true, 1, 3, a(0, 1), a(1, 2)),
			tx(2, true, 2, 4, a(0, 3), a(1, 4)),
			tx(3, true, 5, 6, r(0, 1, 3), r(1, 4, 2)),
		}, complete: true, ser: "G0 cycle", si: "G0 cycle"},
		{name: "G1c circular information flow", h: []*elleTxn{
			tx(1, true, 1, 3, a(0, 1), r(1, 2)),
			tx(2, true, 2, 4, a(1, 2), r(0, 1)),
		}, ser: "G1c cycle", si: "G1c cycle"},
		{name: "G-single read skew", h: []*elleTxn{
			tx(1, true, 1, 4, r(0), r(1, 2)),
			tx(2, true, 2, 3, a(0, 1), a(1, 2)),
			tx(3, true, 5, 6, r(0, 1), r(1, 2)),
		}, complete: true, ser: "G-single cycle", si: "G-single cycle"},
		{name: "stale read (real time)", h: []*elleTxn{
			tx(1, true, 1, 2, a(0, 1)),
			tx(2, true, 3, 4, r(0)),
			tx(3, true, 5, 6, r(0, 1)),
		}, complete: true, ser: "G-single-realtime", si: "G-single-realtime"},
		{name: "G1a aborted read", h: []*elleTxn{
			tx(1, false, 1, 2, a(0, 1)),
			tx(2, true, 3, 4, r(0, 1)),
		}, ser: "G1a", si: "G1a"},
		{name: "G1b intermediate read", h: []*elleTxn{
			tx(1, true, 1, 3, a(0, 1), a(0, 2)),
			tx(2, true, 2, 4, r(0, 1)),
		}, ser: "G1b", si: "G1b"},
		{name: "duplicate", h: []*elleTxn{
			tx(1, true, 1, 2, a(0, 1)),
			tx(2, true, 3, 4, r(0, 1, 1)),
		}, ser: "duplicate", si: "duplicate"},
		{name: "incompatible order", h: []*elleTxn{
			tx(1, true, 1, 2, a(0, 1)),
			tx(2, true, 1, 2, a(0, 2)),
			tx(3, true, 3, 4, r(0, 1, 2)),
			tx(4, true, 3, 4, r(0, 2)),
		}, ser: "incompatible order", si: "incompatible order"},
		{name: "lost append", h: []*elleTxn{
			tx(1, true, 1, 2, a(0, 1)),
			tx(2, true, 3, 4, a(0, 2)),
			tx(3, true, 5, 6, r(0, 2)),
		}, complete: true, ser: "lost append", si: "lost append"},
		{name: "own write unseen", h: []*elleTxn{
			tx(1, true, 1, 2, a(0, 1), r(0)),
		}, ser: "internal", si: "internal"},
		{name: "non-repeatable read", h: []*elleTxn{
			tx(1, true, 1, 2, a(0, 1)),
			tx(2, true, 1, 3, r(0), r(0, 1)),
		}, ser: "internal", si: "internal"},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			for _, snapshot := range []bool{false, true} {
				want := c.ser
				if snapshot {
					want = c.si
				}
				anomalies, _ := elleCheck(c.h, c.complete, snapshot)
				got := strings.Join(anomalies, "\n")
				switch {
				case want == "" && len(anomalies) > 0:
					t.Errorf("snapshot=%v: reported\n%s", snapshot, got)
				case want != "" && !strings.Contains(got, want):
					t.Errorf("snapshot=%v: want %q reported, got\n%s", snapshot, want, got)
				default:
					t.Logf("snapshot=%v: %s", snapshot, got)
				}
			}
		})
	}
	// The write skew is one cycle that SI allows.
	_, cycles := elleCheck(cases[1].h, true, true)
	if cycles != 1 {
		t.Errorf("write skew: %d cycles counted, want 1", cycles)
	}
}
