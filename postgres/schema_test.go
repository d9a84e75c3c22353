package ssepg

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

func TestTableNames(t *testing.T) {
	for _, c := range []struct {
		name   string
		quoted string // "" if refused
	}{
		{"sse_events", `"sse_events"`},
		{"app.sse_events", `"app"."sse_events"`},
		{"_x1", `"_x1"`},
		{"user", `"user"`}, // a reserved word, quoted
		{strings.Repeat("a", maxTable), `"` + strings.Repeat("a", maxTable) + `"`},
		{strings.Repeat("a", maxTable+1), ""},
		{"", ""},
		{"Events", ""},
		{"1events", ""},
		{"a.b.c", ""},
		{".events", ""},
		{"app.", ""},
		{`ev"ents`, ""},
		{"ev;drop table x", ""},
		{"événements", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tb, err := parseTable(c.name)
			if c.quoted == "" {
				if !errors.Is(err, ErrBadTable) {
					t.Errorf("parseTable: %v, want ErrBadTable", err)
				}
				if _, err := Schema(c.name); !errors.Is(err, ErrBadTable) {
					t.Errorf("Schema: %v, want ErrBadTable", err)
				}
				return
			}
			if err != nil || tb.quoted != c.quoted {
				t.Errorf("parseTable: %q, %v; want %q", tb.quoted, err, c.quoted)
			}
		})
	}
}

// The schema can run again and again (a migration, then New at every
// start); with the table in place, a database role that may not create
// tables runs a hub on it.
func TestSchemaInMigration(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	ctx := context.Background()
	admin := newPool(t, pg.url())
	name := newTable(t)
	table, role := "app."+name, "role_"+name
	ddl, err := Schema(table)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"CREATE SCHEMA IF NOT EXISTS app", ddl, ddl,
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA app TO " + role,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON " + table + " TO " + role,
		"GRANT USAGE ON SEQUENCE " + table + "_pos TO " + role,
		"GRANT SELECT, UPDATE ON " + table + "_trimmed TO " + role,
	} {
		if _, err := admin.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	url := strings.Replace(pg.url(), "postgres@", role+"@", 1)
	var canCreate bool
	if err := newPool(t, url).QueryRow(ctx, "SELECT has_schema_privilege('app', 'CREATE')").Scan(&canCreate); err != nil || canCreate {
		t.Fatalf("the role may create tables in app (%v): the test proves nothing", err)
	}
	in := newInstance(t, url, table)
	backendtest.ChosenIDs(t, in.hub)
}
