package rowcodec

import (
	"bytes"
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/cockroachdb/apd/v3"
	"github.com/strata-db/strata/sql/types"
)

func TestDecimalKeyOrder(t *testing.T) {
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 2))
	var ds []*apd.Decimal
	for _, s := range []string{"0", "-0", "1", "-1", "1.2", "1.23", "-1.2", "-1.23", "10", "9.99", "0.001", "-0.001", "1e30", "-1e30", "100", "1E2"} {
		d, _, _ := apd.NewFromString(s)
		ds = append(ds, d)
	}
	for i := 0; i < 300; i++ {
		ds = append(ds, apd.New(rng.Int64N(2000000)-1000000, int32(rng.IntN(20)-10)))
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].Cmp(ds[j]) < 0 })
	for i := 1; i < len(ds); i++ {
		a, b := DecimalKey(nil, ds[i-1]), DecimalKey(nil, ds[i])
		c := bytes.Compare(a, b)
		want := ds[i-1].Cmp(ds[i])
		if c != want {
			t.Fatalf("%s vs %s: key order %d, value order %d", ds[i-1], ds[i], c, want)
		}
	}
}

func TestKeyOrder(t *testing.T) {
	vals := []types.Value{types.Null, types.NewInt(-5), types.NewInt(0), types.NewUint(7), types.NewInt(1 << 40)}
	for i := 1; i < len(vals); i++ {
		for _, desc := range []bool{false, true} {
			a, b := AppendKey(nil, vals[i-1], desc), AppendKey(nil, vals[i], desc)
			if c := bytes.Compare(a, b); (c < 0) == desc {
				t.Errorf("%v vs %v (desc %v): %d", vals[i-1], vals[i], desc, c)
			}
		}
	}
	if !bytes.Equal(AppendKey(nil, types.NewString("Abc"), false), AppendKey(nil, types.NewString("aBC"), false)) {
		t.Error("strings equal under the collation have different keys")
	}
}

func TestRowRoundTrip(t *testing.T) {
	d, _, _ := apd.NewFromString("-12.50")
	dt, _ := types.ParseDatetime("2024-01-02 03:04:05.25")
	in := []types.Value{types.NewInt(-3), types.NewUint(1 << 63), types.NewFloat(2.5), types.NewDecimal(d),
		types.NewString("héllo"), types.NewBytes([]byte{0, 1}), types.NewDate(2020, 2, 29), dt, types.NewTime(-5e6), types.Null}
	var row []byte
	for i, v := range in {
		row = AppendColumn(row, uint32(i+1), v)
	}
	got := make([]types.Value, len(in))
	if err := DecodeRow(row, func(id uint32, v types.Value) { got[id-1] = v }); err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if in[i].Kind() != got[i].Kind() || in[i].String() != got[i].String() {
			t.Errorf("column %d: %v %v -> %v %v", i+1, in[i].Kind(), in[i], got[i].Kind(), got[i])
		}
	}
	if err := DecodeRow(row[:len(row)-1], func(uint32, types.Value) {}); err == nil {
		t.Error("a truncated row decoded")
	}
}

func FuzzDecodeRow(f *testing.F) {
	f.Add(AppendColumn(AppendColumn(nil, 1, types.NewInt(5)), 2, types.NewString("x")))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodeRow(b, func(uint32, types.Value) {})
	})
}

// DecodeInto decodes the columns slots name into their positions, skips
// the others (every kind's payload), and with an arena gives the same
// strings; a truncated value is an error.
func TestDecodeInto(t *testing.T) {
	d, _, _ := apd.NewFromString("-12.50")
	dt, _ := types.ParseDatetime("2024-01-02 03:04:05.25")
	in := []types.Value{types.NewInt(-3), types.NewUint(1 << 63), types.NewFloat(2.5), types.NewDecimal(d),
		types.NewString("héllo"), types.NewBytes([]byte{0, 1}), types.NewDate(2020, 2, 29), dt, types.NewTime(-5e6),
		types.NewString(""), types.Null}
	var row []byte
	for i, v := range in {
		row = AppendColumn(row, uint32(i+1), v)
	}
	for _, tc := range []struct {
		name  string
		keep  func(id int) bool
		arena bool
	}{
		{"all", func(int) bool { return true }, false},
		{"all, arena", func(int) bool { return true }, true},
		{"odd ids", func(id int) bool { return id%2 == 1 }, false},
		{"even ids, arena", func(id int) bool { return id%2 == 0 }, true},
		{"none", func(int) bool { return false }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Slots in reverse order, and one short of the last id.
			slots := make([]int32, len(in))
			for id := range slots {
				slots[id] = -1
				if id > 0 && tc.keep(id) {
					slots[id] = int32(len(in) - id)
				}
			}
			got := make([]types.Value, len(in)+1)
			var arena []byte
			ap := (*[]byte)(nil)
			if tc.arena {
				ap = &arena
			}
			set, err := DecodeInto(row, slots, got, ap)
			if err != nil {
				t.Fatal(err)
			}
			var wantSet uint64
			for id := 1; id < len(slots); id++ {
				if tc.keep(id) {
					wantSet |= 1 << slots[id]
				}
			}
			if set != wantSet {
				t.Errorf("set %b, want %b", set, wantSet)
			}
			for id := 1; id < len(slots); id++ {
				if !tc.keep(id) {
					continue // skipped: its position is another column's
				}
				want, g := in[id-1], got[len(in)-id]
				if g.Kind() != want.Kind() || g.String() != want.String() {
					t.Errorf("column %d: %v %v, want %v %v", id, g.Kind(), g, want.Kind(), want)
				}
			}
			// The last column written (an empty string) loses its length.
			if _, err := DecodeInto(row[:len(row)-1], slots, got, ap); err == nil {
				t.Error("a truncated row decoded")
			}
		})
	}
}
