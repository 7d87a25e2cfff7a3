package session

import (
	"context"
	"sort"
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/exec"
	"github.com/strata-db/strata/sql/expr"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/plan"
	"github.com/strata-db/strata/sql/types"
)

// sysVarDefaults are the system variables clients and drivers read at
// connect time (SELECT @@version, @@max_allowed_packet, ...), with
// MySQL 8.0's defaults where Strata has no setting of its own.
var sysVarDefaults = map[string]types.Value{
	"version":                       types.NewString(expr.ServerVersion),
	"version_comment":               types.NewString("Strata"),
	"version_compile_os":            types.NewString("Linux"),
	"version_compile_machine":       types.NewString("x86_64"),
	"autocommit":                    types.NewInt(1),
	"auto_increment_increment":      types.NewInt(1),
	"auto_increment_offset":         types.NewInt(1),
	"character_set_client":          types.NewString("utf8mb4"),
	"character_set_connection":      types.NewString("utf8mb4"),
	"character_set_results":         types.NewString("utf8mb4"),
	"character_set_server":          types.NewString("utf8mb4"),
	"character_set_database":        types.NewString("utf8mb4"),
	"collation_connection":          types.NewString("utf8mb4_0900_ai_ci"),
	"collation_server":              types.NewString("utf8mb4_0900_ai_ci"),
	"collation_database":            types.NewString("utf8mb4_0900_ai_ci"),
	"init_connect":                  types.NewString(""),
	"interactive_timeout":           types.NewInt(28800),
	"wait_timeout":                  types.NewInt(28800),
	"net_write_timeout":             types.NewInt(60),
	"license":                       types.NewString("Apache-2.0"),
	"lower_case_table_names":        types.NewInt(0),
	"max_allowed_packet":            types.NewInt(67108864),
	"net_buffer_length":             types.NewInt(16384),
	"query_cache_size":              types.NewInt(0),
	"query_cache_type":              types.NewString("OFF"),
	"sql_mode":                      types.NewString("STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION"),
	"sql_select_limit":              types.NewUint(18446744073709551615),
	"system_time_zone":              types.NewString("UTC"),
	"time_zone":                     types.NewString("SYSTEM"),
	"transaction_isolation":         types.NewString("SERIALIZABLE"),
	"tx_isolation":                  types.NewString("SERIALIZABLE"),
	"transaction_read_only":         types.NewInt(0),
	"tx_read_only":                  types.NewInt(0),
	"performance_schema":            types.NewInt(0),
	"have_ssl":                      types.NewString("DISABLED"),
	"default_storage_engine":        types.NewString("Strata"),
	"storage_engine":                types.NewString("Strata"),
	"group_concat_max_len":          types.NewInt(1024),
	"div_precision_increment":       types.NewInt(4),
	"foreign_key_checks":            types.NewInt(1),
	"unique_checks":                 types.NewInt(1),
	"sql_auto_is_null":              types.NewInt(0),
	"sql_safe_updates":              types.NewInt(0),
	"max_execution_time":            types.NewInt(0),
	"innodb_lock_wait_timeout":      types.NewInt(50),
	"lock_wait_timeout":             types.NewInt(31536000),
	"port":                          types.NewInt(3306),
	"hostname":                      types.NewString("localhost"),
	"server_id":                     types.NewInt(1),
	"default_authentication_plugin": types.NewString("mysql_native_password"),
}

// Var reads a user (@x) or system (@@x) variable.
func (s *Session) Var(system bool, scope, name string) (types.Value, error) {
	name = strings.ToLower(name)
	if !system {
		return s.userVars[name], nil
	}
	switch name {
	case "autocommit":
		return types.NewBool(s.autocommit), nil
	case "transaction_isolation", "tx_isolation":
		if s.isolation == kv.SnapshotIsolation {
			return types.NewString("REPEATABLE-READ"), nil
		}
		return types.NewString("SERIALIZABLE"), nil
	case "last_insert_id", "identity":
		return types.NewUint(s.lastInsertID), nil
	case "warning_count":
		return types.NewInt(int64(len(s.warnings))), nil
	}
	if scope != "global" {
		if v, ok := s.sysVars[name]; ok {
			return v, nil
		}
	}
	if v, ok := s.e.globals.Load(name); ok {
		return v.(types.Value), nil
	}
	if v, ok := sysVarDefaults[name]; ok {
		return v, nil
	}
	return types.Null, types.Errorf(1193, "HY000", "Unknown system variable '%s'", name)
}

// set runs SET.
func (s *Session) set(ctx context.Context, st *ast.Set, params []types.Value) error {
	for _, v := range st.Vars {
		var val types.Value
		if v.Expr != nil {
			if c, ok := v.Expr.(*ast.ColName); ok && v.Scope != "user" && c.Table.Name.Empty() {
				val = types.NewString(c.Name.Orig) // SET x = ON: a keyword value
			} else {
				r, err := s.query(ctx, &ast.Select{Exprs: []ast.SelectExpr{{Expr: v.Expr}}}, params)
				if err != nil {
					return err
				}
				val = r.Rows[0][0]
			}
		}
		name := strings.ToLower(v.Name)
		switch v.Scope {
		case "user":
			s.userVars[name] = val
			continue
		}
		switch name {
		case "names", "character set", "charset":
			continue
		case "autocommit":
			on, _ := types.Truth(val)
			if sv := strings.ToLower(val.String()); sv == "on" {
				on = true
			}
			if on && !s.autocommit && s.txn != nil {
				if err := s.commit(); err != nil {
					return err
				}
			}
			s.autocommit = on
			continue
		case "transaction_isolation", "tx_isolation":
			scope := v.Scope
			if scope == "" {
				scope = "session"
			}
			if err := s.setTransaction(&ast.SetTransaction{Scope: scope, Isolation: strings.ToLower(strings.ReplaceAll(val.String(), " ", "-"))}); err != nil {
				return err
			}
			continue
		}
		if _, known := sysVarDefaults[name]; !known {
			return types.Errorf(1193, "HY000", "Unknown system variable '%s'", name)
		}
		if v.Expr == nil {
			delete(s.sysVars, name)
			continue
		}
		if v.Scope == "global" {
			s.e.globals.Store(name, val)
		} else {
			s.sysVars[name] = val
		}
	}
	return nil
}

// setTransaction maps MySQL's isolation levels onto the store's:
// SERIALIZABLE (the default) is serializable, the weaker levels run under
// snapshot isolation (which prevents everything they allow and more, but
// write skew).
//
// Without SESSION or GLOBAL it applies to the next transaction only (an
// explicit one, or the next autocommit statement), as in MySQL.
func (s *Session) setTransaction(st *ast.SetTransaction) error {
	if st.Isolation == "" {
		return nil
	}
	iso, err := ParseIsolation(st.Isolation)
	if err != nil {
		return err
	}
	if st.Scope == "" {
		s.nextIsolation = &iso
		return nil
	}
	s.isolation = iso
	return nil
}

// ParseIsolation maps a MySQL isolation level (SERIALIZABLE,
// REPEATABLE-READ or REPEATABLE READ, READ-COMMITTED, READ-UNCOMMITTED; any
// case) onto the store's: SERIALIZABLE is serializable, the weaker levels
// snapshot isolation.
func ParseIsolation(level string) (kv.Isolation, error) {
	switch strings.ToLower(strings.ReplaceAll(level, " ", "-")) {
	case "serializable":
		return kv.Serializable, nil
	case "repeatable-read", "read-committed", "read-uncommitted":
		return kv.SnapshotIsolation, nil
	}
	return 0, types.Errorf(1231, "42000", "Variable 'transaction_isolation' can't be set to the value of '%s'", level)
}

// takeIsolation is the isolation level of a transaction starting now.
func (s *Session) takeIsolation() kv.Isolation {
	if s.nextIsolation != nil {
		iso := *s.nextIsolation
		s.nextIsolation = nil
		return iso
	}
	return s.isolation
}

// resultRows builds a result of string columns.
func resultRows(names []string, rows [][]string) *Result {
	r := &Result{}
	for _, n := range names {
		r.Columns = append(r.Columns, Column{Name: n})
	}
	for _, row := range rows {
		vals := make([]types.Value, len(row))
		for i, v := range row {
			vals[i] = types.NewString(v)
		}
		r.Rows = append(r.Rows, vals)
	}
	return r
}

// showVariables is SHOW VARIABLES [LIKE 'pattern'].
func (s *Session) showVariables(like string) *Result {
	names := make([]string, 0, len(sysVarDefaults))
	for n := range sysVarDefaults {
		names = append(names, n)
	}
	sort.Strings(names)
	var rows [][]string
	for _, n := range names {
		if like != "" && !likeMatch(n, like) {
			continue
		}
		v, _ := s.Var(true, "session", n)
		rows = append(rows, []string{n, v.String()})
	}
	return resultRows([]string{"Variable_name", "Value"}, rows)
}

// likeMatch is LIKE for SHOW ... LIKE.
func likeMatch(s, pattern string) bool {
	e := &expr.Like{X: &expr.Const{V: types.NewString(s)}, Pattern: &expr.Const{V: types.NewString(pattern)}}
	v, _ := e.Eval(&expr.Ctx{}, nil)
	t, _ := types.Truth(v)
	return t
}

// explain runs EXPLAIN [ANALYZE] or DESCRIBE.
func (s *Session) explain(ctx context.Context, st *ast.Explain, params []types.Value) (*Result, error) {
	if st.Table != nil {
		return s.show(ctx, &ast.Show{What: "columns", Table: *st.Table})
	}
	var out string
	err := s.withRead(ctx, func(tx kv.Txn) error {
		cat := s.catalog(tx)
		cat.virtual = true
		var p plan.Node
		var err error
		switch q := st.Stmt.(type) {
		case *ast.Select, *ast.Union:
			p, _, err = plan.Query(cat, s.parseView, q)
		case *ast.Update:
			var u *plan.Update
			u, _, err = plan.PlanUpdate(cat, s.parseView, parseDefault, q)
			p = u
		case *ast.Delete:
			var d *plan.Delete
			d, _, err = plan.PlanDelete(cat, s.parseView, q)
			p = d
		case *ast.Insert:
			var i *plan.Insert
			i, _, err = plan.PlanInsert(cat, s.parseView, parseDefault, q)
			p = i
		default:
			return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'EXPLAIN of this statement'")
		}
		if err != nil {
			return err
		}
		if !st.Analyze {
			out = plan.Format(p)
			return nil
		}
		x := exec.New(cat.txn(), s.ctx(params))
		x.Stats = map[plan.Node]*exec.OpStats{}
		if _, err := x.All(p); err != nil {
			return err
		}
		out = formatAnalyzed(p, x.Stats)
		return nil
	})
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	rows := make([][]string, len(lines))
	for i, l := range lines {
		rows[i] = []string{l}
	}
	return resultRows([]string{"EXPLAIN"}, rows), nil
}

func formatAnalyzed(n plan.Node, stats map[plan.Node]*exec.OpStats) string {
	var b strings.Builder
	var walk func(n plan.Node, depth int)
	walk = func(n plan.Node, depth int) {
		b.WriteString(strings.Repeat("  ", depth) + "-> " + n.Explain())
		if st := stats[n]; st != nil {
			b.WriteString(" (actual rows=" + itoa(st.Rows) + " loops=" + itoa(st.Loops) + " time=" + ms(st.Nanos) + ")")
		}
		b.WriteByte('\n')
		for _, c := range n.Children() {
			walk(c, depth+1)
		}
	}
	walk(n, 0)
	return b.String()
}

func itoa(n int64) string { return types.NewInt(n).String() }

func ms(ns int64) string { return types.FormatFloat(float64(ns/1000)/1000) + "ms" }
