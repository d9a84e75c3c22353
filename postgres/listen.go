package ssepg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backoff"
)

// readCount bounds the rows one read of the listener returns.
const readCount = 512

// trimEvery is how many positions the listener moves on between two
// deletions of the events beyond the count bound; the age bound is also
// applied once per poll interval.
const trimEvery = 64

// listenerName is the application_name of the listener's connection,
// unless the pool's configuration sets one.
const listenerName = "ssepg listener"

// Listen starts the delivery of the events committed from now on, by any
// server or transaction, to deliver: one at a time, in log order, on one
// goroutine that the backend owns and Close ends. The goroutine has a
// connection of its own, outside the pool, on which it runs LISTEN. It
// returns an error if PostgreSQL cannot be reached within
// [DefaultConnectTimeout], or if it was called before.
//
// The listener reads the table after the last position it delivered
// whenever a notification arrives, and at least once per poll interval
// ([WithPoll]) without one. When its connection fails or the server
// restarts, it tries again with backoff, and reads on from the last
// position it delivered: a lost notification or connection delays events,
// it never loses one. If the history bounds deleted events it had not
// read yet (it was cut off for longer than the history lasts), it
// delivers one [sse.Message] with Gap set, so that the hub sends every
// subscriber an [sse.ResetEvent], and goes on with the oldest event left.
func (b *Backend) Listen(deliver func(sse.Message)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return sse.ErrHubClosed
	case b.listening:
		return errors.New("ssepg: Listen called twice")
	}
	ctx, cancel := context.WithTimeout(b.ctx, DefaultConnectTimeout)
	defer cancel()
	conn, err := b.listen(ctx)
	if err != nil {
		return connectError(b.pool, err)
	}
	var last int64
	if err := conn.QueryRow(ctx, "SELECT coalesce(max(pos), 0) FROM "+b.t.quoted).Scan(&last); err != nil {
		conn.Close(ctx)
		return connectError(b.pool, err)
	}
	b.listening = true
	b.wg.Add(1)
	l := &listener{b: b, deliver: deliver, conn: conn, last: last, trimmed: last}
	go l.run()
	return nil
}

// listen opens the listener's connection and subscribes it to the
// table's channel.
func (b *Backend) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := b.pool.Config().ConnConfig
	if cfg.RuntimeParams["application_name"] == "" {
		cfg.RuntimeParams["application_name"] = listenerName
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{b.t.name}.Sanitize()); err != nil {
		conn.Close(ctx)
		return nil, err
	}
	return conn, nil
}

// listener is the state of the goroutine that Listen starts.
type listener struct {
	b        *Backend
	deliver  func(sse.Message)
	conn     *pgx.Conn // nil while reconnecting
	last     int64     // the newest position delivered, or where delivery started
	trimmed  int64     // l.last when the history was last trimmed
	trimAt   time.Time // when it was
	failures int       // failed attempts in a row
}

// run reads the table after l.last until Close, waiting for a
// notification between reads.
func (l *listener) run() {
	b := l.b
	defer b.wg.Done()
	defer func() {
		if l.conn != nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			l.conn.Close(ctx)
			cancel()
		}
	}()
	for b.ctx.Err() == nil {
		if l.conn == nil {
			ctx, cancel := context.WithTimeout(b.ctx, DefaultConnectTimeout)
			conn, err := b.listen(ctx)
			cancel()
			if err != nil {
				l.fail("cannot reconnect", err)
				continue
			}
			l.conn = conn
		}
		if err := l.catchUp(); err != nil {
			l.fail("reading the table failed", err)
			continue
		}
		l.restored()
		if l.last-l.trimmed >= trimEvery || time.Since(l.trimAt) >= b.cfg.poll {
			if err := l.trim(); err != nil {
				l.fail("trimming the history failed", err)
				continue
			}
		}
		ctx, cancel := context.WithTimeout(b.ctx, b.cfg.poll)
		_, err := l.conn.WaitForNotification(ctx)
		timedOut := ctx.Err() != nil
		cancel()
		switch {
		case b.ctx.Err() != nil:
			return
		case err != nil && !timedOut:
			l.fail("waiting for notifications failed", err)
			continue
		}
		// Notifications that came in meanwhile are answered by the read
		// that follows.
		for {
			if n, _ := l.conn.WaitForNotification(b.done()); n == nil {
				break
			}
		}
	}
}

// done returns a context that has ended, with which WaitForNotification
// returns a notification already received, or nil at once.
func (b *Backend) done() context.Context {
	ctx, cancel := context.WithCancel(b.ctx)
	cancel()
	return ctx
}

// catchUp delivers every committed event after l.last.
func (l *listener) catchUp() error {
	b := l.b
	for {
		ctx, cancel := context.WithTimeout(b.ctx, DefaultQueryTimeout)
		page, err := readAfter(ctx, l.conn, b.t, l.last, readCount+1)
		cancel()
		if err != nil {
			return err
		}
		switch {
		case len(page) == 0:
		case page[0].pos == l.last:
			page = page[1:] // delivered before
		default:
			// l.last was deleted: were events after it deleted too,
			// before the listener read them?
			var through int64
			ctx, cancel := context.WithTimeout(b.ctx, DefaultQueryTimeout)
			err := l.conn.QueryRow(ctx, "SELECT through FROM "+b.t.trimmed).Scan(&through)
			cancel()
			if err != nil {
				return err
			}
			if through > l.last {
				b.log(slog.LevelWarn, "ssepg: the history lost events the listener had not read; clients get a reset event", "after", l.last, "resume", page[0].pos)
				l.deliver(sse.Message{Gap: true})
			}
		}
		for _, r := range page {
			l.last = r.pos
			l.deliver(r.msg)
		}
		if len(page) < readCount {
			return nil
		}
	}
}

// trim deletes the events beyond the history bounds, among those this
// listener delivered, unless another listener is doing so, and notes the
// newest position it deleted: a listener whose last event is gone tells
// from it whether events it had not read went too, rather than from a
// hole in the positions, which has other causes (a transaction that
// failed at commit, numbers the sequence skipped in a restart). The
// newest event stays, however old, so that a client that has it resumes
// without a reset.
func (l *listener) trim() error {
	b := l.b
	if b.cfg.maxLen == 0 && b.cfg.maxAge == 0 {
		return nil
	}
	bound := "$2::int8"
	args := []any{lockTrim, max(l.last-b.cfg.maxLen+1, 0), l.last}
	if b.cfg.maxLen == 0 {
		args[1] = int64(0)
	}
	if b.cfg.maxAge > 0 {
		bound = `greatest($2::int8, coalesce(
			(SELECT pos FROM ` + b.t.quoted + ` WHERE pos IS NOT NULL AND at >= clock_timestamp() - $4::float8 * interval '1 second' ORDER BY pos LIMIT 1),
			(SELECT max(pos) FROM ` + b.t.quoted + `), 0))`
		args = append(args, b.cfg.maxAge.Seconds())
	}
	ctx, cancel := context.WithTimeout(b.ctx, DefaultQueryTimeout)
	defer cancel()
	_, err := l.conn.Exec(ctx, `WITH lock AS MATERIALIZED (SELECT pg_try_advisory_xact_lock($1, `+b.t.relation+`::regclass::oid::int4) AS ok),
		deleted AS (DELETE FROM `+b.t.quoted+` WHERE (SELECT ok FROM lock) AND pos <= $3 AND pos < `+bound+` RETURNING pos)
		UPDATE `+b.t.trimmed+` SET through = greatest(through, (SELECT max(pos) FROM deleted)) WHERE EXISTS (SELECT FROM deleted)`, args...)
	if err != nil {
		return fmt.Errorf("trim: %w", err)
	}
	l.trimmed, l.trimAt = l.last, time.Now()
	return nil
}

// restored logs that PostgreSQL answers again after failures, and resets
// the count.
func (l *listener) restored() {
	if l.failures > 0 {
		l.b.log(slog.LevelInfo, "ssepg: connection to PostgreSQL restored", "attempts", l.failures)
	}
	l.failures = 0
}

// fail logs a failed attempt, drops the connection and waits before the
// next attempt, or until Close.
func (l *listener) fail(what string, err error) {
	if l.b.ctx.Err() != nil {
		return
	}
	if l.conn != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		l.conn.Close(ctx)
		cancel()
		l.conn = nil
	}
	l.failures++
	wait := backoff.Delay(l.failures, l.b.cfg.backoffMin, l.b.cfg.backoffMax)
	l.b.log(slog.LevelWarn, "ssepg: "+what+"; retrying", "attempt", l.failures, "wait", wait, "err", err)
	backoff.Sleep(l.b.ctx, wait)
}
