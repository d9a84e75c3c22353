package sseredis

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/backoff"
)

// retryScan bounds how many of the newest entries a retried publish
// searches for its token.
const retryScan = 10000

// publishScript adds a batch of entries to the stream unless a retry
// finds that an earlier attempt already did, trims the stream, and keeps
// the index of the IDs chosen by publishers. A script runs whole before
// Redis runs another command, so the batch is in the stream entire or
// not at all, with no other entry between its entries.
//
// KEYS[1] is the stream, KEYS[2] the index (a hash from each chosen ID to
// the newest entry that carries it) and KEYS[3] the index's order (a list
// of "entry-ID chosen-ID", oldest first), by which the IDs of trimmed
// entries leave the index, a few per entry added. ARGV[1] is "0" when the
// command is sent for the first time and anything else when it may have
// been sent before; then the script looks for the batch's token ARGV[6]
// among the entries after ARGV[2] (at most ARGV[3] of them, newest first,
// 100 at a time) and returns the ID of an entry that holds it. ARGV[4] is
// MAXLEN and ARGV[5] the maximum age in milliseconds (0: no bound). The
// entries follow from ARGV[7] on, each as the ID the publisher chose (or
// empty), the number of its field-value arguments, and those, the token
// first. The script returns the ID of the last entry added.
var publishScript = redis.NewScript(`
local function before(a, b)
	local am, as = string.match(a, '^(%d+)-(%d+)$')
	local bm, bs = string.match(b, '^(%d+)-(%d+)$')
	am, as, bm, bs = tonumber(am), tonumber(as), tonumber(bm), tonumber(bs)
	return am < bm or (am == bm and as < bs)
end
if ARGV[1] ~= '0' then
	local high, budget = '+', tonumber(ARGV[3])
	while budget > 0 do
		local page = redis.call('XREVRANGE', KEYS[1], high, '(' .. ARGV[2], 'COUNT', math.min(budget, 100))
		for _, e in ipairs(page) do
			local f = e[2]
			if f[1] == 'k' and f[2] == ARGV[6] then
				return e[1]
			end
		end
		if #page < 100 then
			break
		end
		budget = budget - #page
		high = '(' .. page[#page][1]
	end
end
local id
local added = 0
local i = 7
while i <= #ARGV do
	local n = tonumber(ARGV[i + 1])
	if ARGV[4] ~= '0' then
		id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, i + 2, i + 1 + n))
	else
		id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 2, i + 1 + n))
	end
	if ARGV[i] ~= '' then
		redis.call('HSET', KEYS[2], ARGV[i], id)
		redis.call('RPUSH', KEYS[3], id .. ' ' .. ARGV[i])
	end
	added = added + 1
	i = i + 2 + n
end
if ARGV[5] ~= '0' then
	local cutoff = tonumber(string.match(id, '^%d+')) - tonumber(ARGV[5])
	if cutoff > 0 then
		redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', cutoff))
	end
end
local first -- the stream's oldest entry, read once the index has an entry
for _ = 1, 4 * added do
	local head = redis.call('LINDEX', KEYS[3], 0)
	if not head then
		break
	end
	first = first or redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
	local at, chosen = string.match(head, '^(%S+) (.*)$')
	if first and not before(at, first[1]) then
		break
	end
	redis.call('LPOP', KEYS[3])
	if redis.call('HGET', KEYS[2], chosen) == at then
		redis.call('HDEL', KEYS[2], chosen)
	end
end
return id
`)

// ErrPublishUnknown reports a publish whose outcome is unknown: the
// command may have reached Redis (it was written, but no answer came
// before the context ended), so the event may be in the stream, or may
// still be added. Publishing the same event again within [PendingTTL] adds
// it at most once.
var ErrPublishUnknown = errors.New("sseredis: outcome unknown: the event may have been published")

// PendingTTL is how long the backend remembers a publish whose outcome is
// unknown (see [ErrPublishUnknown]): a publish of the same event (same ID,
// topics, type, data, comment and retry) within this time reuses its
// token, so that the event is in the stream once. At most pendingMax such
// publishes are remembered; the oldest is forgotten first.
const PendingTTL = time.Minute

const pendingMax = 1024

// errAbandoned ends an attempt that the caller gave up on before it was
// written.
var errAbandoned = errors.New("sseredis: publish abandoned")

// sendCount is the first argument of publishScript: "0" the first time
// the client writes the command, "1" every later time, and "1" always for
// a publish that repeats one whose outcome is unknown. go-redis retries a
// command on its own when a connection fails after the command was
// written (the write may have landed), and it marshals every argument
// again for each attempt, so the script sees exactly which attempts may
// be repeats. Once stopped, it refuses to be marshalled, so that the
// command is never written after the caller gave up.
type sendCount struct {
	n      atomic.Int32 // marshals so far; -1 once stopped
	repeat bool
}

func (c *sendCount) MarshalBinary() ([]byte, error) {
	for {
		v := c.n.Load()
		if v < 0 {
			return nil, errAbandoned
		}
		if c.n.CompareAndSwap(v, v+1) {
			if v == 0 && !c.repeat {
				return []byte("0"), nil
			}
			return []byte("1"), nil
		}
	}
}

func (c *sendCount) String() string { return strconv.Itoa(int(c.n.Load())) }

// stop makes later marshals fail and reports whether the command was
// marshalled, and so may have been written, before.
func (c *sendCount) stop() bool { return c.n.Swap(-1) > 0 }

// pending is a publish whose outcome is unknown.
type pending struct {
	token string        // the entry's token
	after string        // the position after which the token is searched
	until time.Time     // forgotten after this
	done  chan struct{} // closed when its last attempt has ended
}

// Publish appends msg to the stream. Its Pos is the entry's ID, and so is
// its ID unless the publisher chose one (see the package documentation).
// Every backend on the stream, this one included, delivers it to its hub
// through the listener, shortly after Publish returns.
//
// If Redis cannot be reached, Publish tries again, with backoff, until it
// succeeds or ctx ends. It returns within a few milliseconds of ctx
// ending, even while Redis does not answer, and tells what happened: an
// error wrapping [ErrPublishUnknown] if the command may have reached
// Redis, or else an error that says the event was not published. An
// attempt whose outcome is unknown is never added twice: each entry
// carries a random token, a retry first looks for it among the newest
// entries, and publishing the same event again within [PendingTTL] reuses
// the token (and waits, within ctx, until the earlier attempt has ended).
// After Close, Publish returns [sse.ErrHubClosed]. A message that
// [sse.Message.Validate] refuses (an ID that could not come back in a
// Last-Event-ID header, say) returns its error before Redis is asked.
func (b *Backend) Publish(ctx context.Context, msg sse.Message) error {
	if err := msg.Validate(); err != nil {
		return fmt.Errorf("sseredis: publish: %w", err)
	}
	return b.publish(ctx, []sse.Message{msg})
}

// maxBatch bounds the entries that one run of the publish script adds.
const maxBatch = 256

// PublishBatch appends msgs to the stream in order, as Publish appends
// one, in one round trip per 256 messages: each part of up to 256 is
// added by one run of a script, with no other entry between its
// messages, and is retried as Publish retries one event (a retry never
// adds a part twice; publishing the same messages again within
// [PendingTTL] reuses their token). It returns how many messages were published, a multiple of 256
// unless all were; with an error, the part that starts at msgs[n] was not
// published, or may have been if the error wraps [ErrPublishUnknown], and
// the parts after it were not. Every message is checked with
// [sse.Message.Validate] before any is sent.
func (b *Backend) PublishBatch(ctx context.Context, msgs []sse.Message) (int, error) {
	for i := range msgs {
		if err := msgs[i].Validate(); err != nil {
			return 0, fmt.Errorf("sseredis: publish: message %d of the batch: %w", i, err)
		}
	}
	for n := 0; n < len(msgs); n += maxBatch {
		if err := b.publish(ctx, msgs[n:min(n+maxBatch, len(msgs))]); err != nil {
			return n, err
		}
	}
	return len(msgs), nil
}

// publish adds msgs, valid and at most maxBatch, in one run of the
// publish script, with the retries and reports of Publish.
func (b *Backend) publish(ctx context.Context, msgs []sse.Message) error {
	if b.ctx.Err() != nil {
		return sse.ErrHubClosed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(b.ctx, func() { cancel(sse.ErrHubClosed) })
	defer stop()

	key := contentKey(msgs)
	earlier := b.pendingFor(key)
	sc := &sendCount{}
	token, after := rand.Text(), *b.seen.Load()
	if earlier != nil {
		select {
		case <-earlier.done:
		case <-ctx.Done():
			return fmt.Errorf("sseredis: publish: %w (an earlier attempt still waits for Redis): %w", ErrPublishUnknown, context.Cause(ctx))
		}
		token, after, sc.repeat = earlier.token, earlier.after, true
	}
	args := []any{sc, after, retryScan, b.cfg.maxLen, b.cfg.maxAge.Milliseconds(), token}
	for _, msg := range msgs {
		fields := entryFields(token, msg)
		args = append(append(args, msg.ID, len(fields)), fields...)
	}

	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return sse.ErrHubClosed
	}
	b.pubs.Add(1)
	b.mu.Unlock()
	// The attempts run on their own goroutine, which ends once go-redis
	// returns (at most the client's read timeout after ctx ended): go-redis
	// does not interrupt a read when the context ends.
	done := make(chan struct{})
	var result error
	go func() {
		defer b.pubs.Done()
		defer close(done)
		result = b.attempts(ctx, args)
	}()
	select {
	case <-done:
	case <-ctx.Done():
	}
	sent := sc.stop()
	finished := false
	var err error // result, once the goroutine has finished
	select {
	case <-done:
		finished, err = true, result
		if err == nil {
			b.forget(key)
			return nil
		}
	default:
		err = context.Cause(ctx)
	}
	var answer redis.Error
	if sc.repeat || sent && !(finished && errors.As(err, &answer)) {
		b.remember(key, &pending{token: token, after: after, until: time.Now().Add(PendingTTL), done: done})
		return fmt.Errorf("sseredis: publish: %w: %w", ErrPublishUnknown, err)
	}
	return fmt.Errorf("sseredis: not published: %w", err)
}

// attempts runs the publish script until it succeeds, fails for good, or
// ctx ends.
func (b *Backend) attempts(ctx context.Context, args []any) error {
	for attempt := 1; ; attempt++ {
		err := publishScript.Run(ctx, b.client, []string{b.cfg.key, b.idsKey, b.orderKey}, args...).Err()
		if err == nil {
			if attempt > 1 {
				b.log(slog.LevelInfo, "sseredis: published after a retry", "attempts", attempt)
			}
			return nil
		}
		if cause := context.Cause(ctx); cause != nil {
			return fmt.Errorf("%w (last error: %v)", cause, err)
		}
		if errors.Is(err, errAbandoned) || !transient(err) {
			return err
		}
		wait := backoff.Delay(attempt, b.cfg.backoffMin, b.cfg.backoffMax)
		b.log(slog.LevelWarn, "sseredis: publish failed; retrying", "attempt", attempt, "wait", wait, "err", err)
		if !backoff.Sleep(ctx, wait) {
			return fmt.Errorf("%w (last error: %v)", context.Cause(ctx), err)
		}
	}
}

// contentKey identifies the events of msgs, as the entries would hold
// them.
func contentKey(msgs []sse.Message) [sha256.Size]byte {
	h := sha256.New()
	for _, msg := range msgs {
		fields := entryFields("", msg)
		fmt.Fprintf(h, "%d:", len(fields))
		for _, f := range append([]any{msg.ID}, fields...) {
			s := fmt.Sprint(f)
			fmt.Fprintf(h, "%d:%s", len(s), s)
		}
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

// pendingFor returns the unexpired publish of unknown outcome with key.
func (b *Backend) pendingFor(key [sha256.Size]byte) *pending {
	b.pendMu.Lock()
	defer b.pendMu.Unlock()
	p := b.pend[key]
	if p != nil && time.Now().After(p.until) {
		delete(b.pend, key)
		return nil
	}
	return p
}

// remember keeps p under key, forgetting expired ones and, beyond
// pendingMax, the oldest.
func (b *Backend) remember(key [sha256.Size]byte, p *pending) {
	b.pendMu.Lock()
	defer b.pendMu.Unlock()
	if b.pend == nil {
		b.pend = make(map[[sha256.Size]byte]*pending)
	}
	now := time.Now()
	var oldest [sha256.Size]byte
	var oldestUntil time.Time
	for k, q := range b.pend {
		if now.After(q.until) {
			delete(b.pend, k)
		} else if oldestUntil.IsZero() || q.until.Before(oldestUntil) {
			oldest, oldestUntil = k, q.until
		}
	}
	if len(b.pend) >= pendingMax {
		delete(b.pend, oldest)
	}
	b.pend[key] = p
}

func (b *Backend) forget(key [sha256.Size]byte) {
	b.pendMu.Lock()
	delete(b.pend, key)
	b.pendMu.Unlock()
}

// transient reports whether err may go away by itself: a connection
// problem, or Redis loading its data, failing over or busy.
func transient(err error) bool {
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return true // not an answer from Redis: the network or the pool
	}
	for _, p := range []string{"LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "MOVED", "ASK"} {
		if strings.HasPrefix(rerr.Error(), p) {
			return true
		}
	}
	return false
}
