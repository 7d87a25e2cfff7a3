package session

import (
	"context"

	"github.com/strata-db/strata/sql/parser"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// The plan cache of statements that are not prepared: an INSERT or
// REPLACE ... VALUES sent as text is run as a prepared statement of its
// shape (parser.AppendValuesShape: its values taken out as parameters),
// parsed and planned once per session and shape, its plan checked as a
// prepared statement's is (Session.plan: the same database, the same
// table descriptors, read in the statement's transaction). sysbench's
// oltp_insert sends one such shape per table, each time with new values.
const (
	// maxShapes and maxShapesBytes bound the shapes a session keeps, in
	// number and in bytes of text (all are dropped when a new one would
	// pass either).
	maxShapes      = 64
	maxShapesBytes = 256 << 10
	// maxShapeBytes bounds the statements whose shape is looked for (a
	// longer one is parsed as it is).
	maxShapeBytes = 16 << 10
)

// execShape runs sql as its shape's prepared statement when it has one
// (ok); otherwise the caller parses it as usual, so that an error that
// the shape would also have (a bad literal, a syntax error) is reported
// as sql's own.
func (s *Session) execShape(ctx context.Context, sql string) (res *Result, ok bool, err error) {
	if len(sql) > maxShapeBytes {
		return nil, false, nil
	}
	buf, lits, ok := parser.AppendValuesShape(s.shapeBuf[:0], sql)
	s.shapeBuf = buf[:0]
	if !ok {
		return nil, false, nil
	}
	params := make([]types.Value, len(lits))
	for i := range lits {
		if params[i], err = plan.LiteralValue(&lits[i]); err != nil {
			return nil, false, nil
		}
	}
	ps := s.shapes[string(buf)]
	if ps == nil {
		shape := string(buf)
		st, n, err := parser.ParsePrepared(shape)
		if err != nil || n != len(lits) {
			return nil, false, nil
		}
		ps = &Stmt{SQL: shape, AST: st, Params: n}
		if s.shapes == nil || len(s.shapes) >= maxShapes || s.shapesBytes+len(shape) > maxShapesBytes {
			s.shapes, s.shapesBytes = make(map[string]*Stmt), 0
		}
		s.shapes[shape] = ps
		s.shapesBytes += len(shape)
	}
	res, err = s.Execute(ctx, ps, params)
	return res, true, err
}
