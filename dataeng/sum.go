package dataeng

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
)

// Sum adds decimal numbers given as text, exactly while they are integers:
// integers of any size are summed exactly (in an int64, and past its range
// in a big.Int), numbers with a fraction or an exponent in a float64. The
// result is an integer when every number was one, else the float64 sum.
// A group-by's reduce (strata groupby --sum-field) uses it. The zero Sum
// is empty (0).
type Sum struct {
	small    int64    // the integers' sum while it fits
	big      *big.Int // the integers' sum once it did not (then small is 0)
	fraction float64  // the sum of the other numbers
	floats   bool     // whether there were any
}

// ParseNumber checks that s is a number Sum.Add takes: a decimal integer
// (optional sign, digits) or what strconv.ParseFloat reads.
func ParseNumber(s []byte) error {
	if _, ok := parseInt(s); ok {
		return nil
	}
	_, err := strconv.ParseFloat(string(s), 64)
	return err
}

// parseInt parses a decimal integer of any size: in small when it fits an
// int64, else in big.
func parseInt(s []byte) (intOrBig, bool) {
	i, err := strconv.ParseInt(string(s), 10, 64)
	if err == nil {
		return intOrBig{small: i}, true
	}
	if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
		return intOrBig{}, false
	}
	b, ok := new(big.Int).SetString(string(s), 10)
	return intOrBig{big: b}, ok
}

// intOrBig is an integer: small, or big when that is set.
type intOrBig struct {
	small int64
	big   *big.Int
}

// Add adds the number s (see ParseNumber).
func (m *Sum) Add(s []byte) error {
	if n, ok := parseInt(s); ok {
		m.addInt(n)
		return nil
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return fmt.Errorf("%q is not a number", s)
	}
	m.fraction += f
	m.floats = true
	return nil
}

func (m *Sum) addInt(n intOrBig) {
	if m.big == nil && n.big == nil {
		if s, overflow := addInt64(m.small, n.small); !overflow {
			m.small = s
			return
		}
	}
	if m.big == nil {
		m.big = big.NewInt(m.small)
		m.small = 0
	}
	if n.big != nil {
		m.big.Add(m.big, n.big)
	} else {
		m.big.Add(m.big, big.NewInt(n.small))
	}
}

// addInt64 returns a+b and whether it overflowed.
func addInt64(a, b int64) (int64, bool) {
	s := a + b
	return s, (a > 0 && b > 0 && s < 0) || (a < 0 && b < 0 && s >= 0)
}

// AppendText appends the sum: an integer in decimal, or the float64 sum in
// the shortest 'f' form that reads back the same.
func (m *Sum) AppendText(dst []byte) []byte {
	if !m.floats {
		if m.big != nil {
			return m.big.Append(dst, 10)
		}
		return strconv.AppendInt(dst, m.small, 10)
	}
	f := float64(m.small)
	if m.big != nil {
		f, _ = new(big.Float).SetInt(m.big).Float64()
	}
	f += m.fraction
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	}
	return strconv.AppendFloat(dst, f, 'f', -1, 64)
}
