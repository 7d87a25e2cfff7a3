package dataeng

import (
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"
)

func TestSum(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{nil, "0"},
		{[]string{"1", "2", "-3"}, "0"},
		{[]string{"9007199254740993", "1"}, "9007199254740994"}, // not exact in float64
		{[]string{"9223372036854775807", "1"}, "9223372036854775808"},
		{[]string{"-9223372036854775808", "-1", "2"}, "-9223372036854775807"},
		{[]string{"123456789012345678901234567890", "-123456789012345678901234567889"}, "1"},
		{[]string{"1.5", "2"}, "3.5"},
		{[]string{"+7", "0.25", "1e2"}, "107.25"},
	} {
		var s Sum
		for _, x := range tc.in {
			if err := ParseNumber([]byte(x)); err != nil {
				t.Fatalf("ParseNumber(%q): %v", x, err)
			}
			if err := s.Add([]byte(x)); err != nil {
				t.Fatal(err)
			}
		}
		if got := string(s.AppendText(nil)); got != tc.want {
			t.Errorf("sum of %v = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{"", "x", "1,5", "0x10", " 1"} {
		var s Sum
		if ParseNumber([]byte(bad)) == nil || s.Add([]byte(bad)) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// Random int64s near the edges, against big.Int.
	rng := rand.New(rand.NewPCG(1, 2))
	var s Sum
	want := new(big.Int)
	for range 10000 {
		x := rng.Int64() - rng.Int64()
		s.Add(strconv.AppendInt(nil, x, 10))
		want.Add(want, big.NewInt(x))
	}
	if got := string(s.AppendText(nil)); got != want.String() {
		t.Errorf("random sum %s, want %s", got, want)
	}
}
