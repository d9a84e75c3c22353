package e2e

import (
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

const (
	// interval is the examples' time between events in these tests.
	interval = 300 * time.Millisecond
	// eventTimeout bounds a wait for events or a state of the page. It
	// covers Chromium's reconnection delay of 3 s on a loaded machine.
	eventTimeout = 20 * time.Second
)

// TestExamples opens the page of each example server in Chromium and checks
// what its EventSource receives: events 1, 2, 3, ... of type message with
// data "hello", and, after the server goes away and comes back on the same
// port, the events after the last one seen, because Chromium resends the
// last ID in Last-Event-ID and the server resumes from it.
func TestExamples(t *testing.T) {
	chromium := chromiumPath(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// Build one example after the other, before any runs: parallel builds
	// would compile the shared dependencies twice.
	type example struct {
		name, bin string
		err       error // why it did not build
	}
	var examples []example
	binDir := t.TempDir()
	for _, name := range []string{"nethttp", "chi", "gin", "echo", "echo5"} {
		ex := example{name: name}
		if files, _ := filepath.Glob(filepath.Join(root, "examples", name, "*.go")); len(files) > 0 {
			ex.bin, ex.err = buildExample(t.Context(), root, name, binDir)
		}
		examples = append(examples, ex)
	}
	for _, ex := range examples {
		t.Run(ex.name, func(t *testing.T) {
			switch {
			case ex.err != nil:
				t.Fatal(ex.err)
			case ex.bin == "":
				t.Skipf("examples/%s does not exist yet (no Go files)", ex.name)
			}
			t.Parallel()
			testExample(t, chromium, ex.name, ex.bin)
		})
	}
}

// testExample runs the example binary bin and drives a Chromium against it.
func testExample(t *testing.T, chromium, name, bin string) {
	addr := freeAddr(t)
	srv := startServer(t, bin, addr, interval)
	checkPlainGET(t, addr)

	p := openPage(t, chromium, "http://"+addr+"/", "http://"+addr+"/events")
	snap := p.waitFor(t, "3 events", eventTimeout, func(s snapshot) bool { return len(s.Events) >= 3 })
	if snap.State != "open" {
		t.Errorf("page shows connection state %q with %d events, want \"open\"", snap.State, len(snap.Events))
	}
	if first := p.streamRequests(); len(first) != 1 || !first[0].sent || first[0].accept != "text/event-stream" || first[0].lastEventID != "" {
		t.Errorf("requests for /events before any reconnect = %+v, want one sent with Accept text/event-stream and no Last-Event-ID", first)
	}

	// The server goes away twice, once as a crash and once as a Ctrl-C,
	// and comes back on the same port each time.
	for _, stop := range []struct {
		how  string
		stop func(*server, *testing.T)
	}{
		{"a kill", (*server).kill},
		{"an interrupt", (*server).interrupt},
	} {
		stop.stop(srv, t)
		snap := p.waitFor(t, "the page to see the server go after "+stop.how, eventTimeout,
			func(s snapshot) bool { return s.State == "reconnecting" })
		// The browser has no stream now, so these are all the events it
		// will have seen before the restart.
		seen := len(snap.Events)
		asked := len(p.streamRequests())

		srv = startServer(t, bin, addr, interval)
		snap = p.waitFor(t, "events after the restart", eventTimeout,
			func(s snapshot) bool { return len(s.Events) >= seen+2 })
		if snap.State != "open" {
			t.Errorf("after %s and a restart, page shows connection state %q, want \"open\"", stop.how, snap.State)
		}
		// snapshot has checked that the IDs go on from seen+1; check that
		// it is because Chromium sent the last ID. Attempts that found no
		// server sent no headers.
		sent := 0
		for _, r := range p.streamRequests()[asked:] {
			if !r.sent {
				continue
			}
			sent++
			if r.lastEventID != strconv.Itoa(seen) || r.accept != "text/event-stream" {
				t.Errorf("after %s, Chromium asked for /events with Last-Event-ID %q and Accept %q, want %q and text/event-stream",
					stop.how, r.lastEventID, r.accept, strconv.Itoa(seen))
			}
		}
		if sent == 0 {
			t.Errorf("after %s, events arrived but Chromium reported no reconnect request for /events", stop.how)
		}
	}

	p.screenshot(t, filepath.Join(t.TempDir(), name+".png"))
}
