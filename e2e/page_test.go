package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/eventwire/sse/e2e/internal/cases"
)

// pollEvery is how often a wait looks at the page.
const pollEvery = 50 * time.Millisecond

// page is a page in a browser whose EventSource records what it receives.
// Reading it fetches only the events recorded since the last read.
type page struct {
	b      browser
	report func(from int) string // the expression that reads the page from event index from

	events []cases.Received // every event recorded so far, in order
	state  pageState        // as of the last read
}

// pageState is what a page says of its connection.
type pageState struct {
	Events []cases.Received `json:"events"` // the events from the index asked for
	Total  int              `json:"total"`  // events recorded in all
	State  string           `json:"state"`  // connecting, open or closed; "reconnecting" on the demo page
	Opens  int              `json:"opens"`  // open events (recording page only)
	Errors int              `json:"errors"` // error events (recording page only)
	Last   string           `json:"last"`   // the last event ID shown (demo page only)
}

// openRecorder loads the test server's recording page at base (a URL
// without path) with its EventSource on stream.
func openRecorder(t *testing.T, b browser, base, stream string) *page {
	t.Helper()
	p := &page{b: b, report: func(from int) string { return fmt.Sprintf("window.report(%d)", from) }}
	p.open(t, base+"/page?stream="+url.QueryEscape(stream))
	return p
}

// openDemo loads the page of an example server, which records each
// message in window.received and shows the state and last ID in the page.
func openDemo(t *testing.T, b browser, pageURL string) *page {
	t.Helper()
	p := &page{b: b, report: func(from int) string {
		return fmt.Sprintf(`JSON.stringify({
			events: (window.received || []).slice(%d),
			total: (window.received || []).length,
			state: document.getElementById("state").textContent,
			last: document.getElementById("last").textContent,
		})`, from)
	}}
	p.open(t, pageURL)
	return p
}

func (p *page) open(t *testing.T, u string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	if err := p.b.navigate(ctx, u); err != nil {
		t.Fatalf("opening %s: %v", u, err)
	}
	// Leave the page when the test ends, so that its EventSource does not
	// outlive the check and reconnect to the next one's server.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		if err := p.b.navigate(ctx, "about:blank"); err != nil {
			t.Errorf("leaving %s: %v", u, err)
		}
	})
}

// read fetches the page's state and the events it recorded since the last
// read.
func (p *page) read(t *testing.T) pageState {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), actionTimeout)
	defer cancel()
	js, err := p.b.eval(ctx, p.report(len(p.events)))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	var s pageState
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		t.Fatalf("reading the page: %v in %.200q", err, js)
	}
	p.events = append(p.events, s.Events...)
	if len(p.events) != s.Total {
		t.Fatalf("page reports %d events in all, but %d were read", s.Total, len(p.events))
	}
	p.state = s
	return s
}

// waitFor reads the page until cond holds, and fails the test after
// timeout.
func (p *page) waitFor(t *testing.T, what string, timeout time.Duration, cond func(p *page) bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		p.read(t)
		if cond(p) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; the page's connection is %s (%d opens, %d errors) with %d events, the last ones %v",
				timeout, what, p.state.State, p.state.Opens, p.state.Errors, len(p.events), tail(p.events, 3))
		}
		time.Sleep(pollEvery)
	}
}

// waitEvents waits until the page has recorded at least n events.
func (p *page) waitEvents(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	p.waitFor(t, fmt.Sprintf("%d events", n), timeout, func(p *page) bool { return len(p.events) >= n })
}

// tail returns the last n events of evs.
func tail(evs []cases.Received, n int) []cases.Received {
	if len(evs) > n {
		return evs[len(evs)-n:]
	}
	return evs
}
