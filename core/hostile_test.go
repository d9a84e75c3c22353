package sse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/leaktest"
)

// The tests in this file play a hostile client or a faulty log: clients
// that stop reading, HEAD requests, IDs that repeat, entries that cannot
// be encoded, headers that are huge, and floods that test the history's
// bounds.

// stuckWriteTimeout is the write timeout of the streams these tests drop.
const stuckWriteTimeout = 200 * time.Millisecond

// openStuck opens target as a client that never reads: over HTTP/1.1 a
// raw connection with a small receive buffer, over HTTP/2 a stream of the
// client's connection whose body is never read, so that flow control stops
// the server. The client goes away when the test ends.
func openStuck(t *testing.T, ls *liveServer, target string, header http.Header) {
	t.Helper()
	if ls.protoMajor == 2 {
		doStream(t, ls, target, header)
		return
	}
	conn, err := net.Dial("tcp", ls.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n", target)
	for name, values := range header {
		for _, v := range values {
			fmt.Fprintf(&req, "%s: %s\r\n", name, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := io.WriteString(conn, req.String()); err != nil {
		t.Fatal(err)
	}
}

// countHandlers wraps h and counts the calls of it in progress.
func countHandlers(h http.Handler, active *atomic.Int32) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		active.Add(1)
		defer active.Add(-1)
		h.ServeHTTP(w, r)
	})
}

// bigData is 64 KiB of event data: a few hundred of them fill any socket
// buffer and HTTP/2 window.
var bigData = strings.Repeat("x", 64<<10)

func TestHubDropsClientThatStopsReading(t *testing.T) {
	tests := []struct {
		name    string
		hubOpts []HubOption
		opts    []Option
		lastID  string // the stuck client resumes after it
		live    int    // events published once it subscribed
	}{
		// The replay of 200 events is written in batches, all of them
		// under the deadline.
		{"replay", []HubOption{WithHistory(HistoryLimits{Count: 1000, Bytes: 64 << 20})}, nil, "0", 0},
		// Queued events are written in batches under DropOldest, which
		// never disconnects by itself: only the deadline can.
		{"drop-oldest-batch", []HubOption{WithSlowPolicy(DropOldest)}, nil, "", 200},
		// No write timeout: the overflow under DisconnectSlow ends the
		// stream and interrupts its write.
		{"no-write-timeout", []HubOption{WithQueueSize(8)}, []Option{WithWriteTimeout(0)}, "", 200},
	}
	for _, p := range liveProtocols {
		for _, tt := range tests {
			t.Run(p.name+"/"+tt.name, func(t *testing.T) {
				leaktest.Check(t)
				hub := newTestHub(t, tt.hubOpts...)
				var active atomic.Int32
				opts := append([]Option{WithWriteTimeout(stuckWriteTimeout), WithHeartbeat(0)}, tt.opts...)
				ls := startLiveServer(t, p.http2, countHandlers(Handler(hub.StreamFunc("t"), opts...), &active), nil)
				if tt.lastID != "" {
					for i := range 200 {
						hubPublish(t, hub, Event{ID: strconv.Itoa(i), Data: bigData}, "t")
					}
				}
				header := http.Header{}
				if tt.lastID != "" {
					header.Set("Last-Event-ID", tt.lastID)
				}
				openStuck(t, ls, "/", header)
				hubWaitUntil(t, "the stuck client subscribes", func() bool { return active.Load() == 1 })
				for i := range tt.live {
					hubPublish(t, hub, Event{ID: strconv.Itoa(i), Data: bigData}, "t")
				}
				hubWaitUntil(t, "the client that stopped reading is dropped", func() bool {
					return hub.Stats().Subscribers == 0 && active.Load() == 0
				})
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				defer cancel()
				if err := hub.Shutdown(ctx); err != nil {
					t.Errorf("Hub.Shutdown after the stuck client left = %v", err)
				}
			})
		}
	}
}

// noDeadlineResponse hides the response writer's deadline: it can flush
// but not Unwrap, as some compression middleware does.
type noDeadlineResponse struct{ w http.ResponseWriter }

func (r noDeadlineResponse) Header() http.Header         { return r.w.Header() }
func (r noDeadlineResponse) Write(p []byte) (int, error) { return r.w.Write(p) }
func (r noDeadlineResponse) WriteHeader(code int)        { r.w.WriteHeader(code) }
func (r noDeadlineResponse) FlushError() error           { return http.NewResponseController(r.w).Flush() }

// TestHubSlowPolicyWithoutDeadline checks that the queue bound holds and
// Shutdown returns for a client that stopped reading behind a writer whose
// writes cannot be interrupted: the subscriber leaves the hub at the
// overflow, even though its handler stays in its write until the
// connection closes.
func TestHubSlowPolicyWithoutDeadline(t *testing.T) {
	const queue = 8
	leaktest.Check(t)
	hub := newTestHub(t, WithQueueSize(queue))
	h := Handler(hub.StreamFunc("t"), WithHeartbeat(0))
	ls := startLiveServer(t, false, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(noDeadlineResponse{w}, r)
	}), nil)
	openStuck(t, ls, "/", nil)
	hubWaitSubscribers(t, hub, 1)
	for i := range 200 {
		hubPublish(t, hub, Event{ID: strconv.Itoa(i), Data: bigData}, "t")
		if st := hub.Stats(); st.QueueDepth > queue {
			t.Fatalf("after %d events the queue holds %d, more than its bound %d", i+1, st.QueueDepth, queue)
		}
	}
	st := hub.Stats()
	if st.Subscribers != 0 || st.SlowDisconnects != 1 || st.QueueDepth != 0 {
		t.Errorf("Stats = %+v after the overflow, want no subscriber, one slow disconnect, nothing queued", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		t.Errorf("Hub.Shutdown with a handler stuck in a write it cannot interrupt = %v", err)
	}
}

func TestHubShutdownAbortsWriteInProgress(t *testing.T) {
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			leaktest.Check(t)
			hub := newTestHub(t, WithQueueSize(1024))
			var active atomic.Int32
			// A minute of write timeout: Shutdown must not wait for it.
			ls := startLiveServer(t, p.http2, countHandlers(Handler(hub.StreamFunc("t"), WithWriteTimeout(time.Minute), WithHeartbeat(0)), &active), nil)
			reader, err := openHubStream(ls.client, ls.URL+"/", "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(reader.stop)
			openStuck(t, ls, "/", nil)
			hubWaitSubscribers(t, hub, 2)
			// Publish until the stuck client's writer has stopped taking
			// events; the reading client takes every one.
			for i := 0; ; i++ {
				hubPublish(t, hub, Event{ID: strconv.Itoa(i), Data: bigData}, "t")
				if ev := reader.next(t, "event for the reading client"); ev.ID != strconv.Itoa(i) {
					t.Fatalf("reading client got event %q, want %d", ev.ID, i)
				}
				if hub.Stats().QueueDepth >= 4 {
					break
				}
				if i > 900 {
					t.Fatal("the client that does not read never fell behind")
				}
			}
			start := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), hubWait)
			defer cancel()
			if err := hub.Shutdown(ctx); err != nil {
				t.Fatalf("Hub.Shutdown = %v", err)
			}
			if took := time.Since(start); took > time.Second {
				t.Errorf("Hub.Shutdown took %v with a write stuck on a client that stopped reading, want under a second", took)
			}
			hubWaitUntil(t, "every handler returns", func() bool { return active.Load() == 0 })
		})
	}
}

func TestHEADIsNeverAStream(t *testing.T) {
	for _, p := range liveProtocols {
		t.Run(p.name, func(t *testing.T) {
			leaktest.Check(t)
			var connects atomic.Int32
			hub := newTestHub(t, WithHooks(Hooks{Connect: func(*Stream, []string) { connects.Add(1) }}))
			var active atomic.Int32
			mux := http.NewServeMux()
			mux.Handle("/events", countHandlers(Handler(hub.StreamFunc("t")), &active))
			mux.HandleFunc("/plain", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
			ls := startLiveServer(t, p.http2, mux, nil)

			check := func(resp *http.Response, body []byte) {
				t.Helper()
				if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" || len(body) != 0 {
					t.Errorf("HEAD: status %d, Content-Type %q, body %q; want 200, text/event-stream, none",
						resp.StatusCode, resp.Header.Get("Content-Type"), body)
				}
			}
			if p.http2 {
				req, _ := http.NewRequest(http.MethodHead, ls.URL+"/events", nil)
				req.Header.Set("Accept", "text/event-stream")
				resp, err := ls.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				check(resp, body)
			} else {
				// Over one keep-alive connection: the request after the
				// HEAD must be answered.
				conn, err := net.DialTimeout("tcp", ls.Listener.Addr().String(), arrive)
				if err != nil {
					t.Fatal(err)
				}
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(arrive))
				br := bufio.NewReader(conn)
				io.WriteString(conn, "HEAD /events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
				head, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
				if err != nil {
					t.Fatalf("HEAD: %v", err)
				}
				check(head, nil)
				io.WriteString(conn, "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
				next, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("the request after the HEAD on the same connection: %v", err)
				}
				body, _ := io.ReadAll(next.Body)
				if string(body) != "ok" {
					t.Errorf("the request after the HEAD got %q, want ok", body)
				}
			}
			hubWaitUntil(t, "the HEAD handler returns", func() bool { return active.Load() == 0 })
			if n := connects.Load(); n != 0 || hub.Stats().Subscribers != 0 {
				t.Errorf("a HEAD request subscribed %d time(s)", n)
			}
		})
	}
}

// TestHubDedupesReplayByPosition publishes events whose publisher-chosen
// IDs repeat: a live event with the ID of a replayed one is a new event and
// arrives.
func TestHubDedupesReplayByPosition(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	hubPublish(t, hub, Event{ID: "room-1", Data: "a"}, "t")
	hubPublish(t, hub, Event{ID: "room-2", Data: "b"}, "t")
	c := hubGet(t, srv, "room-1", "t")
	if ev := c.next(t, "replayed event"); ev.ID != "room-2" || ev.Data != "b" {
		t.Fatalf("replay gave %q=%q, want room-2=b", ev.ID, ev.Data)
	}
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{ID: "room-2", Data: "c"}, "t") // the same ID again
	hubPublish(t, hub, Event{ID: "room-3", Data: "d"}, "t")
	for _, want := range []string{"c", "d"} {
		if ev := c.next(t, "live event"); ev.Data != want {
			t.Fatalf("live event %q, want %q: an event with a repeated ID was taken for a duplicate", ev.Data, want)
		}
	}
}

// corruptLog is the in-memory log with entries that cannot be encoded,
// as another program writing to a shared log might leave them: one before
// the live event "bad-live" and one in every replay after its second
// message.
type corruptLog struct{ *memLog }

var corruptMessage = Message{ID: "corrupt", Pos: "corrupt", Topics: []string{"t"}, Event: Event{Data: "\xff\xfe"}}

func (l corruptLog) Publish(ctx context.Context, msg Message) error {
	if msg.Event.Data == "bad-live" {
		l.memLog.mu.Lock()
		deliver := l.memLog.deliver
		l.memLog.mu.Unlock()
		deliver(corruptMessage)
	}
	return l.memLog.Publish(ctx, msg)
}

func (l corruptLog) Replay(ctx context.Context, lastID string, fn func(Message) error) error {
	n := 0
	return l.memLog.Replay(ctx, lastID, func(m Message) error {
		if n++; n == 2 {
			if err := fn(corruptMessage); err != nil {
				return err
			}
		}
		return fn(m)
	})
}

func TestHubSkipsEntriesItCannotEncode(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithBackend(corruptLog{newMemLog(defaultHistory)}))
	srv := startHubServer(t, hub, nil)
	for i := 1; i <= 4; i++ {
		hubPublish(t, hub, Event{ID: strconv.Itoa(i), Data: "d" + strconv.Itoa(i)}, "t")
	}
	c := hubGet(t, srv, "1", "t")
	for _, want := range []string{"d2", "d3", "d4"} {
		if ev := c.next(t, "replayed event"); ev.Data != want {
			t.Fatalf("replay gave %q, want %q", ev.Data, want)
		}
	}
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{Data: "bad-live"}, "t")
	hubPublish(t, hub, Event{Data: "after"}, "t")
	for _, want := range []string{"bad-live", "after"} {
		if ev := c.next(t, "live event"); ev.Data != want {
			t.Fatalf("live event %q, want %q", ev.Data, want)
		}
	}
	if st := hub.Stats(); st.Skipped != 2 {
		t.Errorf("Stats().Skipped = %d, want 2: one in the replay, one live", st.Skipped)
	}
}

func TestHubResetEchoesBoundedID(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	huge := strings.Repeat("é", 256<<10) // 512 KiB of a client's Last-Event-ID
	c := hubGet(t, srv, huge, "t")
	ev := c.next(t, "reset event")
	if ev.Type != ResetEvent {
		t.Fatalf("got %+v, want a %s event", ev, ResetEvent)
	}
	if len(ev.Data) > 200 {
		t.Errorf("reset event data is %d bytes for a %d-byte Last-Event-ID, want it bounded", len(ev.Data), len(huge))
	}
	if !strings.Contains(ev.Data, "éé") || !strings.Contains(ev.Data, strconv.Itoa(len(huge))) {
		t.Errorf("reset event data %q: want the start of the ID and its length", ev.Data)
	}
}

func TestHistoryBoundsMemory(t *testing.T) {
	const events, bound = 200_000, 1 << 20
	hub := newTestHub(t, WithHistory(HistoryLimits{Count: 1 << 30, Bytes: bound}))
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	for i := range events {
		if err := hub.Publish(context.Background(), Event{Data: strconv.Itoa(i)}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	grown := int64(heap()) - int64(before)
	t.Logf("%d tiny events under a %d-byte bound grew the heap by %d bytes", events, bound, grown)
	// Allocator rounding is not counted: allow a quarter more.
	if grown > bound*5/4 {
		t.Errorf("the heap grew by %d bytes under a history bound of %d", grown, bound)
	}
}

func TestHistoryFreesAgedEventsWithoutPublishing(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithHistory(HistoryLimits{Count: 100, Age: 50 * time.Millisecond}))
	log := hub.backend.(*memLog)
	for i := range 10 {
		hubPublish(t, hub, Event{Data: strings.Repeat("x", 1000) + strconv.Itoa(i)}, "t")
	}
	held := func() (int, int) {
		log.mu.Lock()
		defer log.mu.Unlock()
		return len(log.entries) - log.head, cap(log.entries)
	}
	if n, _ := held(); n != 10 {
		t.Fatalf("history holds %d events, want 10", n)
	}
	hubWaitUntil(t, "the aged events are freed with nothing published", func() bool {
		n, c := held()
		return n == 0 && c == 0
	})
	hubPublish(t, hub, Event{Data: "later"}, "t")
	if n, _ := held(); n != 1 {
		t.Errorf("history holds %d events after one more, want 1", n)
	}
}

// TestAbortedWriteFailsAtOnce checks the order that makes an abort reach a
// write in progress: the write is interrupted, not left to its deadline.
func TestAbortedWriteFailsAtOnce(t *testing.T) {
	leaktest.Check(t)
	sent := make(chan error, 1)
	started := make(chan *Stream, 1)
	h, served := serveFunc(func(s *Stream) error {
		started <- s
		for {
			if err := s.Send(Event{Data: bigData}); err != nil {
				sent <- err
				return err
			}
		}
	}, WithWriteTimeout(time.Minute), WithHeartbeat(0))
	ls := startLiveServer(t, false, h, nil)
	openStuck(t, ls, "/", nil)
	s := receive(t, started, arrive, "stream start")
	time.Sleep(100 * time.Millisecond) // let the writes fill the buffers
	cause := errors.New("test abort")
	start := time.Now()
	s.abort(cause)
	err := receive(t, sent, arrive, "Send after abort")
	if took := time.Since(start); took > time.Second {
		t.Errorf("the stuck Send returned %v after the abort, want at once", took)
	}
	if !errors.Is(err, ErrClosed) {
		t.Errorf("Send = %v, want ErrClosed", err)
	}
	receive(t, served, arrive, "Serve returns")
}
