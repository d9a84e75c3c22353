// Package server runs one SSE implementation behind the benchmark's common
// HTTP interface, so that the load tool drives every implementation alike:
//
//	GET  /events    the event stream (the query stream=bench is for r3labs)
//	POST /publish   n events of size bytes at rate events/s, made here
//	GET  /stats     goroutines, RSS, heap and CPU time of this process, as JSON
//
// Each published event's data is "<unix nanos> <seq> xxx…", padded to size
// bytes. The time is when the event was due (paced publishing) or when it
// was handed to the implementation (unpaced), so a client on the same
// machine computes the delivery time.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Topic is the one topic (stream) every implementation serves.
const Topic = "bench"

// A Broadcaster is one SSE implementation: it serves streams and sends a
// published event to every open one.
type Broadcaster interface {
	http.Handler // serves one client's stream
	Publish(ctx context.Context, data string) error
	// Subscribers returns the number of subscribed streams, or -1 if the
	// implementation does not say.
	Subscribers() int
	Close(ctx context.Context) error
}

// A BatchPublisher is a Broadcaster that publishes several events in one
// call. The publish endpoint's batch parameter uses it; other
// implementations publish a batch one event at a time.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, data []string) (int, error)
}

// publishBatch publishes data through b in one call if it can, else one
// event at a time, and returns how many it published.
func publishBatch(ctx context.Context, b Broadcaster, data []string) (int, error) {
	if bp, ok := b.(BatchPublisher); ok {
		return bp.PublishBatch(ctx, data)
	}
	for i, d := range data {
		if err := b.Publish(ctx, d); err != nil {
			return i, err
		}
	}
	return len(data), nil
}

var impls = map[string]func() (Broadcaster, error){
	"handwritten": newHandwritten,
	"eventwire":   newEventwire,
	"go-sse":      newGoSSE,
	"r3labs":      newR3labs,
	// Not compared by default (see Names): the hub made for live values,
	// measured by the load tool's scenario L.
	"eventwire-latest": newEventwireLatest,
	// Not compared by default: the hub through a backend, on a service
	// the load tool starts (see Service).
	"eventwire-redis": newEventwireRedis,
	"eventwire-pg":    newEventwirePG,
	// Not compared by default: eventwire with sseotel's metrics on.
	"eventwire-otel": newEventwireOtel,
}

// Names lists the implementations, the baseline (handwritten) first.
func Names() []string {
	return []string{"handwritten", "eventwire", "go-sse", "r3labs"}
}

// Valid reports whether name is an implementation.
func Valid(name string) bool {
	_, ok := impls[name]
	return ok
}

// Stats is what /stats answers.
type Stats struct {
	Goroutines  int    `json:"goroutines"`
	RSSKiB      int64  `json:"rss_kib"`
	HeapInuse   uint64 `json:"heap_inuse"`
	StackInuse  uint64 `json:"stack_inuse"` // goroutine stacks
	Subscribers int    `json:"subscribers"`
	CPUNs       int64  `json:"cpu_ns"` // user + system CPU time used so far
	// Hub is the sse.Hub's counters, for this module's implementations.
	Hub *HubStats `json:"hub,omitempty"`
}

// HubStats are the counters of an sse.Hub that the load tool reports.
type HubStats struct {
	DroppedClients uint64 `json:"dropped_clients"` // clients the hub cut off, whatever the cause
	Dropped        uint64 `json:"dropped"`         // queued events dropped or replaced
	QueueDepth     int    `json:"queue_depth"`     // events queued for all subscribers
}

// PublishResult is what /publish answers.
type PublishResult struct {
	Published int    `json:"published"`
	ElapsedNs int64  `json:"elapsed_ns"`
	Err       string `json:"err,omitempty"`
}

// Serve serves impl on ln until ctx ends, then closes the implementation
// and the server.
func Serve(ctx context.Context, impl string, ln net.Listener) error {
	mk, ok := impls[impl]
	if !ok {
		return fmt.Errorf("unknown implementation %q", impl)
	}
	b, err := mk()
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("GET /events", b)
	mux.HandleFunc("POST /publish", func(w http.ResponseWriter, r *http.Request) { publish(w, r, b) })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") != "" {
			debug.FreeOSMemory()
		}
		st := Stats{
			Goroutines:  runtime.NumGoroutine(),
			RSSKiB:      RSSKiB(os.Getpid()),
			HeapInuse:   heapInuse(),
			StackInuse:  stackInuse(),
			Subscribers: b.Subscribers(),
			CPUNs:       cpuNs(),
		}
		if h, ok := b.(interface{ hubStats() *HubStats }); ok {
			st.Hub = h.hubStats()
		}
		writeJSON(w, st)
	})
	errLog := &cappedLog{w: os.Stderr, prefix: impl + " server: ", left: 5}
	defer errLog.summary()
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(errLog, "", 0),
	}
	if err := drainOnShutdown(srv, mux); err != nil {
		return errors.Join(err, b.Close(context.Background()))
	}
	if path := os.Getenv("BENCH_CPUPROFILE"); path != "" {
		stop, err := profileCPU(fmt.Sprintf("%s.%s.%d", path, impl, os.Getpid()))
		if err != nil {
			return errors.Join(err, b.Close(context.Background()))
		}
		defer stop()
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err = <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		<-ctx.Done() // shut down by POST /shutdown: stay until told to go
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	return errors.Join(b.Close(sctx), srv.Close())
}

// publish makes and publishes the events the query asks for: n (at most
// 1e6) events of size bytes, numbered from seq0, at rate events/s (0: as
// fast as the implementation takes them). With batch above 1 (unpaced
// only) it makes up to batch events at a time, each stamped as it is made,
// and publishes them in one call (see BatchPublisher). It stops early if
// the request is canceled.
func publish(w http.ResponseWriter, r *http.Request, b Broadcaster) {
	q := r.URL.Query()
	n, _ := strconv.Atoi(q.Get("n"))
	size, _ := strconv.Atoi(q.Get("size"))
	rate, _ := strconv.ParseFloat(q.Get("rate"), 64)
	seq0, _ := strconv.Atoi(q.Get("seq0"))
	batch := 1
	if v := q.Get("batch"); v != "" {
		batch, _ = strconv.Atoi(v)
	}
	if n < 0 || n > 1e6 || size < 0 || size > 1<<20 || rate < 0 || batch < 1 || batch > 1e4 || batch > 1 && rate > 0 {
		http.Error(w, "bad n, size, rate or batch", http.StatusBadRequest)
		return
	}
	ctx := r.Context()
	start := time.Now()
	var res PublishResult
	if batch > 1 {
		data := make([]string, 0, batch)
		for i := 0; i < n && res.Err == ""; i += batch {
			data = data[:0]
			for j := i; j < min(i+batch, n); j++ {
				data = append(data, Payload(time.Now().UnixNano(), seq0+j, size))
			}
			k, err := publishBatch(ctx, b, data)
			res.Published += k
			if err != nil {
				res.Err = err.Error()
			}
		}
		res.ElapsedNs = int64(time.Since(start))
		writeJSON(w, res)
		return
	}
	for i := range n {
		sent := time.Now()
		if rate > 0 {
			// Stamp the event with its scheduled time, not the time the
			// publisher got to it: if a blocking Publish held the
			// publisher back, that wait is part of the delivery time.
			sent = start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if d := time.Until(sent); d > 0 {
				t := time.NewTimer(d)
				select {
				case <-ctx.Done():
				case <-t.C:
				}
				t.Stop()
			}
		}
		if ctx.Err() != nil {
			res.Err = ctx.Err().Error()
			break
		}
		if err := b.Publish(ctx, Payload(sent.UnixNano(), seq0+i, size)); err != nil {
			res.Err = err.Error()
			break
		}
		res.Published++
	}
	res.ElapsedNs = int64(time.Since(start))
	writeJSON(w, res)
}

// Payload returns an event's data: the send time, the sequence number and
// padding up to size bytes.
func Payload(sentNs int64, seq, size int) string {
	head := strconv.FormatInt(sentNs, 10) + " " + strconv.Itoa(seq) + " "
	if len(head) >= size {
		return head
	}
	return head + strings.Repeat("x", size-len(head))
}

// ParsePayload reads the send time and the sequence number from the
// start of an event's data made by Payload.
func ParsePayload(b []byte) (sentNs int64, seq int, ok bool) {
	sentNs, b, ok = parseInt(b)
	if !ok {
		return 0, 0, false
	}
	s, _, ok := parseInt(b)
	return sentNs, int(s), ok
}

// parseInt parses a decimal integer, maybe negative, ended by a space.
func parseInt(b []byte) (int64, []byte, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	var v int64
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9' && i < 19:
			v = v*10 + int64(c-'0')
		case c == ' ' && i > 0:
			if neg {
				v = -v
			}
			return v, b[i+1:], true
		default:
			return 0, nil, false
		}
	}
	return 0, nil, false
}

// cappedLog writes the first few lines logged to it and counts the rest:
// some implementations log once per closed stream (go-sse writes an error
// response to every stream whose write failed, which net/http reports as a
// superfluous WriteHeader call).
type cappedLog struct {
	w      io.Writer
	prefix string

	mu      sync.Mutex
	left    int
	dropped int
}

func (l *cappedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.left <= 0 {
		l.dropped++
		return len(p), nil
	}
	l.left--
	_, err := fmt.Fprintf(l.w, "%s%s", l.prefix, p)
	return len(p), err
}

func (l *cappedLog) summary() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.dropped > 0 {
		fmt.Fprintf(l.w, "%s%d more log lines not shown\n", l.prefix, l.dropped)
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		fmt.Fprintln(os.Stderr, "server: write response:", err)
	}
}

// RSSKiB returns the resident set size of process pid in KiB from
// /proc/<pid>/status (VmRSS), or -1 if it cannot be read.
func RSSKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				if v, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return v
				}
			}
		}
	}
	return -1
}

func heapInuse() uint64 { return readUint64("/memory/classes/heap/objects:bytes") }

// stackInuse returns the bytes of goroutine stacks in use.
func stackInuse() uint64 { return readUint64("/memory/classes/heap/stacks:bytes") }

// readUint64 returns the runtime metric name, 0 if it is not a uint64.
func readUint64(name string) uint64 {
	s := []metrics.Sample{{Name: name}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// profileCPU writes the process's CPU profile to path until stop is
// called: BENCH_CPUPROFILE=prefix profiles every server process the tool
// starts, one file each (prefix.IMPL.PID).
func profileCPU(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
