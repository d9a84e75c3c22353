package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

const (
	// startTimeout bounds the start of Chromium.
	startTimeout = 30 * time.Second
	// closeTimeout bounds a graceful close of Chromium.
	closeTimeout = 10 * time.Second
	// actionTimeout bounds one command to the page.
	actionTimeout = 10 * time.Second
	// pollEvery is how often a wait looks at the page.
	pollEvery = 50 * time.Millisecond
)

// chromiumPath returns the Chromium to drive: $CHROMIUM, or
// /usr/bin/chromium. Without one the test skips, or fails when CI=true, so
// that CI cannot pass without having run the browser.
func chromiumPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	found, err := exec.LookPath(path)
	if err != nil {
		msg := fmt.Sprintf("no Chromium to test with (%v); install the Debian packages chromium and chromium-driver, or set CHROMIUM", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return found
}

// event is what the demo page records of each message event.
type event struct {
	ID   string `json:"id"`
	Type string `json:"type"`
	Data string `json:"data"`
}

// snapshot is the page's state, read in one evaluation so that its parts
// agree.
type snapshot struct {
	Events []event `json:"events"` // window.received
	State  string  `json:"state"`  // the connection state shown
	Last   string  `json:"last"`   // the last event ID shown
}

const snapshotJS = `({
	events: window.received || [],
	state: document.getElementById("state").textContent,
	last: document.getElementById("last").textContent,
})`

// streamRequest is one request the page made for the stream.
type streamRequest struct {
	sent        bool   // Chromium reported the headers it sent; false if it could not connect
	accept      string // the Accept header sent
	lastEventID string // the Last-Event-ID header sent
}

// page is a headless Chromium showing one URL.
type page struct {
	ctx context.Context // the tab's chromedp context

	mu       sync.Mutex
	order    []network.RequestID // every request, in the order first reported
	isStream map[network.RequestID]bool
	sent     map[network.RequestID]network.Headers
}

// openPage starts a headless Chromium with a fresh profile, opens url in it
// and records every request for the stream at streamURL. The browser is
// killed when the test ends.
func openPage(t *testing.T, chromium, url, streamURL string) *page {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		// QUIC is not used over plain HTTP anyway; keep it from trying.
		chromedp.Flag("disable-quic", true),
		// Containers often have a small /dev/shm.
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(800, 600),
		// Without a user-data-dir flag the allocator makes a fresh one per
		// browser, kills what is left of the browser when it ends and then
		// removes the directory.
	)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Canceling the first tab's context kills the browser and waits for it;
	// it must run once only.
	cancel = sync.OnceFunc(cancel)
	t.Cleanup(cancel)

	// The first command starts the browser and binds its life to ctx, so it
	// cannot take a deadline of its own.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("starting Chromium: %v", err)
		}
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("Chromium did not start within %v", startTimeout)
	}
	// Close the browser gracefully first, so that it removes what it keeps
	// in the temporary directory; the cancel above kills what is left.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(ctx, closeTimeout)
		defer cancel()
		if err := chromedp.Cancel(ctx); err != nil {
			t.Logf("closing Chromium: %v", err)
		}
	})

	p := &page{
		ctx:      ctx,
		isStream: make(map[network.RequestID]bool),
		sent:     make(map[network.RequestID]network.Headers),
	}
	// Last-Event-ID is added below Blink, so only the headers reported as
	// sent on the wire show it; they come in an event of their own, before
	// or after the one with the URL.
	err := chromedp.Listen(ctx, func(ev any) {
		p.mu.Lock()
		defer p.mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			p.see(ev.RequestID)
			p.isStream[ev.RequestID] = ev.Request.URL == streamURL
		case *network.EventRequestWillBeSentExtraInfo:
			p.see(ev.RequestID)
			p.sent[ev.RequestID] = ev.Headers
		}
	})
	if err != nil {
		t.Fatalf("listening to the page's requests: %v", err)
	}
	actx, acancel := context.WithTimeout(ctx, actionTimeout)
	defer acancel()
	if _, err := chromedp.Call(actx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("enabling the network domain: %v", err)
	}
	if err := chromedp.Do(actx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	return p
}

// header returns the value of the header name in h, whatever its case.
func header(h network.Headers, name string) string {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			s, _ := v.(string)
			return s
		}
	}
	return ""
}

// see notes a request the first time it is reported.
func (p *page) see(id network.RequestID) {
	if _, ok := p.isStream[id]; !ok {
		p.order = append(p.order, id)
		p.isStream[id] = false
	}
}

// streamRequests returns the requests for the stream made so far.
func (p *page) streamRequests() []streamRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	var reqs []streamRequest
	for _, id := range p.order {
		if !p.isStream[id] {
			continue
		}
		h, sent := p.sent[id]
		reqs = append(reqs, streamRequest{
			sent:        sent,
			accept:      header(h, "Accept"),
			lastEventID: header(h, "Last-Event-ID"),
		})
	}
	return reqs
}

// snapshot reads the page's state, failing the test unless the events it
// received so far are the stream's first ones, IDs 1, 2, 3, ... in order
// with no gap, each a message "hello".
func (p *page) snapshot(t *testing.T) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	snap, err := chromedp.Run(ctx, chromedp.Evaluate[snapshot](snapshotJS))
	if err != nil {
		t.Fatalf("reading the page: %v", err)
	}
	for i, ev := range snap.Events {
		want := event{ID: strconv.Itoa(i + 1), Type: "message", Data: "hello"}
		if ev != want {
			t.Fatalf("event %d of the page is %+v, want %+v; all: %+v", i+1, ev, want, snap.Events)
		}
	}
	if n := len(snap.Events); n > 0 && snap.Last != snap.Events[n-1].ID {
		t.Errorf("page shows last event ID %q, want %q", snap.Last, snap.Events[n-1].ID)
	}
	return snap
}

// waitFor polls the page until cond holds and returns that snapshot; it
// fails the test after timeout.
func (p *page) waitFor(t *testing.T, what string, timeout time.Duration, cond func(snapshot) bool) snapshot {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		snap := p.snapshot(t)
		if cond(snap) {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s; page has state %q and events %+v", timeout, what, snap.State, snap.Events)
		}
		time.Sleep(pollEvery)
	}
}

// screenshot saves what the page shows as a PNG file at path.
func (p *page) screenshot(t *testing.T, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, actionTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("taking a screenshot: %v", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
