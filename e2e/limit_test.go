package e2e

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
	"github.com/eventwire/sse/e2e/internal/cases"
)

const (
	// limitRetry is how long, on average, a client refused by the test
	// server's /limited waits (its -limit-retry): give or take a half.
	limitRetry = 300 * time.Millisecond
	// limitRefusals is how many times the page must have been refused,
	// and have tried again, before the test makes room.
	limitRefusals = 3
	// browserRetry is the shortest reconnection delay a browser uses on
	// its own (Chromium's and WebKit's; Firefox's is 5 s), for a server
	// that sends none.
	browserRetry = 3 * time.Second
)

// checkLimit: an EventSource refused at a Limit's cap connects by itself
// once there is room. The test holds the one stream /limited allows with
// a Go client of its own and opens the page on /limited. While the slot
// is held, each of the browser's requests gets a busy stream: the page
// records an sse-busy event and nothing else, its EventSource goes back
// to connecting (never closed) and tries again after the delay the
// refusal set, give or take a half, not after its own default, while the
// limit still holds only the test's stream. Once the test closes its
// stream, the page, untouched, gets the counter from 1 on one connection
// that stays open; the server saw one request from the browser for each
// refusal and one more, none with a Last-Event-ID.
func checkLimit(t *testing.T, b browser, c cell) {
	st := setUp(t, c, "")
	release := holdLimited(t, st.srv)
	p := openRecorder(t, b, st.base, "/limited")
	p.waitFor(t, fmt.Sprintf("the page to be refused %d times", limitRefusals), eventTimeout, func(p *page) bool {
		checkRefusedOnly(t, p, len(p.events), "while the test holds the slot")
		return len(p.events) >= limitRefusals && p.state.Errors >= limitRefusals && p.state.State == "connecting"
	})
	var open int
	st.srv.call(t, http.MethodGet, "/limit", &open)
	if open != 1 {
		t.Fatalf("the limit holds %d streams open while the page is refused, want 1: the test's", open)
	}

	release()
	released := time.Now()
	const want = 3 // counter events once the page is in
	p.waitFor(t, "the page to connect by itself once there is room", eventTimeout, func(p *page) bool {
		if p.state.State == "closed" {
			t.Fatalf("the page's EventSource is closed after %d events: it gave up", len(p.events))
		}
		return len(p.events)-busyPrefix(p.events) >= want
	})
	refused := busyPrefix(p.events)
	checkRefusedOnly(t, p, refused, "before the page got in")
	for i, ev := range p.events[refused:] {
		w := cases.Received{Type: "message", ID: cases.CounterID(i + 1), Data: strconv.Itoa(i + 1)}
		if ev != w {
			t.Fatalf("event %d after %d refusals is %v, want %v; all: %v", i+1, refused, ev, w, p.events)
		}
	}
	if p.state.State != "open" {
		t.Errorf("the page's connection is %s once in, want open", p.state.State)
	}

	reqs := limitedRequests(t, st.srv)
	if len(reqs) == 0 || reqs[0].FetchMode != "" {
		t.Fatalf("the server saw %+v for /limited, want the test's own request first", reqs)
	}
	page := reqs[1:]
	if len(page) != refused+1 {
		t.Fatalf("the server saw %d requests for /limited from the browser, want one for each of the %d refusals the page recorded and one more", len(page), refused)
	}
	for _, r := range page {
		if r.FetchMode == "" {
			t.Errorf("a request from the browser came without Sec-Fetch-Mode: %+v", r)
		}
	}
	checkRequests(t, reqs, "/limited", st.proto, st.clientProto, nil)

	// The browser waits after each refusal before it tries again: the
	// time between two of its requests is that wait and the busy
	// stream's.
	var gaps []time.Duration
	for i := 1; i < len(page); i++ {
		gaps = append(gaps, page[i].At.Sub(page[i-1].At))
	}
	sorted := slices.Sorted(slices.Values(gaps))
	if sorted[0] < limitRetry/2 || sorted[len(sorted)/2] >= browserRetry {
		t.Errorf("the browser tried again after %v; want each at least %v, and most under the %v a browser waits on its own", gaps, limitRetry/2, browserRetry)
	}
	t.Logf("%s %s: refused %d times (%d opens, %d errors); tried again after %v; in %v after the release",
		b.engine(), c.name, refused, p.state.Opens, p.state.Errors, roundAll(gaps), page[len(page)-1].At.Sub(released).Round(time.Millisecond))
}

// holdLimited opens a stream of /limited as a plain Go client, which no
// browser's Sec-Fetch-Mode marks, and waits for its first event: it holds
// the limit's one slot until release closes it.
func holdLimited(t *testing.T, srv *tserver) (release func()) {
	t.Helper()
	client := *srv.client
	client.Timeout = 0 // the stream is held for as long as the test needs
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.base+"/limited", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	stalled := time.AfterFunc(eventTimeout, cancel)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET /limited: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	ev, err := sse.NewDecoder(resp.Body).Next()
	if !stalled.Stop() || resp.StatusCode != http.StatusOK || err != nil || ev.Data != "1" {
		t.Fatalf("GET /limited: %s, first event %+v (%v); want 200 and the counter's first event within %v", resp.Status, ev, err, eventTimeout)
	}
	return func() {
		cancel()
		resp.Body.Close()
	}
}

// busyPrefix returns how many of evs, from the first, are sse-busy events.
func busyPrefix(evs []cases.Received) int {
	for i, ev := range evs {
		if ev.Type != sse.BusyEvent {
			return i
		}
	}
	return len(evs)
}

// checkRefusedOnly fails the test unless the first n events of the page
// are refusals: sse-busy events with a reason and no ID, and its
// EventSource is not closed.
func checkRefusedOnly(t *testing.T, p *page, n int, when string) {
	t.Helper()
	for i, ev := range p.events[:n] {
		if ev.Type != sse.BusyEvent || ev.ID != "" || ev.Data == "" {
			t.Fatalf("%s the page recorded, as event %d, %v, want an %s event with a reason and no ID; all: %v", when, i+1, ev, sse.BusyEvent, p.events)
		}
	}
	if p.state.State == "closed" {
		t.Fatalf("%s the page's EventSource is closed after %d refusals: it gave up", when, n)
	}
}

// limitedRequests returns the requests for /limited the server has seen,
// in the order it got them.
func limitedRequests(t *testing.T, srv *tserver) []cases.Request {
	t.Helper()
	var reqs []cases.Request
	for _, r := range srv.requests(t) {
		if r.Path == "/limited" {
			reqs = append(reqs, r)
		}
	}
	return reqs
}

// roundAll shows ds to the millisecond.
func roundAll(ds []time.Duration) string {
	s := make([]string, len(ds))
	for i, d := range ds {
		s[i] = d.Round(time.Millisecond).String()
	}
	return "[" + strings.Join(s, " ") + "]"
}
