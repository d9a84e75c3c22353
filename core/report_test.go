package sse

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventwire/sse/internal/syncbuf"
)

// logToBuffer makes slog's default logger write text into the returned
// buffer until the test ends.
func logToBuffer(t *testing.T) *syncbuf.Buffer {
	t.Helper()
	var buf syncbuf.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&buf, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })
	return &buf
}

// reported records what an error handler was handed.
type reported struct {
	mu   sync.Mutex
	reqs []*http.Request
	errs []error
}

func (rp *reported) handle(r *http.Request, err error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	rp.reqs = append(rp.reqs, r)
	rp.errs = append(rp.errs, err)
}

func (rp *reported) all() ([]*http.Request, []error) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return append([]*http.Request(nil), rp.reqs...), append([]error(nil), rp.errs...)
}

// flushRecorder is a recorder that can take a write deadline, so that
// a stream over it reports nothing but the StreamFunc's error.
type flushRecorder struct{ *httptest.ResponseRecorder }

func (flushRecorder) SetWriteDeadline(time.Time) error { return nil }

func TestErrorHandler(t *testing.T) {
	boom := errors.New("boom")
	gone := fmt.Errorf("send: %w", ErrClosed)
	// Each way to run a stream, returning fn's error and the request the
	// stream answered (nil for StreamTo).
	runs := []struct {
		name string
		run  func(fn StreamFunc, opts ...Option) (error, *http.Request)
	}{
		{"Serve", func(fn StreamFunc, opts ...Option) (error, *http.Request) {
			r := httptest.NewRequest(http.MethodGet, "/events", nil)
			return Serve(flushRecorder{httptest.NewRecorder()}, r, fn, opts...), r
		}},
		{"Handler", func(fn StreamFunc, opts ...Option) (error, *http.Request) {
			var got error
			r := httptest.NewRequest(http.MethodGet, "/events", nil)
			Handler(func(s *Stream) error {
				got = fn(s)
				return got
			}, opts...).ServeHTTP(flushRecorder{httptest.NewRecorder()}, r)
			return got, r
		}},
		{"StreamTo", func(fn StreamFunc, opts ...Option) (error, *http.Request) {
			return StreamTo(context.Background(), bufio.NewWriter(io.Discard), fn, opts...), nil
		}},
	}
	results := []struct {
		name string
		err  error
		log  string // what the default logs, "" for nothing
	}{
		{"nil", nil, ""},
		{"error", boom, "level=ERROR msg=\"sse: stream failed\" err=boom"},
		{"client gone", gone, ""},
	}
	for _, run := range runs {
		for _, res := range results {
			fn := func(s *Stream) error {
				if err := s.Send(Event{Data: "x"}); err != nil {
					return err
				}
				return res.err
			}
			t.Run(run.name+"/"+res.name+"/handler", func(t *testing.T) {
				var rp reported
				err, r := run.run(fn, WithErrorHandler(rp.handle), WithHeartbeat(0))
				if err != res.err {
					t.Errorf("returned %v, want %v", err, res.err)
				}
				reqs, errs := rp.all()
				if res.err == nil {
					if len(errs) != 0 {
						t.Errorf("handler got %v, want no call", errs)
					}
					return
				}
				if len(errs) != 1 || errs[0] != res.err || reqs[0] != r {
					t.Errorf("handler got %v for %p, want [%v] for %p", errs, reqs, res.err, r)
				}
			})
			t.Run(run.name+"/"+res.name+"/default", func(t *testing.T) {
				log := logToBuffer(t)
				if err, _ := run.run(fn, WithHeartbeat(0)); err != res.err {
					t.Errorf("returned %v, want %v", err, res.err)
				}
				got := log.String()
				if res.log == "" && got != "" || !strings.Contains(got, res.log) {
					t.Errorf("logged %q, want %q", got, res.log)
				}
				if want := "method=GET path=/events"; res.log != "" && run.name != "StreamTo" && !strings.Contains(got, want) {
					t.Errorf("logged %q, want it to contain %q", got, want)
				}
			})
		}
	}
	t.Run("default logger read when it logs", func(t *testing.T) {
		h := Handler(func(*Stream) error { return boom }, WithHeartbeat(0))
		log := logToBuffer(t) // after the handler was built
		h.ServeHTTP(flushRecorder{httptest.NewRecorder()}, httptest.NewRequest(http.MethodGet, "/events", nil))
		if got := log.String(); !strings.Contains(got, "err=boom") {
			t.Errorf("logged %q, want boom", got)
		}
	})
	t.Run("nil handler restores the default", func(t *testing.T) {
		log := logToBuffer(t)
		var rp reported
		StreamTo(context.Background(), bufio.NewWriter(io.Discard), func(*Stream) error { return boom },
			WithErrorHandler(rp.handle), WithErrorHandler(nil))
		if _, errs := rp.all(); len(errs) != 0 || !strings.Contains(log.String(), "err=boom") {
			t.Errorf("handler got %v, logged %q; want the default to log boom", errs, log)
		}
	})
	t.Run("not started", func(t *testing.T) {
		var rp reported
		err := Serve(&plainResponseWriter{rw: httptest.NewRecorder()}, httptest.NewRequest(http.MethodGet, "/", nil),
			func(*Stream) error { return boom }, WithErrorHandler(rp.handle))
		if _, errs := rp.all(); !errors.Is(err, ErrNotFlushable) || len(errs) != 0 {
			t.Errorf("Serve = %v, handler got %v; want ErrNotFlushable and no call", err, errs)
		}
	})
}

// noUnwrapWriter is a middleware wrapper that flushes but hides the
// connection: it has no Unwrap method.
type noUnwrapWriter struct{ http.ResponseWriter }

func (w noUnwrapWriter) Flush() { http.NewResponseController(w.ResponseWriter).Flush() }

func TestNoWriteDeadline(t *testing.T) {
	send := func(s *Stream) error { return s.Send(Event{Data: "x"}) }
	get := func(t *testing.T, ls *liveServer) {
		t.Helper()
		resp, _ := doStream(t, ls, "/", nil)
		body, err := io.ReadAll(resp.Body)
		if err != nil || string(body) != "data: x\n\n" {
			t.Errorf("stream %q, %v; want %q", body, err, "data: x\n\n")
		}
	}
	const streams = 3
	tests := []struct {
		name    string
		handler func(opts ...Option) http.Handler
		wrap    func(http.ResponseWriter) http.ResponseWriter
		reports int // of streams streams, by default
	}{
		{"Handler/no Unwrap", func(opts ...Option) http.Handler { return Handler(send, opts...) }, wrapNoUnwrap, 1},
		{"Serve/no Unwrap", func(opts ...Option) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Serve(w, r, send, opts...) })
		}, wrapNoUnwrap, streams},
		{"Handler/Unwrap", func(opts ...Option) http.Handler { return Handler(send, opts...) }, func(w http.ResponseWriter) http.ResponseWriter {
			return unwrappingResponseWriter{w}
		}, 0},
	}
	for _, p := range liveProtocols {
		for _, tt := range tests {
			for _, custom := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/custom=%v", p.name, tt.name, custom), func(t *testing.T) {
					log := logToBuffer(t)
					var rp reported
					opts := []Option{WithHeartbeat(0)}
					if custom {
						opts = append(opts, WithErrorHandler(rp.handle))
					}
					h := tt.handler(opts...)
					ls := startLiveServer(t, p.http2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						h.ServeHTTP(tt.wrap(w), r)
					}), nil)
					for range streams {
						get(t, ls)
					}
					var errs []error
					if custom {
						_, errs = rp.all()
					} else {
						for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
							if line != "" {
								errs = append(errs, errors.New(line))
							}
						}
					}
					want := tt.reports
					if custom {
						// All streams got the same WithErrorHandler value.
						want = min(want, 1)
					}
					if len(errs) != want {
						t.Fatalf("%d reports %q, want %d", len(errs), errs, want)
					}
					for _, err := range errs {
						if custom && !errors.Is(err, ErrNoWriteDeadline) {
							t.Errorf("reported %v, want ErrNoWriteDeadline", err)
						}
						if msg := err.Error(); !strings.Contains(msg, ErrNoWriteDeadline.Error()) || !strings.Contains(msg, "noUnwrapWriter") {
							t.Errorf("reported %q, want it to say %q and name the writer", msg, ErrNoWriteDeadline)
						}
						if !custom && !strings.Contains(err.Error(), "level=WARN") {
							t.Errorf("logged %q, want a warning", err)
						}
					}
				})
			}
		}
	}
	t.Run("Run", func(t *testing.T) {
		var rp reported
		if err := StreamTo(context.Background(), bufio.NewWriter(io.Discard), send, WithErrorHandler(rp.handle)); err != nil {
			t.Fatal(err)
		}
		if _, errs := rp.all(); len(errs) != 0 {
			t.Errorf("reported %v for a plain writer, want nothing", errs)
		}
	})
}

func wrapNoUnwrap(w http.ResponseWriter) http.ResponseWriter { return noUnwrapWriter{w} }
