package ssegin_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eventwire/sse/adapters/gin"
	"github.com/eventwire/sse/adapters/internal/adaptertest"
	sse "github.com/eventwire/sse/core"
	"github.com/gin-contrib/gzip"
	"github.com/gin-gonic/gin"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	gin.DefaultWriter = io.Discard // gin.Logger writes here
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

// bind adapts a callback of the suite to ssegin.
func bind(fn sse.StreamFunc) ssegin.StreamFunc {
	return func(_ *gin.Context, s *sse.Stream) error { return fn(s) }
}

// withMiddleware builds routers that stack mw in front of the middleware
// form on one path that answers "ok" to everything else.
func withMiddleware(mw ...gin.HandlerFunc) adaptertest.Router {
	return func(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
		r := gin.New()
		r.Use(mw...)
		r.GET(adaptertest.Path, ssegin.Middleware(bind(fn), opts...), ok)
		return r
	}
}

func handlerForm(fn sse.StreamFunc, opts ...sse.Option) http.Handler {
	r := gin.New()
	r.GET(adaptertest.Path, ssegin.Handler(bind(fn), opts...))
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
	r.GET("/rooms/:room/events", ssegin.Middleware(func(c *gin.Context, s *sse.Stream) error {
		return s.Send(sse.Event{Data: c.Param("room") + " " + c.GetString("user")})
	}), func(c *gin.Context) {
		next.Add(1)
		c.String(http.StatusOK, "ok")
	})
	s := adaptertest.NewServer(t, r, false)
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
		t.Errorf("the next handler ran %d times after the stream, want 0", n)
	}
}

// TestErrors checks where errors go: before the stream starts, to a 500
// response and c.Errors; after, to c.Errors alone, unless the client went
// away.
func TestErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name       string
		fn         ssegin.StreamFunc
		status     int
		body       string
		wantErrors string
	}{
		{"before the stream", nil, http.StatusInternalServerError, "", "sse: "},
		{"after the stream started", func(_ *gin.Context, s *sse.Stream) error {
			if err := s.Send(sse.Event{Data: "x"}); err != nil {
				return err
			}
			return boom
		}, http.StatusOK, "data: x\n\n", "boom"},
		{"client gone", func(*gin.Context, *sse.Stream) error {
			return fmt.Errorf("send: %w", sse.ErrClosed)
		}, http.StatusOK, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logged := make(chan string, 1)
			r := gin.New()
			r.Use(func(c *gin.Context) {
				c.Next()
				logged <- c.Errors.String()
			})
			r.GET(adaptertest.Path, ssegin.Handler(tt.fn))
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
			s.Close()
			if log := s.Log(); log != "" {
				t.Errorf("server logged:\n%s", log)
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
