package plan

import "github.com/strata-db/strata/sql/expr"

// markStreaming sets Aggregate.Streaming, below n, on each aggregate whose
// input is a lone scan (through Filters) that returns the rows of each
// group next to each other: the GROUP BY expressions are plain columns of
// the scan's table, and in the index the scan reads they are the leading
// columns, after those an equality of the scan's one range fixes. Rows
// equal in the index's key encoding of a column are equal as group-by
// values (types.Key) and the other way round, so a group is one run of
// the index.
func markStreaming(n Node) {
	if a, ok := n.(*Aggregate); ok && len(a.GroupBy) > 0 {
		a.Streaming = groupedByIndex(a)
	}
	for _, c := range n.Children() {
		markStreaming(c)
	}
}

// groupedByIndex reports whether a's input arrives grouped (see
// markStreaming).
func groupedByIndex(a *Aggregate) bool {
	in := a.Input
	for {
		f, ok := in.(*Filter)
		if !ok {
			break
		}
		in = f.Input
	}
	s, ok := in.(*Scan)
	if !ok || len(s.Ranges) > 1 {
		return false
	}
	fixed := 0
	if len(s.Ranges) == 1 {
		fixed = len(s.Ranges[0].Eq)
	}
	need := map[int]bool{}
	for _, g := range a.GroupBy {
		c, ok := g.(*expr.Column)
		if !ok || c.Depth != 0 || c.Index < 0 || c.Index >= len(s.Table.Columns) {
			return false
		}
		need[c.Index] = true
	}
	for i, id := range s.Index.Columns {
		if len(need) == 0 {
			break
		}
		pos := s.Table.ColumnByID(id)
		switch {
		case need[pos]:
			delete(need, pos)
		case i < fixed:
			// One value of this column in the whole scan.
		default:
			return false
		}
	}
	return len(need) == 0
}
