package ssepg

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// ErrBadTable reports a table name that [WithTable] or [Schema] cannot
// take: see [WithTable] for the names it accepts.
var ErrBadTable = errors.New("ssepg: bad table name")

// maxTable bounds the length of a table name, schema included: the names
// derived from it (the sequence, the function, the index) and the
// notification channel, which is the name itself, stay within
// PostgreSQL's 63 bytes.
const maxTable = 48

// Keys of the advisory locks (the two-key form, whose first key is this
// package's): the first, with the table's OID as second key, is held
// from the moment a publishing transaction takes its position until it
// has committed; the second by the listener that trims the history; the
// third while the schema is created.
const (
	lockOrder  = 0x55E0
	lockTrim   = 0x55E1
	lockSchema = 0x55E2
)

// table is a validated table name and the names derived from it.
type table struct {
	name     string // as given: "sse_events" or "app.sse_events"; also the channel
	quoted   string // "sse_events" or "app"."sse_events"
	seq      string // the sequence of positions
	trimmed  string // the one-row table of the newest position trimmed
	fn       string // the trigger function that orders the events
	chosen   string // the index of chosen IDs (unqualified, as CREATE INDEX wants)
	seqName  string // the sequence's name, qualified, as a text literal for nextval
	relation string // the table's name as a text literal for ::regclass
}

func parseTable(name string) (table, error) {
	if len(name) > maxTable {
		return table{}, fmt.Errorf("%w: %q is longer than %d bytes", ErrBadTable, name, maxTable)
	}
	schema, rel, qualified := strings.Cut(name, ".")
	if !qualified {
		schema, rel = "", name
	}
	if !identifier(rel) || qualified && !identifier(schema) {
		return table{}, fmt.Errorf("%w: %q (want a lower-case identifier, optionally after a schema and a dot)", ErrBadTable, name)
	}
	q := func(parts ...string) string {
		var id pgx.Identifier
		if qualified {
			id = append(id, schema)
		}
		return append(id, parts...).Sanitize()
	}
	t := table{
		name:    name,
		quoted:  q(rel),
		seq:     q(rel + "_pos"),
		trimmed: q(rel + "_trimmed"),
		fn:      q(rel + "_order"),
		chosen:  pgx.Identifier{rel + "_chosen"}.Sanitize(),
	}
	t.seqName = literal(t.seq)
	t.relation = literal(t.quoted)
	return t, nil
}

// identifier reports whether s is a lower-case SQL identifier without
// quotes: a letter or an underscore, then letters, digits and
// underscores. The empty string is not one.
func identifier(s string) bool {
	for i, c := range []byte(s) {
		switch {
		case c == '_', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return s != ""
}

// literal quotes s as an SQL string literal. s holds no backslash (the
// names it is used on are validated identifiers), so doubling the single
// quotes is all it takes.
func literal(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// Schema returns the SQL that creates the table name (see [WithTable]) and
// what goes with it: the sequence of positions, the index of chosen IDs,
// the trigger that gives each event its position when its transaction
// commits, and a one-row table, name + "_trimmed", in which the listeners
// note how far they deleted the history. Running it again changes nothing, so it may go in
// a migration as it is. [New] runs it when the table or its trigger is
// missing; with this SQL in a migration, the servers' database role needs
// no right to create tables, only these (for the default name):
//
//	GRANT SELECT, INSERT, UPDATE, DELETE ON sse_events TO app;
//	GRANT USAGE ON SEQUENCE sse_events_pos TO app;
//	GRANT SELECT, UPDATE ON sse_events_trimmed TO app;
func Schema(name string) (string, error) {
	t, err := parseTable(name)
	if err != nil {
		return "", err
	}
	return t.schema(), nil
}

func (t table) schema() string {
	r := strings.NewReplacer(
		"{table}", t.quoted,
		"{seq}", t.seq,
		"{trimmed}", t.trimmed,
		"{fn}", t.fn,
		"{chosen}", t.chosen,
		"{seqname}", t.seqName,
		"{relation}", t.relation,
		"{channel}", literal(t.name),
		"{lock}", fmt.Sprint(lockOrder),
	)
	return r.Replace(schemaTemplate)
}

// schemaTemplate is the schema; see Schema. The trigger runs when the
// transaction commits (a deferred constraint trigger fires at COMMIT), so
// the advisory lock it takes is held only while the transaction commits:
// positions are handed out in the order in which the transactions become
// visible, and a reader that sees position n sees every committed
// position below it. NOTIFY already makes notifying transactions commit
// one at a time, so the lock adds little to what the wake-up costs.
const schemaTemplate = `CREATE SEQUENCE IF NOT EXISTS {seq} CACHE 1;
CREATE TABLE IF NOT EXISTS {table} (
	row_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	pos       bigint UNIQUE,      -- place in the log, set at commit
	at        timestamptz,        -- commit time, for the age bound
	topics    text[] NOT NULL CHECK (cardinality(topics) > 0 AND array_position(topics, NULL) IS NULL),
	chosen_id text,               -- the ID the publisher chose, if any
	type      text NOT NULL DEFAULT '',
	data      text NOT NULL DEFAULT '',
	comment   text NOT NULL DEFAULT '',
	retry_ms  bigint NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS {chosen} ON {table} (chosen_id, pos) WHERE chosen_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS {trimmed} (
	one     boolean PRIMARY KEY DEFAULT true CHECK (one),
	through bigint NOT NULL DEFAULT 0 -- the newest position the history bounds deleted
);
INSERT INTO {trimmed} DEFAULT VALUES ON CONFLICT DO NOTHING;
CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	-- Held until the transaction has committed: positions follow commit order.
	PERFORM pg_advisory_xact_lock({lock}, TG_RELID::int4);
	UPDATE {table} SET pos = nextval({seqname}), at = clock_timestamp() WHERE row_id = NEW.row_id;
	PERFORM pg_notify({channel}, '');
	RETURN NULL;
END
$$;
DO $$
BEGIN
	IF NOT EXISTS (SELECT FROM pg_trigger WHERE tgrelid = {relation}::regclass AND tgname = 'sse_order') THEN
		CREATE CONSTRAINT TRIGGER sse_order AFTER INSERT ON {table}
			DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION {fn}();
	END IF;
END
$$;
`

// ensureSchema runs the schema unless the table and its trigger exist,
// under an advisory lock, so that servers starting together do not trip
// over each other's CREATE statements.
func (b *Backend) ensureSchema(ctx context.Context) error {
	var ready bool
	err := b.pool.QueryRow(ctx, `SELECT to_regclass($2) IS NOT NULL AND EXISTS (
		SELECT FROM pg_trigger WHERE tgrelid = to_regclass($1) AND tgname = 'sse_order')`, b.t.quoted, b.t.trimmed).Scan(&ready)
	if err != nil || ready {
		return err
	}
	return pgx.BeginFunc(ctx, b.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, lockSchema); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, b.t.schema())
		return err
	})
}
