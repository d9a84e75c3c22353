package sseecho_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventwire/sse/adapters/echo/v5"
	"github.com/eventwire/sse/adapters/internal/adaptertest"
	sse "github.com/eventwire/sse/core"
	"github.com/labstack/echo/v5"
	"github.com/labstack/echo/v5/middleware"

	"github.com/eventwire/sse/internal/syncbuf"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	code := m.Run()
	if code == 0 {
		if err := adaptertest.CheckNoLeaks(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

func ok(c *echo.Context) error { return c.String(http.StatusOK, "ok") }

// newEcho returns an echo server whose logger (middleware.RequestLogger
// logs through it) writes into log, if not nil.
func newEcho(log io.Writer) *echo.Echo {
	e := echo.New()
	if log == nil {
		log = io.Discard
	}
	e.Logger = slog.New(slog.NewTextHandler(log, nil))
	return e
}

// withMiddleware builds routers that stack mw in front of the middleware
// form on one path that answers "ok" to everything else.
func withMiddleware(mw ...echo.MiddlewareFunc) adaptertest.Router {
	return func(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
		e := newEcho(nil)
		e.Use(mw...)
		e.Any(adaptertest.Path, ok, sseecho.Middleware(fn, opts...))
		return e
	}
}

func handlerForm(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
	e := newEcho(nil)
	e.Any(adaptertest.Path, sseecho.Handler(fn, opts...))
	return e
}

func TestForms(t *testing.T) {
	adaptertest.TestForms(t, withMiddleware(), handlerForm)
}

func TestMiddlewareStacks(t *testing.T) {
	var stacks []adaptertest.Stack
	for _, logger := range []bool{false, true} {
		for _, recover := range []bool{false, true} {
			for _, gz := range []bool{false, true} {
				for _, requestID := range []bool{false, true} {
					var names []string
					var mw []echo.MiddlewareFunc
					encoding := ""
					if logger {
						names, mw = append(names, "RequestLogger"), append(mw, middleware.RequestLogger())
					}
					if recover {
						names, mw = append(names, "Recover"), append(mw, middleware.Recover())
					}
					if gz {
						names, mw = append(names, "Gzip"), append(mw, middleware.Gzip())
						encoding = "gzip"
					}
					if requestID {
						names, mw = append(names, "RequestID"), append(mw, middleware.RequestID())
					}
					if len(names) == 0 {
						names = []string{"None"}
					}
					stacks = append(stacks, adaptertest.Stack{
						Name:       strings.Join(names, "+"),
						Router:     withMiddleware(mw...),
						Encoding:   encoding,
						OKEncoding: encoding,
					})
				}
			}
		}
	}
	adaptertest.TestStacks(t, stacks)
}

// TestGzipDeadline checks that echo's gzip writer leaves the write
// deadline reachable: a stream behind it reports no
// sse.ErrNoWriteDeadline.
func TestGzipDeadline(t *testing.T) {
	reported := make(chan error, 1)
	r := withMiddleware(middleware.Gzip())(func(s *sse.Stream) error {
		return s.Send(sse.Event{Data: "x"})
	}, sse.WithErrorHandler(func(_ *http.Request, err error) { reported <- err }))
	s := adaptertest.NewServer(t, r, false)
	resp := adaptertest.Get(t, t.Context(), s, adaptertest.Path, true)
	adaptertest.CheckStream(t, resp)
	if got := resp.Header.Get("Content-Encoding"); got != "gzip" {
		t.Errorf("Content-Encoding %q, want gzip", got)
	}
	if _, err := io.ReadAll(adaptertest.Body(t, resp)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	select {
	case err := <-reported:
		t.Errorf("reported %v, want nothing", err)
	default:
	}
}

// TestContext checks that the callback sees the route parameters and the
// values earlier middleware set, and that the next handler does not run
// when the middleware form streams.
func TestContext(t *testing.T) {
	var next atomic.Int32
	e := newEcho(nil)
	e.Use(func(h echo.HandlerFunc) echo.HandlerFunc {
		return func(c *echo.Context) error {
			c.Set("user", "ada")
			return h(c)
		}
	})
	e.GET("/rooms/:room/events", func(c *echo.Context) error {
		next.Add(1)
		return ok(c)
	}, sseecho.Middleware(func(s *sse.Stream) error {
		c := sseecho.Context(s)
		return s.Send(sse.Event{Data: c.Param("room") + " " + c.Get("user").(string)})
	}))
	s := adaptertest.NewServer(t, e, false)
	resp := adaptertest.Get(t, t.Context(), s, "/rooms/lobby/events", true)
	adaptertest.CheckStream(t, resp)
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if want := "data: lobby ada\n\n"; string(body) != want {
		t.Errorf("stream %q, want %q", body, want)
	}
	if n := next.Load(); n != 0 {
		t.Errorf("the next handler ran %d times, want 0", n)
	}
}

// TestContextElsewhere checks that Context finds no echo context for a
// stream that echo did not serve.
func TestContextElsewhere(t *testing.T) {
	if c := sseecho.Context(nil); c != nil {
		t.Errorf("Context(nil) = %v, want nil", c)
	}
	err := sse.StreamTo(t.Context(), bufio.NewWriter(io.Discard), func(s *sse.Stream) error {
		if c := sseecho.Context(s); c != nil {
			t.Errorf("Context of a stream run by sse.StreamTo = %v, want nil", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestErrors checks where errors go: before the stream starts, to echo's
// error handler; after, to the core reporting alone, and never to a
// second response or to echo's logger.
func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	gone := fmt.Errorf("send: %w", sse.ErrClosed)
	sendThen := func(err error) sse.StreamFunc {
		return func(s *sse.Stream) error {
			if err := s.Send(sse.Event{Data: "x"}); err != nil {
				return err
			}
			return err
		}
	}
	// buffered puts echo behind http.TimeoutHandler, whose writer cannot
	// flush: echo's Response would panic in Flush.
	buffered := func(h http.Handler) http.Handler { return http.TimeoutHandler(h, time.Minute, "timeout") }
	tests := []struct {
		name     string
		around   func(http.Handler) http.Handler
		fn       sse.StreamFunc
		status   int
		body     string
		handled  error  // the error echo's error handler gets, if any
		reported error  // the error WithErrorHandler gets, if any
		logged   string // what the default reporting logs, if anything
	}{
		{
			name:    "not flushable",
			around:  buffered,
			fn:      sendThen(nil),
			status:  http.StatusInternalServerError,
			body:    `{"message":"Internal Server Error"}` + "\n",
			handled: sse.ErrNotFlushable,
		},
		{name: "nil StreamFunc", status: http.StatusInternalServerError, body: `{"message":"Internal Server Error"}` + "\n", handled: errors.New("any")},
		{name: "after the stream started", fn: sendThen(boom), status: http.StatusOK, body: "data: x\n\n", reported: boom, logged: "err=boom"},
		{name: "client gone", fn: sendThen(gone), status: http.StatusOK, body: "data: x\n\n", reported: gone},
	}
	for _, tt := range tests {
		for _, custom := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/custom=%v", tt.name, custom), func(t *testing.T) {
				var echoLog, slogLog syncbuf.Buffer
				reported := make(chan error, 1)
				var opts []sse.Option
				if custom {
					opts = append(opts, sse.WithErrorHandler(func(_ *http.Request, err error) { reported <- err }))
				} else {
					old := slog.Default()
					slog.SetDefault(slog.New(slog.NewTextHandler(&slogLog, nil)))
					defer slog.SetDefault(old)
				}
				handled := make(chan error, 1)
				e := newEcho(&echoLog)
				e.HTTPErrorHandler = func(c *echo.Context, err error) {
					handled <- err
					echo.DefaultHTTPErrorHandler(false)(c, err)
				}
				e.GET(adaptertest.Path, sseecho.Handler(tt.fn, opts...))
				var h http.Handler = e
				if tt.around != nil {
					h = tt.around(h)
				}
				s := adaptertest.NewServer(t, h, false)
				resp := adaptertest.Get(t, t.Context(), s, adaptertest.Path, true)
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != tt.status || string(body) != tt.body {
					t.Errorf("%s %q, want %d %q", resp.Status, body, tt.status, tt.body)
				}
				s.Close()
				select {
				case err := <-handled:
					if tt.handled == nil || errors.Is(tt.handled, sse.ErrNotFlushable) && !errors.Is(err, tt.handled) {
						t.Errorf("error handler got %v, want %v", err, tt.handled)
					}
				default:
					if tt.handled != nil {
						t.Errorf("error handler not called, want %v", tt.handled)
					}
				}
				if custom {
					select {
					case err := <-reported:
						if err != tt.reported {
							t.Errorf("reported %v, want %v", err, tt.reported)
						}
					default:
						if tt.reported != nil {
							t.Errorf("nothing reported, want %v", tt.reported)
						}
					}
				} else if got := slogLog.String(); !strings.Contains(got, tt.logged) || (tt.logged == "") != (got == "") {
					t.Errorf("slog logged %q, want %q", got, tt.logged)
				}
				if got := echoLog.String(); got != "" {
					t.Errorf("echo's logger logged %q, want nothing", got)
				}
				if log := s.Log(); log != "" {
					t.Errorf("server logged:\n%s", log)
				}
			})
		}
	}
}

// TestContextTimeout shows why the package doc warns against
// middleware.ContextTimeout: it ends a healthy stream at its deadline.
func TestContextTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	h := withMiddleware(middleware.ContextTimeout(timeout))(func(s *sse.Stream) error {
		return s.Every(20*time.Millisecond, func() error { return s.Send(sse.Event{Data: "tick"}) })
	})
	s := adaptertest.NewServer(t, h, false)
	start := time.Now()
	resp := adaptertest.Get(t, t.Context(), s, adaptertest.Path, true)
	adaptertest.CheckStream(t, resp)
	d := sse.NewDecoder(resp.Body)
	n := 0
	for ; ; n++ {
		if _, err := d.Next(); err != nil {
			break
		}
	}
	if took := time.Since(start); n == 0 || took < timeout || took > 5*timeout {
		t.Errorf("stream ended after %d events and %v, want it cut at the %v deadline", n, took, timeout)
	}
}
