package stress

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// The workload is a pure function of (seed, writer, batch number): the
// child generates batch n of writer g to write it, and the parent generates
// it again to know what the database must hold. No workload data crosses
// the process boundary except the acknowledgements.
//
// Writer g owns the keys "w<g>/k<i>" for i < Keys (no other writer touches
// them, so each writer's keys evolve in its own commit order) and its
// progress key "m/<g>", which every batch of g sets to the batch number.
// So the database says which batch of g it holds last, and the writer's
// keys must then be exactly the state after batches 1..n: batches are
// all-or-nothing.
//
// Values are self-describing, "<key>|<n>|<op>|<filler>": a reader can
// regenerate batch n and check that its operation op put exactly this
// value under exactly this key, so a value never passes for another key's
// or for a value that was never written.

// Op is one operation of a batch.
type Op struct {
	Key    string
	Value  string // "" for a deletion
	Delete bool
}

// Workload generates the batches.
type Workload struct {
	Seed      uint64
	Writers   int
	Keys      int // keys per writer
	ValueSize int // largest filler length
}

// DataKey is the key of writer g with index i.
func DataKey(g, i int) string { return fmt.Sprintf("w%02d/k%05d", g, i) }

// ProgressKey is writer g's progress key.
func ProgressKey(g int) string { return fmt.Sprintf("m/%02d", g) }

// Batch returns batch n (n >= 1) of writer g: its data operations, then the
// progress key set to n.
func (w *Workload) Batch(g int, n uint64) []Op {
	rng := rand.New(rand.NewPCG(w.Seed^uint64(g+1)*0x9e3779b97f4a7c15, n))
	count := 1 + rng.IntN(8)
	ops := make([]Op, 0, count+1)
	for i := 0; i < count; i++ {
		key := DataKey(g, rng.IntN(w.Keys))
		if rng.IntN(5) == 0 {
			ops = append(ops, Op{Key: key, Delete: true})
			continue
		}
		filler := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(w.ValueSize+1))
		ops = append(ops, Op{Key: key, Value: fmt.Sprintf("%s|%d|%d|%s", key, n, i, filler)})
	}
	return append(ops, Op{Key: ProgressKey(g), Value: strconv.FormatUint(n, 10)})
}

// Apply applies batch n of writer g to state.
func (w *Workload) Apply(state map[string]string, g int, n uint64) {
	for _, op := range w.Batch(g, n) {
		if op.Delete {
			delete(state, op.Key)
		} else {
			state[op.Key] = op.Value
		}
	}
}

// CheckValue reports whether value is one the workload wrote under key.
func (w *Workload) CheckValue(key, value string) error {
	var g int
	if _, err := fmt.Sscanf(key, "m/%d", &g); err == nil && strings.HasPrefix(key, "m/") {
		if _, err := strconv.ParseUint(value, 10, 64); err != nil || g < 0 || g >= w.Writers {
			return fmt.Errorf("progress key %q holds %q", key, value)
		}
		return nil
	}
	var i int
	if _, err := fmt.Sscanf(key, "w%02d/k%05d", &g, &i); err != nil || DataKey(g, i) != key || g >= w.Writers || i >= w.Keys {
		return fmt.Errorf("key %q was never written", key)
	}
	parts := strings.SplitN(value, "|", 4)
	if len(parts) != 4 || parts[0] != key {
		return fmt.Errorf("key %q holds %q, a value not written under it", key, value)
	}
	n, err1 := strconv.ParseUint(parts[1], 10, 64)
	op, err2 := strconv.Atoi(parts[2])
	if err1 != nil || err2 != nil || n == 0 {
		return fmt.Errorf("key %q holds malformed value %q", key, value)
	}
	ops := w.Batch(g, n)
	if op < 0 || op >= len(ops)-1 || ops[op].Key != key || ops[op].Value != value {
		return fmt.Errorf("key %q holds %q, which batch %d of writer %d did not write", key, value, n, g)
	}
	return nil
}
