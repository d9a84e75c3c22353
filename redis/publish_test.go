package sseredis

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	sse "github.com/eventwire/sse/core"

	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// directClient is a client of the test's own on the server, to look at
// the stream behind the backends' backs.
func directClient(t testing.TB, addr string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	return c
}

// A publish whose answer is lost (the script ran, then the connection
// broke) is retried, by go-redis or by the backend, and the event is in
// the stream once.
func TestPublishWithLostAnswerAddsOnce(t *testing.T) {
	rs := startRedis(t, persistent...)
	px := newProxy(t, rs.addr())
	direct := directClient(t, rs.addr())
	ctx := context.Background()

	tests := []struct {
		name       string
		maxRetries int // go-redis's own retries; -1: none
		drop       int // answers lost in a row
	}{
		{"go-redis retries", 0, 1},
		{"the backend retries", -1, 1},
		{"both retry", 0, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client := redis.NewClient(&redis.Options{Addr: px.ln.Addr().String(), MaxRetries: tt.maxRetries})
			defer client.Close()
			b, err := New(ctx, client, fastRetry...)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			msg := sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: "warm-up"}}
			if err := b.Publish(ctx, msg); err != nil { // loads the script
				t.Fatal(err)
			}
			before := direct.XLen(ctx, DefaultKey).Val()

			px.dropAnswers(tt.drop)
			msg.Event.Data = tt.name
			if err := b.Publish(ctx, msg); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			px.mu.Lock()
			left := px.drop
			px.mu.Unlock()
			if left != 0 {
				t.Fatalf("%d of %d answers were not dropped: the fault did not happen", left, tt.drop)
			}
			if n := direct.XLen(ctx, DefaultKey).Val(); n != before+1 {
				t.Errorf("the stream grew by %d entries, want 1", n-before)
			}
			newest := direct.XRevRangeN(ctx, DefaultKey, "+", "-", 1).Val()
			if len(newest) != 1 || newest[0].Values[fieldData] != tt.name {
				t.Errorf("newest entry %v, want data %q", newest, tt.name)
			}
		})
	}
}

// The Redis backend keeps IDs chosen by publishers as the in-memory log
// does (see sse.TestChosenIDs): the same scenario runs on both.
func TestChosenIDs(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	backendtest.ChosenIDs(t, newInstance(t, rs.url()).hub)
}

// Every ID that could not come back in a Last-Event-ID header is refused,
// by the hub and by the backend called directly, before anything reaches
// Redis (see sse.TestInvalidIDs).
func TestInvalidIDs(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url())
	backendtest.InvalidIDs(t, in.hub, in.backend)
}

// A batch is published in parts of 256, each in one run of the script,
// and reaches subscribers and replays as on every backend (see
// sse.TestPublishBatch).
func TestPublishBatch(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	backendtest.Batch(t, newInstance(t, rs.url()).hub)
}

// scriptRuns counts the runs of scripts that Redis answered without an
// error.
type scriptRuns struct{ n *atomic.Int32 }

func (h scriptRuns) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h scriptRuns) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if name := cmd.Name(); err == nil && (name == "evalsha" || name == "eval") {
			h.n.Add(1)
		}
		return err
	}
}

func (h scriptRuns) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// A batch of 600 events takes three runs of the script, not one per
// event, and lands in the stream in order: each part of 256 with no other
// entry between its events, even while another publisher adds events.
func TestPublishBatchRunsOncePerPart(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := Open(ctx, rs.url())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	other, err := Open(ctx, rs.url())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var runs atomic.Int32
	b.client.AddHook(scriptRuns{&runs})
	backendtest.BatchParts(t, 600, maxBatch, b.PublishBatch, other.Publish, func(ctx context.Context) ([]string, error) {
		entries, err := directClient(t, rs.addr()).XRange(ctx, DefaultKey, "-", "+").Result()
		data := make([]string, len(entries))
		for i, e := range entries {
			data[i], _ = e.Values[fieldData].(string)
		}
		return data, err
	})
	if got := runs.Load(); got != 3 {
		t.Errorf("the batch of 600 took %d runs of the script, want 3", got)
	}
}

// The index of chosen IDs follows the stream's trimming: it holds the IDs
// of the entries the stream holds, and a client resuming from a trimmed
// one gets a reset.
func TestChosenIDIndexIsBounded(t *testing.T) {
	rs := startRedis(t, persistent...)
	in := newInstance(t, rs.url(), WithMaxLen(50))
	direct := directClient(t, rs.addr())
	ctx := context.Background()
	for i := range 2000 {
		ev := sse.Event{ID: "row-" + strconv.Itoa(i), Data: strconv.Itoa(i)}
		if i%10 == 0 {
			ev.ID = "repeated"
		}
		if err := in.hub.Publish(ctx, ev, testTopic); err != nil {
			t.Fatal(err)
		}
	}
	length := direct.XLen(ctx, DefaultKey).Val()
	ids := direct.HLen(ctx, in.backend.idsKey).Val()
	order := direct.LLen(ctx, in.backend.orderKey).Val()
	if ids > length || order > 2*length {
		t.Errorf("stream holds %d entries; index %d IDs, order list %d, want at most %d and %d", length, ids, order, length, 2*length)
	}
	if c := connect(t, in, "resume from a trimmed ID", "row-5"); c.Next(t).Type != sse.ResetEvent {
		t.Errorf("resume from a trimmed ID: want a %s event", sse.ResetEvent)
	}
	c := connect(t, in, "resume from the newest entry", "row-1999")
	in.waitSubscribers(t, 2)
	in.publish(t, "after")
	if ev := c.Next(t); ev.Data != "after" {
		t.Errorf("resume from the newest entry: %+v, want only the live event", ev)
	}
}

// A publish that cannot succeed (the key holds something else) fails at
// once instead of retrying until its context ends.
func TestPublishFailsFastOnPermanentError(t *testing.T) {
	rs := startRedis(t, persistent...)
	ctx := context.Background()
	b, err := Open(ctx, rs.url(), WithKey("taken"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	directClient(t, rs.addr()).Set(ctx, "taken", "a string", 0)

	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	err = b.Publish(ctx, sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: "x"}})
	if err == nil || !containsAll(err.Error(), "WRONGTYPE") || time.Since(start) > time.Second {
		t.Errorf("Publish to a string key = %v after %v, want a WRONGTYPE error at once", err, time.Since(start))
	}
}

// The publish script, sent again, finds the entry of its first attempt
// even deep in the stream, but only after the position it was given.
func TestPublishScriptFindsEarlierAttempt(t *testing.T) {
	rs := startRedis(t, persistent...)
	direct := directClient(t, rs.addr())
	ctx := context.Background()
	run := func(resent bool, after, token string) string {
		t.Helper()
		send := new(sendCount)
		if resent {
			send.n.Store(1)
		}
		fields := entryFields(token, sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: token}})
		args := append([]any{send, after, retryScan, 0, 0, token, "", len(fields)}, fields...)
		keys := []string{DefaultKey, "{" + DefaultKey + "}:ids", "{" + DefaultKey + "}:ids:order"}
		id, err := publishScript.Run(ctx, direct, keys, args...).Text()
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	first := run(false, "0-0", "deep")
	for i := range 250 {
		run(false, "0-0", "filler"+strconv.Itoa(i))
	}
	tests := []struct {
		name   string
		resent bool
		after  string
		token  string
		added  bool
	}{
		{"resent: found 250 entries deep", true, "0-0", "deep", false},
		{"first send: added without looking", false, "0-0", "filler7", true},
		{"resent, but the entry is before the position: added", true, first, "deep", true},
		{"resent, never added: added", true, "0-0", "new", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := direct.XLen(ctx, DefaultKey).Val()
			id := run(tt.resent, tt.after, tt.token)
			grew := direct.XLen(ctx, DefaultKey).Val() - before
			if tt.added && (grew != 1 || id == first) || !tt.added && (grew != 0 || id != first) {
				t.Errorf("returned %s (first attempt: %s), stream grew by %d; want added=%v", id, first, grew, tt.added)
			}
		})
	}
}

// The history is bounded by age too: a publish drops what is older.
func TestMaxAgeTrims(t *testing.T) {
	rs := startRedis(t, persistent...)
	ctx := context.Background()
	b, err := Open(ctx, rs.url(), WithMaxLen(0), WithMaxAge(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	msg := sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: "x"}}
	direct := directClient(t, rs.addr())
	var first string
	for i := range 250 {
		if err := b.Publish(ctx, msg); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			// The first entry, read before a later publish can trim it:
			// it sits in the stream's first node, which is not its last.
			first = direct.XRangeN(ctx, DefaultKey, "-", "+", 1).Val()[0].ID
		}
	}
	time.Sleep(200 * time.Millisecond)
	if err := b.Publish(ctx, msg); err != nil {
		t.Fatal(err)
	}
	// MINID ~ trims whole nodes of 100 entries: the two full ones go.
	if n := direct.XLen(ctx, DefaultKey).Val(); n > 100 {
		t.Errorf("stream holds %d entries after the age limit passed, want at most 100", n)
	}
	err = b.Replay(ctx, first, func(sse.Message) error { return nil })
	if !errors.Is(err, sse.ErrUnknownID) {
		t.Errorf("Replay after an aged-out ID = %v, want ErrUnknownID", err)
	}
}

// With Redis frozen (SIGSTOP), Publish returns soon after its context
// ends, says the outcome is unknown, and publishing the same event again
// once Redis answers leaves it in the stream once. With nothing sent (no
// connection can be made), the error says the event was not published.
func TestPublishWhileRedisFrozen(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	px := newProxy(t, rs.addr())
	b, err := Open(context.Background(), px.url(), fastRetry...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	msg := func(data string) sse.Message {
		return sse.Message{Topics: []string{testTopic}, Event: sse.Event{Data: data}}
	}
	if err := b.Publish(context.Background(), msg("warm")); err != nil {
		t.Fatal(err)
	}
	rs.mu.Lock()
	proc := rs.cmd.Process
	rs.mu.Unlock()
	proc.Signal(syscall.SIGSTOP)
	thawed := false
	thaw := func() {
		if !thawed {
			thawed = true
			proc.Signal(syscall.SIGCONT)
		}
	}
	defer thaw()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	start := time.Now()
	err = b.Publish(ctx, msg("frozen"))
	took := time.Since(start)
	cancel()
	t.Logf("Publish with Redis frozen and a 100ms context returned after %v: %v", took, err)
	if !errors.Is(err, ErrPublishUnknown) {
		t.Errorf("Publish with Redis frozen = %v, want ErrPublishUnknown", err)
	}
	if took > 150*time.Millisecond {
		t.Errorf("Publish returned after %v, want within 150ms", took)
	}
	thaw()
	if err := b.Publish(context.Background(), msg("frozen")); err != nil {
		t.Fatalf("Publish again: %v", err)
	}
	entries, err := directClient(t, rs.addr()).XRange(context.Background(), DefaultKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if e.Values[fieldData] == "frozen" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("the event is in the stream %d times, want once", n)
	}

	px.setDown(true)
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = b.Publish(ctx, msg("unsent"))
	if err == nil || errors.Is(err, ErrPublishUnknown) || !strings.Contains(err.Error(), "not published") {
		t.Errorf("Publish with no connection = %v, want an error saying not published", err)
	}
}

// Hub.End on one server ends the streams of its topic on another server
// sharing the Redis stream (see sse.TestEnd).
func TestEnd(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	a, b := newInstance(t, rs.url()), newInstance(t, rs.url())
	backendtest.End(t, a.hub, b.hub)
}

// Streams that end at their lifetime lose nothing through Redis (see
// sse.TestRotation).
func TestRotation(t *testing.T) {
	leaktest.Check(t)
	rs := startRedis(t, persistent...)
	backendtest.Rotation(t, newInstance(t, rs.url()).hub)
}
