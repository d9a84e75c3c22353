// Package cases is the engine-neutral description of what the browser tests
// send and what every browser's EventSource must make of it. The test
// server sends these events; the tests compare what each page received with
// the expectations here, whatever the engine that drove the page.
package cases

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	sse "github.com/eventwire/sse/core"
)

// Received is what a page records of one dispatched event: its type, the
// last event ID in force (MessageEvent.lastEventId) and its data.
type Received struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Data string `json:"data"`
}

// String shortens long data so that a failure message stays readable.
func (r Received) String() string {
	data := r.Data
	if len(data) > 60 {
		data = fmt.Sprintf("%.40q... (%d bytes)", data, len(data))
	} else {
		data = strconv.Quote(data)
	}
	return fmt.Sprintf("{type %q id %q data %s}", r.Type, r.ID, data)
}

// Types are the event types the test page listens for. An event of any
// other type would not be seen, so every type the server sends is here.
var Types = []string{"message", "typed", "ünïcödé", sse.ResetEvent, sse.BusyEvent}

// Step is one thing the encodings stream does: send an event and, if the
// event must fire, expect what the page records of it.
type Step struct {
	Name  string
	Event sse.Event
	Want  *Received // nil: the event must not fire
	// Gecko, if set, is what Firefox records instead. Firefox does not
	// take the ID of an event that dispatches nothing (an id field
	// alone), where the WHATWG standard, Chromium and WebKit do; the
	// events after it keep the ID from before.
	Gecko *Received
}

// Engine names a browser engine, for the known deviations Want takes into
// account.
type Engine string

// The engines of the browsers under test.
const (
	Blink  Engine = "blink"  // Chromium
	Gecko  Engine = "gecko"  // Firefox
	WebKit Engine = "webkit" // Safari, MiniBrowser
)

// Attempt is an event that tries to smuggle a field onto the wire through
// a value. The library must refuse it with an error wrapping Refusal (or,
// for a nil Refusal, write it so harmlessly that nothing fires); either
// way the page must see no trace of it.
type Attempt struct {
	Name    string
	Event   sse.Event
	Refusal error
}

// Big is the size of the large event's data.
const Big = 256 << 10

// BurstLen is how many events the burst sends back to back.
const BurstLen = 2000

// bigData returns Big bytes of text: lines of varying length holding
// multi-byte characters, so that the event spans many data lines and
// multi-byte sequences straddle every buffer boundary a browser might use.
func bigData() string {
	var b strings.Builder
	for line := 0; b.Len() < Big; line++ {
		fmt.Fprintf(&b, "%05d é✓🎉 ", line)
		b.WriteString(strings.Repeat("x", line%97))
		b.WriteByte('\n')
	}
	s := b.String()[:Big]
	// Cut on a character boundary and end without a line break; pad back
	// to the exact size with ASCII.
	for !validEnd(s) {
		s = s[:len(s)-1]
	}
	s = strings.TrimRight(s, "\n")
	return s + strings.Repeat("y", Big-len(s))
}

// validEnd reports whether s does not end inside a UTF-8 sequence.
func validEnd(s string) bool {
	for i := len(s) - 1; i >= 0 && i >= len(s)-4; i-- {
		c := s[i]
		switch {
		case c < 0x80:
			return true
		case c >= 0xC0: // a lead byte: the sequence it starts must be whole
			n := 2
			if c >= 0xE0 {
				n = 3
			}
			if c >= 0xF0 {
				n = 4
			}
			return len(s)-i == n
		}
	}
	return false
}

// Encodings returns the steps of the encodings stream, in order. Each
// expectation is what the WHATWG parsing rules make of the event as the
// library writes it; IDs carry over from one event to the next.
func Encodings() []Step {
	msg := func(id, data string) *Received { return &Received{Type: "message", ID: id, Data: data} }
	big := bigData()
	return []Step{
		{"lf", sse.Event{ID: "1", Data: "a\nb"}, msg("1", "a\nb"), nil},
		{"cr", sse.Event{Data: "a\rb"}, msg("1", "a\nb"), nil},
		{"crlf", sse.Event{Data: "a\r\nb"}, msg("1", "a\nb"), nil},
		{"mixed-breaks", sse.Event{Data: "a\r\n\rb\n\r\nc"}, msg("1", "a\n\nb\n\nc"), nil},
		{"trailing-lf", sse.Event{Data: "a\n"}, msg("1", "a\n"), nil},
		{"trailing-crlf", sse.Event{Data: "a\r\n"}, msg("1", "a\n"), nil},
		{"only-break", sse.Event{Data: "\n"}, msg("1", "\n"), nil},
		{"leading-space", sse.Event{Data: " a"}, msg("1", " a"), nil},
		{"leading-colon", sse.Event{Data: ":a"}, msg("1", ":a"), nil},
		{"leading-space-colon", sse.Event{Data: " : a\n  b\n:c"}, msg("1", " : a\n  b\n:c"), nil},
		{"field-lookalike", sse.Event{Data: "id: 9\nevent: typed\nretry: 1"}, msg("1", "id: 9\nevent: typed\nretry: 1"), nil},
		{"non-ascii", sse.Event{ID: "ид-2", Data: "grüße ✓ 日本語 🎉 \u00a0\u200b"}, msg("ид-2", "grüße ✓ 日本語 🎉 \u00a0\u200b"), nil},
		{"id-carried", sse.Event{Data: "no id of its own"}, msg("ид-2", "no id of its own"), nil},
		{"id-inner-space", sse.Event{ID: "3 a", Data: "x"}, msg("3 a", "x"), nil},
		{"id-only", sse.Event{ID: "4"}, nil, nil},
		{"id-from-id-only", sse.Event{Data: "after an id alone"}, msg("4", "after an id alone"), msg("3 a", "after an id alone")},
		{"typed", sse.Event{Type: "typed", Data: "t"}, &Received{Type: "typed", ID: "4", Data: "t"}, &Received{Type: "typed", ID: "3 a", Data: "t"}},
		{"typed-non-ascii", sse.Event{Type: "ünïcödé", Data: "u"}, &Received{Type: "ünïcödé", ID: "4", Data: "u"}, &Received{Type: "ünïcödé", ID: "3 a", Data: "u"}},
		{"typed-no-data", sse.Event{Type: "typed"}, &Received{Type: "typed", ID: "4", Data: ""}, &Received{Type: "typed", ID: "3 a", Data: ""}},
		{"comment", sse.Event{Comment: "just a comment\nover two lines"}, nil, nil},
		{"clear-id", sse.Event{ClearID: true, Data: "id reset"}, msg("", "id reset"), nil},
		{"after-clear", sse.Event{Data: "still no id"}, msg("", "still no id"), nil},
		{"big", sse.Event{ID: "5", Data: big}, msg("5", big), nil},
		{"before-attempts", sse.Event{ID: "safe", Data: "before"}, msg("safe", "before"), nil},
	}
}

// Attempts are sent after the encodings steps. Each must leave no trace.
func Attempts() []Attempt {
	return []Attempt{
		{"id-lf-data", sse.Event{ID: "evil\ndata: injected", Data: "x"}, sse.ErrInvalidID},
		{"id-cr-event", sse.Event{ID: "evil\revent: typed", Data: "x"}, sse.ErrInvalidID},
		{"id-crlf-id", sse.Event{ID: "evil\r\nid: injected"}, sse.ErrInvalidID},
		{"id-nul", sse.Event{ID: "evil\x00", Data: "x"}, sse.ErrInvalidID},
		{"type-lf-data", sse.Event{Type: "typed\ndata: injected", Data: "x"}, sse.ErrInvalidType},
		{"type-crlf-id", sse.Event{ID: "injected", Type: "message\r\nid: injected", Data: "x"}, sse.ErrInvalidType},
		{"clear-id-with-id", sse.Event{ClearID: true, ID: "injected", Data: "x"}, sse.ErrInvalidID},
		{"data-not-utf8", sse.Event{ID: "injected", Data: "x\xff\ndata: injected"}, sse.ErrInvalidData},
		{"comment-lf-data", sse.Event{Comment: "c\ndata: injected\n\nevent: typed\ndata: injected\n"}, nil},
	}
}

// AfterAttempts is the event sent after the attempts: the page must
// record it with the ID set before them, and nothing in between.
var AfterAttempts = Step{"after-attempts", sse.Event{Data: "after"}, &Received{Type: "message", ID: "safe", Data: "after"}, nil}

// Burst returns the i-th event of the burst (from 0) and what the page
// records of it. The burst follows AfterAttempts, so its events carry the
// ID "safe" until the last, which sets its own.
func Burst(i int) (sse.Event, Received) {
	data := "burst " + strconv.Itoa(i)
	if i == BurstLen-1 {
		return sse.Event{ID: "end", Data: data}, Received{Type: "message", ID: "end", Data: data}
	}
	return sse.Event{Data: data}, Received{Type: "message", ID: "safe", Data: data}
}

// Want returns everything the page must record of the encodings stream,
// in order, in engine.
func Want(engine Engine) []Received {
	var want []Received
	for _, s := range Encodings() {
		switch {
		case engine == Gecko && s.Gecko != nil:
			want = append(want, *s.Gecko)
		case s.Want != nil:
			want = append(want, *s.Want)
		}
	}
	want = append(want, *AfterAttempts.Want)
	for i := range BurstLen {
		_, r := Burst(i)
		want = append(want, r)
	}
	return want
}

// CounterID is the ID of the n-th event of the counter stream. It holds
// two-, three- and four-byte UTF-8, so that a resume proves the browser
// sends a non-ASCII Last-Event-ID back unchanged.
func CounterID(n int) string { return "é✓🎉-" + strconv.Itoa(n) }

// ErrForeignID reports a Last-Event-ID that CounterID did not make.
var ErrForeignID = errors.New("not a counter ID")

// ParseCounterID returns n for CounterID(n).
func ParseCounterID(id string) (int, error) {
	s, ok := strings.CutPrefix(id, "é✓🎉-")
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrForeignID, id)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q", ErrForeignID, id)
	}
	return n, nil
}

// Request is what the test server recorded of one request for a stream.
type Request struct {
	Path        string    `json:"path"`
	Proto       string    `json:"proto"`       // HTTP/1.1, HTTP/2.0 (as the server saw it)
	Accept      string    `json:"accept"`      // the Accept header
	LastEventID []byte    `json:"lastEventId"` // the raw Last-Event-ID header, nil if absent
	ClientProto string    `json:"clientProto"` // X-Client-Protocol, set by the proxy in front
	Published   int       `json:"published"`   // events the hub had published when the request came
	FetchMode   string    `json:"fetchMode"`   // the Sec-Fetch-Mode header, which browsers send
	At          time.Time `json:"at"`          // when the server got it
}

// Refusal is what the test server recorded of one attempt.
type Refusal struct {
	Name string `json:"name"`
	Err  string `json:"err"` // the error Send returned, "" for none
	OK   bool   `json:"ok"`  // whether that is the error the attempt expects
}
