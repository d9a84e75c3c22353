package sse

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// FuzzHub runs a script of publishes and subscriptions through one hub:
// arbitrary events (JSON values, raw JSON and marshalers included) published
// to topics "a" and "b", live subscribers joining between publishes, and
// subscribers resuming from an earlier event's ID (or from an ID the hub
// never gave) while publishing goes on. An observer subscribed to both
// topics from the start receives the log. At the end every subscriber must
// have received, byte for byte, exactly the accepted events of its topics
// from its starting point on: each once, in log order, a replay never cut
// short; an event that Publish refused must reach nobody.
func FuzzHub(f *testing.F) {
	f.Add([]byte("\x00\x01id1\x00hello\x00\x02\x00\x00second\x00\x03\x00"))
	f.Add([]byte("\x00\x03x\ny\x00t\x00d\x00\x00\x02\x00\x05caf\xe9\x00\x04\x01\x00\x00\x00"))
	f.Add([]byte("\x00\x01a\x00one\x00\x00\x01a\x00two\x00\x03\x00\x00\x01a\x00three\x00\x03\x01"))
	f.Add([]byte("\x00\x06\x02\x00\x07{\"k\":\"\xff\"}\x00\x00\x08[1, 2]\x00\x02\x01\x00\x09\x00\x03\x02"))
	f.Add([]byte("\x00\x00\x00\x0a\r\n\rx\n\x00\x04\x02\x00\x0bcomment\x00\x03\x00\x00\x0c\x00"))
	f.Fuzz(func(t *testing.T, script []byte) {
		runHubScript(t, &hubScript{b: script})
	})
}

// hubScript reads a fuzz input as a sequence of operations.
type hubScript struct{ b []byte }

func (s *hubScript) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	c := s.b[0]
	s.b = s.b[1:]
	return c
}

// text returns the bytes up to the next NUL (or the end), at most 64.
func (s *hubScript) text() string {
	n := bytes.IndexByte(s.b, 0)
	if n < 0 {
		n = len(s.b)
	}
	n = min(n, 64)
	t := string(s.b[:n])
	s.b = s.b[n:]
	if len(s.b) > 0 && s.b[0] == 0 {
		s.b = s.b[1:]
	}
	return t
}

// topics returns a non-empty subset of "a" and "b".
func (s *hubScript) topics() []string {
	switch s.byte() % 3 {
	case 0:
		return []string{"a"}
	case 1:
		return []string{"b"}
	default:
		return []string{"a", "b"}
	}
}

// fuzzMarshaler marshals to fixed bytes, which need not be JSON or UTF-8.
type fuzzMarshaler []byte

func (m fuzzMarshaler) MarshalJSON() ([]byte, error) { return m, nil }

// event reads one event: each field is present or not by a flag bit, and
// the payload is text, bytes or one of several kinds of JSON value.
func (s *hubScript) event() Event {
	flags := s.byte()
	var ev Event
	if flags&1 != 0 {
		ev.ID = s.text()
	}
	if flags&2 != 0 {
		ev.Type = s.text()
	}
	switch flags >> 2 & 7 {
	case 1:
		ev.Data = s.text()
	case 2:
		ev.Bytes = []byte(s.text())
	case 3:
		ev.JSON = s.text() // a Go string: encoding/json makes it valid
	case 4:
		ev.JSON = json.RawMessage(s.text())
	case 5:
		ev.JSON = fuzzMarshaler(s.text())
	case 6:
		ev.JSON = map[string]any{"raw": json.RawMessage(s.text()), "n": int(s.byte())}
	case 7:
		ev.Data, ev.JSON = s.text(), 1 // two payloads: refused
	}
	if flags&32 != 0 {
		ev.Comment = s.text()
	}
	if flags&64 != 0 {
		ev.Retry = time.Duration(s.byte()) * time.Millisecond
	}
	if flags&128 != 0 {
		ev.ClearID = true
	}
	return ev
}

// fuzzGateKey is the request context key of a resuming subscriber's gate.
type fuzzGateKey struct{}

// hubLogEntry is one accepted event, as the observer received it.
type hubLogEntry struct {
	topics []string
	frame  string // the bytes every subscriber of its topics receives
}

// fuzzSub is one subscriber: a stream served by the hub's handler into a
// pipe, and the bytes read from it.
type fuzzSub struct {
	topics []string
	cancel context.CancelFunc
	done   chan struct{} // closed when the handler returned

	mu  sync.Mutex
	out []byte
	got chan struct{} // capacity 1: "out grew"
}

func (s *fuzzSub) read(r io.Reader) {
	buf := make([]byte, 4096)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			s.mu.Lock()
			s.out = append(s.out, buf[:n]...)
			s.mu.Unlock()
			select {
			case s.got <- struct{}{}:
			default:
			}
		}
		if err != nil {
			return
		}
	}
}

func (s *fuzzSub) bytes() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.out)
}

// waitFor waits until the subscriber's output satisfies ok.
func (s *fuzzSub) waitFor(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	deadline := time.After(hubWait)
	for !ok(s.bytes()) {
		select {
		case <-s.got:
		case <-s.done:
			if !ok(s.bytes()) {
				t.Fatalf("%s: the stream ended; received %q", what, s.bytes())
			}
		case <-deadline:
			t.Fatalf("%s: not within %v; received %q", what, hubWait, s.bytes())
		}
	}
}

// pipeResponse is a flushing ResponseWriter over a pipe, without a write
// deadline: the reader never stops reading.
type pipeResponse struct {
	h  http.Header
	pw *io.PipeWriter
}

func (w *pipeResponse) Header() http.Header         { return w.h }
func (w *pipeResponse) WriteHeader(int)             {}
func (w *pipeResponse) Write(p []byte) (int, error) { return w.pw.Write(p) }
func (w *pipeResponse) Flush()                      {}

func runHubScript(t *testing.T, sc *hubScript) {
	// A resuming subscriber is held between joining the hub and starting
	// its replay until the script's next publish, so that events are both
	// queued for it and in its replay: each must be sent once.
	hold := func(s *Stream, _ []string) {
		if gate, ok := s.Context().Value(fuzzGateKey{}).(chan struct{}); ok {
			<-gate
		}
	}
	hub, err := NewHub(WithHistory(HistoryLimits{Count: 1 << 10}), WithHooks(Hooks{Connect: hold}))
	if err != nil {
		t.Fatal(err)
	}
	var (
		reportMu sync.Mutex
		reported []error
	)
	handlers := make(map[string]http.Handler)
	for _, topics := range [][]string{{"a"}, {"b"}, {"a", "b"}} {
		handlers[strings.Join(topics, "")] = Handler(hub.StreamFunc(topics...), WithHeartbeat(0),
			WithErrorHandler(func(_ *http.Request, err error) {
				if !errors.Is(err, ErrNoWriteDeadline) && !errors.Is(err, ErrClosed) {
					reportMu.Lock()
					reported = append(reported, err)
					reportMu.Unlock()
				}
			}))
	}

	var subs []*fuzzSub
	var gates []chan struct{} // resuming subscribers held until the next publish
	release := func() {
		for _, g := range gates {
			close(g)
		}
		gates = nil
	}
	subscribe := func(topics []string, lastID string, resume, held bool) *fuzzSub {
		before := hub.Stats().Subscribers
		ctx, cancel := context.WithCancel(context.Background())
		if held {
			gate := make(chan struct{})
			gates = append(gates, gate)
			ctx = context.WithValue(ctx, fuzzGateKey{}, gate)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
		req.Header.Set("Accept", "text/event-stream")
		if resume {
			req.Header.Set("Last-Event-ID", lastID)
		}
		pr, pw := io.Pipe()
		s := &fuzzSub{topics: topics, cancel: cancel, done: make(chan struct{}), got: make(chan struct{}, 1)}
		go func() {
			defer close(s.done)
			handlers[strings.Join(topics, "")].ServeHTTP(&pipeResponse{h: make(http.Header), pw: pw}, req)
			pw.Close()
		}()
		go s.read(pr)
		subs = append(subs, s)
		// Subscribed before the next publish, so that its expected events
		// are known; a replay may still be running.
		hubWaitSubscribers(t, hub, before+1)
		return s
	}
	defer func() {
		release()
		for _, s := range subs {
			s.cancel()
			<-s.done
		}
		hub.Close()
	}()

	observer := subscribe([]string{"a", "b"}, "", false, false)
	var log []hubLogEntry // accepted events, in log order; frames once the observer has them
	// catchUp waits until the observer has received every accepted event
	// and records their frames.
	catchUp := func() {
		observer.waitFor(t, "observer receives every accepted event", func(out string) bool {
			return strings.Count(out, "\n\n") >= len(log)
		})
		frames := strings.SplitAfter(observer.bytes(), "\n\n")
		for i := range log {
			log[i].frame = frames[i]
		}
	}
	var published []Event // the accepted events, as given to Publish

	type expectation struct {
		sub   *fuzzSub
		from  int  // index in log of its first event
		reset bool // a ResetEvent comes first
	}
	var expect []expectation

	for ops := 0; len(sc.b) > 0 && ops < 48; ops++ {
		switch sc.byte() % 4 {
		case 0: // publish
			ev, topics := sc.event(), sc.topics()
			err := hub.Publish(context.Background(), ev, topics...)
			release()
			if err != nil {
				if !slices.ContainsFunc([]error{ErrInvalidID, ErrInvalidType, ErrInvalidData, ErrInvalidRetry, ErrDataConflict, ErrEmptyEvent}, func(want error) bool { return errors.Is(err, want) }) {
					t.Fatalf("Publish(%+v) = %v, not an error of an invalid event", ev, err)
				}
				continue
			}
			published = append(published, ev)
			log = append(log, hubLogEntry{topics: topics})
		case 1: // a live subscriber joins
			catchUp()
			s := subscribe(sc.topics(), "", false, false)
			expect = append(expect, expectation{sub: s, from: len(log)})
		case 2: // a subscriber resumes after an accepted event
			if len(log) == 0 {
				continue
			}
			catchUp()
			k := int(sc.byte()) % len(log)
			id := frameID(t, log[k].frame)
			newest := k
			for j := range log {
				if frameID(t, log[j].frame) == id {
					newest = j
				}
			}
			chosen := published[newest].ID != ""
			s := subscribe(sc.topics(), id, true, !chosen)
			expect = append(expect, expectation{sub: s, from: newest + 1})
			if chosen {
				// A chosen ID may be published again: the replay resolves
				// the ID when it starts, so let it start before going on.
				// Generated IDs are unique, and publishing goes on at
				// once, during the replay.
				want := 0
				for _, entry := range log[newest+1:] {
					if slices.ContainsFunc(entry.topics, func(t string) bool { return slices.Contains(s.topics, t) }) {
						want++
					}
				}
				s.waitFor(t, "resuming subscriber receives its replay", func(out string) bool {
					return strings.Count(out, "\n\n") >= want
				})
			}
		case 3: // a subscriber resumes from an ID the hub never gave
			catchUp()
			s := subscribe(sc.topics(), "never-"+sc.text(), true, true)
			expect = append(expect, expectation{sub: s, from: len(log), reset: true})
		}
	}

	// The end: one last event to both topics, which every subscriber waits
	// for, so that everything before it has arrived.
	const end = "event: fuzz-end\ndata: end\n\n"
	err = hub.Publish(context.Background(), Event{ID: "fuzz-end", Type: "fuzz-end", Data: "end"}, "a", "b")
	release()
	if err != nil {
		t.Fatal(err)
	}
	log = append(log, hubLogEntry{topics: []string{"a", "b"}})
	catchUp()
	for i, ev := range published {
		want := ev
		want.ID = frameID(t, log[i].frame)
		frame, err := want.AppendText(nil)
		if err != nil {
			t.Fatalf("event %d %+v: accepted by Publish but refused by AppendText: %v", i, ev, err)
		}
		if got := log[i].frame; got != string(frame) {
			t.Fatalf("event %d %+v reached the observer as %q, want %q", i, ev, got, frame)
		}
	}
	for i, e := range expect {
		var want strings.Builder
		for _, entry := range log[e.from:] {
			if slices.ContainsFunc(entry.topics, func(t string) bool { return slices.Contains(e.sub.topics, t) }) {
				want.WriteString(entry.frame)
			}
		}
		e.sub.waitFor(t, "subscriber receives the last event", func(out string) bool {
			return strings.HasSuffix(out, end)
		})
		got := e.sub.bytes()
		if e.reset {
			first, rest, _ := strings.Cut(got, "\n\n")
			if !strings.HasPrefix(first, "event: "+ResetEvent+"\n") {
				t.Fatalf("subscriber %d resuming from an unknown ID: first frame %q, want a %s", i, first, ResetEvent)
			}
			got = rest
		}
		if got != want.String() {
			t.Fatalf("subscriber %d (topics %v, from event %d of %d, reset %v) received\n%q\nwant\n%q",
				i, e.sub.topics, e.from, len(log), e.reset, got, want.String())
		}
	}
	reportMu.Lock()
	defer reportMu.Unlock()
	if len(reported) > 0 {
		t.Fatalf("streams reported errors: %v", reported)
	}
}

// frameID returns the value of a frame's id line.
func frameID(t *testing.T, frame string) string {
	t.Helper()
	for line := range strings.SplitSeq(frame, "\n") {
		if id, ok := strings.CutPrefix(line, "id: "); ok {
			return id
		}
	}
	t.Fatalf("frame %q has no id line", frame)
	return ""
}
