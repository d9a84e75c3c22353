package sseredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
)

// readCount bounds the entries one read of the listener returns.
const readCount = 512

// Listen starts the delivery of the entries added to the stream from now
// on, by any server, to deliver: one at a time, in stream order, on one
// goroutine that the backend owns and Close ends. It returns an error if
// Redis cannot be reached within [DefaultConnectTimeout], or if it was
// called before.
//
// When the connection fails, the listener tries again with backoff and
// resumes after the last entry it delivered, so that nothing is skipped.
// If Redis no longer holds that entry (it restarted without its data, or
// trimmed the stream past it), or lost its data before the listener read
// anything, it delivers one [sse.Message] with Gap set, so that the hub
// sends every subscriber an [sse.ResetEvent], and goes on with the
// entries Redis still has after that point.
func (b *Backend) Listen(deliver func(sse.Message)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case b.closed:
		return sse.ErrHubClosed
	case b.listening:
		return errors.New("sseredis: Listen called twice")
	}
	ctx, cancel := context.WithTimeout(b.ctx, DefaultConnectTimeout)
	defer cancel()
	dials := b.dials.Load()
	epoch, err := b.epoch(ctx)
	if err != nil {
		return connectError(b.client, err)
	}
	newest, err := b.client.XRevRangeN(ctx, b.cfg.key, "+", "-", 1).Result()
	if err != nil {
		return connectError(b.client, err)
	}
	last := "0-0"
	if len(newest) > 0 {
		last = newest[0].ID
	}
	b.seen.Store(&last)
	b.listening = true
	b.wg.Add(1)
	l := &listener{b: b, deliver: deliver, last: last, epoch: epoch, verified: dials}
	go l.run()
	return nil
}

// listener is the state of the goroutine that Listen starts.
type listener struct {
	b        *Backend
	deliver  func(sse.Message)
	last     string // the newest entry delivered, or where delivery started
	epoch    string // the epoch marker's value when last was verified
	reported string // the position after which a gap was last reported
	verified uint64 // the backend's dial count when last was verified
	failures int    // failed attempts in a row
}

// run reads the stream after l.last until Close.
//
// go-redis retries a failed read over a new connection by itself, so a
// read may return entries from a Redis that restarted while it waited.
// Whenever a read may have gone over a connection opened since the
// position was last verified (the dial count changed, or a read failed),
// the position is verified before the entries are delivered: a gap is
// reported first if Redis lost entries after it.
func (l *listener) run() {
	defer l.b.wg.Done()
	b := l.b
	for b.ctx.Err() == nil {
		streams, err := b.client.XRead(b.ctx, &redis.XReadArgs{
			Streams: []string{b.cfg.key, b.wakeKey, l.last, "0-0"},
			Count:   readCount,
			Block:   b.cfg.block,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) { // Nil: nothing new within the block time
			l.fail("reading the stream failed", err)
			continue
		}
		for _, s := range streams {
			if s.Stream == b.wakeKey {
				return // Close
			}
		}
		if (l.failures > 0 || b.dials.Load() != l.verified) && !l.verify() {
			continue // read the entries again once verified
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				l.last = m.ID
				if msg, ok := b.decode(m); ok {
					l.deliver(msg)
				}
			}
		}
		seen := l.last
		b.seen.Store(&seen)
	}
}

// verify checks that Redis still holds everything after l.last, delivers
// a gap if not, and reports whether it could tell.
func (l *listener) verify() bool {
	b := l.b
	dials := b.dials.Load()
	gap, epoch, err := b.check(b.ctx, l.last, l.reported, l.epoch)
	if err != nil {
		l.fail("cannot reach Redis", err)
		return false
	}
	if l.failures > 0 {
		b.log(slog.LevelInfo, "sseredis: connection to Redis restored", "attempts", l.failures)
	}
	l.epoch, l.verified, l.failures = epoch, dials, 0
	if gap {
		b.log(slog.LevelWarn, "sseredis: Redis lost events; clients get a reset event", "after", l.last)
		l.deliver(sse.Message{Gap: true})
		l.reported = l.last
	}
	return true
}

// fail logs a failed attempt and waits before the next one, or until
// Close.
func (l *listener) fail(what string, err error) {
	if l.b.ctx.Err() != nil {
		return
	}
	l.failures++
	wait := backoff(l.failures, l.b.cfg.backoffMin, l.b.cfg.backoffMax)
	l.b.log(slog.LevelWarn, "sseredis: "+what+"; retrying", "attempt", l.failures, "wait", wait, "err", err)
	sleep(l.b.ctx, wait)
}

// check reports whether events may have been lost after last: Redis no
// longer holds last, or Redis lost the epoch marker while last tells
// nothing (the listener has read nothing yet, or nothing since a gap it
// reported after last). It returns the marker's value now.
func (b *Backend) check(ctx context.Context, last, reported, epoch string) (gap bool, now string, err error) {
	now, err = b.epoch(ctx)
	if err != nil {
		return false, "", err
	}
	if last == "0-0" || last == reported {
		return now != epoch, now, nil
	}
	held, err := b.client.XRangeN(ctx, b.cfg.key, last, last, 1).Result()
	if err != nil {
		return false, "", fmt.Errorf("sseredis: check the stream: %w", err)
	}
	return len(held) == 0, now, nil
}

// dialCounter is a go-redis hook that counts the connections the client
// opens, so that the listener knows when a read may have gone to a Redis
// that restarted.
type dialCounter struct{ n *atomic.Uint64 }

func (h dialCounter) DialHook(next redis.DialHook) redis.DialHook {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := next(ctx, network, addr)
		if err == nil {
			h.n.Add(1)
		}
		return c, err
	}
}

func (dialCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (dialCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// countDials adds a dialCounter to every node client of b.client, now and
// later.
func (b *Backend) countDials(ctx context.Context) error {
	h := dialCounter{&b.dials}
	nodes, ok := b.client.(interface {
		OnNewNode(func(*redis.Client))
		ForEachShard(context.Context, func(context.Context, *redis.Client) error) error
	})
	if !ok { // a single server, or one behind sentinels
		b.client.AddHook(h)
		return nil
	}
	nodes.OnNewNode(func(c *redis.Client) { c.AddHook(h) })
	return nodes.ForEachShard(ctx, func(_ context.Context, c *redis.Client) error {
		c.AddHook(h)
		return nil
	})
}
