package sseotel_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	sseotel "github.com/eventwire/sse/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// wait bounds the waits of the tests, generous for a loaded machine.
const wait = 20 * time.Second

// reading is a Metrics on an SDK provider whose values a test reads.
type reading struct {
	m      *sseotel.Metrics
	reader *sdkmetric.ManualReader
}

func newReading(t *testing.T, opts ...sseotel.Option) *reading {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	t.Cleanup(func() { mp.Shutdown(context.Background()) })
	m, err := sseotel.New(append(opts, sseotel.WithMeterProvider(mp))...)
	if err != nil {
		t.Fatal(err)
	}
	return &reading{m: m, reader: reader}
}

// metric returns the collected metric called name, failing the test if
// there is none.
func (r *reading) metric(t *testing.T, name string) metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != sseotel.ScopeName {
			t.Errorf("scope %q, want %q", sm.Scope.Name, sseotel.ScopeName)
		}
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m
			}
		}
	}
	t.Fatalf("no metric %s", name)
	return metricdata.Metrics{}
}

// value returns the value of the sum called name for the attributes
// attrs exactly, 0 if it has none yet.
func (r *reading) value(t *testing.T, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	want := attribute.NewSet(attrs...)
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			sum, ok := m.Data.(metricdata.Sum[int64])
			if !ok {
				t.Fatalf("%s is a %T, want a sum of int64", name, m.Data)
			}
			for _, dp := range sum.DataPoints {
				if dp.Attributes.Equals(&want) {
					return dp.Value
				}
			}
		}
	}
	return 0
}

// check waits until the sums named in want (name, or name{key=value})
// have their values, and reports those that do not within wait: a
// stream's counters move just after its write has reached the client.
func (r *reading) check(t *testing.T, want map[string]int64) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		var wrong []string
		for key, w := range want {
			name, attrs := key, []attribute.KeyValue(nil)
			if i := strings.IndexByte(key, '{'); i >= 0 {
				name = key[:i]
				k, v, _ := strings.Cut(strings.TrimSuffix(key[i+1:], "}"), "=")
				attrs = append(attrs, attribute.String(k, v))
			}
			if got := r.value(t, name, attrs...); got != w {
				wrong = append(wrong, fmt.Sprintf("%s = %d, want %d", key, got, w))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			sort.Strings(wrong)
			for _, w := range wrong {
				t.Error(w)
			}
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitFor polls the sum name{attrs} until it is at least n.
func (r *reading) waitFor(t *testing.T, n int64, name string, attrs ...attribute.KeyValue) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for r.value(t, name, attrs...) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s%v did not reach %d within %v", name, attrs, n, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func cause(v string) attribute.KeyValue { return sseotel.EndCauseKey.String(v) }

// stream is an event stream read by a test.
type stream struct {
	body   io.ReadCloser
	lines  *bufio.Reader
	cancel context.CancelFunc
}

func open(t *testing.T, url, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	s := &stream{body: resp.Body, lines: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(s.close)
	return s
}

// data reads the stream's next n data fields.
func (s *stream) data(t *testing.T, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		line, err := s.lines.ReadString('\n')
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			got = append(got, strings.TrimSuffix(v, "\n"))
		}
	}
	return got
}

func (s *stream) close() {
	s.cancel()
	s.body.Close()
}

// TestServer runs streams and a hub over HTTP and reads every server
// metric after each step.
func TestServer(t *testing.T) {
	r := newReading(t)
	hub, err := sse.NewHub(r.m.Option(), sse.WithQueueSize(4))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	mux := http.NewServeMux()
	mux.Handle("/plain", sse.Handler(func(s *sse.Stream) error {
		if err := s.Send(sse.Event{Data: "one"}); err != nil {
			return err
		}
		return s.Send(sse.Event{Data: "two"})
	}, r.m.Option()))
	mux.Handle("/fails", sse.Handler(func(s *sse.Stream) error {
		return fmt.Errorf("no data")
	}, r.m.Option(), sse.WithErrorHandler(func(*http.Request, error) {})))
	mux.Handle("/news", sse.Handler(hub.StreamFunc("news"), r.m.Option(), sse.WithHeartbeat(0)))
	var heartbeats atomic.Bool
	mux.Handle("/idle", sse.Handler(func(s *sse.Stream) error {
		for !heartbeats.Load() {
			time.Sleep(time.Millisecond)
		}
		return nil
	}, r.m.Option(), sse.WithHeartbeat(5*time.Millisecond)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// A stream that ends, and one that fails.
	resp, err := http.Get(srv.URL + "/plain")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(srv.URL + "/fails")
	if err != nil {
		t.Fatal(err)
	}
	// Read to the end: a client that left first would make the failed
	// stream's cause client_left.
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, 1, "sse.streams.ended", cause("error"))
	r.check(t, map[string]int64{
		"sse.streams.open":                       0,
		"sse.streams.opened":                     2,
		"sse.streams.ended{sse.end.cause=ended}": 1,
		"sse.streams.ended{sse.end.cause=error}": 1,
		"sse.events.written":                     2,
		"sse.bytes.written":                      int64(len(body)),
		"sse.heartbeats.written":                 0,
	})
	if hist := r.metric(t, "sse.write.duration").Data.(metricdata.Histogram[float64]); len(hist.DataPoints) != 1 || hist.DataPoints[0].Count != 2 {
		t.Errorf("sse.write.duration = %+v, want one point of 2 writes", hist.DataPoints)
	}

	// Heartbeats of an idle stream.
	idle := open(t, srv.URL+"/idle", "")
	r.waitFor(t, 2, "sse.heartbeats.written")
	heartbeats.Store(true)
	r.waitFor(t, 2, "sse.streams.ended", cause("ended"))
	idle.close()

	// A subscriber that leaves.
	news := open(t, srv.URL+"/news", "")
	r.waitFor(t, 1, "sse.streams.open")
	for i := 1; i <= 3; i++ {
		if err := hub.Publish(context.Background(), sse.Event{ID: fmt.Sprint(i), Data: fmt.Sprint("news ", i)}, "news"); err != nil {
			t.Fatal(err)
		}
	}
	if got := news.data(t, 3); got[2] != "news 3" {
		t.Fatalf("news = %q", got)
	}
	news.close()
	r.waitFor(t, 1, "sse.streams.ended", cause("client_left"))
	r.check(t, map[string]int64{
		"sse.streams.open":          0,
		"sse.events.written":        5,
		"sse.hub.events.published":  3,
		"sse.hub.events.fanned_out": 3,
		"sse.hub.replays":           0,
	})

	// A resume with a replay, and one with a reset.
	resumed := open(t, srv.URL+"/news", "1")
	if got := resumed.data(t, 2); got[0] != "news 2" || got[1] != "news 3" {
		t.Fatalf("replay after 1 = %q", got)
	}
	reset := open(t, srv.URL+"/news", "none")
	if got := reset.data(t, 1); !strings.Contains(got[0], "cannot resume") {
		t.Fatalf("resume after none = %q, want a reset", got)
	}
	r.check(t, map[string]int64{
		"sse.hub.replays":                             2,
		"sse.hub.events.replayed":                     2,
		"sse.hub.resets{sse.reset.reason=unknown_id}": 1,
		"sse.events.written":                          5 + 2 + 1,
	})
	resumed.close()
	reset.close()
	r.waitFor(t, 3, "sse.streams.ended", cause("client_left"))

	// A slow client: it reads nothing, its queue of four overflows once
	// its connection's buffers are full.
	open(t, srv.URL+"/news", "")
	r.waitFor(t, 1, "sse.streams.open")
	big := strings.Repeat("x", 64<<10)
	deadline := time.Now().Add(wait)
	for r.value(t, "sse.hub.slow_disconnects") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the client that reads nothing was not disconnected")
		}
		if err := hub.Publish(context.Background(), sse.Event{Data: big}, "news"); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor(t, 1, "sse.streams.ended", cause("slow"))
	r.check(t, map[string]int64{
		"sse.hub.slow_disconnects":               1,
		"sse.streams.ended{sse.end.cause=slow}":  1,
		"sse.streams.open":                       0,
		"sse.streams.opened":                     7,
		"sse.hub.events.dropped":                 0,
		"sse.hub.resets{sse.reset.reason=lost}":  0,
		"sse.streams.ended{sse.end.cause=ended}": 2,
	})
}

// TestDropOldest reads sse.hub.events.dropped after a client that reads
// nothing lost events under DropOldest.
func TestDropOldest(t *testing.T) {
	r := newReading(t)
	hub, err := sse.NewHub(r.m.Option(), sse.WithQueueSize(1), sse.WithSlowPolicy(sse.DropOldest))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	srv := httptest.NewServer(sse.Handler(hub.StreamFunc("t"), r.m.Option(), sse.WithHeartbeat(0)))
	t.Cleanup(srv.Close)
	s := open(t, srv.URL, "")
	r.waitFor(t, 1, "sse.streams.open")
	big := strings.Repeat("x", 64<<10)
	published := 0
	deadline := time.Now().Add(wait)
	// Drops are counted when the subscriber next takes its queue.
	for hub.Stats().Dropped == 0 {
		if time.Now().After(deadline) {
			t.Fatal("nothing dropped")
		}
		if err := hub.Publish(context.Background(), sse.Event{Data: big}, "t"); err != nil {
			t.Fatal(err)
		}
		published++
	}
	go io.Copy(io.Discard, s.body) // the client reads again
	if err := hub.Publish(context.Background(), sse.Event{Data: "last"}, "t"); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, int64(published+1), "sse.hub.events.fanned_out")
	deadline = time.Now().Add(wait)
	for {
		got, want := r.value(t, "sse.hub.events.dropped"), int64(hub.Stats().Dropped)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sse.hub.events.dropped = %d, the hub counts %d", got, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.check(t, map[string]int64{
		"sse.hub.events.published":  int64(published + 1),
		"sse.hub.events.fanned_out": int64(published + 1),
		"sse.hub.slow_disconnects":  0,
	})
}

// TestTopicAttribute reads the topics of published events.
func TestTopicAttribute(t *testing.T) {
	r := newReading(t, sseotel.WithTopicAttribute())
	hub, err := sse.NewHub(r.m.Option())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	for _, topics := range [][]string{{"a"}, {"a", "b"}} {
		if err := hub.Publish(context.Background(), sse.Event{Data: "x"}, topics...); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor(t, 1, "sse.hub.events.published", sseotel.TopicKey.String("b"))
	r.check(t, map[string]int64{
		"sse.hub.events.published{sse.topic=a}": 2,
		"sse.hub.events.published{sse.topic=b}": 1,
		"sse.hub.events.published":              0, // no point without a topic
	})
}

// TestClient reads the client metrics of a stream whose server ends each
// response after one event, so that the client reconnects.
func TestClient(t *testing.T) {
	r := newReading(t)
	var n atomic.Int32
	srv := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		return s.Send(sse.Event{ID: fmt.Sprint(n.Add(1)), Data: "x"})
	}))
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, err := range sse.Events(srv.Client(), req, r.m.Option(), sse.WithReconnectDelay(0)) {
		if err != nil {
			t.Fatal(err)
		}
		if got++; got == 3 {
			break
		}
	}
	r.check(t, map[string]int64{
		"sse.client.connections":                         3,
		"sse.client.reconnects{sse.reconnect.cause=eof}": 2,
		"sse.client.events.received":                     3,
	})
}

// With the default meter provider, no SDK installed, a stream's Send
// allocates nothing, and a hub's publish, fan-out and write allocate what
// they do without metrics.
func TestNoProviderAllocatesNothing(t *testing.T) {
	m, err := sseotel.New()
	if err != nil {
		t.Fatal(err)
	}
	send := func(opts ...sse.Option) float64 {
		var allocs float64
		err := sse.StreamTo(context.Background(), discard{new(atomic.Int64)}, func(s *sse.Stream) error {
			ev := sse.Event{ID: "1", Data: "hello"}
			if err := s.Send(ev); err != nil { // grows the buffer
				return err
			}
			allocs = testing.AllocsPerRun(1000, func() { s.Send(ev) })
			return nil
		}, append(opts, sse.WithHeartbeat(0))...)
		if err != nil {
			t.Fatal(err)
		}
		return allocs
	}
	if without, with := send(), send(m.Option()); without != 0 || with != 0 {
		t.Errorf("allocations of a Send: %v without metrics, %v with them, want 0", without, with)
	}

	publish := func(metrics bool) float64 {
		var opt sse.ObserverOption // a zero ObserverOption sets no Observer
		if metrics {
			opt = m.Option()
		}
		hub, err := sse.NewHub(opt, sse.WithHistory(sse.HistoryLimits{Count: 10}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { hub.Close() })
		w := discard{new(atomic.Int64)}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			sse.StreamTo(ctx, w, hub.StreamFunc("t"), sse.WithHeartbeat(0), opt)
		}()
		defer func() { cancel(); <-done }()
		for hub.Stats().Subscribers == 0 {
			time.Sleep(time.Millisecond)
		}
		ev := sse.Event{Data: "hello"}
		return testing.AllocsPerRun(500, func() {
			want := w.flushes.Load() + 1
			if err := hub.Publish(ctx, ev, "t"); err != nil {
				t.Fatal(err)
			}
			for w.flushes.Load() < want {
				time.Sleep(10 * time.Microsecond)
			}
		})
	}
	without, with := publish(false), publish(true)
	// The subscriber's goroutine runs beside the measured function, so an
	// allocation of its may fall on either side of a run's end.
	if with-without > 0.5 || without-with > 0.5 {
		t.Errorf("allocations of a publish, its fan-out and write: %v without metrics, %v with them; want the same", without, with)
	}
	t.Logf("allocations of a publish, its fan-out and write: %v without metrics, %v with them", without, with)
}

type discard struct{ flushes *atomic.Int64 }

func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (w discard) Flush() error              { w.flushes.Add(1); return nil }

// TestWriteTimeout ends a stream whose client reads nothing by the write
// timeout, and reads the cause and the failed write's duration.
func TestWriteTimeout(t *testing.T) {
	r := newReading(t)
	big := strings.Repeat("x", 64<<10)
	srv := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		for {
			if err := s.Send(sse.Event{Data: big}); err != nil {
				return err
			}
		}
	}, r.m.Option(), sse.WithWriteTimeout(100*time.Millisecond), sse.WithErrorHandler(func(*http.Request, error) {})))
	t.Cleanup(srv.Close)
	open(t, srv.URL, "") // reads nothing
	r.waitFor(t, 1, "sse.streams.ended", cause("write_timeout"))
	hist := r.metric(t, "sse.write.duration").Data.(metricdata.Histogram[float64])
	failed := attribute.NewSet(sseotel.ErrorTypeKey.String("write_timeout"))
	for _, dp := range hist.DataPoints {
		if dp.Attributes.Equals(&failed) {
			if dp.Count != 1 || dp.Sum < 0.1 {
				t.Errorf("failed writes: %d taking %vs, want one of at least the timeout, 0.1 s", dp.Count, dp.Sum)
			}
			return
		}
	}
	t.Errorf("sse.write.duration has no point with error.type=write_timeout: %+v", hist.DataPoints)
}

func TestEndCause(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, "ended"},
		{sse.ErrEnded, "ended"},
		{sse.ErrSlowClient, "slow"},
		{http.ErrServerClosed, "shutdown"},
		{sse.ErrHubClosed, "shutdown"},
		{fmt.Errorf("%w: %w", sse.ErrClosed, sse.ErrMaxLifetime), "max_lifetime"},
		{fmt.Errorf("%w: %w", sse.ErrClosed, os.ErrDeadlineExceeded), "write_timeout"},
		{context.Canceled, "client_left"},
		{fmt.Errorf("%w: %w", sse.ErrClosed, syscall.EPIPE), "client_left"},
		{errors.New("database down"), "error"},
	}
	for _, tt := range tests {
		if got := sseotel.EndCause(tt.err); got != tt.want {
			t.Errorf("EndCause(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestMaxLifetime checks that streams rotated by sse.WithMaxLifetime end
// with the cause max_lifetime.
func TestMaxLifetime(t *testing.T) {
	r := newReading(t)
	srv := httptest.NewServer(sse.Handler(func(s *sse.Stream) error {
		<-s.Done()
		return s.Err()
	}, sse.WithHeartbeat(0), sse.WithMaxLifetime(20*time.Millisecond), r.m.Option()))
	defer srv.Close()
	for range 2 {
		s := open(t, srv.URL, "")
		io.Copy(io.Discard, s.body) // until the stream ends at its lifetime
		s.close()
	}
	r.waitFor(t, 2, "sse.streams.ended", cause("max_lifetime"))
}

// TestObserveHub checks that the fan-out lag of an observed hub is
// reported, 0 once the fan-out has caught up, and no longer once the
// reporting stopped.
func TestObserveHub(t *testing.T) {
	r := newReading(t)
	hub, err := sse.NewHub(r.m.Option())
	if err != nil {
		t.Fatal(err)
	}
	defer hub.Close()
	stop, err := r.m.ObserveHub(hub)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if err := hub.Publish(context.Background(), sse.Event{Data: "x"}, "t"); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(wait)
	for {
		gauge, ok := r.metric(t, "sse.hub.fanout.lag").Data.(metricdata.Gauge[int64])
		if !ok || len(gauge.DataPoints) != 1 {
			t.Fatalf("sse.hub.fanout.lag: %+v, want a gauge with one point", r.metric(t, "sse.hub.fanout.lag").Data)
		}
		if gauge.DataPoints[0].Value == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lag is still %d after %v", gauge.DataPoints[0].Value, wait)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if g, ok := m.Data.(metricdata.Gauge[int64]); m.Name == "sse.hub.fanout.lag" && ok && len(g.DataPoints) > 0 {
				t.Errorf("the lag is still reported after stop: %+v", g.DataPoints)
			}
		}
	}
}
