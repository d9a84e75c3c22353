// Command testserver is the server of the browser tests: it serves a page
// whose EventSource records every event it sees, and the streams the tests
// point it at, written with the library under test:
//
//	/page?stream=/path  the recording page
//	/encodings          the tricky encodings of package cases, then idles
//	/counter            CounterID(n) every -interval, resuming after Last-Event-ID
//	/hub                a hub's topic; POST /publish?n=K publishes K events
//	/hub-buffered       the same without the X-Accel-Buffering header
//	/hub-quiet          the same without heartbeats
//	/limited            the counter, one stream at a time (an sse.Limit with Max 1)
//	/limit              JSON: the streams that limit holds open
//	POST /drop          ends every open stream, as a server-side disconnect
//	/requests           JSON: every stream request seen (cases.Request)
//	/refusals           JSON: what Send answered to each injection attempt
//	/stats              JSON: the hub's counters
//
// It serves TLS (HTTP/2 and HTTP/1.1) with -cert and -key, plain HTTP/1.1
// otherwise, and shuts down gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/e2e/internal/cases"
)

//go:embed page.html
var pageHTML string

var page = template.Must(template.New("page").Parse(pageHTML))

// topic is the hub's one topic.
const topic = "t"

func main() {
	var (
		addr       = flag.String("addr", "127.0.0.1:0", "address to listen on")
		cert       = flag.String("cert", "", "TLS certificate (PEM file); with -key, serve HTTPS and HTTP/2")
		key        = flag.String("key", "", "TLS key (PEM file)")
		interval   = flag.Duration("interval", 200*time.Millisecond, "time between counter events")
		retry      = flag.Duration("retry", 500*time.Millisecond, "reconnection delay sent to clients")
		heartbeat  = flag.Duration("heartbeat", sse.DefaultHeartbeat, "heartbeat interval of the streams")
		limitRetry = flag.Duration("limit-retry", 300*time.Millisecond, "how long a client refused by /limited waits, on average")
	)
	flag.Parse()
	if (*cert == "") != (*key == "") {
		log.Fatal("testserver: -cert and -key go together")
	}
	limit := &sse.Limit{Max: 1, Retry: *limitRetry}
	if err := run(*addr, *cert, *key, *interval, limit, []sse.Option{sse.WithRetry(*retry), sse.WithHeartbeat(*heartbeat)}); err != nil {
		log.Fatal(err)
	}
}

func run(addr, cert, key string, interval time.Duration, limit *sse.Limit, opts []sse.Option) error {
	hub, err := sse.NewHub()
	if err != nil {
		return err
	}
	s := &server{hub: hub, interval: interval, live: make(map[*liveStream]struct{})}
	quiet := append(append([]sse.Option(nil), opts...), sse.WithHeartbeat(0))
	limited := append(append([]sse.Option(nil), opts...), sse.WithLimit(limit))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /page", servePage)
	mux.Handle("GET /encodings", s.stream(sse.Handler(s.encodings, opts...)))
	mux.Handle("GET /counter", s.stream(sse.Handler(s.counter, opts...)))
	mux.Handle("GET /hub", s.stream(sse.Handler(hub.StreamFunc(topic), opts...)))
	mux.Handle("GET /hub-buffered", s.stream(stripAccel(sse.Handler(hub.StreamFunc(topic), opts...))))
	mux.Handle("GET /hub-quiet", s.stream(sse.Handler(hub.StreamFunc(topic), quiet...)))
	mux.Handle("GET /limited", s.stream(sse.Handler(s.counter, limited...)))
	mux.HandleFunc("GET /limit", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, limit.Open()) })
	mux.HandleFunc("POST /publish", s.publish)
	mux.HandleFunc("POST /drop", s.drop)
	mux.HandleFunc("GET /requests", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, s.requests)
	})
	mux.HandleFunc("GET /refusals", func(w http.ResponseWriter, _ *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		writeJSON(w, s.refusals)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, hub.Stats()) })

	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := &http.Server{
		Handler:     mux,
		BaseContext: func(net.Listener) context.Context { return base },
	}
	srv.RegisterOnShutdown(func() {
		if err := hub.Shutdown(context.Background()); err != nil {
			log.Printf("hub: %v", err)
		}
		cancel()
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	served := make(chan error, 1)
	go func() {
		if cert != "" {
			served <- srv.ServeTLS(ln, cert, key)
			return
		}
		served <- srv.Serve(ln)
	}()
	log.Printf("listening on %s (TLS: %t)", ln.Addr(), cert != "")

	interrupt, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-served:
		return err
	case <-interrupt.Done():
	}
	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := srv.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return hub.Close()
}

// server holds the state the endpoints share.
type server struct {
	hub      *sse.Hub
	interval time.Duration

	mu        sync.Mutex
	requests  []cases.Request
	refusals  []cases.Refusal
	live      map[*liveStream]struct{}
	published int // events published so far
}

// liveStream is one open stream that POST /drop can end.
type liveStream struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when its handler has returned
}

func servePage(w http.ResponseWriter, _ *http.Request) {
	types, err := json.Marshal(cases.Types)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The types go into a script as JSON, which html/template leaves alone.
	if err := page.Execute(w, struct{ Types template.JS }{template.JS(types)}); err != nil {
		log.Printf("page: %v", err)
	}
}

// stream records each request for h and lets POST /drop end it.
func (s *server) stream(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := cases.Request{
			Path:        r.URL.Path,
			Proto:       r.Proto,
			Accept:      r.Header.Get("Accept"),
			ClientProto: r.Header.Get("X-Client-Protocol"),
			FetchMode:   r.Header.Get("Sec-Fetch-Mode"),
			At:          time.Now(),
		}
		if v, ok := r.Header["Last-Event-Id"]; ok && len(v) > 0 {
			req.LastEventID = []byte(v[0])
		}
		ctx, cancel := context.WithCancel(r.Context())
		ls := &liveStream{cancel: cancel, done: make(chan struct{})}
		s.mu.Lock()
		req.Published = s.published
		s.requests = append(s.requests, req)
		s.live[ls] = struct{}{}
		s.mu.Unlock()
		defer func() {
			s.mu.Lock()
			delete(s.live, ls)
			s.mu.Unlock()
			cancel()
			close(ls.done)
		}()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
}

// drop ends every open stream and answers once their handlers returned.
func (s *server) drop(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var dropped []*liveStream
	for ls := range s.live {
		ls.cancel()
		dropped = append(dropped, ls)
	}
	s.mu.Unlock()
	for _, ls := range dropped {
		select {
		case <-ls.done:
		case <-r.Context().Done():
			return
		}
	}
	writeJSON(w, len(dropped))
}

// encodings sends the steps and attempts of package cases, then the burst,
// and stays open until the client leaves.
func (s *server) encodings(st *sse.Stream) error {
	for _, step := range cases.Encodings() {
		if err := st.Send(step.Event); err != nil {
			return fmt.Errorf("step %s: %w", step.Name, err)
		}
	}
	var refusals []cases.Refusal
	for _, a := range cases.Attempts() {
		err := st.Send(a.Event)
		if errors.Is(err, sse.ErrClosed) {
			return err
		}
		ref := cases.Refusal{Name: a.Name, OK: errors.Is(err, a.Refusal) || (a.Refusal == nil && err == nil)}
		if err != nil {
			ref.Err = err.Error()
		}
		refusals = append(refusals, ref)
	}
	s.mu.Lock()
	s.refusals = refusals
	s.mu.Unlock()
	if err := st.Send(cases.AfterAttempts.Event); err != nil {
		return err
	}
	for i := range cases.BurstLen {
		ev, _ := cases.Burst(i)
		if err := st.Send(ev); err != nil {
			return fmt.Errorf("burst event %d: %w", i, err)
		}
	}
	<-st.Done()
	return nil
}

// counter sends CounterID(n) with data n every s.interval, from one after
// the client's last event ID (or 1).
func (s *server) counter(st *sse.Stream) error {
	n := 0
	if id := st.LastEventID(); id != "" {
		var err error
		if n, err = cases.ParseCounterID(id); err != nil {
			// Start over: the page sees the jump back and fails the test.
			log.Printf("counter: %v", err)
			n = 0
		}
	}
	return st.Every(s.interval, func() error {
		n++
		return st.Send(sse.Event{ID: cases.CounterID(n), Data: strconv.Itoa(n)})
	})
}

// publish publishes ?n= events (default 1) with data "hub 1", "hub 2", ...
// counted over the server's life, and answers their data as JSON.
func (s *server) publish(w http.ResponseWriter, r *http.Request) {
	n := 1
	if v := r.URL.Query().Get("n"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			http.Error(w, "n must be a positive number", http.StatusBadRequest)
			return
		}
	}
	var data []string
	for range n {
		// The count and the hub move together, so that a request records
		// how many events the hub had published when it came. The
		// in-memory hub's Publish does not block.
		s.mu.Lock()
		d := "hub " + strconv.Itoa(s.published+1)
		err := s.hub.Publish(r.Context(), sse.Event{Data: d}, topic)
		if err == nil {
			s.published++
		}
		s.mu.Unlock()
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		data = append(data, d)
	}
	writeJSON(w, data)
}

// stripAccel serves h with the X-Accel-Buffering header taken out of its
// response, to show what a proxy does to a stream without it.
func stripAccel(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(accelStripper{w}, r)
	})
}

type accelStripper struct{ http.ResponseWriter }

func (w accelStripper) WriteHeader(code int) {
	w.Header().Del("X-Accel-Buffering")
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the flusher.
func (w accelStripper) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Printf("writing JSON: %v", err)
	}
}
