package limits_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"outguard/internal/harness"
	"outguard/internal/sqldb"
	"outguard/limits"
)

// schemaOf describes a PostgreSQL database's limits schema: every
// function's definition, every column, index and table option.
func schemaOf(t *testing.T, db *sql.DB) string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')', pg_get_functiondef(p.oid) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' ORDER BY 1, 2`,
		`SELECT table_name || '.' || column_name, data_type || ' ' || is_nullable || ' ' || COALESCE(column_default, '') FROM information_schema.columns WHERE table_schema = 'public' ORDER BY 1, 2`,
		`SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY 1, 2`,
		`SELECT c.relname, COALESCE(array_to_string(c.reloptions, ','), '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1, 2`,
		`SELECT component, CAST(version AS TEXT) FROM schema_version ORDER BY 1`,
	} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var a, b string
			if err := rows.Scan(&a, &b); err != nil {
				t.Fatal(err)
			}
			out = append(out, a+": "+b)
		}
		rows.Close()
	}
	return strings.Join(out, "\n")
}

// og_admit's definitions all come from one builder (ogAdmit); a database
// created at schema version 8 (og_admit's first) and upgraded ends with
// the same schema as a fresh one (ogAdmit): og_admit's old signature dropped, every
// function, table and index the same.
func TestOgAdmitUpgradeFromEight(t *testing.T) {
	ctx := context.Background()
	fresh, old := harness.StartPostgres(t), harness.StartPostgres(t)
	db, err := sqldb.OpenPostgres(old.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := sqldb.Postgres.Migrate(ctx, db, "limits", 8, limits.PostgresMigrations); err != nil {
		t.Fatal(err)
	}
	at8 := schemaOf(t, db)
	if !strings.Contains(at8, "og_admit(p_key text") || strings.Contains(at8, "p_now") {
		t.Fatalf("schema 8 has no og_admit of its own:\n%s", at8)
	}
	for _, dsn := range []string{old.DSN, fresh.DSN} {
		st, err := limits.OpenPostgres(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
	}
	dbf, err := sqldb.OpenPostgres(fresh.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer dbf.Close()
	up, fr := schemaOf(t, db), schemaOf(t, dbf)
	if up != fr {
		t.Errorf("upgraded from 8 and fresh differ:\n--- upgraded\n%s\n--- fresh\n%s", up, fr)
	}
	if n := strings.Count("\n"+fr, "\nog_admit("); n != 1 {
		t.Errorf("%d og_admit functions, want 1", n)
	}
	if !strings.Contains(fr, fmt.Sprintf("limits: %d", limits.SchemaVersion)) {
		t.Errorf("not at schema %d", limits.SchemaVersion)
	}
}
