package sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/strata-db/strata/cluster/clusterpb"

	"github.com/strata-db/strata/cluster/raftstore"
)

// The register model porcupine checks histories against: one register per
// key (the model partitions the history by key), with get, put and
// compare-and-swap.

type kvOp int

const (
	opGet kvOp = iota
	opPut
	opCAS
)

type kvInput struct {
	op        kvOp
	key       string
	value     string // put, cas: the new value
	old       string // cas: the expected value
	oldExists bool   // cas: whether the key must exist
}

type kvOutput struct {
	value   string
	found   bool
	ok      bool // cas: the condition held
	unknown bool // a write whose outcome is unknown
}

type kvState struct {
	value  string
	exists bool
}

var kvModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(kvInput).key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		var out [][]porcupine.Operation
		for _, k := range keys {
			out = append(out, byKey[k])
		}
		return out
	},
	Init: func() any { return kvState{} },
	Step: func(state, input, output any) (bool, any) {
		s, in, out := state.(kvState), input.(kvInput), output.(kvOutput)
		switch in.op {
		case opGet:
			return out.found == s.exists && (!s.exists || out.value == s.value), s
		case opPut:
			return true, kvState{value: in.value, exists: true}
		default:
			holds := s.exists == in.oldExists && (!s.exists || s.value == in.old)
			if out.unknown {
				if holds {
					return true, kvState{value: in.value, exists: true}
				}
				return true, s
			}
			if out.ok != holds {
				return false, s
			}
			if holds {
				return true, kvState{value: in.value, exists: true}
			}
			return true, s
		}
	},
	Equal: func(a, b any) bool { return a.(kvState) == b.(kvState) },
	DescribeOperation: func(input, output any) string {
		in, out := input.(kvInput), output.(kvOutput)
		switch in.op {
		case opGet:
			return fmt.Sprintf("get(%s) -> %q %v", in.key, out.value, out.found)
		case opPut:
			return fmt.Sprintf("put(%s, %s) unknown=%v", in.key, in.value, out.unknown)
		default:
			return fmt.Sprintf("cas(%s, %q/%v -> %s) -> %v unknown=%v", in.key, in.old, in.oldExists, in.value, out.ok, out.unknown)
		}
	},
}

// recorder collects a concurrent history.
type recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
	// counts of outcomes
	ok, failed, unknown int
}

func newRecorder() *recorder { return &recorder{start: time.Now()} }

func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

// add records an operation. err decides its fate: nil is a known outcome;
// an error wrapping raftstore.ErrUnknownResult makes a write's return time
// infinite (it may take effect any time after its call); any other error
// means the operation did not take effect and it is left out.
func (r *recorder) add(client int, in kvInput, call int64, out kvOutput, err error) {
	ret := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case err == nil:
		r.ok++
	case errors.Is(err, raftstore.ErrUnknownResult) && in.op != opGet:
		r.unknown++
		out.unknown = true
		ret = math.MaxInt64
	default:
		r.failed++
		return
	}
	r.ops = append(r.ops, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
}

func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Logf("history: %d operations known, %d unknown outcome, %d failed (left out)", r.ok, r.unknown, r.failed)
	res := porcupine.CheckOperationsTimeout(kvModel, r.ops, time.Minute)
	switch res {
	case porcupine.Illegal:
		t.Fatalf("history is not linearizable (%d operations)", len(r.ops))
	case porcupine.Unknown:
		t.Logf("linearizability check timed out: inconclusive")
	}
}

// workload runs clients doing random gets (half of them through Scan over
// the key alone), puts and CASes on a few keys until ctx ends, recording
// into rec.
func workload(ctx context.Context, c *Cluster, rec *recorder, clients int, keys int, seed uint64, opTimeout time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for id := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := c.Client()
			rng := rand.New(rand.NewPCG(seed, uint64(id)))
			for n := 0; ctx.Err() == nil; n++ {
				key := fmt.Sprintf("key%d", rng.IntN(keys))
				val := fmt.Sprintf("c%d-%d", id, n)
				octx, cancel := context.WithTimeout(context.Background(), opTimeout)
				call := rec.now()
				switch rng.IntN(3) {
				case 0:
					var v []byte
					var found bool
					var err error
					if n%2 == 0 {
						v, found, err = cl.Get(octx, []byte(key))
					} else {
						// The same read through Scan, over the key alone.
						var pairs []*clusterpb.KvPair
						pairs, err = cl.Scan(octx, []byte(key), append([]byte(key), 0), 0)
						if len(pairs) > 0 {
							v, found = pairs[0].GetValue(), true
						}
					}
					rec.add(id, kvInput{op: opGet, key: key}, call, kvOutput{value: string(v), found: found}, err)
				case 1:
					err := cl.Put(octx, []byte(key), []byte(val))
					rec.add(id, kvInput{op: opPut, key: key, value: val}, call, kvOutput{}, err)
				default:
					// CAS from what this client last read.
					old, found, err := cl.Get(octx, []byte(key))
					rec.add(id, kvInput{op: opGet, key: key}, call, kvOutput{value: string(old), found: found}, err)
					if err != nil {
						cancel()
						continue
					}
					call = rec.now()
					ok, err := cl.CompareAndSwap(octx, []byte(key), old, found, []byte(val))
					rec.add(id, kvInput{op: opCAS, key: key, value: val, old: string(old), oldExists: found}, call, kvOutput{ok: ok}, err)
				}
				cancel()
			}
		}()
	}
	return &wg
}

// finalReads reads every key once more after the faults, into the history:
// an acknowledged write that was lost makes the history illegal.
func finalReads(t *testing.T, c *Cluster, rec *recorder, keys int) {
	t.Helper()
	cl := c.Client()
	for k := range keys {
		key := fmt.Sprintf("key%d", k)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		call := rec.now()
		v, found, err := cl.Get(ctx, []byte(key))
		cancel()
		if err != nil {
			t.Fatalf("final read of %s after healing: %v", key, err)
		}
		rec.add(-1, kvInput{op: opGet, key: key}, call, kvOutput{value: string(v), found: found}, nil)
	}
}
