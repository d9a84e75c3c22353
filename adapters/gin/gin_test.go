package ssegin_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventwire/sse/adapters/gin"
	"github.com/eventwire/sse/adapters/internal/adaptertest"
	sse "github.com/eventwire/sse/core"
	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"

	"github.com/eventwire/sse/internal/syncbuf"
	"github.com/eventwire/sse/ssetest"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter = io.Discard // gin.Logger writes here
	// Streams behind gzip report that they have no write deadline.
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

func ok(c *gin.Context) { c.String(http.StatusOK, "ok") }

// withMiddleware builds routers that stack mw in front of the middleware
// form on one path that answers "ok" to everything else.
func withMiddleware(mw ...gin.HandlerFunc) adaptertest.Router {
	return func(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
		r := gin.New()
		r.Use(mw...)
		r.Any(adaptertest.Path, ssegin.Middleware(fn, opts...), ok)
		return r
	}
}

func handlerForm(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
	r := gin.New()
	r.Any(adaptertest.Path, ssegin.Handler(fn, opts...))
	return r
}

func TestForms(t *testing.T) {
	adaptertest.TestForms(t, withMiddleware(), handlerForm)
}

func TestMiddlewareStacks(t *testing.T) {
	var stacks []adaptertest.Stack
	for _, logger := range []bool{false, true} {
		for _, recovery := range []bool{false, true} {
			for _, gz := range []bool{false, true} {
				var names []string
				var mw []gin.HandlerFunc
				encoding := ""
				if logger {
					names, mw = append(names, "Logger"), append(mw, gin.Logger())
				}
				if recovery {
					names, mw = append(names, "Recovery"), append(mw, gin.Recovery())
				}
				if gz {
					names, mw = append(names, "Gzip"), append(mw, gzip.Gzip(gzip.DefaultCompression))
					encoding = "gzip"
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
	adaptertest.TestStacks(t, stacks)
}

// TestContext checks that the callback sees the route parameters and the
// values earlier middleware set, and that the middleware form aborts the
// chain when it streams.
func TestContext(t *testing.T) {
	var next atomic.Int32
	r := gin.New()
	r.Use(func(c *gin.Context) { c.Set("user", "ada") })
	r.GET("/rooms/:room/events", ssegin.Middleware(func(s *sse.Stream) error {
		c := ssegin.Context(s)
		return s.Send(sse.Event{Data: c.Param("room") + " " + c.GetString("user")})
	}), func(c *gin.Context) {
		next.Add(1)
		c.String(http.StatusOK, "ok")
	})
	c := ssetest.Open(t, r, httptest.NewRequest(http.MethodGet, "/rooms/lobby/events", nil))
	if evs := c.Rest(); len(evs) != 1 || evs[0].Data != "lobby ada" {
		t.Errorf("events %+v, want one with data %q", evs, "lobby ada")
	}
	if n := next.Load(); n != 0 {
		t.Errorf("the next handler ran %d times after the stream, want 0", n)
	}
}

// TestContextElsewhere checks that Context finds no gin context for a
// stream that gin did not serve.
func TestContextElsewhere(t *testing.T) {
	if c := ssegin.Context(nil); c != nil {
		t.Errorf("Context(nil) = %v, want nil", c)
	}
	err := sse.StreamTo(t.Context(), bufio.NewWriter(io.Discard), func(s *sse.Stream) error {
		if c := ssegin.Context(s); c != nil {
			t.Errorf("Context of a stream run by sse.StreamTo = %v, want nil", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestErrors checks where errors go: before the stream starts, to a 500
// response and c.Errors; after, to the core reporting and to c.Errors,
// unless the client went away.
func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	gone := fmt.Errorf("send: %w", sse.ErrClosed)
	tests := []struct {
		name       string
		fn         sse.StreamFunc
		status     int
		body       string
		wantErrors string
		reported   error
	}{
		{"before the stream", nil, http.StatusInternalServerError, "", "sse: ", nil},
		{"after the stream started", func(s *sse.Stream) error {
			if err := s.Send(sse.Event{Data: "x"}); err != nil {
				return err
			}
			return boom
		}, http.StatusOK, "data: x\n\n", "boom", boom},
		{"client gone", func(*sse.Stream) error { return gone }, http.StatusOK, "", "", gone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logged := make(chan string, 1)
			reported := make(chan error, 1)
			r := gin.New()
			r.Use(func(c *gin.Context) {
				c.Next()
				logged <- c.Errors.String()
			})
			r.GET(adaptertest.Path, ssegin.Handler(tt.fn, sse.WithErrorHandler(func(req *http.Request, err error) {
				if req.URL.Path != adaptertest.Path {
					t.Errorf("reported for %v", req.URL)
				}
				reported <- err
			})))
			s := adaptertest.NewServer(t, r, false)
			resp := adaptertest.Get(t, t.Context(), s, adaptertest.Path, true)
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || string(body) != tt.body {
				t.Errorf("%s %q, want %d %q", resp.Status, body, tt.status, tt.body)
			}
			if got := <-logged; !strings.Contains(got, tt.wantErrors) || (tt.wantErrors == "") != (got == "") {
				t.Errorf("c.Errors = %q, want %q", got, tt.wantErrors)
			}
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
			s.Close()
			if log := s.Log(); log != "" {
				t.Errorf("server logged:\n%s", log)
			}
		})
	}
}

// TestGzipNoDeadline checks that behind gin-contrib/gzip, whose writer
// hides the connection, the missing write deadline is reported once for
// all the streams of a handler, with the gzip writer named, through the
// option and by default through slog.
func TestGzipNoDeadline(t *testing.T) {
	send := func(s *sse.Stream) error { return s.Send(sse.Event{Data: "x"}) }
	for _, custom := range []bool{false, true} {
		t.Run(map[bool]string{false: "default", true: "WithErrorHandler"}[custom], func(t *testing.T) {
			var log syncbuf.Buffer
			var mu sync.Mutex
			var reports []string
			var opts []sse.Option
			if custom {
				opts = append(opts, sse.WithErrorHandler(func(_ *http.Request, err error) {
					mu.Lock()
					defer mu.Unlock()
					if !errors.Is(err, sse.ErrNoWriteDeadline) {
						t.Errorf("reported %v, want sse.ErrNoWriteDeadline", err)
					}
					reports = append(reports, err.Error())
				}))
			} else {
				old := slog.Default()
				slog.SetDefault(slog.New(slog.NewTextHandler(&log, nil)))
				defer slog.SetDefault(old)
			}
			s := adaptertest.NewServer(t, withMiddleware(gzip.Gzip(gzip.DefaultCompression))(send, opts...), false)
			for range 3 {
				resp := adaptertest.Get(t, t.Context(), s, adaptertest.Path, true)
				adaptertest.CheckStream(t, resp)
				ev, err := sse.NewDecoder(adaptertest.Body(t, resp)).Next()
				if err != nil || ev.Data != "x" {
					t.Fatalf("event %q, %v; want %q", ev.Data, err, "x")
				}
			}
			s.Close()
			if !custom {
				for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
					if line != "" {
						reports = append(reports, line)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if len(reports) != 1 || !strings.Contains(reports[0], sse.ErrNoWriteDeadline.Error()) || !strings.Contains(reports[0], "gzip") {
				t.Errorf("reports %q, want one that says %q and names the gzip writer", reports, sse.ErrNoWriteDeadline)
			}
		})
	}
}

// TestGzipExcludedPath checks the package doc's advice: with the stream's
// path excluded from gin-contrib/gzip, the write deadline drops a client
// that stops reading.
func TestGzipExcludedPath(t *testing.T) {
	r := withMiddleware(gzip.Gzip(gzip.DefaultCompression, gzip.WithExcludedPaths([]string{adaptertest.Path})))
	adaptertest.WriteTimeout(t, r, false)
}
