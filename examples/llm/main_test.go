package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/internal/leaktest"
)

// startApp serves the program's routes, the fake model among them, as
// main does, with a model that sends a token every millisecond, and the
// app's client to the model on transport. It returns the server's URL.
func startApp(t *testing.T, transport http.RoundTripper) string {
	t.Helper()
	// The app's model URL is this same server's, so listen first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	m := &model{interval: time.Millisecond}
	c := &chat{model: base + "/v1/chat", client: &http.Client{Transport: transport}}
	srv := httptest.NewUnstartedServer(routes(m, c))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return base
}

// cutter carries the app's requests to the model, records their
// Last-Event-ID headers, and cuts the first response after cutAt bytes
// of its body, mid-event, as a dropped connection would.
type cutter struct {
	base  *http.Transport
	cutAt int

	mu      sync.Mutex
	lastIDs []string // of each request, in order
}

func (c *cutter) RoundTrip(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.lastIDs = append(c.lastIDs, req.Header.Get("Last-Event-ID"))
	first := len(c.lastIDs) == 1
	c.mu.Unlock()
	resp, err := c.base.RoundTrip(req)
	if err == nil && first && c.cutAt > 0 {
		resp.Body = &cutBody{ReadCloser: resp.Body, left: c.cutAt}
	}
	return resp, err
}

func (c *cutter) requests() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.lastIDs...)
}

// cutBody reads left bytes of a body, then closes it and fails.
type cutBody struct {
	io.ReadCloser
	left int
}

func (b *cutBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		b.ReadCloser.Close()
		return 0, io.ErrUnexpectedEOF
	}
	n, err := b.ReadCloser.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}

// generations reads GET /stats.
func generations(t *testing.T, base string) int {
	t.Helper()
	resp, err := http.Get(base + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var stats struct{ Generations int }
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatalf("GET /stats = %q: %v", b, err)
	}
	return stats.Generations
}

// The Go client (-ask) gets the whole answer, each token once, and the
// model generates it once: also when the app's connection to the model
// is cut mid-answer and the app resumes it with Last-Event-ID.
func TestAsk(t *testing.T) {
	const question = "why is the sky blue?"
	want := strings.Join(answer(question), "") + "\n"
	for _, tc := range []struct {
		name  string
		cutAt int // bytes of the model's first response the app gets; 0: all
	}{
		{"whole", 0},
		{"cut mid-answer", 150},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			transport := &http.Transport{}
			t.Cleanup(transport.CloseIdleConnections)
			cut := &cutter{base: transport, cutAt: tc.cutAt}
			base := startApp(t, cut)

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var out strings.Builder
			if err := ask(ctx, http.DefaultClient, base+"/chat", question, &out); err != nil {
				t.Fatal(err)
			}
			if out.String() != want {
				t.Errorf("answer:\n%q\nwant:\n%q", out.String(), want)
			}
			if n := generations(t, base); n != 1 {
				t.Errorf("the model generated %d answers, want 1", n)
			}
			reqs := cut.requests()
			if tc.cutAt == 0 {
				if len(reqs) != 1 {
					t.Errorf("the app sent the model %d requests (Last-Event-IDs %q), want 1", len(reqs), reqs)
				}
				return
			}
			if len(reqs) != 2 || reqs[0] != "" || reqs[1] == "" {
				t.Errorf("the app sent the model requests with Last-Event-IDs %q, want none and then the ID of the last token it got", reqs)
			}
		})
	}
}

// POST /chat copies the model's events as they are, IDs included, ending
// with [DONE]; a client that asks again with Last-Event-ID gets the rest
// of the same answer, and the model starts no new one.
func TestChatEvents(t *testing.T) {
	const question = "and the sunset?"
	tokens := answer(question)
	for _, tc := range []struct {
		name    string
		lastID  int
		wantGen int
	}{
		{"from the start", 0, 1},
		{"resumed", 5, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			leaktest.Check(t)
			transport := &http.Transport{}
			t.Cleanup(transport.CloseIdleConnections)
			base := startApp(t, transport)

			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat", strings.NewReader(`{"prompt": "`+question+`"}`))
			if err != nil {
				t.Fatal(err)
			}
			if tc.lastID > 0 {
				req.Header.Set("Last-Event-ID", strconv.Itoa(tc.lastID))
			}
			var got []sse.Event
			for ev, err := range sse.Events(nil, req, sse.WithEndOnEOF()) {
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, ev)
			}
			var want []sse.Event
			for i := tc.lastID; i < len(tokens); i++ {
				want = append(want, sse.Event{ID: strconv.Itoa(i + 1), Type: "message", Data: `{"token":` + strconv.Quote(tokens[i]) + `}`})
			}
			want = append(want, sse.Event{ID: strconv.Itoa(len(tokens) + 1), Type: "message", Data: "[DONE]"})
			if len(got) != len(want) {
				t.Fatalf("got %d events, want %d:\n%v", len(got), len(want), got)
			}
			for i := range want {
				if g := got[i]; g.ID != want[i].ID || g.Type != want[i].Type || g.Data != want[i].Data {
					t.Errorf("event %d = %+v, want %+v", i+1, got[i], want[i])
				}
			}
			if n := generations(t, base); n != tc.wantGen {
				t.Errorf("the model generated %d answers, want %d", n, tc.wantGen)
			}
		})
	}
}

// A body that is not a JSON prompt gets an error event, which the Go
// client returns, and the model is not asked.
func TestChatBadBody(t *testing.T) {
	leaktest.Check(t)
	transport := &http.Transport{}
	t.Cleanup(transport.CloseIdleConnections)
	base := startApp(t, transport)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/chat", strings.NewReader(`why?`))
	if err != nil {
		t.Fatal(err)
	}
	var got []sse.Event
	for ev, err := range sse.Events(nil, req, sse.WithEndOnEOF()) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	if len(got) != 1 || got[0].Type != "error" {
		t.Errorf("got %+v, want one error event", got)
	}
	if n := generations(t, base); n != 0 {
		t.Errorf("the model generated %d answers, want 0", n)
	}
}
