package types

import (
	"fmt"
	"strconv"
	"strings"
)

// Temporal values are packed into one int64 whose order is the values'
// order:
//
//	Date, Datetime: ((((year*13+month)*32+day)*24+hour)*60+minute)*60+second, times 1e6, plus microseconds
//	Time:           a signed count of microseconds
//
// (A date is a datetime at midnight, so a DATE and a DATETIME compare by
// their packed integers.) Zero dates ('0000-00-00') and zero parts are
// allowed, as MySQL allows them.

// Parts are a temporal value's fields.
type Parts struct {
	Year, Month, Day     int
	Hour, Minute, Second int
	Micro                int
	Neg                  bool // a negative TIME
}

// DateParts returns v's fields (zero for other kinds).
func DateParts(v Value) Parts {
	n := int64(v.num)
	switch v.kind {
	case KindDate, KindDatetime:
		var p Parts
		p.Micro = int(n % 1e6)
		n /= 1e6
		p.Second = int(n % 60)
		n /= 60
		p.Minute = int(n % 60)
		n /= 60
		p.Hour = int(n % 24)
		n /= 24
		p.Day = int(n % 32)
		n /= 32
		p.Month = int(n % 13)
		p.Year = int(n / 13)
		return p
	case KindTime:
		var p Parts
		if n < 0 {
			p.Neg, n = true, -n
		}
		p.Micro = int(n % 1e6)
		n /= 1e6
		p.Second = int(n % 60)
		n /= 60
		p.Minute = int(n % 60)
		p.Hour = int(n / 60)
		return p
	}
	return Parts{}
}

func packDate(p Parts) int64 {
	return (((((int64(p.Year)*13+int64(p.Month))*32+int64(p.Day))*24+int64(p.Hour))*60+int64(p.Minute))*60+int64(p.Second))*1e6 + int64(p.Micro)
}

// NewDate returns a DATE.
func NewDate(year, month, day int) Value {
	return Value{kind: KindDate, num: uint64(packDate(Parts{Year: year, Month: month, Day: day}))}
}

// NewDatetime returns a DATETIME.
func NewDatetime(p Parts) Value {
	return Value{kind: KindDatetime, num: uint64(packDate(p))}
}

// NewTime returns a TIME of the given microseconds.
func NewTime(micros int64) Value { return Value{kind: KindTime, num: uint64(micros)} }

// TimeMicros returns a TIME's signed microseconds.
func TimeMicros(v Value) int64 { return int64(v.num) }

// AsDatetime returns a DATE as the DATETIME at its midnight (others as
// they are).
func AsDatetime(v Value) Value {
	if v.kind == KindDate {
		v.kind = KindDatetime
	}
	return v
}

func formatTemporal(v Value) string {
	p := DateParts(v)
	switch v.kind {
	case KindDate:
		return fmt.Sprintf("%04d-%02d-%02d", p.Year, p.Month, p.Day)
	case KindDatetime:
		s := fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d", p.Year, p.Month, p.Day, p.Hour, p.Minute, p.Second)
		if p.Micro != 0 {
			s += fmt.Sprintf(".%06d", p.Micro)
		}
		return s
	case KindTime:
		sign := ""
		if p.Neg {
			sign = "-"
		}
		s := fmt.Sprintf("%s%02d:%02d:%02d", sign, p.Hour, p.Minute, p.Second)
		if p.Micro != 0 {
			s += fmt.Sprintf(".%06d", p.Micro)
		}
		return s
	}
	return ""
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// ParseDatetime reads a date or datetime from text as MySQL accepts it:
// 'YYYY-MM-DD', 'YYYY-MM-DD hh:mm:ss[.ffffff]' (any punctuation as
// separators, 'T' too), or digits only (YYYYMMDD, YYYYMMDDhhmmss). A
// two-digit year is 1970-2069. It returns a Date when there is no time
// part, a Datetime otherwise; ok false if s is not one (or an impossible
// date: month 13, February 30).
func ParseDatetime(s string) (Value, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Null, false
	}
	var nums []string
	var frac string
	if allDigits(s) {
		switch len(s) {
		case 6, 8, 12, 14:
			yl := 4
			if len(s) == 6 || len(s) == 12 {
				yl = 2
			}
			nums = append(nums, s[:yl])
			for i := yl; i < len(s); i += 2 {
				nums = append(nums, s[i:i+2])
			}
		default:
			return Null, false
		}
	} else {
		datePart, timePart := s, ""
		if i := strings.IndexAny(s, " T"); i >= 0 {
			datePart, timePart = s[:i], strings.TrimSpace(s[i+1:])
		}
		nums = splitNums(datePart)
		if len(nums) != 3 {
			return Null, false
		}
		if timePart != "" {
			if i := strings.IndexByte(timePart, '.'); i >= 0 {
				timePart, frac = timePart[:i], timePart[i+1:]
				if !allDigits(frac) {
					return Null, false
				}
			}
			t := splitNums(timePart)
			if len(t) < 1 || len(t) > 3 {
				return Null, false
			}
			for len(t) < 3 {
				t = append(t, "0")
			}
			nums = append(nums, t...)
		}
	}
	vals := make([]int, len(nums))
	for i, n := range nums {
		x, err := strconv.Atoi(n)
		if err != nil {
			return Null, false
		}
		vals[i] = x
	}
	if len(nums[0]) <= 2 {
		if vals[0] < 70 {
			vals[0] += 2000
		} else {
			vals[0] += 1900
		}
	}
	p := Parts{Year: vals[0], Month: vals[1], Day: vals[2]}
	if p.Year > 9999 || p.Month > 12 || p.Day > 31 {
		return Null, false
	}
	if p.Month > 0 && p.Day > daysIn(p.Year, p.Month) {
		return Null, false
	}
	if len(vals) == 3 {
		return Value{kind: KindDate, num: uint64(packDate(p))}, true
	}
	p.Hour, p.Minute, p.Second = vals[3], vals[4], vals[5]
	if p.Hour > 23 || p.Minute > 59 || p.Second > 59 {
		return Null, false
	}
	if frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		f, _ := strconv.Atoi((frac + "000000")[:6])
		p.Micro = f
	}
	return Value{kind: KindDatetime, num: uint64(packDate(p))}, true
}

// ParseTime reads a TIME: '[-][D ]hh:mm:ss[.ffffff]', 'hh:mm', or digits
// ([h]hmmss).
func ParseTime(s string) (Value, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	}
	var frac string
	if i := strings.IndexByte(s, '.'); i >= 0 {
		s, frac = s[:i], s[i+1:]
		if !allDigits(frac) {
			return Null, false
		}
	}
	days := 0
	if i := strings.IndexByte(s, ' '); i >= 0 {
		d, err := strconv.Atoi(s[:i])
		if err != nil {
			return Null, false
		}
		days, s = d, s[i+1:]
	}
	var h, m, sec int
	if allDigits(s) && s != "" {
		n, _ := strconv.Atoi(s)
		h, m, sec = n/10000, n/100%100, n%100
	} else {
		parts := splitNums(s)
		vals := make([]int, len(parts))
		for i, p := range parts {
			x, err := strconv.Atoi(p)
			if err != nil {
				return Null, false
			}
			vals[i] = x
		}
		switch len(vals) {
		case 2:
			h, m = vals[0], vals[1]
		case 3:
			h, m, sec = vals[0], vals[1], vals[2]
		default:
			return Null, false
		}
	}
	if m > 59 || sec > 59 {
		return Null, false
	}
	micro := 0
	if frac != "" {
		if len(frac) > 6 {
			frac = frac[:6]
		}
		micro, _ = strconv.Atoi((frac + "000000")[:6])
	}
	total := ((int64(days*24+h)*60+int64(m))*60+int64(sec))*1e6 + int64(micro)
	if total > 838*3600*1e6+59*60*1e6+59*1e6 {
		return Null, false
	}
	if neg {
		total = -total
	}
	return NewTime(total), true
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func splitNums(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r < '0' || r > '9' })
}

// FromPacked returns a temporal value of kind k from its packed integer
// (as Packed returns it).
func FromPacked(k Kind, packed int64) Value { return Value{kind: k, num: uint64(packed)} }
