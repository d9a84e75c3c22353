package sse

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// observed records what an Observer is told.
type observed struct {
	mu         sync.Mutex
	opens      int
	ends       []error
	writes     []Write
	published  [][]string
	fanned     int
	drops      int
	slow       [][]string
	replays    []int
	resets     []string // "<topics>:<reason>"
	connects   int
	reconnects []Reconnect
	received   int
}

func (o *observed) observer() Observer {
	lock := func(fn func()) { o.mu.Lock(); defer o.mu.Unlock(); fn() }
	return Observer{
		StreamOpen: func() { lock(func() { o.opens++ }) },
		StreamEnd:  func(err error) { lock(func() { o.ends = append(o.ends, err) }) },
		Write:      func(w Write) { lock(func() { o.writes = append(o.writes, w) }) },
		Publish: func(topics []string) {
			lock(func() { o.published = append(o.published, slices.Clone(topics)) })
		},
		FanOut: func(n int) { lock(func() { o.fanned += n }) },
		Drop:   func(_ []string, n int) { lock(func() { o.drops += n }) },
		Slow:   func(topics []string) { lock(func() { o.slow = append(o.slow, slices.Clone(topics)) }) },
		Replay: func(_ []string, n int) { lock(func() { o.replays = append(o.replays, n) }) },
		Reset: func(topics []string, r ResetReason) {
			lock(func() { o.resets = append(o.resets, strings.Join(topics, ",")+":"+r.String()) })
		},
		Connect:   func() { lock(func() { o.connects++ }) },
		Reconnect: func(r Reconnect) { lock(func() { o.reconnects = append(o.reconnects, r) }) },
		Receive:   func() { lock(func() { o.received++ }) },
	}
}

// read calls fn with the records locked.
func (o *observed) read(fn func(o *observed)) {
	o.mu.Lock()
	defer o.mu.Unlock()
	fn(o)
}

// waitEnds waits until n streams have ended.
func (o *observed) waitEnds(t *testing.T, n int) {
	t.Helper()
	hubWaitUntil(t, fmt.Sprintf("%d stream ends", n), func() bool {
		o.mu.Lock()
		defer o.mu.Unlock()
		return len(o.ends) >= n
	})
}

func TestObserverStream(t *testing.T) {
	leaktest.Check(t)
	tests := []struct {
		name string
		fn   func(s *Stream) error
		// leave makes the client leave after the first event
		leave     bool
		wantCause func(error) bool
		wantEvs   int
		wantBeat  bool
	}{
		{
			name: "ended",
			fn: func(s *Stream) error {
				s.Send(Event{ID: "1", Data: "a"})
				return s.Send(Event{ID: "2", Data: "b"})
			},
			wantCause: func(err error) bool { return err == nil },
			wantEvs:   2,
		},
		{
			name: "error",
			fn: func(s *Stream) error {
				s.Send(Event{Data: "a"})
				return errors.New("boom")
			},
			wantCause: func(err error) bool { return err != nil && err.Error() == "boom" },
			wantEvs:   1,
		},
		{
			name: "client left",
			fn: func(s *Stream) error {
				s.Send(Event{Data: "a"})
				<-s.Done()
				return nil
			},
			leave:     true,
			wantCause: func(err error) bool { return errors.Is(err, context.Canceled) },
			wantEvs:   1,
		},
		{
			name: "heartbeat",
			fn: func(s *Stream) error {
				time.Sleep(60 * time.Millisecond) // a few heartbeats' time
				return nil
			},
			wantCause: func(err error) bool { return err == nil },
			wantBeat:  true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o observed
			srv := httptest.NewServer(Handler(tt.fn, WithObserver(o.observer()), WithHeartbeat(10*time.Millisecond),
				WithErrorHandler(func(*http.Request, error) {})))
			defer srv.Close()
			hr, err := openHubStream(srv.Client(), srv.URL, "")
			if err != nil {
				t.Fatal(err)
			}
			if tt.leave {
				hr.next(t, "the first event")
				hr.stop()
			} else {
				hr.rest(t)
			}
			o.waitEnds(t, 1)
			o.read(func(o *observed) {
				if o.opens != 1 || len(o.ends) != 1 || !tt.wantCause(o.ends[0]) {
					t.Errorf("opens %d, ends %v; want 1 open and one end of the cause wanted", o.opens, o.ends)
				}
				var evs, beats, bytes int
				for _, w := range o.writes {
					if w.Err != nil {
						continue
					}
					evs += w.Events
					bytes += w.Bytes
					if w.Heartbeat {
						beats++
						if w.Bytes != len(heartbeatFrame) || w.Events != 0 {
							t.Errorf("heartbeat write %+v, want %d bytes, no events", w, len(heartbeatFrame))
						}
					}
					if w.Duration <= 0 {
						t.Errorf("write %+v has no duration", w)
					}
				}
				if evs != tt.wantEvs || (beats > 0) != tt.wantBeat {
					t.Errorf("writes told %d events and %d heartbeats, want %d events, heartbeats %v", evs, beats, tt.wantEvs, tt.wantBeat)
				}
				if !tt.wantBeat && bytes == 0 {
					t.Errorf("writes told no bytes")
				}
			})
		})
	}
}

// Write's byte count is what reaches the client.
func TestObserverWriteBytes(t *testing.T) {
	var o observed
	var out strings.Builder
	w := &stringFlusher{b: &out}
	err := StreamTo(context.Background(), w, func(s *Stream) error {
		if err := s.Send(Event{ID: "7", Type: "t", Data: "two\nlines"}); err != nil {
			return err
		}
		return s.Send(Event{Data: "x"})
	}, WithObserver(o.observer()), WithHeartbeat(0), WithRetry(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	o.read(func(o *observed) {
		bytes, evs := 0, 0
		for _, w := range o.writes {
			bytes += w.Bytes
			evs += w.Events
		}
		if bytes != out.Len() || evs != 2 || len(o.writes) != 3 {
			t.Errorf("writes %+v told %d bytes and %d events; %d bytes were written, 2 events in 3 writes (retry first)", o.writes, bytes, evs, out.Len())
		}
	})
}

type stringFlusher struct{ b *strings.Builder }

func (w *stringFlusher) Write(p []byte) (int, error) { return w.b.Write(p) }
func (w *stringFlusher) Flush() error                { return nil }

func TestObserverHub(t *testing.T) {
	leaktest.Check(t)
	t.Run("publish, replay, reset", func(t *testing.T) {
		var o observed
		hub := newTestHub(t, WithObserver(o.observer()))
		srv := startHubServer(t, hub, nil)
		for i := 1; i <= 3; i++ {
			hubPublish(t, hub, Event{ID: fmt.Sprint(i), Data: "x"}, "a", "b")
		}
		o.read(func(o *observed) {
			if len(o.published) != 3 || !slices.Equal(o.published[0], []string{"a", "b"}) || o.fanned != 0 {
				t.Errorf("published %q, fanned %d; want [a b] 3 times, none fanned out", o.published, o.fanned)
			}
		})
		if got := hubReplay(t, hub, srv, "1", "a"); len(got) != 2 {
			t.Fatalf("replay after 1 = %q, want two events", got)
		}
		if got := hubReplay(t, hub, srv, "nope", "a"); len(got) != 1 {
			t.Fatalf("replay after nope = %q, want a reset", got)
		}
		o.read(func(o *observed) {
			if !slices.Equal(o.replays, []int{2, 0}) || len(o.resets) != 1 || !strings.HasSuffix(o.resets[0], ":unknown_id") {
				t.Errorf("replays %v, resets %q; want [2 0] and one unknown_id", o.replays, o.resets)
			}
			if o.fanned != 2 { // the two markers, one subscriber each
				t.Errorf("fanned out %d, want 2", o.fanned)
			}
		})
		hubGet(t, srv, "", "a")
		hubGet(t, srv, "", "c")
		hubWaitSubscribers(t, hub, 2)
		hubDeliverGap(hub)
		hubSettle(t, hub)
		o.read(func(o *observed) {
			if got := o.resets[1:]; !slices.Equal(got, []string{"a:lost", "c:lost"}) && !slices.Equal(got, []string{"c:lost", "a:lost"}) {
				t.Errorf("resets after a gap %q, want a:lost and c:lost", got)
			}
		})
	})
	for _, policy := range []SlowPolicy{DisconnectSlow, DropOldest} {
		t.Run(fmt.Sprint("policy ", policy), func(t *testing.T) {
			var o observed
			hub := newTestHub(t, WithQueueSize(2), WithSlowPolicy(policy), WithObserver(o.observer()))
			s := runHub(t, hub.StreamFunc("t"))
			hubWaitSubscribers(t, hub, 1)
			s.sink.gate.hold()
			hubPublish(t, hub, Event{Data: "1"}, "t")
			s.sink.gate.awaitWaiting(t)
			for i := 2; i <= 4; i++ {
				hubPublish(t, hub, Event{Data: fmt.Sprint(i)}, "t")
			}
			s.sink.gate.release(nil)
			if policy == DisconnectSlow {
				s.wait(t)
			} else {
				s.until(t, "4")
			}
			o.read(func(o *observed) {
				wantSlow, wantDrops := 1, 0
				if policy == DropOldest {
					wantSlow, wantDrops = 0, 1
				}
				if len(o.slow) != wantSlow || wantSlow == 1 && !slices.Equal(o.slow[0], []string{"t"}) || o.drops != wantDrops {
					t.Errorf("slow %q, drops %d; want %d slow of [t], %d drops", o.slow, o.drops, wantSlow, wantDrops)
				}
				if o.fanned != 4 {
					t.Errorf("fanned out %d, want 4", o.fanned)
				}
			})
		})
	}
}

func TestObserverClient(t *testing.T) {
	var o observed
	srv, _ := serveScript(t, cut("id: 1\ndata: a\n\n"), body("data: b\n\n"))
	evs, err := collect(Events(srv.Client(), get(t, srv.URL), WithObserver(o.observer()), WithEndOnEOF(), WithReconnectDelay(0)))
	if err != nil || len(evs) != 2 {
		t.Fatalf("events %v, err %v; want two", evs, err)
	}
	o.read(func(o *observed) {
		if o.connects != 2 || len(o.reconnects) != 1 || o.reconnects[0].LastEventID != "1" || o.received != 2 {
			t.Errorf("connects %d, reconnects %+v, received %d; want 2, one after ID 1, 2", o.connects, o.reconnects, o.received)
		}
	})
}

// With no Observer, a stream's Send and a hub's publish and fan-out
// allocate no more than they did without observation: the Observer's
// call sites test one pointer. An Observer whose functions allocate
// nothing adds nothing either.
func TestObserverAllocs(t *testing.T) {
	var calls atomic.Int64
	count := Observer{
		StreamOpen: func() { calls.Add(1) },
		StreamEnd:  func(error) { calls.Add(1) },
		Write:      func(Write) { calls.Add(1) },
		Publish:    func([]string) { calls.Add(1) },
		FanOut:     func(int) { calls.Add(1) },
	}
	send := func(opts ...Option) float64 {
		var allocs float64
		err := StreamTo(context.Background(), discardFlusher{}, func(s *Stream) error {
			ev := Event{ID: "1", Data: "hello"}
			s.Send(ev) // grows the buffer
			allocs = testing.AllocsPerRun(1000, func() {
				if err := s.Send(ev); err != nil {
					t.Fatal(err)
				}
			})
			return nil
		}, append(opts, WithHeartbeat(0))...)
		if err != nil {
			t.Fatal(err)
		}
		return allocs
	}
	if got := send(); got != 0 {
		t.Errorf("Send without an Observer: %v allocations, want 0", got)
	}
	if got := send(WithObserver(count)); got != 0 || calls.Load() == 0 {
		t.Errorf("Send with an Observer: %v allocations (%d calls), want 0", got, calls.Load())
	}

	publish := func(opts ...HubOption) float64 {
		hub, err := NewHub(append(opts, WithHistory(HistoryLimits{Count: 10}))...)
		if err != nil {
			t.Fatal(err)
		}
		defer hub.Close()
		var written atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			StreamTo(ctx, countingFlusher{&written}, hub.StreamFunc("t"), WithHeartbeat(0))
		}()
		defer func() { cancel(); <-done }()
		hubWaitSubscribers(t, hub, 1)
		ev := Event{Data: "hello"}
		return testing.AllocsPerRun(500, func() {
			want := written.Load() + 1
			if err := hub.Publish(ctx, ev, "t"); err != nil {
				t.Fatal(err)
			}
			for written.Load() < want {
				time.Sleep(10 * time.Microsecond)
			}
		})
	}
	without, with := publish(), publish(WithObserver(count))
	// The subscriber's goroutine runs beside the measured function, so
	// an allocation of its may fall on either side of a run's end.
	if with-without > 0.5 || without-with > 0.5 {
		t.Errorf("a publish and its fan-out and write: %v allocations without an Observer, %v with one; want the same", without, with)
	}
	t.Logf("allocations per publish: %v without an Observer, %v with one", without, with)
}

type countingFlusher struct{ n *atomic.Int64 }

func (w countingFlusher) Write(p []byte) (int, error) { return len(p), nil }
func (w countingFlusher) Flush() error                { w.n.Add(1); return nil }

// A client that reads nothing ends its stream by the write timeout, and
// StreamEnd is told so, though net/http cancels the request as the write
// fails.
func TestObserverWriteTimeout(t *testing.T) {
	leaktest.Check(t)
	var o observed
	big := strings.Repeat("x", 64<<10)
	srv := httptest.NewServer(Handler(func(s *Stream) error {
		for {
			if err := s.Send(Event{Data: big}); err != nil {
				return err
			}
		}
	}, WithObserver(o.observer()), WithWriteTimeout(100*time.Millisecond), WithErrorHandler(func(*http.Request, error) {})))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL) // and read nothing
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	o.waitEnds(t, 1)
	o.read(func(o *observed) {
		if !errors.Is(o.ends[0], os.ErrDeadlineExceeded) || !errors.Is(o.ends[0], ErrClosed) {
			t.Errorf("StreamEnd(%v), want an error wrapping ErrClosed and os.ErrDeadlineExceeded", o.ends[0])
		}
		last := o.writes[len(o.writes)-1]
		if !errors.Is(last.Err, os.ErrDeadlineExceeded) || last.Duration < 100*time.Millisecond {
			t.Errorf("last write %+v, want one that failed after the timeout", last)
		}
	})
}
