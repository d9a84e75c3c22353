package ssepg

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	sse "github.com/eventwire/sse/core"
)

// columns are the columns a message is read from, in the order scanRow
// takes them.
const columns = "pos, chosen_id, topics, type, data, comment, retry_ms"

// row is one event read from the table.
type row struct {
	pos int64
	msg sse.Message
}

// scanRow reads the columns of one row into a message. Its Pos is the
// row's position, and so is its ID unless the publisher chose one.
func scanRow(rows pgx.CollectableRow) (row, error) {
	var (
		r       row
		chosen  *string
		retryMS int64
		ev      sse.Event
		topics  []string
	)
	if err := rows.Scan(&r.pos, &chosen, &topics, &ev.Type, &ev.Data, &ev.Comment, &retryMS); err != nil {
		return row{}, err
	}
	pos := strconv.FormatInt(r.pos, 10)
	ev.ID = pos
	if chosen != nil {
		ev.ID = *chosen
	}
	if retryMS > 0 && retryMS <= int64(time.Duration(1<<63-1)/time.Millisecond) {
		ev.Retry = time.Duration(retryMS) * time.Millisecond
	}
	r.msg = sse.Message{ID: ev.ID, Pos: pos, Topics: topics, Event: ev}
	return r, nil
}

// readAfter reads the rows from position from on, inclusive, at most n
// of them, in log order. The rows are read in full before it returns,
// so that no connection is held while they are handed on.
func readAfter(ctx context.Context, q querier, t table, from int64, n int) ([]row, error) {
	rows, err := q.Query(ctx, "SELECT "+columns+" FROM "+t.quoted+" WHERE pos >= $1 ORDER BY pos LIMIT $2", from, n)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanRow)
}

// querier runs a query: the pool, or the listener's connection.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}
