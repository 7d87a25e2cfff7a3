package expr

import (
	"testing"

	"github.com/strata-db/strata/sql/types"
)

func c(v types.Value) Expr { return &Const{V: v} }

func i(n int64) Expr  { return c(types.NewInt(n)) }
func s(x string) Expr { return c(types.NewString(x)) }

var null = c(types.Null)

func fn(t *testing.T, name string, args ...Expr) Expr {
	f, err := NewFunc(name, args)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestEval(t *testing.T) {
	tests := []struct {
		e    Expr
		want string
	}{
		{&And{null, i(0)}, "0"},
		{&And{null, i(1)}, "NULL"},
		{&Or{null, i(1)}, "1"},
		{&Or{null, i(0)}, "NULL"},
		{&Not{null}, "NULL"},
		{&In{X: i(1), List: []Expr{i(2), null}}, "NULL"},
		{&In{X: i(2), List: []Expr{i(2), null}}, "1"},
		{&In{X: i(3), List: []Expr{i(2), null}, Not: true}, "NULL"},
		{&In{X: i(3), List: []Expr{i(2)}, Not: true}, "1"},
		{&Between{X: i(5), Lo: i(1), Hi: i(5)}, "1"},
		{&Between{X: i(5), Lo: null, Hi: i(4)}, "0"},
		{&Between{X: i(5), Lo: null, Hi: i(6)}, "NULL"},
		{&Between{X: null, Lo: i(1), Hi: i(6)}, "NULL"},
		{&Between{X: i(0), Lo: i(1), Hi: null}, "0"},
		{&Between{X: i(5), Lo: i(1), Hi: i(5), Not: true}, "0"},
		{&Between{X: i(7), Lo: i(1), Hi: i(5), Not: true}, "1"},
		{&Between{X: i(5), Lo: null, Hi: i(4), Not: true}, "1"},
		{&Between{X: i(5), Lo: null, Hi: i(6), Not: true}, "NULL"},
		{&Between{X: s("b"), Lo: s("A"), Hi: s("C")}, "1"},
		{&Case{Whens: []Expr{i(0), null, i(1)}, Thens: []Expr{s("a"), s("b"), s("c")}}, "c"},
		{&Case{Operand: i(2), Whens: []Expr{i(1), i(2)}, Thens: []Expr{s("a"), s("b")}}, "b"},
		{&Case{Operand: null, Whens: []Expr{null}, Thens: []Expr{s("a")}}, "NULL"},
		{&Like{X: s("Hello"), Pattern: s("h%o")}, "1"},
		{&Like{X: s("Hello"), Pattern: s("h_llo_")}, "0"},
		{&Like{X: s("50%"), Pattern: s("50\\%")}, "1"},
		{&Like{X: s("a%b"), Pattern: s("a|%b"), Escape: s("|")}, "1"},
		{&Like{X: s("aaaaaaaaaaaaaaaaaaaaaaaaaaaaab"), Pattern: s("%a%a%a%a%a%a%a%c")}, "0"},
		{&Cast{X: s("12abc"), To: "signed"}, "12"},
		{&Cast{X: i(-1), To: "unsigned"}, "18446744073709551615"},
		{&Cast{X: s("1.23456"), To: "decimal", Length: 5, Scale: 2, HasPrecision: true}, "1.23"},
		{&Cast{X: s("2024-02-30"), To: "date"}, "NULL"},
		{&Arith{Op: types.OpAdd, X: i(1), Y: s("2")}, "3"},
		{fn(t, "abs", i(-5)), "5"},
		{fn(t, "coalesce", null, null, i(3)), "3"},
		{fn(t, "nullif", i(1), i(1)), "NULL"},
		{fn(t, "ifnull", null, s("x")), "x"},
		{fn(t, "concat", s("a"), i(1), null), "NULL"},
		{fn(t, "concat_ws", s(","), s("a"), null, s("b")), "a,b"},
		{fn(t, "substring", s("Quadratically"), i(5), i(6)), "ratica"},
		{fn(t, "substring", s("Sakila"), i(-3)), "ila"},
		{fn(t, "round", c(types.NewFloat(2.5))), "2"},
		{fn(t, "round", i(1234), i(-2)), "1200"},
		{fn(t, "round", i(-1250), i(-2)), "-1300"},
		{fn(t, "floor", c(types.NewFloat(-1.5))), "-2"},
		{fn(t, "greatest", i(1), i(3), i(2)), "3"},
		{fn(t, "lpad", s("hi"), i(5), s("?!")), "?!?hi"},
		{fn(t, "trim", s("  x  ")), "x"},
		{fn(t, "datediff", s("2024-03-01"), s("2024-02-01")), "29"},
		{&DateAdd{X: s("2024-01-31"), N: i(1), Unit: "month"}, "2024-02-29"},
		{&DateAdd{X: s("2024-01-01 23:00:00"), N: i(2), Unit: "hour"}, "2024-01-02 01:00:00"},
		{&DateAdd{X: s("2024-03-01"), N: i(1), Unit: "day", Sub: true}, "2024-02-29"},
		{&Bit{Op: "&", X: i(6), Y: i(3)}, "2"},
		{&Bit{Op: "~", X: i(0)}, "18446744073709551615"},
	}
	for _, tt := range tests {
		v, err := tt.e.Eval(&Ctx{}, nil)
		if err != nil || v.String() != tt.want {
			t.Errorf("%s = %v, %v; want %s", tt.e, v, err, tt.want)
		}
	}
}

func TestNewFuncErrors(t *testing.T) {
	if _, err := NewFunc("nope", nil); err == nil {
		t.Error("unknown function accepted")
	}
	if _, err := NewFunc("abs", nil); err == nil {
		t.Error("abs() accepted")
	}
}
