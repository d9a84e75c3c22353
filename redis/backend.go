package sseredis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
)

// Backend is an [sse.Backend] on a Redis stream: a log that several
// servers share, so that an event published on any of them reaches the
// subscribers of every one, in one order and with one ID, and a client
// may reconnect to any of them and replay what it missed. Pass it to
// [sse.NewHub] with [sse.WithBackend]; the hub closes it.
//
// A Backend is safe for concurrent use. Once its hub calls Listen, it owns
// one goroutine, which [Backend.Close] ends and waits for.
type Backend struct {
	client   redis.UniversalClient
	owned    bool // Open made the client; Close closes it
	cfg      config
	epochKey string // the marker that tells a Redis that lost its data
	wakeKey  string // written by Close to end the listener's blocking read
	idsKey   string // the index of the IDs chosen by publishers
	orderKey string // the index's entries in stream order, see publishScript

	ctx    context.Context // ends when Close is called
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu        sync.Mutex
	listening bool
	closed    bool

	closeOnce sync.Once
	closeErr  error

	// seen is the ID of the newest entry the listener has read: every
	// entry added from now on has a greater ID.
	seen atomic.Pointer[string]

	dials   atomic.Uint64 // connections the client opened, see dialCounter
	skipped atomic.Uint64 // entries that could not be decoded, see Skipped

	pubs   sync.WaitGroup // the goroutines of publishes in progress
	pendMu sync.Mutex
	pend   map[[sha256.Size]byte]*pending // publishes of unknown outcome
}

var _ sse.Backend = (*Backend)(nil)

// New returns a backend on the stream of the client, configured by opts.
// It checks that Redis answers and accepts writes, waiting at most until
// ctx ends or [DefaultConnectTimeout] has passed, and returns an error
// that says what failed (the address cannot be reached, authentication
// was refused, ...) rather than waiting. The caller keeps the client and
// closes it after the backend.
//
// New adds a hook to the client (to each node's, for a cluster or a ring)
// that counts the connections it opens: go-redis retries a failed command
// over a new connection without telling, and the listener must know when
// it may be talking to a Redis that restarted. The hook stays on the
// client after Close and costs one atomic addition per connection.
//
// The backend needs Redis 6.2 or later.
func New(ctx context.Context, client redis.UniversalClient, opts ...Option) (*Backend, error) {
	if client == nil {
		return nil, errors.New("sseredis: nil client")
	}
	cfg := newConfig(opts)
	tag := hashTag(cfg.key)
	b := &Backend{
		client:   client,
		cfg:      cfg,
		epochKey: tag + ":epoch",
		wakeKey:  tag + ":wake:" + rand.Text(),
		idsKey:   tag + ":ids",
		orderKey: tag + ":ids:order",
	}
	b.ctx, b.cancel = context.WithCancel(context.Background())
	zero := "0-0"
	b.seen.Store(&zero)

	ctx, cancel := context.WithTimeout(ctx, DefaultConnectTimeout)
	defer cancel()
	if err := client.Ping(ctx).Err(); err != nil {
		b.cancel()
		return nil, connectError(client, err)
	}
	if err := b.countDials(ctx); err != nil {
		b.cancel()
		return nil, connectError(client, err)
	}
	if _, err := b.epoch(ctx); err != nil {
		b.cancel()
		return nil, connectError(client, err)
	}
	return b, nil
}

// Open connects to the Redis server at url (redis://user:password@host:port/db
// or rediss:// for TLS, see [redis.ParseURL]) and returns a backend on it,
// as [New] does. The backend owns the client and closes it in Close. The
// client tries one dial per attempt (go-redis's DialerRetries is 1): the
// backend's backoff does the waiting.
func Open(ctx context.Context, url string, opts ...Option) (*Backend, error) {
	o, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("sseredis: bad Redis URL: %w", err)
	}
	// One dial per attempt: the backend has its own backoff, and a wrong
	// address should fail at start without five dials per attempt.
	o.DialerRetries = 1
	client := redis.NewClient(o)
	b, err := New(ctx, client, opts...)
	if err != nil {
		return nil, errors.Join(err, client.Close())
	}
	b.owned = true
	return b, nil
}

// connectError says what failed when New could not use Redis.
func connectError(client redis.UniversalClient, err error) error {
	where := "Redis"
	switch c := client.(type) {
	case *redis.Client:
		where = "Redis at " + c.Options().Addr
	case *redis.ClusterClient:
		where = "Redis Cluster at " + strings.Join(c.Options().Addrs, ",")
	}
	var rerr redis.Error
	switch msg := err.Error(); {
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"),
		strings.Contains(msg, "AUTH") && errors.As(err, &rerr):
		return fmt.Errorf("sseredis: %s refused authentication: %w", where, err)
	case strings.HasPrefix(msg, "NOPERM"):
		return fmt.Errorf("sseredis: %s denies the commands the backend needs: %w", where, err)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("sseredis: %s did not answer in time: %w", where, err)
	case errors.As(err, &rerr):
		return fmt.Errorf("sseredis: %s: %w", where, err)
	default:
		return fmt.Errorf("sseredis: cannot reach %s: %w", where, err)
	}
}

// hashTag returns the part of derived key names that places them in the
// same Redis Cluster slot as key: key itself if it has a hash tag, else
// key in braces. A key with a "}" but no hash tag cannot be put in braces
// and is returned as it is: on a Redis Cluster its derived keys may land
// on another slot, and the listener's read fails (CROSSSLOT).
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key
		}
	}
	if strings.Contains(key, "}") {
		return key
	}
	return "{" + key + "}"
}

// epoch returns the value of the marker key, setting it first if it is
// missing. The marker changes only when Redis lost it, and with it,
// likely, the stream's newest entries: a restart without persistence, a
// flush, a failover to a replica that was behind.
func (b *Backend) epoch(ctx context.Context) (string, error) {
	var get *redis.StringCmd
	_, err := b.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SetNX(ctx, b.epochKey, rand.Text(), 0)
		get = p.Get(ctx, b.epochKey)
		return nil
	})
	if err != nil {
		return "", err
	}
	return get.Val(), nil
}

// Close stops the listener, waits until its goroutine has ended, and
// closes the client if [Open] made it. Publishes in progress stop
// retrying and later ones fail with [sse.ErrHubClosed]. It returns at once
// while Redis is reachable; while a connection is hanging it may wait for
// the listener's read to time out (the block time plus ten seconds), and
// for the attempt of a publish that gave up to time out (the client's
// read timeout).
// Calling it again returns the first call's result.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.mu.Lock()
		b.closed = true
		listening := b.listening
		b.mu.Unlock()
		b.cancel()
		b.pubs.Wait()
		if listening {
			// The listener's read does not see b.ctx end while Redis holds
			// it blocked: an entry in its wake stream ends it at once.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			_, err := b.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.XAdd(ctx, &redis.XAddArgs{Stream: b.wakeKey, Values: []any{"close", "1"}})
				p.PExpire(ctx, b.wakeKey, time.Minute)
				return nil
			})
			b.wg.Wait()
			if err == nil {
				err = b.client.Del(ctx, b.wakeKey).Err()
			}
			if err != nil {
				b.log(slog.LevelDebug, "sseredis: cannot remove the wake key; it expires in a minute", "key", b.wakeKey, "err", err)
			}
		}
		if b.owned {
			b.closeErr = b.client.Close()
		}
	})
	return b.closeErr
}

// Skipped returns how many stream entries the backend has skipped, in
// delivery and in replays, because they are not events in the backend's
// form (another program wrote them, say). Each skipped entry is also
// logged at error level (see [WithLogger]). An entry skipped by the
// listener and again by each replay that crosses it is counted each
// time. Entries that decode but whose event the hub cannot encode are
// counted by the hub instead, in [sse.Stats].Skipped. Skipped is safe for
// concurrent use and costs one atomic load.
func (b *Backend) Skipped() uint64 { return b.skipped.Load() }

// decode turns a stream entry into a message, or logs and counts it and
// reports false if it is not an event.
func (b *Backend) decode(m redis.XMessage) (sse.Message, bool) {
	msg, err := decodeEntry(m)
	if err != nil {
		b.skipped.Add(1)
		b.log(slog.LevelError, "sseredis: skipping an entry that is not an event", "entry", m.ID, "err", err)
		return sse.Message{}, false
	}
	return msg, true
}

func (b *Backend) log(level slog.Level, msg string, args ...any) {
	if b.cfg.logger != nil {
		b.cfg.logger.Log(context.Background(), level, msg, args...)
	}
}
