package ssechi_test

import (
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/eventwire/sse/adapters/chi"
	"github.com/eventwire/sse/adapters/internal/adaptertest"
	sse "github.com/eventwire/sse/core"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/eventwire/sse/internal/syncbuf"
	"github.com/eventwire/sse/ssetest"
)

func TestMain(m *testing.M) {
	// middleware.Logger logs through DefaultLogger; keep the test output clean.
	middleware.DefaultLogger = middleware.RequestLogger(&middleware.DefaultLogFormatter{
		Logger: log.New(io.Discard, "", 0), NoColor: true,
	})
	code := m.Run()
	if code == 0 {
		if err := adaptertest.CheckNoLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func ok(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok"))
}

// withMiddleware builds routers that stack mw in front of the
// middleware form on one path that answers "ok" to everything else.
func withMiddleware(mw ...func(http.Handler) http.Handler) adaptertest.Router {
	return func(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
		r := chi.NewRouter()
		r.Use(mw...)
		r.With(ssechi.Middleware(fn, opts...)).HandleFunc(adaptertest.Path, ok)
		return r
	}
}

func handlerForm(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
	r := chi.NewRouter()
	r.Handle(adaptertest.Path, ssechi.Handler(fn, opts...))
	return r
}

func TestForms(t *testing.T) {
	adaptertest.TestForms(t, withMiddleware(), handlerForm)
}

func TestMiddlewareStacks(t *testing.T) {
	compressors := []struct {
		name          string
		mw            func(http.Handler) http.Handler
		stream, plain string // Content-Encoding of the stream and of "ok"
	}{
		{"", nil, "", ""},
		{"Compress", middleware.Compress(5), "", "gzip"},
		{"CompressEventStream", middleware.Compress(5, "text/plain", "text/event-stream"), "gzip", "gzip"},
	}
	var stacks []adaptertest.Stack
	for _, logger := range []bool{false, true} {
		for _, recoverer := range []bool{false, true} {
			for _, c := range compressors {
				var names []string
				var mw []func(http.Handler) http.Handler
				if logger {
					names, mw = append(names, "Logger"), append(mw, middleware.Logger)
				}
				if recoverer {
					names, mw = append(names, "Recoverer"), append(mw, middleware.Recoverer)
				}
				if c.mw != nil {
					names, mw = append(names, c.name), append(mw, c.mw)
				}
				if len(names) == 0 {
					names = []string{"None"}
				}
				stacks = append(stacks, adaptertest.Stack{
					Name:       strings.Join(names, "+"),
					Router:     withMiddleware(mw...),
					Encoding:   c.stream,
					OKEncoding: c.plain,
				})
			}
		}
	}
	adaptertest.TestStacks(t, stacks)
}

func TestURLParam(t *testing.T) {
	r := chi.NewRouter()
	r.With(ssechi.Middleware(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "room " + chi.URLParam(s.Request(), "room")})
	})).Get("/rooms/{room}/events", ok)
	c := ssetest.Open(t, r, httptest.NewRequest(http.MethodGet, "/rooms/lobby/events", nil))
	if ev := c.Next(); ev.Data != "room lobby" {
		t.Errorf("event %q, want %q", ev.Data, "room lobby")
	}
}

// TestErrors checks that an error after the stream started is logged
// through slog's default logger by both forms, unless the client left.
func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, form := range []struct {
		name   string
		router adaptertest.Router
	}{{"Middleware", withMiddleware()}, {"Handler", handlerForm}} {
		for _, tt := range []struct {
			name string
			err  error
			log  string
		}{
			{"error", boom, "level=ERROR msg=\"sse: stream failed\" err=boom method=GET path=/events"},
			{"client gone", fmt.Errorf("send: %w", sse.ErrClosed), ""},
		} {
			t.Run(form.name+"/"+tt.name, func(t *testing.T) {
				var log syncbuf.Buffer
				old := slog.Default()
				slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
				defer slog.SetDefault(old)
				s := adaptertest.NewServer(t, form.router(func(s *sse.Stream) error {
					if err := s.Send(sse.Event{Data: "x"}); err != nil {
						return err
					}
					return tt.err
				}), false)
				resp := adaptertest.Get(t, t.Context(), s, adaptertest.Path, true)
				if body, err := io.ReadAll(resp.Body); err != nil || string(body) != "data: x\n\n" {
					t.Errorf("stream %q, %v; want %q", body, err, "data: x\n\n")
				}
				s.Close()
				if got := log.String(); !strings.Contains(got, tt.log) || (tt.log == "") != (got == "") {
					t.Errorf("logged %q, want %q", got, tt.log)
				}
			})
		}
	}
}

// TestTimeout shows why the package doc warns against middleware.Timeout:
// it ends a healthy stream at its deadline.
func TestTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := withMiddleware(middleware.Timeout(timeout))(func(s *sse.Stream) error {
		return s.Every(20*time.Millisecond, func() error { return s.Send(sse.Event{Data: "tick"}) })
	})
	start := time.Now()
	c := ssetest.Open(t, h, httptest.NewRequest(http.MethodGet, adaptertest.Path, nil), ssetest.WithTimeout(5*timeout))
	if n, took := len(c.Rest()), time.Since(start); n == 0 || took < timeout {
		t.Errorf("stream ended after %d events and %v, want it cut at the %v deadline", n, took, timeout)
	}
}

// TestTimeoutHandler checks that a writer that cannot flush gets an
// error response instead of a stream held in a buffer.
func TestTimeoutHandler(t *testing.T) {
	h := withMiddleware(func(next http.Handler) http.Handler {
		return http.TimeoutHandler(next, time.Minute, "timeout")
	})(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "never"})
	})
	resp := ssetest.Open(t, h, httptest.NewRequest(http.MethodGet, adaptertest.Path, nil)).Response()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInternalServerError || !strings.Contains(string(body), "cannot flush") {
		t.Errorf("%s %q, want 500 and an error that the writer cannot flush", resp.Status, body)
	}
}
