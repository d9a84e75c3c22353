package cluster

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventwire/sse/bench/internal/chart"
	"github.com/eventwire/sse/bench/internal/load"
	"github.com/eventwire/sse/bench/internal/server"
)

// logServer is a small SSE server over a shared log of events, as servers
// sharing a backend are: it sends each client the events after its
// Last-Event-ID, then every event appended, each with its index as ID.
// skip makes it leave out one event number, dup send one twice.
type logServer struct {
	log       *eventLog
	skip, dup int
	srv       *http.Server
	addr      string
}

type eventLog struct {
	mu     sync.Mutex
	cond   *sync.Cond
	events []string
	closed bool
}

func newEventLog() *eventLog {
	l := &eventLog{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *eventLog) append(data string) {
	l.mu.Lock()
	l.events = append(l.events, data)
	l.mu.Unlock()
	l.cond.Broadcast()
}

func (l *eventLog) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.cond.Broadcast()
}

func startLogServer(t *testing.T, l *eventLog, skip, dup int) *logServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &logServer{log: l, skip: skip, dup: dup, addr: ln.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.serve)}
	go s.srv.Serve(ln)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *logServer) serve(w http.ResponseWriter, r *http.Request) {
	next := 0
	if id := r.Header.Get("Last-Event-ID"); id != "" {
		n, err := strconv.Atoi(id)
		if err != nil {
			http.Error(w, "bad id", http.StatusBadRequest)
			return
		}
		next = n + 1
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
	w.(http.Flusher).Flush()
	for {
		s.log.mu.Lock()
		for next >= len(s.log.events) && !s.log.closed && r.Context().Err() == nil {
			s.log.cond.Wait()
		}
		if s.log.closed || r.Context().Err() != nil {
			s.log.mu.Unlock()
			return
		}
		batch := s.log.events[next:]
		s.log.mu.Unlock()
		for _, data := range batch {
			_, seq, _ := server.ParsePayload([]byte(data))
			copies := 1
			switch seq {
			case s.skip:
				copies = 0
			case s.dup:
				copies = 2
			}
			for range copies {
				if _, err := fmt.Fprintf(w, "id: %d\ndata: %s\n\n", next, data); err != nil {
					return
				}
			}
			next++
		}
		w.(http.Flusher).Flush()
	}
}

// waitFor polls cond every 10 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFleetCounts(t *testing.T) {
	const clients, events = 10, 50
	tests := []struct {
		name       string
		skip, dup  int
		lost, back int64
	}{
		{"every event once in order", -5, -5, 0, 0},
		{"one event missing", 7, -5, clients, 0},
		{"one event twice", -5, 9, 0, clients},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newEventLog()
			defer l.close()
			s := startLogServer(t, l, tt.skip, tt.dup)
			f := newFleet(load.NewSources(1))
			defer f.close()
			f.connect([]string{s.addr}, clients, 4, 0, false)
			l.append(server.Payload(time.Now().UnixNano(), -1, 32))
			waitFor(t, "primers", func() bool { return f.status().Primed == clients })
			f.arm(0, events)
			for i := range events {
				l.append(server.Payload(time.Now().UnixNano(), i, 64))
			}
			want := int64(clients * events)
			want += tt.back - tt.lost
			waitFor(t, "events", func() bool { return f.status().Received == want })
			c := f.collect()
			if lost := c.Gaps + c.Shortfall; lost != tt.lost || c.Backs != tt.back {
				t.Errorf("lost %d, dup/out of order %d; want %d, %d", lost, c.Backs, tt.lost, tt.back)
			}
			for i, n := range c.Count {
				w := int64(clients)
				switch i {
				case tt.skip:
					w = 0
				case tt.dup:
					w = 2 * clients
				}
				if n != w {
					t.Errorf("event %d delivered %d times, want %d", i, n, w)
				}
			}
		})
	}
}

// TestFleetResume kills one of two servers sharing a log while events
// flow: its clients move to the other with their Last-Event-ID and get
// every event once, in order.
func TestFleetResume(t *testing.T) {
	const clients, events = 20, 200
	l := newEventLog()
	defer l.close()
	a := startLogServer(t, l, -5, -5)
	b := startLogServer(t, l, -5, -5)
	f := newFleet(load.NewSources(1))
	defer f.close()
	f.connect([]string{a.addr, b.addr}, clients, 4, 0, true)
	l.append(server.Payload(time.Now().UnixNano(), -1, 32))
	waitFor(t, "primers", func() bool { return f.status().Primed == clients })
	f.arm(0, events)
	for i := range events {
		if i == events/2 {
			a.srv.Close() // its connections too, as a killed process's
		}
		l.append(server.Payload(time.Now().UnixNano(), i, 64))
		time.Sleep(time.Millisecond)
	}
	waitFor(t, "events", func() bool { return f.status().Received == clients*events })
	c := f.collect()
	if c.Gaps != 0 || c.Shortfall != 0 || c.Backs != 0 {
		t.Errorf("gaps %d, short by %d, dup/out of order %d; want none", c.Gaps, c.Shortfall, c.Backs)
	}
	if c.Down != clients/2 || c.Back != clients/2 {
		t.Errorf("%d clients broke, %d came back; want %d each", c.Down, c.Back, clients/2)
	}
	if c.Reconnects < clients/2 {
		t.Errorf("%d reconnections, want at least %d", c.Reconnects, clients/2)
	}
}

func TestHistQuantile(t *testing.T) {
	var h Hist
	for i := 1; i <= 1000; i++ {
		h.Add(time.Duration(i) * time.Microsecond)
	}
	for _, tt := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 500 * time.Microsecond}, {0.99, 990 * time.Microsecond}, {1, 1000 * time.Microsecond}} {
		got := h.Quantile(tt.q)
		if d := float64(got-tt.want) / float64(tt.want); d < -0.04 || d > 0.04 {
			t.Errorf("Quantile(%v) = %v, want %v within 4%%", tt.q, got, tt.want)
		}
	}
	var m Hist
	m.Merge(h.Sparse())
	m.Merge(h.Sparse())
	if m.Count() != 2000 || m.Quantile(0.5) != h.Quantile(0.5) {
		t.Errorf("merged twice: count %d, median %v; want 2000, %v", m.Count(), m.Quantile(0.5), h.Quantile(0.5))
	}
}

func TestChartSVG(t *testing.T) {
	idle := []IdleResult{
		{Servers: 1, Streams: 1000, ToLast: []time.Duration{5 * time.Millisecond}, ServerRSSKiB: 20 << 10},
		{Servers: 1, Streams: 500, ToLast: []time.Duration{3 * time.Millisecond}, ServerRSSKiB: 10 << 10},
		{Servers: 3, Streams: 3000, ToLast: []time.Duration{9 * time.Millisecond}, ServerRSSKiB: 60 << 10},
		{Servers: 3, Streams: 9000, Err: "failed"},
	}
	s := idleSeries(idle, func(r IdleResult) float64 { return r.Median().Seconds() * 1000 })
	if len(s) != 2 || s[0].Name != "1 server" || !slices.Equal(s[0].X, []float64{500, 1000}) || len(s[1].X) != 1 {
		t.Fatalf("series = %+v; want 1 server at 500, 1000 and 3 servers at 3000", s)
	}
	svg := chart.Chart{Title: "t <x>", Series: s}.SVG()
	if !strings.HasPrefix(svg, "<svg") || strings.Count(svg, "<polyline") != 2 || !strings.Contains(svg, "t &lt;x&gt;") {
		t.Errorf("svg lacks its lines or escapes:\n%s", svg)
	}
}
