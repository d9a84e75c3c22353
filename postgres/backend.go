package ssepg

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"

	sse "github.com/eventwire/sse/core"
)

// Backend is an [sse.Backend] on a PostgreSQL table: a log that several
// servers share, so that an event published on any of them, or written by
// any transaction with [Backend.PublishTx], reaches the subscribers of
// every one, in one order and with one ID, and a client may reconnect to
// any of them and replay what it missed. Pass it to [sse.NewHub] with
// [sse.WithBackend]; the hub closes it.
//
// A Backend is safe for concurrent use. Once its hub calls Listen, it owns
// one goroutine and one connection outside the pool, which
// [Backend.Close] ends and waits for.
type Backend struct {
	pool  *pgxpool.Pool
	owned bool // Open made the pool; Close closes it
	cfg   config
	t     table

	ctx    context.Context // ends when Close is called
	cancel context.CancelFunc
	wg     sync.WaitGroup // the listener
	pubs   sync.WaitGroup // the calls of Publish in progress

	mu        sync.Mutex
	listening bool
	closed    bool

	closeOnce sync.Once
	closeErr  error
}

var _ sse.Backend = (*Backend)(nil)

// New returns a backend on the table of the pool's database, configured
// by opts. It checks that PostgreSQL answers, and creates the table and
// its trigger if they are missing (see [Schema]), waiting at most until
// ctx ends or [DefaultConnectTimeout] has passed; it returns an error
// that says what failed rather than waiting. The caller keeps the pool
// and closes it after the backend.
//
// The backend needs PostgreSQL 12 or later (tested with 15).
func New(ctx context.Context, pool *pgxpool.Pool, opts ...Option) (*Backend, error) {
	if pool == nil {
		return nil, errors.New("ssepg: nil pool")
	}
	cfg := newConfig(opts)
	t, err := parseTable(cfg.table)
	if err != nil {
		return nil, err
	}
	b := &Backend{pool: pool, cfg: cfg, t: t}
	ctx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
	defer cancel()
	if err := b.ensureSchema(ctx); err != nil {
		return nil, connectError(pool, fmt.Errorf("table %s: %w", t.name, err))
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	return b, nil
}

// Open connects to the PostgreSQL database at url (a postgres:// URL or a
// key=value connection string, see [pgxpool.ParseConfig]) and returns a
// backend on it, as [New] does. The backend owns the pool and closes it
// in Close.
func Open(ctx context.Context, url string, opts ...Option) (*Backend, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("ssepg: bad PostgreSQL URL: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("ssepg: %w", err)
	}
	b, err := New(ctx, pool, opts...)
	if err != nil {
		pool.Close()
		return nil, err
	}
	b.owned = true
	return b, nil
}

// connectError says where the database is when New could not use it.
func connectError(pool *pgxpool.Pool, err error) error {
	c := pool.Config().ConnConfig
	return fmt.Errorf("ssepg: PostgreSQL at %s:%d, database %q: %w", c.Host, c.Port, c.Database, err)
}

// Close stops the listener, waits until its goroutine has ended and its
// connection is closed, and closes the pool if [Open] made it. Later
// calls of [Backend.Publish] return [sse.ErrHubClosed]; one in progress
// stops retrying, and Close waits until it has returned (at once, unless
// a statement is under way). [Backend.PublishTx] runs on the caller's
// transaction and works after Close too. Calling Close again returns the
// first call's result.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
		b.cancel()
		b.wg.Wait()
		b.pubs.Wait()
		if b.owned {
			b.pool.Close()
		}
	})
	return b.closeErr
}

func (b *Backend) log(level slog.Level, msg string, args ...any) {
	if b.cfg.logger != nil {
		b.cfg.logger.Log(context.Background(), level, msg, args...)
	}
}
