package sse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/eventwire/sse/internal/leaktest"
)

// hubWait bounds the wait for something that must happen soon. It is
// generous so that a loaded machine does not fail the tests (two -race runs
// of the module at once on two busy cores made 0.3 s of work take over
// 5 s); the bounds a user notices (Publish returning at once, Shutdown
// within a second) are checked separately.
const hubWait = 20 * time.Second

// newTestHub returns a hub made with opts that is shut down when the test
// ends.
func newTestHub(t *testing.T, opts ...HubOption) *Hub {
	t.Helper()
	hub, err := NewHub(opts...)
	if err != nil {
		t.Fatalf("NewHub: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hubWait)
		defer cancel()
		if err := hub.Shutdown(ctx); err != nil {
			t.Errorf("hub.Shutdown at the end of the test: %v", err)
		}
	})
	return hub
}

// hubPublish publishes ev, failing the test on error.
func hubPublish(t *testing.T, hub *Hub, ev Event, topics ...string) {
	t.Helper()
	if err := hub.Publish(context.Background(), ev, topics...); err != nil {
		t.Fatalf("Publish(%+v, %q) = %v", ev, topics, err)
	}
	hubSettle(t, hub)
}

// hubSettle waits until the hub's fan-out has handed every message
// delivered so far to the subscribers' queues, as it does a moment after
// Publish returns.
func hubSettle(t *testing.T, hub *Hub) {
	t.Helper()
	last := hub.seq.Load()
	deadline := time.Now().Add(hubWait)
	for hub.fanned.Load() < last {
		if time.Now().After(deadline) {
			t.Fatalf("the fan-out did not catch up within %v", hubWait)
		}
		runtime.Gosched()
	}
}

// hubWaitUntil polls cond until it holds, failing the test after hubWait.
func hubWaitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hubWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, hubWait)
		}
		time.Sleep(time.Millisecond)
	}
}

// hubWaitSubscribers waits until the hub counts n subscribers. A stream
// subscribes after its headers are sent, so a client must wait for this
// before it can expect live events.
func hubWaitSubscribers(t *testing.T, hub *Hub, n int) {
	t.Helper()
	hubWaitUntil(t, fmt.Sprintf("%d subscribers", n), func() bool { return hub.Stats().Subscribers == n })
}

// hubReader decodes the events of a stream on its own goroutine, so that a
// test can wait for one with a timeout.
type hubReader struct {
	events chan Event // closed when the stream ends
	err    error      // why it ended (io.EOF when cleanly); read once events is closed
	closer func()     // unblocks the reading goroutine
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
}

func newHubReader(r io.Reader, closer func()) *hubReader {
	hr := &hubReader{
		events: make(chan Event, 4096),
		closer: closer,
		quit:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	go func() {
		defer close(hr.done)
		dec := NewDecoder(r)
		for {
			ev, err := dec.Next()
			if err != nil {
				hr.err = err
				close(hr.events)
				return
			}
			select {
			case hr.events <- ev:
			case <-hr.quit:
				return
			}
		}
	}()
	return hr
}

// stop closes the stream from the client's side and waits for the reading
// goroutine to end.
func (hr *hubReader) stop() {
	hr.once.Do(func() {
		close(hr.quit)
		hr.closer()
	})
	<-hr.done
}

// next returns the next event, failing the test if the stream ends or none
// arrives within hubWait.
func (hr *hubReader) next(t *testing.T, what string) Event {
	t.Helper()
	timer := time.NewTimer(hubWait)
	defer timer.Stop()
	select {
	case ev, ok := <-hr.events:
		if !ok {
			t.Fatalf("%s: stream ended (%v) before the event arrived", what, hr.err)
		}
		return ev
	case <-timer.C:
		t.Fatalf("%s: no event within %v", what, hubWait)
	}
	return Event{}
}

// tryNext is next that reports the end of the stream instead of failing.
func (hr *hubReader) tryNext(t *testing.T) (Event, bool) {
	t.Helper()
	timer := time.NewTimer(hubWait)
	defer timer.Stop()
	select {
	case ev, ok := <-hr.events:
		return ev, ok
	case <-timer.C:
		t.Fatalf("no event within %v", hubWait)
		return Event{}, false
	}
}

// rest returns the events up to the end of the stream and why it ended,
// failing the test if it does not end within hubWait.
func (hr *hubReader) rest(t *testing.T) ([]Event, error) {
	t.Helper()
	timer := time.NewTimer(hubWait)
	defer timer.Stop()
	var evs []Event
	for {
		select {
		case ev, ok := <-hr.events:
			if !ok {
				return evs, hr.err
			}
			evs = append(evs, ev)
		case <-timer.C:
			t.Fatalf("stream did not end within %v; events so far: %q", hubWait, hubSummary(evs))
			return nil, nil
		}
	}
}

// until returns the events before the first one with the given data, which
// it consumes.
func (hr *hubReader) until(t *testing.T, data string) []Event {
	t.Helper()
	var evs []Event
	for {
		ev := hr.next(t, "waiting for "+data)
		if ev.Data == data {
			return evs
		}
		evs = append(evs, ev)
	}
}

// hubSummary writes events compactly: "id=data", or "reset(id=...)" for a
// ResetEvent, whose data is free text.
func hubSummary(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		switch ev.Type {
		case ResetEvent:
			out = append(out, "reset(id="+ev.ID+")")
		case "message":
			out = append(out, ev.ID+"="+ev.Data)
		default:
			out = append(out, ev.Type+":"+ev.ID+"="+ev.Data)
		}
	}
	return out
}

// startHubServer serves hub over HTTP: GET /?t=a,b subscribes to topics a
// and b. wrap, if not nil, may wrap the response writer of a request.
func startHubServer(t *testing.T, hub *Hub, wrap func(http.ResponseWriter, *http.Request) http.ResponseWriter) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if wrap != nil {
			w = wrap(w, r)
		}
		topics := strings.Split(r.URL.Query().Get("t"), ",")
		Handler(hub.StreamFunc(topics...), WithHeartbeat(0)).ServeHTTP(w, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
	})
	return srv
}

// openHubStream sends a GET for an event stream, with a Last-Event-ID
// unless lastID is empty, and reads its events.
func openHubStream(c *http.Client, target, lastID string) (*hubReader, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.Do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		cancel()
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: status %s", target, resp.Status)
	}
	return newHubReader(resp.Body, func() {
		cancel()
		resp.Body.Close()
	}), nil
}

// hubGet opens a stream of topics on srv, resuming after lastID unless it
// is empty. The client goes away when the test ends.
func hubGet(t *testing.T, srv *httptest.Server, lastID string, topics ...string) *hubReader {
	t.Helper()
	target := srv.URL + "/?t=" + url.QueryEscape(strings.Join(topics, ","))
	hr, err := openHubStream(srv.Client(), target, lastID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hr.stop)
	return hr
}

// hubGate holds writes while it is shut.
type hubGate struct {
	mu      sync.Mutex
	open    chan struct{} // closed while writes may pass
	err     error         // what writes return once released with an error
	waiting chan struct{} // gets a value when a write starts to wait
}

func newHubGate() *hubGate {
	open := make(chan struct{})
	close(open)
	return &hubGate{open: open, waiting: make(chan struct{}, 64)}
}

// hold makes writes wait until release.
func (g *hubGate) hold() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
		g.open = make(chan struct{})
	default:
	}
}

// release lets writes pass; if err is not nil, they fail with it from now
// on.
func (g *hubGate) release(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if err != nil {
		g.err = err
	}
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

func (g *hubGate) pass() error {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	select {
	case <-open:
	default:
		select {
		case g.waiting <- struct{}{}:
		default:
		}
		<-open
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// awaitWaiting waits until a write is held by the gate.
func (g *hubGate) awaitWaiting(t *testing.T) {
	t.Helper()
	select {
	case <-g.waiting:
	case <-time.After(hubWait):
		t.Fatalf("no write reached the gate within %v", hubWait)
	}
}

// hubGatedResponse is a response writer whose writes pass a gate. Flush and
// the write deadline are found through Unwrap.
type hubGatedResponse struct {
	http.ResponseWriter
	gate *hubGate
}

func (w hubGatedResponse) Write(p []byte) (int, error) {
	if err := w.gate.pass(); err != nil {
		return 0, err
	}
	return w.ResponseWriter.Write(p)
}

func (w hubGatedResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hubCountingResponse is a response writer that counts the bytes written
// through it.
type hubCountingResponse struct {
	http.ResponseWriter
	written *atomic.Int64
}

func (w hubCountingResponse) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.written.Add(int64(n))
	return n, err
}

func (w hubCountingResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// hubSink is the FlushWriter of a stream run with [StreamTo]: its writes pass a
// gate and go into a pipe that a hubReader reads. It counts flushes and
// keeps every buffer written to it.
type hubSink struct {
	gate    *hubGate
	pw      *io.PipeWriter
	flushes atomic.Int64

	mu     sync.Mutex
	writes [][]byte
}

func (s *hubSink) Write(p []byte) (int, error) {
	if err := s.gate.pass(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	s.writes = append(s.writes, p) // kept, not copied: the test compares where the bytes are
	s.mu.Unlock()
	return s.pw.Write(p)
}

func (s *hubSink) Flush() error {
	s.flushes.Add(1)
	return nil
}

// hubRun is a stream run by [StreamTo] over a hubSink, read by a hubReader.
type hubRun struct {
	*hubReader
	sink   *hubSink
	cancel context.CancelFunc
	ended  chan struct{} // closed when StreamTo has returned
	runErr error         // what StreamTo returned; read once ended is closed
}

// runHub runs fn on a stream of its own until the test ends or cancel is
// called.
func runHub(t *testing.T, fn StreamFunc) *hubRun {
	t.Helper()
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	r := &hubRun{
		hubReader: newHubReader(pr, func() { pr.Close() }),
		sink:      &hubSink{gate: newHubGate(), pw: pw},
		cancel:    cancel,
		ended:     make(chan struct{}),
	}
	go func() {
		defer close(r.ended)
		r.runErr = StreamTo(ctx, r.sink, fn, WithHeartbeat(0))
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		r.sink.gate.release(nil)
		select {
		case <-r.ended:
		case <-time.After(hubWait):
			t.Errorf("StreamTo did not return within %v of its context's end", hubWait)
		}
		r.stop()
	})
	return r
}

// wait waits for StreamTo to return and returns its error.
func (r *hubRun) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-r.ended:
		return r.runErr
	case <-time.After(hubWait):
		t.Fatalf("StreamTo did not return within %v", hubWait)
		return nil
	}
}

// hubClock is a clock a test moves by hand.
type hubClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *hubClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *hubClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// hubReplay connects to topic with lastID, waits until the stream has
// subscribed, publishes a marker on a topic of the stream's own and returns
// what arrived before the marker: the replay, or a ResetEvent. It expects no
// other subscriber.
func hubReplay(t *testing.T, hub *Hub, srv *httptest.Server, lastID string, topics ...string) []string {
	t.Helper()
	marker := fmt.Sprintf("marker-%d", time.Now().UnixNano())
	c := hubGet(t, srv, lastID, append(slices.Clone(topics), marker)...)
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{Data: marker}, marker)
	got := c.until(t, marker)
	c.stop()
	hubWaitSubscribers(t, hub, 0)
	return hubSummary(got)
}

func TestHubTopics(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	a := hubGet(t, srv, "", "a")
	b := hubGet(t, srv, "", "b")
	ab := hubGet(t, srv, "", "a", "b")
	hubWaitSubscribers(t, hub, 3)

	hubPublish(t, hub, Event{ID: "1", Data: "to a"}, "a")
	hubPublish(t, hub, Event{ID: "2", Data: "to b"}, "b")
	hubPublish(t, hub, Event{ID: "3", Data: "to a and b"}, "a", "b")
	hubPublish(t, hub, Event{ID: "4", Data: "to c"}, "c")
	hubPublish(t, hub, Event{ID: "5", Data: "to b, a, b"}, "b", "a", "b")
	hubPublish(t, hub, Event{Data: "end"}, "a", "b")

	tests := []struct {
		name string
		c    *hubReader
		want []string
	}{
		{"a", a, []string{"1=to a", "3=to a and b", "5=to b, a, b"}},
		{"b", b, []string{"2=to b", "3=to a and b", "5=to b, a, b"}},
		{"a,b", ab, []string{"1=to a", "2=to b", "3=to a and b", "5=to b, a, b"}},
	}
	for _, tt := range tests {
		if got := hubSummary(tt.c.until(t, "end")); !slices.Equal(got, tt.want) {
			t.Errorf("subscriber of %s got %q, want %q", tt.name, got, tt.want)
		}
	}
}

// hubCountingJSON counts the calls of its MarshalJSON method.
type hubCountingJSON struct {
	calls *atomic.Int32
	N     int
}

func (v hubCountingJSON) MarshalJSON() ([]byte, error) {
	v.calls.Add(1)
	return fmt.Appendf(nil, `{"n":%d}`, v.N), nil
}

func TestHubEncodesJSONOnce(t *testing.T) {
	const subscribers = 5
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	clients := make([]*hubReader, subscribers)
	for i := range clients {
		clients[i] = hubGet(t, srv, "", "t")
	}
	clients = append(clients, hubGet(t, srv, "", "t", "u"))
	hubWaitSubscribers(t, hub, len(clients))

	var calls atomic.Int32
	hubPublish(t, hub, Event{ID: "before", Data: "x"}, "t")
	hubPublish(t, hub, Event{ID: "json", JSON: hubCountingJSON{&calls, 7}}, "t", "u")
	for i, c := range clients {
		got := hubSummary([]Event{c.next(t, "plain event"), c.next(t, "JSON event")})
		if want := []string{"before=x", `json={"n":7}`}; !slices.Equal(got, want) {
			t.Errorf("subscriber %d got %q, want %q", i, got, want)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("MarshalJSON called %d times for %d subscribers, want once", n, len(clients))
	}

	// A replay sends the text encoded at publication.
	for _, c := range clients {
		c.stop()
	}
	hubWaitSubscribers(t, hub, 0)
	if got, want := hubReplay(t, hub, srv, "before", "t"), []string{`json={"n":7}`}; !slices.Equal(got, want) {
		t.Errorf("replay after %q = %q, want %q", "before", got, want)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("MarshalJSON called %d times after a replay, want once", n)
	}
}

func TestHubSharesEncodedFrames(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	subs := []*hubRun{runHub(t, hub.StreamFunc("t")), runHub(t, hub.StreamFunc("t"))}
	hubWaitSubscribers(t, hub, len(subs))

	const events = 3
	for i := range events {
		hubPublish(t, hub, Event{Data: strconv.Itoa(i)}, "t")
	}
	for i, s := range subs {
		for j := range events {
			if ev := s.next(t, "event"); ev.Data != strconv.Itoa(j) {
				t.Fatalf("subscriber %d, event %d: data %q, want %q", i, j, ev.Data, strconv.Itoa(j))
			}
		}
	}
	// frameOf returns the buffer that carried the frame of event j.
	frameOf := func(s *hubSink, j int) []byte {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, w := range s.writes {
			if bytes.Contains(w, []byte("data: "+strconv.Itoa(j)+"\n")) {
				return w
			}
		}
		t.Fatalf("no write carried event %d: %q", j, s.writes)
		return nil
	}
	for j := range events {
		f0, f1 := frameOf(subs[0].sink, j), frameOf(subs[1].sink, j)
		if unsafe.SliceData(f0) != unsafe.SliceData(f1) {
			t.Errorf("event %d was written to the two subscribers from different buffers (%p, %p): encoded once per subscriber",
				j, unsafe.SliceData(f0), unsafe.SliceData(f1))
		}
	}
}

func TestHubPublishNeverBlocksOnSlowClient(t *testing.T) {
	// 1000 events of 16 KiB: more than the socket buffers of a client that
	// never reads can take, and more than its queue.
	const events, size, queue, window = 1000, 16 << 10, 64, 32
	leaktest.Check(t)
	hub := newTestHub(t, WithQueueSize(queue))
	var slowWritten atomic.Int64
	srv := startHubServer(t, hub, func(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
		if r.URL.Query().Has("slow") {
			return hubCountingResponse{w, &slowWritten}
		}
		return w
	})

	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET /?t=t&slow=1 HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n",
		srv.Listener.Addr()); err != nil {
		t.Fatal(err)
	}
	reader := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 2)

	// Should Publish block on the client that never reads, closing its
	// connection unblocks it, and the time taken fails the test.
	watchdog := time.AfterFunc(hubWait, func() { conn.Close() })
	defer watchdog.Stop()

	// The publisher stays at most a window ahead of the reading client, so
	// that the reading client's queue cannot overflow however slowly it
	// reads; the time spent inside Publish is what counts.
	pad := strings.Repeat("x", size)
	var inPublish time.Duration
	received := 0
	receive := func() {
		ev := reader.next(t, "event for the reading client")
		if ev.ID != strconv.Itoa(received) || ev.Data != pad {
			t.Fatalf("reading client, event %d: ID %q, %d bytes of data; want ID %d and %d bytes",
				received, ev.ID, len(ev.Data), received, size)
		}
		received++
	}
	for i := range events {
		if i >= window {
			receive()
		}
		start := time.Now()
		if err := hub.Publish(context.Background(), Event{ID: strconv.Itoa(i), Data: pad}, "t"); err != nil {
			t.Fatal(err)
		}
		inPublish += time.Since(start)
	}
	for received < events {
		receive()
	}
	if !watchdog.Stop() {
		t.Errorf("Publish blocked until the connection of the client that never reads was closed")
	}
	if inPublish > time.Second {
		t.Errorf("%d publishes took %v with a client that never reads, want well under a second", events, inPublish)
	}
	t.Logf("%d publishes took %v; the slow client was written %d bytes", events, inPublish, slowWritten.Load())
	// The setup is what it claims: the other client did not take the events.
	if n := slowWritten.Load(); n > events*size/2 {
		t.Errorf("the client that never reads was written %d bytes of %d: the test did not make it slow", n, events*size)
	}
}

func TestHubDisconnectSlow(t *testing.T) {
	leaktest.Check(t)
	var logs hubLogBuffer
	var disconnects []error
	var mu sync.Mutex
	hub := newTestHub(t,
		WithQueueSize(2),
		WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))),
		WithHooks(Hooks{Disconnect: func(_ *Stream, _ []string, err error) {
			mu.Lock()
			defer mu.Unlock()
			disconnects = append(disconnects, err)
		}}),
	)
	s := runHub(t, hub.StreamFunc("t"))
	hubWaitSubscribers(t, hub, 1)

	s.sink.gate.hold()
	hubPublish(t, hub, Event{ID: "1", Data: "written"}, "t")
	s.sink.gate.awaitWaiting(t) // the stream is writing event 1
	hubPublish(t, hub, Event{ID: "2", Data: "queued"}, "t")
	hubPublish(t, hub, Event{ID: "3", Data: "queued"}, "t")
	if got := hub.Stats().QueueDepth; got != 2 {
		t.Errorf("QueueDepth = %d with a full queue of 2, want 2", got)
	}
	hubPublish(t, hub, Event{ID: "4", Data: "overflows"}, "t")
	s.sink.gate.release(nil)

	if err := s.wait(t); err != nil {
		t.Errorf("StreamTo = %v, want nil (Subscribe returns nil once it has started)", err)
	}
	evs, end := s.rest(t)
	if got, want := hubSummary(evs), []string{"1=written"}; !slices.Equal(got, want) || end != io.EOF {
		t.Errorf("slow client got %q and %v, want %q and EOF", got, end, want)
	}
	st := hub.Stats()
	if want := (Stats{Published: 4, SlowDisconnects: 1, DroppedClients: 1}); st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	mu.Lock()
	if len(disconnects) != 1 || !errors.Is(disconnects[0], ErrSlowClient) {
		t.Errorf("Disconnect hook errors = %v, want one wrapping ErrSlowClient", disconnects)
	}
	mu.Unlock()
	out := logs.String()
	if !strings.Contains(out, "level=WARN") || !strings.Contains(out, "slow client") || !strings.Contains(out, "topics=[t]") {
		t.Errorf("log = %q, want a warning about the slow client with its topics", out)
	}
}

// hubLogBuffer is a bytes.Buffer safe for concurrent use.
type hubLogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *hubLogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *hubLogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestHubSlowClientReconnectsAndReplays(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithQueueSize(4))
	gate := newHubGate()
	srv := startHubServer(t, hub, func(w http.ResponseWriter, _ *http.Request) http.ResponseWriter {
		return hubGatedResponse{w, gate}
	})
	c := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 1)

	hubPublish(t, hub, Event{Data: "1"}, "t")
	first := c.next(t, "first event")
	if first.Data != "1" {
		t.Fatalf("first event %q, want %q", first.Data, "1")
	}
	gate.hold()
	hubPublish(t, hub, Event{Data: "2"}, "t")
	gate.awaitWaiting(t)
	for i := 3; i <= 7; i++ { // 3..6 fill the queue of 4, 7 overflows it
		hubPublish(t, hub, Event{Data: strconv.Itoa(i)}, "t")
	}
	gate.release(nil)

	// The stream ends. Event 2, being written at the overflow, may or may
	// not have reached the client: either way its last event ID says what
	// it has.
	evs, _ := c.rest(t)
	lastID := first.ID
	var got []string
	for _, ev := range evs {
		got = append(got, ev.Data)
		lastID = ev.ID
	}
	if len(got) > 1 || len(got) == 1 && got[0] != "2" {
		t.Fatalf("after the overflow the stream sent %q, want at most event 2", got)
	}
	if st := hub.Stats(); st.SlowDisconnects != 1 || st.Subscribers != 0 {
		t.Errorf("Stats = %+v, want SlowDisconnects 1 and no subscriber", st)
	}
	hubPublish(t, hub, Event{Data: "8"}, "t") // while the client is away

	// The client reconnects as EventSource does, with its last event ID.
	c2 := hubGet(t, srv, lastID, "t")
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{Data: "9"}, "t")
	got = append(got, hubSummaryData(c2.until(t, "9"))...)
	if want := []string{"2", "3", "4", "5", "6", "7", "8"}; !slices.Equal(got, want) {
		t.Errorf("before and after reconnecting with Last-Event-ID %s the client got %q, then 9; want %q", lastID, got, want)
	}
}

// hubSummaryData returns the data of events.
func hubSummaryData(evs []Event) []string {
	out := make([]string, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.Data)
	}
	return out
}

func TestHubDropOldest(t *testing.T) {
	leaktest.Check(t)
	type drop struct {
		s      *Stream
		topics []string
		n      int
	}
	var mu sync.Mutex
	var drops []drop
	hub := newTestHub(t, WithQueueSize(2), WithSlowPolicy(DropOldest), WithHooks(Hooks{
		Drop: func(s *Stream, topics []string, n int) {
			mu.Lock()
			defer mu.Unlock()
			drops = append(drops, drop{s, topics, n})
		},
	}))
	streams := make(chan *Stream, 1)
	s := runHub(t, func(s *Stream) error {
		streams <- s
		return hub.Subscribe(s, "t")
	})
	stream := <-streams
	hubWaitSubscribers(t, hub, 1)

	s.sink.gate.hold()
	hubPublish(t, hub, Event{Data: "1"}, "t")
	s.sink.gate.awaitWaiting(t)
	for i := 2; i <= 6; i++ { // the queue of 2 keeps the newest: 5 and 6
		hubPublish(t, hub, Event{Data: strconv.Itoa(i)}, "t")
	}
	if got := hub.Stats().QueueDepth; got != 2 {
		t.Errorf("QueueDepth = %d, want the queue size 2", got)
	}
	s.sink.gate.release(nil)

	var got []string
	for range 3 {
		got = append(got, s.next(t, "event").Data)
	}
	if want := []string{"1", "5", "6"}; !slices.Equal(got, want) {
		t.Errorf("client got %q, want %q (the oldest queued events dropped)", got, want)
	}
	hubPublish(t, hub, Event{Data: "7"}, "t")
	if ev := s.next(t, "event after the drops"); ev.Data != "7" {
		t.Errorf("after the drops the client got %q, want %q: it stays connected", ev.Data, "7")
	}
	if st, want := hub.Stats(), (Stats{Subscribers: 1, Published: 7, Dropped: 3}); st != want {
		t.Errorf("Stats = %+v, want %+v", st, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(drops) != 1 || drops[0].s != stream || !slices.Equal(drops[0].topics, []string{"t"}) || drops[0].n != 3 {
		t.Errorf("Drop hook calls = %+v, want one with the stream, [t] and 3", drops)
	}
}

// The counters and hooks of both policies must not depend on whether the
// write that was stuck when the queue overflowed succeeds in the end: a
// stuck client's write usually ends with the write timeout.
func TestHubSlowCountersWhenWriteFails(t *testing.T) {
	tests := []struct {
		name      string
		policy    SlowPolicy
		wantStats Stats
		wantDrops int
		wantErr   error
	}{
		{"DisconnectSlow", DisconnectSlow, Stats{Published: 4, SlowDisconnects: 1, DroppedClients: 1}, 0, ErrSlowClient},
		{"DropOldest", DropOldest, Stats{Published: 4, Dropped: 1}, 1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var drops int
			var ends []error
			hub := newTestHub(t, WithQueueSize(2), WithSlowPolicy(tt.policy), WithHooks(Hooks{
				Drop: func(_ *Stream, _ []string, n int) {
					mu.Lock()
					defer mu.Unlock()
					drops += n
				},
				Disconnect: func(_ *Stream, _ []string, err error) {
					mu.Lock()
					defer mu.Unlock()
					ends = append(ends, err)
				},
			}))
			s := runHub(t, hub.StreamFunc("t"))
			hubWaitSubscribers(t, hub, 1)
			s.sink.gate.hold()
			hubPublish(t, hub, Event{Data: "1"}, "t")
			s.sink.gate.awaitWaiting(t)
			for i := 2; i <= 4; i++ {
				hubPublish(t, hub, Event{Data: strconv.Itoa(i)}, "t")
			}
			s.sink.gate.release(errors.New("i/o timeout")) // the stuck write times out
			s.wait(t)
			hubWaitSubscribers(t, hub, 0)

			if st := hub.Stats(); st != tt.wantStats {
				t.Errorf("Stats = %+v, want %+v", st, tt.wantStats)
			}
			mu.Lock()
			defer mu.Unlock()
			if drops != tt.wantDrops {
				t.Errorf("Drop hook reported %d drops, want %d", drops, tt.wantDrops)
			}
			if tt.wantErr != nil && (len(ends) != 1 || !errors.Is(ends[0], tt.wantErr)) {
				t.Errorf("Disconnect hook errors = %v, want one wrapping %v", ends, tt.wantErr)
			}
		})
	}
}

// A client that never reads leaves its stream stuck in a write. Under
// DisconnectSlow, the overflow of its queue must end the stream, not the
// write timeout (here a minute) much later.
func TestHubDisconnectsClientThatNeverReads(t *testing.T) {
	const queue = 8
	leaktest.Check(t)
	hub := newTestHub(t, WithQueueSize(queue))
	var busy atomic.Int32
	h := Handler(hub.StreamFunc("t"), WithWriteTimeout(time.Minute), WithHeartbeat(0))
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(hubBusyResponse{w, &busy}, r)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	// Small socket buffers on both ends, so that one large event fills them.
	srv.Listener = hubSmallBufferListener{srv.Listener}
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	t.Cleanup(func() { conn.Close() })
	if _, err := fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	hubWaitSubscribers(t, hub, 1)

	hubPublish(t, hub, Event{Data: strings.Repeat("x", 1<<20)}, "t")
	hubWaitUntil(t, "the stream writes the large event", func() bool { return busy.Load() == 1 })
	for range queue + 1 {
		hubPublish(t, hub, Event{Data: "overflow"}, "t")
	}
	hubWaitUntil(t, "the client that never reads is disconnected", func() bool {
		st := hub.Stats()
		return st.Subscribers == 0 && st.SlowDisconnects == 1
	})
}

// hubSmallBufferListener gives the connections it accepts a small send
// buffer.
type hubSmallBufferListener struct{ net.Listener }

func (l hubSmallBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(4 << 10)
	}
	return c, err
}

// hubBusyResponse is a response writer that counts the writes and flushes
// in progress.
type hubBusyResponse struct {
	http.ResponseWriter
	busy *atomic.Int32
}

func (w hubBusyResponse) Write(p []byte) (int, error) {
	w.busy.Add(1)
	defer w.busy.Add(-1)
	return w.ResponseWriter.Write(p)
}

func (w hubBusyResponse) FlushError() error {
	w.busy.Add(1)
	defer w.busy.Add(-1)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

func (w hubBusyResponse) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestHubBatchesQueuedFrames(t *testing.T) {
	const events = 10
	leaktest.Check(t)
	hub := newTestHub(t)
	s := runHub(t, hub.StreamFunc("t"))
	hubWaitSubscribers(t, hub, 1) // the stream has opened: its one flush is done
	opened := s.sink.flushes.Load()

	s.sink.gate.hold()
	hubPublish(t, hub, Event{Data: "0"}, "t")
	s.sink.gate.awaitWaiting(t)
	for i := 1; i < events; i++ {
		hubPublish(t, hub, Event{Data: strconv.Itoa(i)}, "t")
	}
	s.sink.gate.release(nil)
	for i := range events {
		if ev := s.next(t, "event"); ev.Data != strconv.Itoa(i) {
			t.Fatalf("event %d: data %q, want %q", i, ev.Data, strconv.Itoa(i))
		}
	}
	s.cancel() // the last flush comes after the last write: wait for it
	s.wait(t)
	// One flush for the event being written, one for the nine queued
	// behind it.
	if n := s.sink.flushes.Load() - opened; n != 2 {
		t.Errorf("%d events, 9 of them queued together, took %d flushes, want 2", events, n)
	}
}

func TestHubGeneratedIDs(t *testing.T) {
	const publishers, each = 4, 100
	leaktest.Check(t)
	// The queue holds every event: the clients may read slower than the
	// publishers publish.
	hub, err := NewHub(WithQueueSize(publishers * each))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	srv := startHubServer(t, hub, nil)
	clients := []*hubReader{hubGet(t, srv, "", "t"), hubGet(t, srv, "", "t")}
	hubWaitSubscribers(t, hub, len(clients))

	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				if err := hub.Publish(context.Background(), Event{Data: fmt.Sprintf("%d-%d", p, i)}, "t"); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()

	var sequences [][]string
	var last uint64
	for i, c := range clients {
		var seq []string
		var prev uint64
		seen := make(map[string]bool)
		for range publishers * each {
			ev := c.next(t, "event")
			id, err := strconv.ParseUint(ev.ID, 10, 64)
			if err != nil || id <= prev {
				t.Fatalf("client %d: ID %q after %d, want a larger number", i, ev.ID, prev)
			}
			prev = id
			seen[ev.Data] = true
			seq = append(seq, ev.ID+"="+ev.Data)
		}
		if len(seen) != publishers*each {
			t.Errorf("client %d got %d distinct events, want %d", i, len(seen), publishers*each)
		}
		sequences = append(sequences, seq)
		last = prev
	}
	if !slices.Equal(sequences[0], sequences[1]) {
		t.Errorf("two subscribers got concurrent publishes in different orders")
	}

	// A restarted process: the first hub goes, a new one comes. IDs are
	// numbered from the clock, which is documented to pass the last ID
	// unless more than a million events a second were published.
	if err := hub.Close(); err != nil {
		t.Fatal(err)
	}
	hubWaitUntil(t, "the clock passes the last ID", func() bool { return uint64(time.Now().UnixMicro()) > last })
	hub2 := newTestHub(t)
	srv2 := startHubServer(t, hub2, nil)
	c := hubGet(t, srv2, "", "t")
	hubWaitSubscribers(t, hub2, 1)
	hubPublish(t, hub2, Event{Data: "after restart"}, "t")
	ev := c.next(t, "event after restart")
	if id, err := strconv.ParseUint(ev.ID, 10, 64); err != nil || id <= last {
		t.Errorf("after a restart, ID %q, want a number above the last one before, %d", ev.ID, last)
	}
}

func TestHubUserIDs(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	c := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{ID: "zeta", Data: "a"}, "t")
	hubPublish(t, hub, Event{Data: "b"}, "t")
	hubPublish(t, hub, Event{ID: "alpha", Data: "c"}, "t")
	hubPublish(t, hub, Event{ID: "7", Data: "d"}, "t")
	var ids []string
	for range 4 {
		ids = append(ids, c.next(t, "event").ID)
	}
	if ids[0] != "zeta" || ids[2] != "alpha" || ids[3] != "7" {
		t.Fatalf("IDs %q, want zeta, a generated one, alpha, 7", ids)
	}
	if _, err := strconv.ParseUint(ids[1], 10, 64); err != nil {
		t.Fatalf("generated ID %q is not a number", ids[1])
	}
	c.stop()
	hubWaitSubscribers(t, hub, 0)

	tests := []struct {
		lastID string
		want   []string
	}{
		{"zeta", []string{ids[1] + "=b", "alpha=c", "7=d"}},
		{ids[1], []string{"alpha=c", "7=d"}},
		{"alpha", []string{"7=d"}},
		{"7", []string{}},
	}
	for _, tt := range tests {
		if got := hubReplay(t, hub, srv, tt.lastID, "t"); !slices.Equal(got, tt.want) {
			t.Errorf("replay after %q = %q, want %q", tt.lastID, got, tt.want)
		}
	}
}

func TestHubReplayFiltersTopics(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	srv := startHubServer(t, hub, nil)
	hubPublish(t, hub, Event{ID: "1", Data: "a"}, "a")
	hubPublish(t, hub, Event{ID: "2", Data: "b"}, "b")
	hubPublish(t, hub, Event{ID: "3", Data: "ab"}, "a", "b")
	hubPublish(t, hub, Event{ID: "4", Data: "c"}, "c")
	hubPublish(t, hub, Event{ID: "5", Data: "a"}, "a")

	if got, want := hubReplay(t, hub, srv, "1", "a"), []string{"3=ab", "5=a"}; !slices.Equal(got, want) {
		t.Errorf("replay of a after 1 = %q, want %q", got, want)
	}
	if got, want := hubReplay(t, hub, srv, "1", "a", "b"), []string{"2=b", "3=ab", "5=a"}; !slices.Equal(got, want) {
		t.Errorf("replay of a,b after 1 = %q, want %q", got, want)
	}
}

func TestHubHistoryLimits(t *testing.T) {
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	// Events 1 to 5 are published a minute apart; each costs the same
	// memory in the history (ID 1, data 8, topic 1, bookkeeping, and a
	// number of 16 digits as its position). Reconnects happen at minute 5
	// plus later.
	per := entrySize(&Message{ID: "1", Pos: "1735689600000000", Topics: []string{"t"}, Event: Event{Data: "dddddddd"}})
	topic := topicOverhead + len("t") // the topic's own bookkeeping, once
	tests := []struct {
		name   string
		limits HistoryLimits
		big    bool          // publish event 6, larger than Bytes, at minute 5
		later  time.Duration // how long after minute 5 the client reconnects
		lastID string
		want   []string
	}{
		{"default", defaultHistory, false, 0, "1", []string{"2=dddddddd", "3=dddddddd", "4=dddddddd", "5=dddddddd"}},
		{"count/in", HistoryLimits{Count: 3}, false, 0, "3", []string{"4=dddddddd", "5=dddddddd"}},
		{"count/latest", HistoryLimits{Count: 3}, false, 0, "5", []string{}},
		{"count/out", HistoryLimits{Count: 3}, false, 0, "2", []string{"reset(id=)"}},
		{"count/unknown", HistoryLimits{Count: 3}, false, 0, "9", []string{"reset(id=)"}},
		{"count/zero", HistoryLimits{}, false, 0, "5", []string{"reset(id=)"}},
		{"bytes/in", HistoryLimits{Count: 100, Bytes: 3*per + topic}, false, 0, "3", []string{"4=dddddddd", "5=dddddddd"}},
		{"bytes/out", HistoryLimits{Count: 100, Bytes: 3*per + topic}, false, 0, "2", []string{"reset(id=)"}},
		{"bytes/too large before", HistoryLimits{Count: 100, Bytes: 3*per + topic}, true, 0, "5", []string{"reset(id=)"}},
		{"bytes/too large itself", HistoryLimits{Count: 100, Bytes: 3*per + topic}, true, 0, "6", []string{"reset(id=)"}},
		{"age/in", HistoryLimits{Count: 100, Age: 150 * time.Second}, false, 0, "3", []string{"4=dddddddd", "5=dddddddd"}},
		{"age/out", HistoryLimits{Count: 100, Age: 150 * time.Second}, false, 0, "2", []string{"reset(id=)"}},
		{"age/aged out later", HistoryLimits{Count: 100, Age: 150 * time.Second}, false, time.Minute, "3", []string{"reset(id=)"}},
		{"age/still in later", HistoryLimits{Count: 100, Age: 150 * time.Second}, false, time.Minute, "4", []string{"5=dddddddd"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newTestHub(t, WithHistory(tt.limits))
			clock := &hubClock{}
			hub.backend.(*memLog).now = clock.Now
			srv := startHubServer(t, hub, nil)
			for i := 1; i <= 5; i++ {
				clock.Set(base.Add(time.Duration(i) * time.Minute))
				hubPublish(t, hub, Event{ID: strconv.Itoa(i), Data: "dddddddd"}, "t")
			}
			if tt.big {
				hubPublish(t, hub, Event{ID: "6", Data: strings.Repeat("d", 4*per)}, "t")
			}
			clock.Set(base.Add(5*time.Minute + tt.later))
			if got := hubReplay(t, hub, srv, tt.lastID, "t"); !slices.Equal(got, tt.want) {
				t.Errorf("replay after %q = %q, want %q", tt.lastID, got, tt.want)
			}
		})
	}
}

// hubReplayHookBackend is the in-memory log with a hook that runs when a
// replay starts, before the log is read.
type hubReplayHookBackend struct {
	*memLog
	beforeReplay func()
}

func (b *hubReplayHookBackend) Replay(ctx context.Context, lastID string, fn func(Message) error) error {
	b.beforeReplay()
	return b.memLog.Replay(ctx, lastID, fn)
}

// An event published after the stream subscribed but before its replay
// read the log reaches it twice, queued and replayed; the client must get
// it once.
func TestHubReplayOverlapsLiveEvent(t *testing.T) {
	leaktest.Check(t)
	var hub *Hub
	backend := &hubReplayHookBackend{memLog: newMemLog(defaultHistory)}
	backend.beforeReplay = func() {
		if err := hub.Publish(context.Background(), Event{ID: "during", Data: "during"}, "t"); err != nil {
			t.Errorf("Publish during the replay: %v", err)
		}
	}
	hub = newTestHub(t, WithBackend(backend))
	srv := startHubServer(t, hub, nil)
	hubPublish(t, hub, Event{ID: "1", Data: "one"}, "t")
	hubPublish(t, hub, Event{ID: "2", Data: "two"}, "t")

	if got, want := hubReplay(t, hub, srv, "1", "t"), []string{"2=two", "during=during"}; !slices.Equal(got, want) {
		t.Errorf("replay after 1 = %q, want %q", got, want)
	}
}

func TestHubReconnectDuringPublishing(t *testing.T) {
	const rounds = 40
	leaktest.Check(t)
	hub := newTestHub(t, WithHistory(HistoryLimits{Count: 1 << 20}))
	srv := startHubServer(t, hub, nil)
	c := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 1)

	// The publisher runs all along, reconnects included, an event every
	// 100µs or so: slower than the client reads, faster than it reconnects.
	stop := make(chan struct{})
	publisherDone := make(chan struct{})
	go func() {
		defer close(publisherDone)
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if err := hub.Publish(context.Background(), Event{Data: strconv.Itoa(i)}, "t"); err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-publisherDone
	}()

	next, lastID, reconnects := 0, "", 0
	for round := range rounds {
		if round > 0 {
			c = hubGet(t, srv, lastID, "t")
			reconnects++
		}
		for range 5 + round%4*5 {
			ev, ok := c.tryNext(t) // a slow-client disconnect ends the round early
			if !ok {
				break
			}
			if ev.Type != "message" {
				t.Fatalf("round %d, after ID %q: got a %q event, want the missed events", round, lastID, ev.Type)
			}
			if v, _ := strconv.Atoi(ev.Data); v != next {
				t.Fatalf("round %d, after ID %q: got event %q, want %d (no gap, no duplicate)", round, lastID, ev.Data, next)
			}
			next++
			lastID = ev.ID
		}
		c.stop()
	}
	t.Logf("%d events over %d reconnects", next, reconnects)
}

func TestHubShutdownManyStreams(t *testing.T) {
	const streams = 1000
	leaktest.Check(t)
	hub, err := NewHub()
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(hub.StreamFunc("t")), ErrorLog: log.New(io.Discard, "", 0)}
	srv.RegisterOnShutdown(func() { hub.Shutdown(context.Background()) }) // as Hub.Shutdown's doc says
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	serving := make(chan struct{})
	go func() {
		defer close(serving)
		served <- srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-serving
	})
	transport := &http.Transport{MaxConnsPerHost: streams, MaxIdleConnsPerHost: streams}
	client := &http.Client{Transport: transport}
	t.Cleanup(transport.CloseIdleConnections)

	// The clients read on the test's goroutine, so that no goroutine of
	// theirs competes with the server's during the shutdown. The context
	// bounds every read.
	clientCtx, cancelClients := context.WithTimeout(context.Background(), 4*hubWait)
	t.Cleanup(cancelClients)
	bodies := make([]io.ReadCloser, streams)
	errs := make([]error, streams)
	var wg sync.WaitGroup
	const openers = 16
	for w := range openers {
		wg.Go(func() {
			for i := w; i < streams; i += openers {
				req, err := http.NewRequestWithContext(clientCtx, http.MethodGet, "http://"+ln.Addr().String()+"/", nil)
				if err != nil {
					errs[i] = err
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					errs[i] = err
					continue
				}
				bodies[i] = resp.Body
				if resp.StatusCode != http.StatusOK {
					errs[i] = fmt.Errorf("stream %d: status %s", i, resp.Status)
				}
			}
		})
	}
	wg.Wait()
	for _, b := range bodies {
		if b != nil {
			t.Cleanup(func() { b.Close() })
		}
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	decoders := make([]*Decoder, streams)
	for i, b := range bodies {
		decoders[i] = NewDecoder(b)
	}
	hubWaitSubscribers(t, hub, streams)
	hubPublish(t, hub, Event{Data: "hello"}, "t")
	for i, d := range decoders {
		if ev, err := d.Next(); err != nil || ev.Data != "hello" {
			t.Fatalf("stream %d: %q, %v; want hello", i, ev.Data, err)
		}
	}

	// Nothing but the hub's shutdown ends these streams: any bound shows
	// that it does. This one leaves a loaded machine the time to end a
	// thousand streams under the race detector (up to 2 s with two busy
	// cores; http.Server.Shutdown polls every 500 ms by then), which a
	// bound of a second did not.
	ctx, cancel := context.WithTimeout(context.Background(), 2*hubWait)
	defer cancel()
	start := time.Now()
	err = srv.Shutdown(ctx)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("http.Server.Shutdown = %v after %v", err, took)
	}
	t.Logf("http.Server.Shutdown with %d streams took %v", streams, took)
	for i, d := range decoders {
		if ev, err := d.Next(); err != io.EOF {
			t.Fatalf("stream %d: %+v, %v after Shutdown; want a clean EOF", i, ev, err)
		}
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve = %v, want ErrServerClosed", err)
	}

	if err := hub.Publish(context.Background(), Event{Data: "late"}, "t"); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Publish after Shutdown = %v, want ErrHubClosed", err)
	}
	if err := StreamTo(context.Background(), &hubSink{gate: newHubGate()}, hub.StreamFunc("t")); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Subscribe after Shutdown = %v, want ErrHubClosed", err)
	}
	if st := hub.Stats(); st.Subscribers != 0 {
		t.Errorf("Stats().Subscribers = %d after Shutdown, want 0", st.Subscribers)
	}
}

func TestHubShutdown(t *testing.T) {
	leaktest.Check(t)
	var mu sync.Mutex
	var ends []error
	hub, err := NewHub(WithHooks(Hooks{Disconnect: func(_ *Stream, _ []string, err error) {
		mu.Lock()
		defer mu.Unlock()
		ends = append(ends, err)
	}}))
	if err != nil {
		t.Fatal(err)
	}
	idle := runHub(t, hub.StreamFunc("a"))
	stuck := runHub(t, hub.StreamFunc("b"))
	hubWaitSubscribers(t, hub, 2)
	stuck.sink.gate.hold()
	hubPublish(t, hub, Event{Data: "x"}, "b")
	stuck.sink.gate.awaitWaiting(t)

	// Shutdown waits for the stream stuck in a write, up to its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := hub.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown with a stream stuck in a write = %v, want the context's error", err)
	}
	if err := idle.wait(t); err != nil {
		t.Errorf("StreamTo of an idle stream after Shutdown = %v, want nil", err)
	}
	if evs, end := idle.rest(t); len(evs) != 0 || end != io.EOF {
		t.Errorf("idle stream: %q then %v, want a clean end", hubSummary(evs), end)
	}
	stuck.sink.gate.release(nil)
	if err := hub.Shutdown(context.Background()); err != nil {
		t.Errorf("Shutdown once the write is done = %v, want nil", err)
	}
	if err := stuck.wait(t); err != nil {
		t.Errorf("StreamTo of the stuck stream = %v, want nil", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ends) != 2 || !errors.Is(ends[0], ErrHubClosed) || !errors.Is(ends[1], ErrHubClosed) {
		t.Errorf("Disconnect hook errors = %v, want two ErrHubClosed", ends)
	}
}

func TestHubHooks(t *testing.T) {
	leaktest.Check(t)
	type call struct {
		kind        string
		s           *Stream
		topics      []string
		err         error
		subscribers int
	}
	var mu sync.Mutex
	var calls []call
	var hub *Hub
	record := func(c call) {
		c.topics = slices.Clone(c.topics)
		c.subscribers = hub.Stats().Subscribers
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, c)
	}
	hub = newTestHub(t, WithHooks(Hooks{
		Connect: func(s *Stream, topics []string) { record(call{kind: "connect", s: s, topics: topics}) },
		Disconnect: func(s *Stream, topics []string, err error) {
			record(call{kind: "disconnect", s: s, topics: topics, err: err})
		},
	}))
	streams := make(chan *Stream, 1)
	r := runHub(t, func(s *Stream) error {
		streams <- s
		return hub.Subscribe(s, "a", "b")
	})
	s := <-streams
	hubWaitSubscribers(t, hub, 1)
	r.cancel()
	r.wait(t)

	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 2 {
		t.Fatalf("hook calls = %+v, want connect then disconnect", calls)
	}
	if c := calls[0]; c.kind != "connect" || c.s != s || !slices.Equal(c.topics, []string{"a", "b"}) || c.subscribers != 1 {
		t.Errorf("first call = %+v, want connect with the stream, [a b], once subscribed", c)
	}
	if c := calls[1]; c.kind != "disconnect" || c.s != s || !slices.Equal(c.topics, []string{"a", "b"}) ||
		!errors.Is(c.err, ErrClosed) || !errors.Is(c.err, context.Canceled) {
		t.Errorf("second call = %+v, want disconnect with the stream, [a b] and the stream's end", c)
	}
}

func TestHubStats(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithQueueSize(8))
	if st := hub.Stats(); st != (Stats{}) {
		t.Errorf("Stats of a new hub = %+v, want zero", st)
	}
	slow := runHub(t, hub.StreamFunc("a"))
	fast := runHub(t, hub.StreamFunc("a", "b"))
	hubWaitSubscribers(t, hub, 2)

	slow.sink.gate.hold()
	hubPublish(t, hub, Event{Data: "1"}, "a")
	slow.sink.gate.awaitWaiting(t)
	hubPublish(t, hub, Event{Data: "2"}, "a")
	hubPublish(t, hub, Event{Data: "3"}, "a")
	hubPublish(t, hub, Event{Data: "4"}, "a")
	hubPublish(t, hub, Event{Data: "5"}, "b")
	hubPublish(t, hub, Event{Data: "6"}, "c") // nobody listens
	fast.until(t, "5")                        // its queue is empty now
	if st, want := hub.Stats(), (Stats{Subscribers: 2, Published: 6, QueueDepth: 3}); st != want {
		t.Errorf("Stats with 3 events queued for one subscriber = %+v, want %+v", st, want)
	}

	slow.sink.gate.release(nil)
	slow.until(t, "4")
	if st, want := hub.Stats(), (Stats{Subscribers: 2, Published: 6}); st != want {
		t.Errorf("Stats once the queue is written = %+v, want %+v", st, want)
	}
	slow.cancel()
	hubWaitSubscribers(t, hub, 1)
}

func TestHubRefusesInvalid(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t)
	c := runHub(t, hub.StreamFunc("t"))
	hubWaitSubscribers(t, hub, 1)

	if err := hub.Publish(context.Background(), Event{Data: "x"}); !errors.Is(err, ErrNoTopic) {
		t.Errorf("Publish without a topic = %v, want ErrNoTopic", err)
	}
	if err := StreamTo(context.Background(), &hubSink{gate: newHubGate()}, hub.StreamFunc()); !errors.Is(err, ErrNoTopic) {
		t.Errorf("Subscribe without a topic = %v, want ErrNoTopic", err)
	}

	tests := []struct {
		name string
		ev   Event
		want error
	}{
		{"ID with LF", Event{ID: "1\ndata: injected", Data: "x"}, ErrInvalidID},
		{"ID with CR", Event{ID: "1\r", Data: "x"}, ErrInvalidID},
		{"ID with NUL", Event{ID: "1\x00", Data: "x"}, ErrInvalidID},
		{"ID not UTF-8", Event{ID: "\xff", Data: "x"}, ErrInvalidID},
		{"type with LF", Event{Type: "a\nb", Data: "x"}, ErrInvalidType},
		{"data not UTF-8", Event{Data: "\xff"}, ErrInvalidData},
		{"bytes not UTF-8", Event{Bytes: []byte{0xff}}, ErrInvalidData},
		{"comment not UTF-8", Event{Comment: "\xff"}, ErrInvalidData},
		{"JSON that fails", Event{JSON: make(chan int)}, ErrInvalidData},
		{"raw JSON not UTF-8", Event{JSON: json.RawMessage("\"caf\xe9\"")}, ErrInvalidData},
		{"JSON marshaler not UTF-8", Event{JSON: rawMarshaler("[\"\xff\"]")}, ErrInvalidData},
		{"ID and ClearID", Event{ID: "1", ClearID: true, Data: "x"}, ErrInvalidID},
		{"retry below 1ms", Event{Retry: time.Microsecond, Data: "x"}, ErrInvalidRetry},
		{"negative retry", Event{Retry: -time.Second, Data: "x"}, ErrInvalidRetry},
		{"data and bytes", Event{Data: "x", Bytes: []byte("y")}, ErrDataConflict},
		{"data and JSON", Event{Data: "x", JSON: 1}, ErrDataConflict},
		{"bytes and JSON", Event{Bytes: []byte("y"), JSON: 1}, ErrDataConflict},
		{"empty", Event{}, ErrEmptyEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.ev.AppendText(nil); !errors.Is(err, tt.want) {
				t.Fatalf("AppendText = %v, want %v", err, tt.want)
			}
			if err := StreamTo(context.Background(), &hubSink{gate: newHubGate()}, func(s *Stream) error { return s.Send(tt.ev) }); !errors.Is(err, tt.want) {
				t.Errorf("Send = %v, want %v like AppendText", err, tt.want)
			}
			if err := hub.Publish(context.Background(), tt.ev, "t"); !errors.Is(err, tt.want) {
				t.Errorf("Publish = %v, want %v like AppendText", err, tt.want)
			}
		})
	}

	// ClearID is valid on a stream but not in a hub, which numbers every
	// event for replay.
	if err := hub.Publish(context.Background(), Event{ClearID: true, Data: "x"}, "t"); !errors.Is(err, ErrInvalidID) {
		t.Errorf("Publish with ClearID = %v, want ErrInvalidID", err)
	}

	hubPublish(t, hub, Event{Data: "valid"}, "t")
	if ev := c.next(t, "first event delivered"); ev.Data != "valid" {
		t.Errorf("first event delivered = %q, want the valid one", ev.Data)
	}
	if st := hub.Stats(); st.Published != 1 {
		t.Errorf("Stats().Published = %d, want 1: invalid events are not published", st.Published)
	}
}

// hubFakeBackend is a Backend like one over an external pub/sub: it keeps
// a log of its own, names events f1, f2, ... and delivers them from a
// goroutine it owns, after Publish has returned. In manual mode nothing
// delivers until the test calls deliverNext.
type hubFakeBackend struct {
	manual  bool
	pending chan Message
	quit    chan struct{}
	done    chan struct{}

	mu        sync.Mutex
	deliver   func(Message)
	log       []Message
	published []Message // what Publish was given
	replays   []string  // the IDs Replay was asked for
	closes    int
}

func newHubFakeBackend(manual bool) *hubFakeBackend {
	return &hubFakeBackend{
		manual:  manual,
		pending: make(chan Message, 1024),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

func (b *hubFakeBackend) Listen(deliver func(Message)) error {
	b.mu.Lock()
	b.deliver = deliver
	b.mu.Unlock()
	if b.manual {
		close(b.done)
		return nil
	}
	go func() {
		defer close(b.done)
		for {
			select {
			case msg := <-b.pending:
				deliver(msg)
			case <-b.quit:
				return
			}
		}
	}()
	return nil
}

func (b *hubFakeBackend) Publish(_ context.Context, msg Message) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.published = append(b.published, msg)
	if msg.ID == "" {
		msg.ID = "f" + strconv.Itoa(len(b.log)+1)
	}
	b.log = append(b.log, msg)
	b.pending <- msg
	return nil
}

// deliverNext delivers the oldest pending message (manual mode).
func (b *hubFakeBackend) deliverNext(t *testing.T) {
	t.Helper()
	select {
	case msg := <-b.pending:
		b.mu.Lock()
		deliver := b.deliver
		b.mu.Unlock()
		deliver(msg)
	default:
		t.Fatal("no message to deliver")
	}
}

func (b *hubFakeBackend) Replay(_ context.Context, lastID string, fn func(Message) error) error {
	b.mu.Lock()
	b.replays = append(b.replays, lastID)
	i := slices.IndexFunc(b.log, func(m Message) bool { return m.ID == lastID })
	var msgs []Message
	if i >= 0 {
		msgs = slices.Clone(b.log[i+1:])
	}
	b.mu.Unlock()
	if i < 0 {
		return fmt.Errorf("%w: %q", ErrUnknownID, lastID)
	}
	for _, m := range msgs {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (b *hubFakeBackend) Close() error {
	b.mu.Lock()
	b.closes++
	first := b.closes == 1
	b.mu.Unlock()
	if first {
		close(b.quit)
	}
	<-b.done
	return nil
}

var _ Backend = (*hubFakeBackend)(nil)

func TestHubBackend(t *testing.T) {
	leaktest.Check(t)
	backend := newHubFakeBackend(false)
	// No in-memory history: a replay can only come from the backend.
	hub := newTestHub(t, WithBackend(backend), WithHistory(HistoryLimits{}))
	srv := startHubServer(t, hub, nil)
	c := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 1)

	hubPublish(t, hub, Event{Data: "one"}, "t")
	hubPublish(t, hub, Event{Type: "note", Data: "two"}, "t")
	hubPublish(t, hub, Event{ID: "mine", JSON: []int{3}}, "t", "u")
	got := hubSummary([]Event{c.next(t, "one"), c.next(t, "two"), c.next(t, "three")})
	if want := []string{"f1=one", "note:f2=two", "mine=[3]"}; !slices.Equal(got, want) {
		t.Errorf("subscriber got %q, want %q", got, want)
	}
	backend.mu.Lock()
	want := []Message{
		{Topics: []string{"t"}, Event: Event{Data: "one"}},
		{Topics: []string{"t"}, Event: Event{Type: "note", Data: "two"}},
		{ID: "mine", Topics: []string{"t", "u"}, Event: Event{ID: "mine", Data: "[3]"}},
	}
	if fmt.Sprint(backend.published) != fmt.Sprint(want) {
		t.Errorf("backend.Publish calls = %+v, want %+v", backend.published, want)
	}
	backend.mu.Unlock()

	c.stop()
	hubWaitSubscribers(t, hub, 0)
	hubPublish(t, hub, Event{Data: "four"}, "t")
	c = hubGet(t, srv, "f2", "t")
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{Data: "five"}, "t")
	got = hubSummary([]Event{c.next(t, "three"), c.next(t, "four"), c.next(t, "five")})
	if want := []string{"mine=[3]", "f4=four", "f5=five"}; !slices.Equal(got, want) {
		t.Errorf("after reconnecting with f2 the client got %q, want %q", got, want)
	}
	unknown := hubGet(t, srv, "nope", "t")
	if ev := unknown.next(t, "reset"); ev.Type != ResetEvent {
		t.Errorf("reconnect with an ID the backend does not hold got %+v, want a %s event", ev, ResetEvent)
	}
	backend.mu.Lock()
	if want := []string{"f2", "nope"}; !slices.Equal(backend.replays, want) {
		t.Errorf("backend.Replay calls = %q, want %q", backend.replays, want)
	}
	backend.mu.Unlock()

	if err := hub.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown = %v", err)
	}
	for _, r := range []*hubReader{c, unknown} {
		if evs, end := r.rest(t); len(evs) != 0 || end != io.EOF {
			t.Errorf("after Shutdown: %q then %v, want a clean end", hubSummary(evs), end)
		}
	}
	if err := hub.Publish(context.Background(), Event{Data: "late"}, "t"); !errors.Is(err, ErrHubClosed) {
		t.Errorf("Publish after Shutdown = %v, want ErrHubClosed", err)
	}
	backend.mu.Lock()
	defer backend.mu.Unlock()
	if backend.closes != 1 {
		t.Errorf("backend closed %d times by Shutdown, want once", backend.closes)
	}
	if len(backend.published) != 5 {
		t.Errorf("backend got %d publishes, want 5: none after Shutdown", len(backend.published))
	}
}

// With a backend that delivers asynchronously, events the replay sent may
// be delivered to the hub later, in more than one batch; none may reach
// the client twice.
func TestHubAsyncBackendReplayNoDuplicate(t *testing.T) {
	leaktest.Check(t)
	backend := newHubFakeBackend(true)
	hub := newTestHub(t, WithBackend(backend))
	srv := startHubServer(t, hub, nil)
	c := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 1)
	hubPublish(t, hub, Event{Data: "a"}, "t")
	backend.deliverNext(t)
	if ev := c.next(t, "a"); ev.ID != "f1" {
		t.Fatalf("first event ID %q, want f1", ev.ID)
	}
	c.stop()
	hubWaitSubscribers(t, hub, 0)

	// b and c are in the log but not yet delivered when the client
	// reconnects: the replay sends them.
	hubPublish(t, hub, Event{Data: "b"}, "t")
	hubPublish(t, hub, Event{Data: "c"}, "t")
	c = hubGet(t, srv, "f1", "t")
	hubWaitSubscribers(t, hub, 1)
	got := hubSummary([]Event{c.next(t, "b"), c.next(t, "c")})
	// Their deliveries come later, one at a time.
	backend.deliverNext(t)
	hubWaitUntil(t, "queue drained", func() bool { return hub.Stats().QueueDepth == 0 })
	backend.deliverNext(t)
	hubPublish(t, hub, Event{Data: "d"}, "t")
	backend.deliverNext(t)
	got = append(got, hubSummary([]Event{c.next(t, "d")})...)
	if want := []string{"f2=b", "f3=c", "f4=d"}; !slices.Equal(got, want) {
		t.Errorf("after reconnecting with f1 the client got %q, want %q", got, want)
	}
}

// A backend that lost messages says so with a Gap message: every
// subscriber, whatever its topics, gets a ResetEvent and stays subscribed.
func TestHubBackendGap(t *testing.T) {
	leaktest.Check(t)
	backend := newHubFakeBackend(true)
	hub := newTestHub(t, WithBackend(backend))
	srv := startHubServer(t, hub, nil)
	a := hubGet(t, srv, "", "a")
	b := hubGet(t, srv, "", "b")
	hubWaitSubscribers(t, hub, 2)

	backend.deliver(Message{Gap: true})
	for name, c := range map[string]*hubReader{"a": a, "b": b} {
		if ev := c.next(t, "reset"); ev.Type != ResetEvent || ev.ID != "" {
			t.Errorf("subscriber of %s got %+v after a gap, want a %s event without ID", name, ev, ResetEvent)
		}
	}
	hubPublish(t, hub, Event{Data: "after"}, "a")
	backend.deliverNext(t)
	if ev := a.next(t, "event after the gap"); ev.Data != "after" {
		t.Errorf("after the gap the subscriber got %q, want %q", ev.Data, "after")
	}
}

// signalWriter discards what it is given, after waiting for hold, and
// reports each flush.
type signalWriter struct {
	hold    sync.Mutex
	flushes atomic.Int64
}

func (w *signalWriter) Write(p []byte) (int, error) {
	w.hold.Lock()
	defer w.hold.Unlock()
	return len(p), nil
}

func (w *signalWriter) Flush() error {
	w.flushes.Add(1)
	return nil
}

// TestHubLetsGoOfSentFrames checks that a subscriber keeps no reference to
// frames once they are written: with no history, large events' memory must
// be free once the subscriber has sent them, even after it sent them in
// one batch and later batches are smaller.
func TestHubLetsGoOfSentFrames(t *testing.T) {
	hub, err := NewHub(WithHistory(HistoryLimits{}))
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	const large, size = 4, 4 << 20
	w := &signalWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); StreamTo(ctx, w, hub.StreamFunc("t"), WithHeartbeat(0)) }()
	defer func() { cancel(); <-ran }()
	await := func(flushes int64, what string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); w.flushes.Load() < flushes; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s was not written", what)
			}
		}
	}
	await(1, "the stream's start")
	for hub.Stats().Subscribers != 1 {
		time.Sleep(time.Millisecond)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()

	publish := func(data string) {
		t.Helper()
		if err := hub.Publish(ctx, Event{Data: data}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	w.hold.Lock() // the first large event's write waits; the others queue behind it
	publish(strings.Repeat("x", size))
	for hub.Stats().QueueDepth != 0 { // taken: its write is waiting
		time.Sleep(time.Millisecond)
	}
	for range large - 1 {
		publish(strings.Repeat("y", size))
	}
	w.hold.Unlock()
	await(3, "the large events") // the first alone, the others in one batch
	publish("small")
	await(4, "the small event")
	if after := heap(); after > before+size {
		t.Errorf("heap grew from %d to %d bytes after %d events of %d bytes were sent: their frames are still referenced", before, after, large, size)
	}
}

// losingReplay is the in-memory log with a history that loses events
// while a replay runs: the replay stops with ErrUnknownID after keep
// messages.
type losingReplay struct {
	*memLog
	keep int
}

var errHistoryLost = errors.New("history lost")

func (b losingReplay) Replay(ctx context.Context, lastID string, fn func(Message) error) error {
	n := 0
	err := b.memLog.Replay(ctx, lastID, func(m Message) error {
		if n == b.keep {
			return errHistoryLost
		}
		n++
		return fn(m)
	})
	if errors.Is(err, errHistoryLost) {
		return fmt.Errorf("%w: %w", ErrUnknownID, err)
	}
	return err
}

// TestHubReplayCutShort checks a replay that the backend ends with
// ErrUnknownID after some events: the client gets those events, then a
// reset, then live events, and none twice.
func TestHubReplayCutShort(t *testing.T) {
	leaktest.Check(t)
	hub := newTestHub(t, WithBackend(losingReplay{newMemLog(defaultHistory), 2}))
	srv := startHubServer(t, hub, nil)
	first := hubGet(t, srv, "", "t")
	hubWaitSubscribers(t, hub, 1)
	for _, d := range []string{"1", "2", "3", "4", "5"} {
		hubPublish(t, hub, Event{Data: d}, "t")
	}
	since := first.next(t, "event 1").ID
	again := hubGet(t, srv, since, "t")
	hubWaitSubscribers(t, hub, 2)
	hubPublish(t, hub, Event{Data: "6"}, "t")
	var got []string
	for range 4 {
		ev := again.next(t, "replay, reset and live event")
		got = append(got, ev.Type+":"+ev.Data)
	}
	want := []string{"message:2", "message:3", ResetEvent + ":", "message:6"}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Fatalf("after a replay cut short the client got %q, want %q (reset data may follow the colon)", got, want)
		}
	}
}

// endWriter counts the events written to it; once armed, each write fails.
type endWriter struct {
	events atomic.Int64
	armed  atomic.Bool
}

func (w *endWriter) Write(p []byte) (int, error) {
	if w.armed.Load() {
		return 0, errors.New("connection reset")
	}
	if bytes.Contains(p, []byte("data:")) {
		w.events.Add(1)
	}
	return len(p), nil
}
func (*endWriter) Flush() error { return nil }

// TestHubSubscriptionEndsWithItsStream checks that a subscription with
// nothing to send ends as soon as its stream does, however the stream
// ends: its context, a heartbeat that cannot be written (on the timer's
// goroutine, not the subscriber's), its lifetime. The subscriber waits on
// its queue alone, which the stream signals when it ends; an event is
// written first, so that the subscriber is past its first check of the
// stream and waits when the stream ends.
func TestHubSubscriptionEndsWithItsStream(t *testing.T) {
	tests := []struct {
		name string
		opts []Option
		end  func(cancel context.CancelFunc, w *endWriter)
		want error
	}{
		{"context", []Option{WithHeartbeat(0)}, func(cancel context.CancelFunc, _ *endWriter) { cancel() }, context.Canceled},
		{"heartbeat fails", []Option{WithHeartbeat(time.Millisecond)}, func(_ context.CancelFunc, w *endWriter) { w.armed.Store(true) }, ErrClosed},
		{"lifetime", []Option{WithHeartbeat(0), WithMaxLifetime(200 * time.Millisecond)}, func(context.CancelFunc, *endWriter) {}, ErrMaxLifetime},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hub := newTestHub(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := &endWriter{}
			var stream *Stream
			var err error
			var ended atomic.Bool // a lifetime may pass before the event is written, on a slow machine
			done := make(chan struct{})
			go func() {
				defer close(done)
				err = StreamTo(ctx, w, func(s *Stream) error {
					stream = s
					return hub.Subscribe(s, "t")
				}, tt.opts...)
				ended.Store(true)
			}()
			hubWaitUntil(t, "the subscription", func() bool { return hub.Stats().Subscribers == 1 || ended.Load() })
			hubPublish(t, hub, Event{Data: "x"}, "t")
			hubWaitUntil(t, "the event written", func() bool { return w.events.Load() == 1 || ended.Load() })
			tt.end(cancel, w)
			select {
			case <-done:
				if err != nil {
					t.Errorf("StreamTo = %v, want nil (Subscribe returns nil)", err)
				}
			case <-time.After(hubWait):
				t.Fatalf("the subscription outlived its stream by %v", hubWait)
			}
			if err := stream.Err(); !errors.Is(err, ErrClosed) || !errors.Is(err, tt.want) {
				t.Errorf("the stream ended with %v, want ErrClosed and %v", err, tt.want)
			}
			if n := hub.Stats().Subscribers; n != 0 {
				t.Errorf("Subscribers = %d after the subscription ended, want 0", n)
			}
		})
	}
}

// A stream may subscribe to several hubs at once: each subscription gets
// the events of its own hub, and ends with the stream. (A stream's first
// subscription lives in the stream's memory, the others in their own.)
func TestHubOneStreamSeveralSubscriptions(t *testing.T) {
	leaktest.Check(t)
	a, b := newTestHub(t), newTestHub(t)
	run := runHub(t, func(s *Stream) error {
		errs := make(chan error, 1)
		go func() { errs <- a.Subscribe(s, "t") }()
		err := b.Subscribe(s, "t")
		return errors.Join(err, <-errs)
	})
	hubWaitSubscribers(t, a, 1)
	hubWaitSubscribers(t, b, 1)
	for i := range 3 {
		for _, h := range []struct {
			name string
			hub  *Hub
		}{{"a", a}, {"b", b}} {
			want := fmt.Sprintf("%s%d", h.name, i)
			hubPublish(t, h.hub, Event{Data: want}, "t")
			if ev := run.next(t, want); ev.Data != want {
				t.Fatalf("got %q, want %q", ev.Data, want)
			}
		}
	}
	run.cancel()
	if err := run.wait(t); err != nil {
		t.Fatalf("StreamTo returned %v", err)
	}
	if n := a.Stats().Subscribers + b.Stats().Subscribers; n != 0 {
		t.Fatalf("%d subscriptions left after the stream ended", n)
	}
}
