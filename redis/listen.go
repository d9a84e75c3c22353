package sseredis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backoff"
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
// After each read, before delivering what it read, it checks the epoch
// marker (one GET): if Redis lost its data (a flush, a restart without
// persistence), it delivers one [sse.Message] with Gap set, so that the
// hub sends every subscriber an [sse.ResetEvent], and then every entry
// the stream holds, from its start, even those whose IDs are at or below
// the last one delivered before the loss. If, after a reconnection, Redis
// no longer holds the last entry delivered (the stream was trimmed past
// it, Redis restarted from older data, or a replica that was behind took
// over), it delivers a gap too and goes on after the newest entry it still
// holds that the listener delivered, so that entries added since, whose
// IDs may be lower than the last one delivered (a clock behind), are not
// skipped.
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
	l.recent.add(last)
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
	recent   recentIDs
}

// recentWindow is how many of the entries it delivered a listener
// remembers, to find where to go on when Redis lost the newest of them.
const recentWindow = 1024

// recentIDs is a listener's memory of the IDs of the entries it read
// last, oldest first, up to recentWindow.
type recentIDs struct {
	ring []string
	next int // where the next ID goes once the ring is full
	set  map[string]struct{}
}

func (r *recentIDs) add(id string) {
	if r.set == nil {
		r.set = make(map[string]struct{}, recentWindow)
	}
	if len(r.ring) < recentWindow {
		r.ring = append(r.ring, id)
	} else {
		delete(r.set, r.ring[r.next])
		r.ring[r.next] = id
		r.next = (r.next + 1) % recentWindow
	}
	r.set[id] = struct{}{}
}

func (r *recentIDs) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

// oldest returns the oldest ID remembered.
func (r *recentIDs) oldest() string {
	if len(r.ring) < recentWindow {
		return r.ring[0]
	}
	return r.ring[r.next]
}

func (r *recentIDs) reset(id string) {
	clear(r.set)
	r.ring, r.next = r.ring[:0], 0
	r.add(id)
}

// run reads the stream after l.last until Close.
//
// Every read is verified before its entries are delivered: Redis may have
// lost its data (a flush, a restart without persistence) while the
// listener waited, and then the IDs it gives new entries start again from
// the clock, possibly at or below l.last, where a read after l.last would
// skip them. The epoch marker tells: if it changed, a gap is reported and
// the stream, which now holds only entries added since the loss, is read
// from its start. go-redis also retries a failed read over a new
// connection by itself, so a read may return entries from a Redis that
// restarted from older data while it waited: whenever a read may have
// gone over a connection opened since the position was last verified (the
// dial count changed, or a read failed), the listener also checks that
// Redis still holds l.last, and reports a gap if not.
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
		if !l.verify(l.failures > 0 || b.dials.Load() != l.verified) {
			continue // read again from the verified position
		}
		for _, s := range streams {
			for _, m := range s.Messages {
				l.last = m.ID
				l.recent.add(m.ID)
				if msg, ok := b.decode(m); ok {
					l.deliver(msg)
				}
			}
		}
		seen := l.last
		b.seen.Store(&seen)
	}
}

// verify checks, after a read, that Redis did not lose entries after
// l.last, and delivers a gap if it did. It reports whether the entries
// the read returned may be delivered; if not, the listener reads again
// from l.last, which verify may have moved back to the stream's start.
func (l *listener) verify(reconnected bool) bool {
	b := l.b
	dials := b.dials.Load()
	now, err := b.client.Get(b.ctx, b.epochKey).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		l.fail("cannot reach Redis", err)
		return false
	}
	if now != l.epoch {
		// Redis lost its data: what the stream holds now was added since.
		epoch, err := b.epoch(b.ctx)
		if err != nil {
			l.fail("cannot reach Redis", err)
			return false
		}
		l.restored()
		b.log(slog.LevelWarn, "sseredis: Redis lost its data; clients get a reset event", "after", l.last)
		l.deliver(sse.Message{Gap: true})
		l.epoch, l.verified = epoch, dials
		l.last, l.reported = "0-0", "0-0"
		l.recent.reset("0-0")
		zero := "0-0"
		b.seen.Store(&zero)
		return false
	}
	if reconnected && l.last != "0-0" && l.last != l.reported {
		held, err := b.client.XRangeN(b.ctx, b.cfg.key, l.last, l.last, 1).Result()
		if err != nil {
			l.fail("cannot reach Redis", fmt.Errorf("check the stream: %w", err))
			return false
		}
		if len(held) == 0 {
			from, err := l.resumePoint()
			if err != nil {
				l.fail("cannot reach Redis", fmt.Errorf("check the stream: %w", err))
				return false
			}
			l.restored()
			b.log(slog.LevelWarn, "sseredis: Redis lost events; clients get a reset event", "after", l.last, "resume", from)
			l.deliver(sse.Message{Gap: true})
			l.verified = dials
			l.last, l.reported = from, from
			seen := from
			b.seen.Store(&seen)
			return false // read again from there
		}
	}
	l.restored()
	l.verified = dials
	return true
}

// resumePoint returns where to go on reading once Redis no longer holds
// l.last: after the newest entry at or below it that Redis holds and the
// listener delivered. Entries at or below l.last that the listener did
// not deliver were added since Redis lost data, by a server whose clock
// is behind, and are read. Below the oldest ID the listener remembers,
// every entry is taken as delivered.
func (l *listener) resumePoint() (string, error) {
	b, floor := l.b, l.recent.oldest()
	from := l.last
	for {
		page, err := b.client.XRevRangeN(b.ctx, b.cfg.key, from, "-", 64).Result()
		if err != nil {
			return "", err
		}
		for _, m := range page {
			if l.recent.has(m.ID) {
				return m.ID, nil
			}
			if !idAfter(m.ID, floor) {
				return floor, nil
			}
		}
		if len(page) < 64 {
			return "0-0", nil // every entry Redis holds was added since
		}
		from = "(" + page[len(page)-1].ID
	}
}

// idAfter reports whether the stream ID a comes after b. IDs that do not
// parse compare as zero.
func idAfter(a, b string) bool {
	am, as := splitID(a)
	bm, bs := splitID(b)
	return am > bm || am == bm && as > bs
}

func splitID(id string) (ms, seq uint64) {
	m, s, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(m, 10, 64)
	seq, _ = strconv.ParseUint(s, 10, 64)
	return ms, seq
}

// restored logs that Redis answers again after failures, and resets the
// count.
func (l *listener) restored() {
	if l.failures > 0 {
		l.b.log(slog.LevelInfo, "sseredis: connection to Redis restored", "attempts", l.failures)
	}
	l.failures = 0
}

// fail logs a failed attempt and waits before the next one, or until
// Close.
func (l *listener) fail(what string, err error) {
	if l.b.ctx.Err() != nil {
		return
	}
	l.failures++
	wait := backoff.Delay(l.failures, l.b.cfg.backoffMin, l.b.cfg.backoffMax)
	l.b.log(slog.LevelWarn, "sseredis: "+what+"; retrying", "attempt", l.failures, "wait", wait, "err", err)
	backoff.Sleep(l.b.ctx, wait)
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
