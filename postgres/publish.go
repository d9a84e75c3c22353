package ssepg

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backoff"
)

// ErrPublishUnknown reports a publish whose outcome is unknown: the
// connection failed after the statement was sent, so the event may have
// been committed (and then it is delivered) or not.
var ErrPublishUnknown = errors.New("ssepg: outcome unknown: the event may have been published")

// An Execer runs one SQL statement with arguments: pgx.Tx, *pgx.Conn,
// *pgxpool.Pool, *pgxpool.Conn and *pgxpool.Tx all are. [Backend.PublishTx]
// takes one.
type Execer interface {
	Exec(ctx context.Context, sql string, arguments ...any) (pgconn.CommandTag, error)
}

// A SQLExecer runs one SQL statement with arguments the database/sql way:
// *sql.Tx, *sql.DB and *sql.Conn all are. [Backend.PublishSQL] takes one.
type SQLExecer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

var (
	_ Execer    = pgx.Tx(nil)
	_ Execer    = (*pgxpool.Pool)(nil)
	_ SQLExecer = (*sql.Tx)(nil)
	_ SQLExecer = (*sql.DB)(nil)
)

// Publish appends msg to the table in a transaction of its own, on a
// connection of the pool. Its Pos is the position the event gets when
// its transaction commits, and so is its ID unless the publisher chose
// one (see the package documentation). Every backend on the table, this
// one included, delivers it to its hub through the listener, shortly
// after Publish returns.
//
// If PostgreSQL cannot be reached, Publish tries again, with backoff,
// until it succeeds or ctx ends. It returns an error wrapping
// [ErrPublishUnknown] if the connection failed after the statement was
// sent (the event may be committed), or else an error that says the event
// was not published. After Close, Publish returns [sse.ErrHubClosed]. A
// message that [sse.Message.Validate] refuses, or that PostgreSQL text
// cannot hold (a NUL byte, a topic that is not UTF-8), returns its error
// before the database is asked.
func (b *Backend) Publish(ctx context.Context, msg sse.Message) error {
	args, err := rowArgs(&msg)
	if err != nil {
		return fmt.Errorf("ssepg: publish: %w", err)
	}
	return b.exec(ctx, b.insert(1), args)
}

// maxBatch bounds the rows of one INSERT of PublishBatch, within
// PostgreSQL's 65,535 parameters of a statement.
const maxBatch = 1000

// PublishBatch appends msgs to the table in order, as Publish appends
// one, with one INSERT (one transaction, one round trip) per 1,000
// messages: each part commits whole or not at all, and its events take
// consecutive positions in the batch's order, since the positions are
// given at commit under a lock that committing publishers take one after
// another. It returns how many messages were published, a multiple of
// 1,000 unless all were; with an error, the part that starts at msgs[n]
// was not published, or may have been if the error wraps
// [ErrPublishUnknown], and the parts after it were not. Every message is
// checked, as Publish checks one, before any is sent.
func (b *Backend) PublishBatch(ctx context.Context, msgs []sse.Message) (int, error) {
	args := make([]any, 0, 6*len(msgs))
	for i := range msgs {
		row, err := rowArgs(&msgs[i])
		if err != nil {
			return 0, fmt.Errorf("ssepg: publish: message %d of the batch: %w", i, err)
		}
		args = append(args, row...)
	}
	for n := 0; n < len(msgs); n += maxBatch {
		rows := min(maxBatch, len(msgs)-n)
		if err := b.exec(ctx, b.insert(rows), args[6*n:6*(n+rows)]); err != nil {
			return n, err
		}
	}
	return len(msgs), nil
}

// exec runs the statement of Publish or PublishBatch in a transaction of
// its own, with their retries and errors.
func (b *Backend) exec(ctx context.Context, query string, args []any) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return sse.ErrHubClosed
	}
	b.pubs.Add(1)
	b.mu.Unlock()
	defer b.pubs.Done()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(b.ctx, func() { cancel(sse.ErrHubClosed) })
	defer stop()
	for attempt := 1; ; attempt++ {
		_, err := b.pool.Exec(ctx, query, args...)
		if err == nil {
			if attempt > 1 {
				b.log(slog.LevelInfo, "ssepg: published after a retry", "attempts", attempt)
			}
			return nil
		}
		var pgErr *pgconn.PgError
		var connectErr *pgconn.ConnectError
		switch {
		case errors.As(err, &connectErr) || pgconn.SafeToRetry(err):
			// Not sent: the server cannot be reached, or is starting up.
		case errors.As(err, &pgErr):
			return fmt.Errorf("ssepg: not published: %w", err)
		default:
			return fmt.Errorf("ssepg: publish: %w: %w", ErrPublishUnknown, err)
		}
		if cause := context.Cause(ctx); cause != nil {
			return fmt.Errorf("ssepg: not published: %w (last error: %v)", cause, err)
		}
		wait := backoff.Delay(attempt, b.cfg.backoffMin, b.cfg.backoffMax)
		b.log(slog.LevelWarn, "ssepg: publish failed; retrying", "attempt", attempt, "wait", wait, "err", err)
		if !backoff.Sleep(ctx, wait) {
			return fmt.Errorf("ssepg: not published: %w (last error: %v)", context.Cause(ctx), err)
		}
	}
}

// PublishTx writes ev, for the subscribers of topics, in the caller's
// transaction tx: the event is delivered, to every hub on the table, if
// and only if tx commits, once it has (a rollback, or a rollback to a
// savepoint taken before, publishes nothing). Its ID is the one it
// carries or, if none, its position in the log, given at commit. ev is
// taken as [sse.Hub.Publish] takes it (ev.JSON is encoded here, ev.Bytes
// copied) and refused with the same errors before anything is written,
// and with an error wrapping [sse.ErrInvalidData] if PostgreSQL text
// cannot hold it (a NUL byte, a topic that is not UTF-8).
//
// PublishTx costs one INSERT in tx, wherever in the transaction it comes.
// At commit, the table's trigger gives the event its position, under a
// lock that publishing transactions take one after the other while they
// commit (see the package documentation). It does not use the backend's pool or listener, and works after Close. tx may
// also be a pool or a connection outside a transaction: then the event
// is published at once, as by [Backend.Publish] without its retries.
func (b *Backend) PublishTx(ctx context.Context, tx Execer, ev sse.Event, topics ...string) error {
	query, args, err := b.prepare(ev, topics)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, query, args...); err != nil {
		return fmt.Errorf("ssepg: publish: %w", err)
	}
	return nil
}

// PublishSQL is [Backend.PublishTx] for database/sql: tx is usually a
// *sql.Tx of a PostgreSQL driver (pgx's stdlib, lib/pq). The statement's
// arguments are strings, an int64 and a nil, which every driver takes.
func (b *Backend) PublishSQL(ctx context.Context, tx SQLExecer, ev sse.Event, topics ...string) error {
	query, args, err := b.prepare(ev, topics)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("ssepg: publish: %w", err)
	}
	return nil
}

// prepare turns ev into a message as a hub does, validates it and
// returns the statement that inserts it.
func (b *Backend) prepare(ev sse.Event, topics []string) (string, []any, error) {
	if len(topics) == 0 {
		return "", nil, fmt.Errorf("ssepg: publish: %w", sse.ErrNoTopic)
	}
	switch {
	case ev.JSON != nil:
		if ev.Data != "" || len(ev.Bytes) > 0 {
			return "", nil, fmt.Errorf("ssepg: publish: %w", sse.ErrDataConflict)
		}
		data, err := json.Marshal(ev.JSON)
		if err != nil {
			return "", nil, fmt.Errorf("ssepg: publish: %w: JSON: %w", sse.ErrInvalidData, err)
		}
		ev.Data = string(data) // Validate checks that it is UTF-8
	case len(ev.Bytes) > 0:
		if ev.Data != "" {
			return "", nil, fmt.Errorf("ssepg: publish: %w", sse.ErrDataConflict)
		}
		ev.Data = string(ev.Bytes)
	}
	ev.Bytes, ev.JSON = nil, nil
	msg := sse.Message{ID: ev.ID, Topics: topics, Event: ev}
	args, err := rowArgs(&msg)
	if err != nil {
		return "", nil, fmt.Errorf("ssepg: publish: %w", err)
	}
	return b.insert(1), args, nil
}

// insert returns the statement that adds rows rows to the table, in
// order, with the arguments of rowArgs for each row one after the other.
func (b *Backend) insert(rows int) string {
	var query strings.Builder
	query.WriteString("INSERT INTO " + b.t.quoted + " (topics, chosen_id, type, data, comment, retry_ms) VALUES ")
	for i := range rows {
		if i > 0 {
			query.WriteString(", ")
		}
		p := 6 * i
		fmt.Fprintf(&query, "($%d::text::text[], $%d::text, $%d::text, $%d::text, $%d::text, $%d::int8)", p+1, p+2, p+3, p+4, p+5, p+6)
	}
	return query.String()
}

// rowArgs returns the values of the row of msg, or an error if
// [sse.Message.Validate] refuses it or PostgreSQL text cannot hold it.
// The topics go as one array literal, so that every argument is a plain
// value any driver takes.
func rowArgs(msg *sse.Message) ([]any, error) {
	if err := msg.Validate(); err != nil {
		return nil, err
	}
	ev := &msg.Event
	for _, s := range []string{ev.Type, ev.Data, ev.Comment} {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("%w: PostgreSQL text cannot hold a NUL byte", sse.ErrInvalidData)
		}
	}
	var topics strings.Builder
	topics.WriteByte('{')
	for i, t := range msg.Topics {
		if strings.IndexByte(t, 0) >= 0 || !utf8.ValidString(t) {
			return nil, fmt.Errorf("%w: topic %q: PostgreSQL text must be UTF-8 without NUL bytes", sse.ErrInvalidData, t)
		}
		if i > 0 {
			topics.WriteByte(',')
		}
		topics.WriteByte('"')
		for _, c := range []byte(t) {
			if c == '"' || c == '\\' {
				topics.WriteByte('\\')
			}
			topics.WriteByte(c)
		}
		topics.WriteByte('"')
	}
	topics.WriteByte('}')
	var chosen any // NULL unless the publisher chose an ID
	if msg.ID != "" {
		chosen = msg.ID
	}
	return []any{topics.String(), chosen, ev.Type, ev.Data, ev.Comment, ev.Retry.Milliseconds()}, nil
}
