package sseredis

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"
)

// retryScan bounds how many of the newest entries a retried publish
// searches for its token.
const retryScan = 10000

// publishScript adds an entry to the stream unless a retry finds that an
// earlier attempt already did, and trims the stream.
//
// KEYS[1] is the stream. ARGV[1] is "0" when the command is sent for the
// first time and anything else when it may have been sent before; then
// the script looks for the token ARGV[7] among the entries after ARGV[2]
// (at most ARGV[3] of them, newest first, 100 at a time) and returns the
// ID of the entry that holds it.
// ARGV[4] is MAXLEN and ARGV[5] the maximum age in milliseconds (0: no
// bound); ARGV[6:] are the entry's field-value pairs, the token first.
var publishScript = redis.NewScript(`
if ARGV[1] ~= '0' then
	local high, budget = '+', tonumber(ARGV[3])
	while budget > 0 do
		local page = redis.call('XREVRANGE', KEYS[1], high, '(' .. ARGV[2], 'COUNT', math.min(budget, 100))
		for _, e in ipairs(page) do
			local f = e[2]
			if f[1] == 'k' and f[2] == ARGV[7] then
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
if ARGV[4] ~= '0' then
	id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], '*', unpack(ARGV, 6))
else
	id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 6))
end
if ARGV[5] ~= '0' then
	local cutoff = tonumber(string.match(id, '^%d+')) - tonumber(ARGV[5])
	if cutoff > 0 then
		redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', cutoff))
	end
end
return id
`)

// sendCount is the first argument of publishScript: "0" the first time
// the client writes the command, "1" every later time. go-redis retries a
// command on its own when a connection fails after the command was
// written (the write may have landed), and it marshals every argument
// again for each attempt, so the script sees exactly which attempts may
// be repeats.
type sendCount struct{ n atomic.Int32 }

func (c *sendCount) MarshalBinary() ([]byte, error) {
	if c.n.Add(1) == 1 {
		return []byte("0"), nil
	}
	return []byte("1"), nil
}

func (c *sendCount) String() string { return strconv.Itoa(int(c.n.Load())) }

// Publish appends msg to the stream; its ID is the entry's. Every backend
// on the stream, this one included, delivers it to its hub through the
// listener, shortly after Publish returns.
//
// If Redis cannot be reached, Publish tries again, with backoff, until it
// succeeds or ctx ends, and then returns an error: the event was not
// published. An attempt whose outcome is unknown (the connection failed
// before the answer came) is never added twice: each entry carries a
// random token, and a retry first looks for it among the newest entries.
// An event with an ID is refused with [ErrEventID]; after Close, Publish
// returns [sse.ErrHubClosed].
func (b *Backend) Publish(ctx context.Context, msg sse.Message) error {
	if msg.ID != "" {
		return fmt.Errorf("%w: %q", ErrEventID, msg.ID)
	}
	if len(msg.Topics) == 0 {
		return sse.ErrNoTopic
	}
	if b.ctx.Err() != nil {
		return sse.ErrHubClosed
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(b.ctx, func() { cancel(sse.ErrHubClosed) })
	defer stop()

	token := rand.Text()
	args := []any{new(sendCount), *b.seen.Load(), retryScan, b.cfg.maxLen, b.cfg.maxAge.Milliseconds()}
	args = append(args, entryFields(token, msg)...)
	for attempt := 1; ; attempt++ {
		err := publishScript.Run(ctx, b.client, []string{b.cfg.key}, args...).Err()
		if err == nil {
			if attempt > 1 {
				b.log(slog.LevelInfo, "sseredis: published after a retry", "attempts", attempt)
			}
			return nil
		}
		if cause := context.Cause(ctx); cause != nil {
			return fmt.Errorf("sseredis: publish: %w (last error: %v)", cause, err)
		}
		if !transient(err) {
			return fmt.Errorf("sseredis: publish: %w", err)
		}
		wait := backoff(attempt, b.cfg.backoffMin, b.cfg.backoffMax)
		b.log(slog.LevelWarn, "sseredis: publish failed; retrying", "attempt", attempt, "wait", wait, "err", err)
		if !sleep(ctx, wait) {
			return fmt.Errorf("sseredis: publish: %w (last error: %v)", context.Cause(ctx), err)
		}
	}
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

// backoff returns the wait before attempt n+1 after n failures: the
// minimum doubled n-1 times, capped at the maximum, with its upper half
// random.
func backoff(n int, minWait, maxWait time.Duration) time.Duration {
	d := minWait
	for ; n > 1 && d < maxWait; n-- {
		d = min(2*d, maxWait)
		if d <= 0 { // overflowed
			d = maxWait
		}
	}
	return d/2 + mrand.N(d/2+1)
}

// sleep waits for d and reports whether ctx is still alive.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
