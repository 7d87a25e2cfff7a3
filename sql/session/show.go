package session

import (
	"context"
	"fmt"
	"strings"

	"github.com/strata-db/strata/sql/ast"
	"github.com/strata-db/strata/sql/catalog"
	"github.com/strata-db/strata/sql/kv"
	"github.com/strata-db/strata/sql/types"
)

// show runs SHOW statements (and DESCRIBE).
func (s *Session) show(ctx context.Context, st *ast.Show) (*Result, error) {
	var res *Result
	err := s.withRead(ctx, func(tx kv.Txn) error {
		cat := s.catalog(tx)
		switch st.What {
		case "databases", "schemas":
			dbs, err := catalog.Databases(tx)
			if err != nil {
				return err
			}
			rows := [][]string{{"information_schema"}}
			for _, d := range dbs {
				if st.Like == "" || likeMatch(d.Name, st.Like) {
					rows = append(rows, []string{d.Name})
				}
			}
			res = resultRows([]string{"Database"}, rows)
		case "tables", "full tables":
			d, err := cat.database(st.DB.Orig)
			if err != nil {
				return err
			}
			ts, err := catalog.Tables(tx, d.ID)
			if err != nil {
				return err
			}
			names := []string{"Tables_in_" + d.Name}
			if st.Full || st.What == "full tables" {
				names = append(names, "Table_type")
			}
			var rows [][]string
			for _, t := range ts {
				if st.Like != "" && !likeMatch(t.Name, st.Like) {
					continue
				}
				row := []string{t.Name}
				if len(names) == 2 {
					kind := "BASE TABLE"
					if t.View != nil {
						kind = "VIEW"
					}
					row = append(row, kind)
				}
				rows = append(rows, row)
			}
			res = resultRows(names, rows)
		case "columns", "fields":
			t, err := s.showTable(cat, st)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, c := range t.Columns {
				if c.Hidden || (st.Like != "" && !likeMatch(c.Name, st.Like)) {
					continue
				}
				null := "YES"
				if !c.Nullable {
					null = "NO"
				}
				key := ""
				for _, ix := range t.Indexes {
					if len(ix.Columns) > 0 && ix.Columns[0] == c.ID {
						switch {
						case ix.Primary:
							key = "PRI"
						case ix.Unique && key == "":
							key = "UNI"
						case key == "":
							key = "MUL"
						}
					}
				}
				def := "NULL"
				if c.Default != nil {
					def = strings.Trim(*c.Default, "'")
				}
				extra := ""
				if c.AutoIncrement {
					extra = "auto_increment"
				}
				row := []string{c.Name, typeText(c), null, key, def, extra}
				rows = append(rows, row)
			}
			res = resultRows([]string{"Field", "Type", "Null", "Key", "Default", "Extra"}, rows)
			for i := range res.Rows {
				if res.Rows[i][4].Str() == "NULL" {
					res.Rows[i][4] = types.Null
				}
			}
		case "index", "indexes", "keys":
			t, err := s.showTable(cat, st)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, ix := range t.Indexes {
				if t.HiddenPK && ix.Primary {
					continue
				}
				nonUnique := "1"
				if ix.Unique {
					nonUnique = "0"
				}
				for i, id := range ix.Columns {
					c := t.Columns[t.ColumnByID(id)]
					null := ""
					if c.Nullable {
						null = "YES"
					}
					coll := "A"
					if i < len(ix.Desc) && ix.Desc[i] {
						coll = "D"
					}
					rows = append(rows, []string{t.Name, nonUnique, ix.Name, fmt.Sprint(i + 1), c.Name, coll, "", "", "", null, "LSM", "", "", "YES", ""})
				}
			}
			res = resultRows([]string{"Table", "Non_unique", "Key_name", "Seq_in_index", "Column_name", "Collation",
				"Cardinality", "Sub_part", "Packed", "Null", "Index_type", "Comment", "Index_comment", "Visible", "Expression"}, rows)
		case "create table":
			t, err := s.showTable(cat, st)
			if err != nil {
				return err
			}
			res = resultRows([]string{"Table", "Create Table"}, [][]string{{t.Name, createTableText(t)}})
		case "create database":
			d, err := cat.database(st.DB.Orig)
			if err != nil {
				return err
			}
			res = resultRows([]string{"Database", "Create Database"}, [][]string{{d.Name,
				"CREATE DATABASE `" + d.Name + "` /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci */"}})
		case "variables":
			res = s.showVariables(st.Like)
		case "status":
			res = resultRows([]string{"Variable_name", "Value"}, [][]string{{"Uptime", "1"}, {"Threads_connected", "1"}})
		case "warnings", "errors":
			var rows [][]string
			for _, w := range s.warnings {
				if st.What == "errors" && w.Level != "Error" {
					continue
				}
				rows = append(rows, []string{w.Level, fmt.Sprint(w.Code), w.Message})
			}
			res = resultRows([]string{"Level", "Code", "Message"}, rows)
		case "engines":
			res = resultRows([]string{"Engine", "Support", "Comment", "Transactions", "XA", "Savepoints"},
				[][]string{{"Strata", "DEFAULT", "LSM storage, serializable transactions", "YES", "NO", "YES"}})
		case "collation":
			res = resultRows([]string{"Collation", "Charset", "Id", "Default", "Compiled", "Sortlen", "Pad_attribute"},
				[][]string{{"utf8mb4_0900_ai_ci", "utf8mb4", "255", "Yes", "Yes", "0", "NO PAD"}, {"binary", "binary", "63", "Yes", "Yes", "1", "NO PAD"}})
		case "charset", "character set":
			res = resultRows([]string{"Charset", "Description", "Default collation", "Maxlen"},
				[][]string{{"utf8mb4", "UTF-8 Unicode", "utf8mb4_0900_ai_ci", "4"}, {"binary", "Binary pseudo charset", "binary", "1"}})
		case "processlist":
			res = resultRows([]string{"Id", "User", "Host", "db", "Command", "Time", "State", "Info"},
				[][]string{{fmt.Sprint(s.connID), s.user, "localhost", s.db, "Query", "0", "", "SHOW PROCESSLIST"}})
		case "table status":
			d, err := cat.database(st.DB.Orig)
			if err != nil {
				return err
			}
			ts, err := catalog.Tables(tx, d.ID)
			if err != nil {
				return err
			}
			var rows [][]string
			for _, t := range ts {
				if st.Like == "" || likeMatch(t.Name, st.Like) {
					rows = append(rows, []string{t.Name, "Strata", "10", "Dynamic"})
				}
			}
			res = resultRows([]string{"Name", "Engine", "Version", "Row_format"}, rows)
		default:
			return types.Errorf(1235, "42000", "This version of Strata doesn't yet support 'SHOW %s'", strings.ToUpper(st.What))
		}
		return nil
	})
	return res, err
}

func (s *Session) showTable(cat *txnCatalog, st *ast.Show) (*catalog.Table, error) {
	db := st.Table.DB.Orig
	if db == "" {
		db = st.DB.Orig
	}
	return cat.Table(db, st.Table.Name.Orig)
}

func typeText(c catalog.Column) string {
	if c.TypeText != "" {
		return c.TypeText
	}
	return c.Type.String()
}

// createTableText is SHOW CREATE TABLE's statement.
func createTableText(t *catalog.Table) string {
	if t.View != nil {
		return "CREATE VIEW `" + t.Name + "` AS " + t.View.Query
	}
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TABLE `%s` (\n", t.Name)
	var lines []string
	for _, c := range t.Columns {
		if c.Hidden {
			continue
		}
		l := fmt.Sprintf("  `%s` %s", c.Name, typeText(c))
		if !c.Nullable {
			l += " NOT NULL"
		}
		if c.Default != nil {
			l += " DEFAULT " + *c.Default
		}
		if c.AutoIncrement {
			l += " AUTO_INCREMENT"
		}
		lines = append(lines, l)
	}
	for _, ix := range t.Indexes {
		if ix.Primary && t.HiddenPK {
			continue
		}
		var cols []string
		for i, id := range ix.Columns {
			c := "`" + t.Columns[t.ColumnByID(id)].Name + "`"
			if i < len(ix.Desc) && ix.Desc[i] {
				c += " DESC"
			}
			cols = append(cols, c)
		}
		switch {
		case ix.Primary:
			lines = append(lines, "  PRIMARY KEY ("+strings.Join(cols, ",")+")")
		case ix.Unique:
			lines = append(lines, "  UNIQUE KEY `"+ix.Name+"` ("+strings.Join(cols, ",")+")")
		default:
			lines = append(lines, "  KEY `"+ix.Name+"` ("+strings.Join(cols, ",")+")")
		}
	}
	b.WriteString(strings.Join(lines, ",\n"))
	b.WriteString("\n) ENGINE=Strata DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci")
	return b.String()
}
