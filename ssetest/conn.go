package ssetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	sse "github.com/eventwire/sse/core"
)

// errTimeout is the cause with which a call that ran out of time cancels
// the connection.
var errTimeout = errors.New("ssetest: timed out")

// maxHistory is how many lines of history (events read, reconnections)
// a failure message lists: the latest.
const maxHistory = 20

// A Conn is a client connected to the handler under test, as a browser's
// EventSource is: it reads the events the handler sends, leaves as a
// client does, and reconnects with the last event ID it saw. [Open]
// returns one.
//
// Each call that waits does so for at most the timeout ([DefaultTimeout]
// unless [WithTimeout] says otherwise) and fails the test with what it
// expected and what arrived. A Conn belongs to the test goroutine: it is
// not safe for concurrent use, and its methods that fail the test must be
// called from that goroutine, as [testing.T.FailNow] must.
type Conn struct {
	t   testing.TB
	cfg config
	srv *httptest.Server
	h   *tracker

	// The request, sent again by Reconnect.
	parent         context.Context
	method, target string
	host           string
	header         http.Header
	body           []byte

	// The current connection.
	cancel  context.CancelCauseFunc
	ctx     context.Context
	resp    *http.Response
	stream  io.ReadCloser // the body of a stream, nil for any other response
	dec     *sse.Decoder  // nil once the connection is closed
	refusal []byte        // the body of a response that is not a stream
	lastID  string        // the last event ID, kept across connections

	count   int      // events read, on every connection
	history []string // the latest events and reconnections, for failure messages
	dropped bool     // older lines have left the history
}

// Open serves h on a new loopback HTTP server and sends it req, as
// EventSource would: with Accept: text/event-stream and Cache-Control:
// no-cache unless req sets them. It waits for the response headers and
// returns the connection, whose events [Conn.Next], [Conn.Take] and
// [Conn.Rest] read; when the test ends, a cleanup closes it as
// [Conn.Close] does, checking that the handler returned, and shuts the
// server down.
//
// Open uses req's method, headers, Host, context (the connection ends
// with it) and the path and query of its URL, sent to the test server: it
// may come from [httptest.NewRequest] or [http.NewRequest]. It reads req's
// body and sends it again on each reconnection. A nil req is a GET of
// "/". A Last-Event-ID header in req is the ID the stream resumes from.
//
// A response that is not an event stream (a status other than 200, or
// another media type, as a handler answers a request that did not ask for
// a stream) is read whole and kept for [Conn.Response]; reading events from
// it fails the test. Open fails the test if no response headers arrive in
// time, as when the handler never flushes them, or if the request fails.
//
// Each Conn has a server of its own: opening one costs a listener and a
// few goroutines, all ended by the test's cleanups.
func Open(t testing.TB, h http.Handler, req *http.Request, opts ...Option) *Conn {
	t.Helper()
	c := &Conn{
		t:      t,
		cfg:    newConfig(opts),
		h:      &tracker{h: h},
		parent: context.Background(),
		method: http.MethodGet,
		target: "/",
		header: make(http.Header),
	}
	if req != nil {
		c.parent = req.Context()
		c.method = req.Method
		c.host = req.Host
		if req.URL != nil {
			c.target = req.URL.RequestURI()
		}
		if req.Header != nil {
			c.header = req.Header.Clone()
		}
		if req.Body != nil && req.Body != http.NoBody {
			body, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				t.Fatalf("ssetest: reading the request body: %v", err)
			}
			if len(body) > 0 {
				c.body = body
			}
		}
	}
	if c.header.Get("Accept") == "" {
		c.header.Set("Accept", "text/event-stream")
	}
	if c.header.Get("Cache-Control") == "" {
		c.header.Set("Cache-Control", "no-cache")
	}
	c.lastID = c.header.Get("Last-Event-ID")

	c.srv = httptest.NewUnstartedServer(c.h)
	if c.cfg.http2 {
		c.srv.EnableHTTP2 = true
		c.srv.StartTLS()
	} else {
		c.srv.Start()
	}
	t.Cleanup(c.cleanup)
	c.connect("Open")
	return c
}

// connect sends the request with the last event ID and reads the response
// headers, and the whole body of a response that is not a stream. It fails
// the test as call if it cannot.
func (c *Conn) connect(call string) {
	c.t.Helper()
	ctx, cancel := context.WithCancelCause(c.parent)
	c.ctx, c.cancel = ctx, cancel
	var body io.Reader
	if c.body != nil {
		body = bytes.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(ctx, c.method, c.srv.URL+c.target, body)
	if err != nil {
		c.t.Fatalf("ssetest: %s: %v", call, err)
	}
	req.Header = c.header.Clone()
	req.Host = c.host
	if c.lastID == "" {
		req.Header.Del("Last-Event-ID")
	} else {
		req.Header.Set("Last-Event-ID", c.lastID)
	}

	stop := c.bound()
	resp, err := c.srv.Client().Do(req)
	if err != nil {
		stop()
		if c.timedOut() {
			c.t.Fatalf("ssetest: %s: no response headers within %v: the handler neither wrote nor flushed them", call, c.cfg.timeout)
		}
		c.t.Fatalf("ssetest: %s: %v%s", call, err, c.panicNote())
	}
	c.resp = resp
	if isStream(resp) {
		stop()
		c.stream = resp.Body
		c.dec = sse.NewDecoder(resp.Body)
		c.dec.SetLastEventID(c.lastID)
		return
	}
	c.refusal, err = io.ReadAll(resp.Body)
	stop()
	resp.Body.Close()
	if err != nil {
		if c.timedOut() {
			c.t.Fatalf("ssetest: %s: the body of the %s %s response did not end within %v", call, resp.Status, contentType(resp), c.cfg.timeout)
		}
		c.t.Fatalf("ssetest: %s: reading the %s response: %v%s", call, resp.Status, err, c.panicNote())
	}
}

// bound starts the time limit of one call: when it passes, the connection
// is cancelled, as by a client that gives up. The call must then stop it.
func (c *Conn) bound() (stop func()) {
	cancel := c.cancel
	timer := time.AfterFunc(c.cfg.timeout, func() { cancel(errTimeout) })
	return func() { timer.Stop() }
}

// timedOut reports whether the connection ended because a call ran out of
// time.
func (c *Conn) timedOut() bool {
	return context.Cause(c.ctx) == errTimeout
}

// isStream reports whether resp is an event stream.
func isStream(resp *http.Response) bool {
	mt, _, err := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return resp.StatusCode == http.StatusOK && err == nil && mt == "text/event-stream"
}

func contentType(resp *http.Response) string {
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		return fmt.Sprintf("(Content-Type %q)", ct)
	}
	return "(no Content-Type)"
}

// Next returns the next event, waiting for it up to the timeout. It fails
// the test if none arrives in time, if the handler ends the stream first,
// or if the response is not a stream.
//
// Like every event a Conn returns, it is what a browser's EventSource
// reports, decoded by [sse.Decoder]: ID is the last event ID in force,
// Type is "message" when the handler set none, and only ID, Type and Data
// are set. Comments, heartbeats among them, are skipped.
func (c *Conn) Next() sse.Event {
	c.t.Helper()
	return c.read("Next", 1)[0]
}

// Take returns the next n events, waiting up to the timeout for all of
// them together. It fails the test, listing the events that did arrive,
// if fewer arrive in time or the handler ends the stream before the nth.
func (c *Conn) Take(n int) []sse.Event {
	c.t.Helper()
	return c.read(fmt.Sprintf("Take(%d)", n), max(n, 0))
}

// Rest returns the events up to the end of the stream, for a handler that
// ends it by itself: it fails the test if the handler has not ended the
// stream within the timeout.
func (c *Conn) Rest() []sse.Event {
	c.t.Helper()
	return c.read("Rest", -1)
}

// read returns the next n events, or all up to the end of the stream if n
// is negative, and fails the test as call if it cannot.
func (c *Conn) read(call string, n int) []sse.Event {
	c.t.Helper()
	if c.dec == nil {
		if c.stream != nil {
			c.t.Fatalf("ssetest: %s: the connection is closed; Reconnect opens another", call)
		}
		c.t.Fatalf("ssetest: %s: want an event stream, got %s %s: %.200q",
			call, c.resp.Status, contentType(c.resp), c.refusal)
	}
	stop := c.bound()
	defer stop()
	evs := make([]sse.Event, 0, max(n, 0))
	for n < 0 || len(evs) < n {
		ev, err := c.dec.Next()
		if err == io.EOF && n < 0 {
			return evs
		}
		if err != nil {
			c.fail(call, n, evs, err)
		}
		ev.ID, ev.ClearID = c.dec.LastEventID(), false // as a browser reports it
		c.record(ev)
		evs = append(evs, ev)
	}
	return evs
}

// fail fails the test as call, which read got of the n events it wanted
// (n < 0: up to the end of the stream) before err.
func (c *Conn) fail(call string, n int, got []sse.Event, err error) {
	c.t.Helper()
	var what string
	switch {
	case c.timedOut() && n < 0:
		what = fmt.Sprintf("the handler did not end the stream within %v (%s arrived)", c.cfg.timeout, events(len(got)))
	case c.timedOut() && len(got) == 0:
		what = fmt.Sprintf("no event within %v", c.cfg.timeout)
	case c.timedOut():
		what = fmt.Sprintf("got %s of %d within %v", events(len(got)), n, c.cfg.timeout)
	case err == io.EOF:
		what = fmt.Sprintf("the handler ended the stream after %s, want %d", events(len(got)), n)
	default:
		what = fmt.Sprintf("after %s: %v", events(len(got)), err)
	}
	c.t.Fatalf("ssetest: %s: %s%s\n%s", call, what, c.panicNote(), c.seen())
}

// panicNote says, for a failure message, that the handler panicked and
// where, if it did.
func (c *Conn) panicNote() string {
	if p := c.h.takePanic(); p != "" {
		return "\nThe handler panicked: " + p
	}
	return ""
}

func events(n int) string {
	if n == 1 {
		return "1 event"
	}
	return fmt.Sprintf("%d events", n)
}

// record adds ev to the history.
func (c *Conn) record(ev sse.Event) {
	c.count++
	c.note(fmt.Sprintf("%d. {ID:%q Type:%q Data:%.100q}", c.count, ev.ID, ev.Type, ev.Data))
}

// note adds a line to the history, keeping the latest.
func (c *Conn) note(line string) {
	if len(c.history) == maxHistory {
		c.history = append(c.history[:0], c.history[1:]...)
		c.dropped = true
	}
	c.history = append(c.history, line)
}

// seen describes the history for a failure message.
func (c *Conn) seen() string {
	if c.count == 0 {
		return "No events so far."
	}
	s := "Events so far:\n\t"
	if c.dropped {
		s += "...\n\t"
	}
	return s + strings.Join(c.history, "\n\t")
}

// Response returns the response of the current connection. Its Body is
// the whole body of a response that is not a stream, as [Open] read it
// (each call returns a fresh reader over it), and empty for a stream,
// whose events the Conn reads. Its Request is the request as sent, with
// the headers the Conn added.
func (c *Conn) Response() *http.Response {
	resp := *c.resp
	resp.Body = io.NopCloser(bytes.NewReader(c.refusal))
	return &resp
}

// Close ends the connection as a client does when it leaves (the request
// is cancelled and the body closed) and checks that the handler returned:
// it waits for it up to the timeout, and reports it to the test with
// where it is blocked if it did not, or if it panicked. The test goes on
// either way. Closing a closed Conn does nothing.
func (c *Conn) Close() {
	c.t.Helper()
	if c.cancel == nil {
		return
	}
	c.cancel(nil)
	c.cancel = nil
	if c.dec != nil {
		c.lastID = c.dec.LastEventID()
		c.dec = nil
	}
	if c.stream != nil {
		c.stream.Close()
	}
	c.h.check(c.t, c.cfg.timeout)
}

// Reconnect closes the connection as [Conn.Close] does and sends the
// request again at once, as EventSource does after a stream ends, with
// the last event ID the stream set in Last-Event-ID (none if it set none,
// or cleared it). Events then continue with the new response, and
// [Conn.Response] returns it.
func (c *Conn) Reconnect() {
	c.t.Helper()
	c.Close()
	if c.lastID == "" {
		c.note("-- reconnected without a Last-Event-ID")
	} else {
		c.note(fmt.Sprintf("-- reconnected with Last-Event-ID %q", c.lastID))
	}
	c.stream, c.refusal = nil, nil
	c.connect("Reconnect")
}

// cleanup closes the connection and the server when the test ends. A
// server with a handler still running cannot be closed, as that waits for
// the handler: its connections and listener are closed instead.
func (c *Conn) cleanup() {
	c.t.Helper()
	c.Close()
	if c.h.isStuck() {
		c.srv.CloseClientConnections()
		c.srv.Listener.Close()
		c.srv.Client().CloseIdleConnections()
		return
	}
	c.srv.Close()
}
