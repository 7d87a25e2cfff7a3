package keys

import (
	"bytes"
	"fmt"
)

func ExampleTuple_Pack() {
	// An index key: table "orders", customer 42, newest order first.
	key, err := Tuple{"orders", int64(42), Desc{int64(1700000000)}}.Pack()
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", key)

	older, _ := Tuple{"orders", int64(42), Desc{int64(1600000000)}}.Pack()
	fmt.Println(bytes.Compare(key, older)) // the newer order sorts first
	// Output:
	// 02 6f 72 64 65 72 73 00 01 15 2a e7 9a ac 0e ff
	// -1
}

func ExampleUnpack() {
	t, err := Unpack([]byte{0x02, 'h', 'i', 0x00, 0x01, 0x13, 0xfe, 0x05, 0x00, 0xff, 0x27, 0x00, 0x01, 0xea, 0xfe})
	if err != nil {
		panic(err)
	}
	for _, v := range t {
		fmt.Printf("%T %v\n", v, v)
	}

	_, err = Unpack([]byte{0x16, 0x00, 0x01})
	fmt.Println(err)
	// Output:
	// string hi
	// int64 -1
	// keys.Tuple [<nil> true]
	// keys.Desc {1}
	// keys: offset 1: integer with a leading zero byte: invalid tuple encoding
}

func ExampleAppendInt() {
	// The hot path: build a key without Tuple, boxing or errors.
	buf := make([]byte, 0, 64)
	key := AppendString(buf, "events")
	key = AppendInt(key, -2)
	start := len(key)
	key = AppendUint(key, 3)
	Invert(key[start:]) // that element is descending
	fmt.Printf("% x\n", key)

	t, _ := Unpack(key)
	fmt.Println(t)
	// Output:
	// 02 65 76 65 6e 74 73 00 01 13 fd ea fc
	// [events -2 {3}]
}

func ExampleDecoder() {
	key, _ := Tuple{"users", int64(7), "alice@example.com"}.Pack()
	d := NewDecoder(key)
	_ = d.Skip() // table name
	id, _ := d.Next()
	fmt.Println(id, "at", d.Offset())
	// Output: 7 at 10
}

func ExamplePrefixRange() {
	prefix, _ := Tuple{"users", int64(7)}.Pack()
	lower, upper := PrefixRange(prefix)
	fmt.Printf("[% x, % x)\n", lower, upper)
	// Output: [02 75 73 65 72 73 00 01 15 07, 02 75 73 65 72 73 00 01 15 08)
}
