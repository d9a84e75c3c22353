package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
	"time"
	"unicode/utf8"
)

// decodeCase is a stream and what a browser makes of it.
type decodeCase struct {
	name   string
	in     string
	want   []Event // the browser's view (see browserView): ID, Type and Data
	raw    []Event // if not nil, the events exactly as Next returns them
	lastID string
	retry  time.Duration
}

// browserView returns events as a browser reports them: each with the last
// event ID in force when it fired (lastEventId), carried over from startID
// and the events before it, and without ClearID. A client of a stream that
// re-sends the decoded events sees the same; that the two agree is what
// lets a proxy re-send events as they came.
func browserView(events []Event, startID string) []Event {
	var out []Event
	id := startID
	for _, e := range events {
		if e.ID != "" || e.ClearID {
			id = e.ID
		}
		e.ID, e.ClearID = id, false
		out = append(out, e)
	}
	return out
}

// msg returns the event a browser fires for data with no type or ID set.
func msg(data string) Event { return Event{Type: "message", Data: data} }

var decodeCases = []decodeCase{
	// 1. UTF-8, one leading BOM skipped, a later one kept.
	{name: "bom skipped", in: "\uFEFFdata: a\n\n", want: []Event{msg("a")}},
	{name: "second leading bom is part of the field name", in: "\uFEFF\uFEFFdata: a\n\n"},
	{name: "bom at start of a later event is part of the field name", in: "data: a\n\n\uFEFFdata: b\n\n", want: []Event{msg("a")}},
	{name: "bom in value kept", in: "data: \uFEFFa\n\n", want: []Event{msg("\uFEFFa")}},
	{name: "partial bom is not skipped", in: "\xEF\xBB\n\n"},
	{name: "partial bom then field", in: "\xEF\xBBdata: a\n\ndata: b\n\n", want: []Event{msg("b")}},
	{name: "stream of only a bom", in: "\uFEFF"},
	{name: "multibyte text", in: "data: héllo, 世界 😀\n\n", want: []Event{msg("héllo, 世界 😀")}},
	{name: "encoded U+FFFD kept", in: "data: \uFFFD\n\n", want: []Event{msg("\uFFFD")}},
	{name: "truncated sequence is one U+FFFD", in: "data: \xE2\x82A\n\n", want: []Event{msg("\uFFFDA")}},
	{name: "lone continuation byte", in: "data: \x80\n\n", want: []Event{msg("\uFFFD")}},
	{name: "invalid lead bytes", in: "data: \xC0\x80\xFF\xF5\n\n", want: []Event{msg("\uFFFD\uFFFD\uFFFD\uFFFD")}},
	{name: "surrogate", in: "data: \xED\xA0\x80z\n\n", want: []Event{msg("\uFFFD\uFFFD\uFFFDz")}},
	{name: "above U+10FFFF", in: "data: \xF4\x90\x80\x80\n\n", want: []Event{msg("\uFFFD\uFFFD\uFFFD\uFFFD")}},
	{name: "truncated four-byte sequence before line end", in: "data: \xF0\x9F\x98\ndata: b\n\n", want: []Event{msg("\uFFFD\nb")}},
	{name: "truncated sequence before colon", in: "data\xE2\x82: a\n\ndata: b\n\n", want: []Event{msg("b")}},
	{name: "invalid bytes in type and id", in: "event: \xFFx\nid: \xE2\x82\ndata: a\n\n",
		want: []Event{{ID: "\uFFFD", Type: "\uFFFDx", Data: "a"}}, lastID: "\uFFFD"},

	// 2. CRLF, LF and CR line ends, mixed.
	{name: "LF", in: "data: a\ndata: b\n\n", want: []Event{msg("a\nb")}},
	{name: "CRLF", in: "data: a\r\ndata: b\r\n\r\n", want: []Event{msg("a\nb")}},
	{name: "CR", in: "data: a\rdata: b\r\r", want: []Event{msg("a\nb")}},
	{name: "mixed", in: "data: a\rdata: b\ndata: c\r\n\r\ndata: d\n\r\n", want: []Event{msg("a\nb\nc"), msg("d")}},
	{name: "LF CR is two line ends", in: "data: a\n\rdata: b\n\n", want: []Event{msg("a"), msg("b")}},
	{name: "CR CR LF is two line ends", in: "data: a\r\r\ndata: b\r\n\n", want: []Event{msg("a"), msg("b")}},
	{name: "CR LF LF is two line ends", in: "data: a\r\n\ndata: b\r\n\n", want: []Event{msg("a"), msg("b")}},

	// 3. An empty line dispatches.
	{name: "empty line dispatches", in: "data: a\n\ndata: b\n\ndata: c\n\n", want: []Event{msg("a"), msg("b"), msg("c")}},
	{name: "empty lines alone fire nothing", in: "\n\n\r\n\r\r"},
	{name: "empty stream", in: ""},

	// 4. Comments.
	{name: "comments ignored", in: ":hello\ndata: a\n: data: b\n:\n:\x00\xFF\n\n", want: []Event{msg("a")}},
	{name: "comment alone fires nothing", in: ": ping\n\n"},

	// 5. Field and value.
	{name: "no space after colon", in: "data:a\n\n", want: []Event{msg("a")}},
	{name: "only one space removed", in: "data:  a\n\n", want: []Event{msg(" a")}},
	{name: "tab kept", in: "data:\ta\n\n", want: []Event{msg("\ta")}},
	{name: "split at first colon", in: "data: a: b:c\n\n", want: []Event{msg("a: b:c")}},
	{name: "value of a colon", in: "data::\n\n", want: []Event{msg(":")}},
	{name: "trailing space kept", in: "data: a \n\n", want: []Event{msg("a ")}},
	{name: "no colon is an empty value", in: "data\n\n", want: []Event{msg("")}},
	{name: "no colon appends an empty line", in: "data: a\ndata\n\n", want: []Event{msg("a\n")}},
	{name: "names are case-sensitive", in: "Data: a\nDATA: b\nEvent: x\nID: 1\nRetry: 5\n\n"},
	{name: "space before colon is part of the name", in: "data : a\n data: b\n\n"},
	{name: "unknown fields ignored", in: "foo: bar\ndata: a\nbaz\n\n", want: []Event{msg("a")}},

	// 6. data.
	{name: "data lines joined with LF", in: "data: a\ndata: b\ndata: c\n\n", want: []Event{msg("a\nb\nc")}},
	{name: "empty data fires", in: "data:\n\n", want: []Event{msg("")}},
	{name: "two empty data lines", in: "data:\ndata:\n\n", want: []Event{msg("\n")}},
	{name: "NUL in data kept", in: "data: a\x00b\n\n", want: []Event{msg("a\x00b")}},

	// 7. event.
	{name: "event sets type", in: "event: add\ndata: a\n\n", want: []Event{{Type: "add", Data: "a"}}},
	{name: "last event line wins", in: "event: a\nevent: b\ndata: x\n\n", want: []Event{{Type: "b", Data: "x"}}},
	{name: "empty event means message", in: "event: x\nevent:\ndata: a\n\n", want: []Event{msg("a")}},
	{name: "event after data still applies", in: "data: a\nevent: add\n\n", want: []Event{{Type: "add", Data: "a"}}},

	// 8. id.
	{name: "id sets last event id", in: "id: 1\ndata: a\n\n", want: []Event{{ID: "1", Type: "message", Data: "a"}}, lastID: "1"},
	{name: "id keeps spaces after the first", in: "id:  x \ndata: a\n\n", want: []Event{{ID: " x ", Type: "message", Data: "a"}}, lastID: " x "},
	{name: "id with NUL ignored", in: "id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
		want: []Event{{ID: "1", Type: "message", Data: "a"}, {ID: "1", Type: "message", Data: "b"}}, lastID: "1"},
	{name: "id with NUL ignores only that line", in: "id: 1\nid: \x00\ndata: a\n\n", want: []Event{{ID: "1", Type: "message", Data: "a"}}, lastID: "1"},
	{name: "empty id resets", in: "id: 1\ndata: a\n\nid\ndata: b\n\nid: 2\n\nid:\ndata: c\n\n",
		want: []Event{{ID: "1", Type: "message", Data: "a"}, msg("b"), msg("c")}},

	// 9. retry.
	{name: "retry sets delay", in: "retry: 1500\n\n", retry: 1500 * time.Millisecond},
	{name: "retry leading zeros", in: "retry: 007\n\n", retry: 7 * time.Millisecond},
	{name: "retry zero", in: "retry: 10\nretry: 0\n\n", retry: 0},
	{name: "retry last valid wins", in: "retry: 100\nretry: 1x\nretry: -5\nretry: 1.5\nretry: +5\nretry:\nretry\nretry:  7\nretry: 7 \nretry: ١٢\n\n",
		retry: 100 * time.Millisecond},
	{name: "retry too long for a duration ignored", in: "retry: 100\nretry: 9223372036855\nretry: 99999999999999999999\n\n", retry: 100 * time.Millisecond},
	{name: "retry largest duration", in: "retry: 9223372036854\n\n", retry: 9223372036854 * time.Millisecond},
	{name: "retry does not fire or change data", in: "data: a\nretry: 5\n\n", want: []Event{msg("a")}, retry: 5 * time.Millisecond},

	// 10. Dispatch.
	{name: "id stored though nothing fires", in: "id: 5\n\n", lastID: "5"},
	{name: "id carries over", in: "id: 5\ndata: a\n\ndata: b\n\n",
		want: []Event{{ID: "5", Type: "message", Data: "a"}, {ID: "5", Type: "message", Data: "b"}}, lastID: "5"},
	{name: "id set without firing carries over", in: "id: 5\n\ndata: a\n\n", want: []Event{{ID: "5", Type: "message", Data: "a"}}, lastID: "5"},
	{name: "type reset when nothing fires", in: "event: x\n\ndata: a\n\n", want: []Event{msg("a")}},
	{name: "type reset after dispatch", in: "event: x\ndata: a\n\ndata: b\n\n", want: []Event{{Type: "x", Data: "a"}, msg("b")}},
	{name: "data reset after dispatch", in: "data: a\n\ndata: b\n\n", want: []Event{msg("a"), msg("b")}},
	{name: "one trailing LF removed", in: "data: a\ndata:\n\n", want: []Event{msg("a\n")}},
	{name: "all fields", in: ": hi\nretry: 3000\nid: 42\nevent: update\ndata: {\"n\":1}\ndata: x\n\n",
		want: []Event{{ID: "42", Type: "update", Data: "{\"n\":1}\nx"}}, lastID: "42", retry: 3 * time.Second},

	// 11. End of stream.
	{name: "unterminated event dropped", in: "data: a\n\ndata: b\n", want: []Event{msg("a")}},
	{name: "unterminated line dropped", in: "data: a\n\ndata: b", want: []Event{msg("a")}},
	{name: "unterminated event's id dropped", in: "id: 1\ndata: a\n\nid: 2\ndata: b\n",
		want: []Event{{ID: "1", Type: "message", Data: "a"}}, lastID: "1"},
	{name: "unterminated id line dropped", in: "id: 1\n\nid: 2", lastID: "1"},
	{name: "retry of unterminated event applies", in: "retry: 5\n", retry: 5 * time.Millisecond},
	{name: "unterminated retry line dropped", in: "retry: 5\n\nretry: 6", retry: 5 * time.Millisecond},
	{name: "final CR ends the line", in: "data: a\r\r", want: []Event{msg("a")}},
}

// readerVariants split a stream into reads in different ways.
var readerVariants = []struct {
	name string
	new  func(string) io.Reader
}{
	{"whole", func(s string) io.Reader { return strings.NewReader(s) }},
	{"one byte", func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) }},
	{"data with EOF", func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) }},
}

// decodeAll reads events from d until it fails, and returns them with the
// error.
func decodeAll(d *Decoder) ([]Event, error) {
	var events []Event
	for {
		e, err := d.Next()
		if err != nil {
			return events, err
		}
		events = append(events, e)
	}
}

// checkStream decodes in from r and checks it against c.
func checkStream(t *testing.T, r io.Reader, c decodeCase) {
	t.Helper()
	d := NewDecoder(r)
	got, err := decodeAll(d)
	if err != io.EOF {
		t.Fatalf("Next error = %v, want io.EOF", err)
	}
	if c.raw != nil && !reflect.DeepEqual(got, c.raw) {
		t.Errorf("events =\n%s\nwant\n%s", formatEvents(got), formatEvents(c.raw))
	}
	if view := browserView(got, ""); !reflect.DeepEqual(view, c.want) {
		t.Errorf("events as a browser sees them =\n%s\nwant\n%s", formatEvents(view), formatEvents(c.want))
	}
	if id := d.LastEventID(); id != c.lastID {
		t.Errorf("LastEventID() = %q, want %q", id, c.lastID)
	}
	if retry := d.Retry(); retry != c.retry {
		t.Errorf("Retry() = %v, want %v", retry, c.retry)
	}
	if _, err := d.Next(); err != io.EOF {
		t.Errorf("Next after io.EOF: error = %v, want io.EOF", err)
	}
}

// checkResend sends the events a decoder returned on, as a proxy does,
// through the encoder, and checks that a client of the new stream sees
// what a client of the original one saw: the same events with the same
// last event ID at each. An ID that the encoder refuses (one that could not
// come back in a header) is the only error allowed, and leaves the check.
func checkResend(t *testing.T, events []Event) {
	t.Helper()
	var stream []byte
	for _, e := range events {
		var err error
		if stream, err = e.AppendText(stream); errors.Is(err, ErrInvalidID) {
			return
		} else if err != nil {
			t.Fatalf("re-sending %#v: %v", e, err)
		}
	}
	got, err := decodeAll(NewDecoder(bytes.NewReader(stream)))
	if err != io.EOF {
		t.Fatalf("decoding the re-sent stream: %v", err)
	}
	if want := browserView(events, ""); !reflect.DeepEqual(browserView(got, ""), want) {
		t.Errorf("re-sent events as a browser sees them =\n%s\nwant\n%s", formatEvents(browserView(got, "")), formatEvents(want))
	}
	for i := range got {
		if got[i].ID != events[i].ID || got[i].ClearID != events[i].ClearID {
			t.Errorf("re-sent event %d: ID %q, ClearID %v; want %q, %v", i, got[i].ID, got[i].ClearID, events[i].ID, events[i].ClearID)
		}
	}
}

func formatEvents(events []Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "\t%#v\n", e)
	}
	if len(events) == 0 {
		b.WriteString("\t(none)\n")
	}
	return b.String()
}

func TestDecoder(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			// The literal transcription of the standard must agree, so
			// that the randomised comparison below checks the right thing.
			events, lastID, retry := refDecode([]byte(c.in))
			if view := browserView(events, ""); !reflect.DeepEqual(view, c.want) || lastID != c.lastID || retry != c.retry {
				t.Errorf("reference decoder: events =\n%s lastID %q, retry %v", formatEvents(view), lastID, retry)
			}
			c.raw = events
			checkResend(t, events)
			for _, v := range readerVariants {
				t.Run(v.name, func(t *testing.T) {
					checkStream(t, v.new(c.in), c)
				})
			}
		})
	}
}

// scriptReader returns one step per Read: its bytes (as many as fit), or
// its error. After the last step it returns io.EOF.
type scriptReader struct {
	steps []step
}

type step struct {
	data string
	err  error
}

func (r *scriptReader) Read(p []byte) (int, error) {
	if len(r.steps) == 0 {
		return 0, io.EOF
	}
	s := &r.steps[0]
	if s.err != nil {
		err := s.err
		r.steps = r.steps[1:]
		return 0, err
	}
	n := copy(p, s.data)
	if s.data = s.data[n:]; s.data == "" {
		r.steps = r.steps[1:]
	}
	return n, nil
}

// chunks returns the steps that read each chunk on its own.
func chunks(data ...string) []step {
	steps := make([]step, len(data))
	for i, s := range data {
		steps[i] = step{data: s}
	}
	return steps
}

func TestDecoderSplitReads(t *testing.T) {
	cases := []struct {
		name   string
		chunks []string
		want   []Event
	}{
		{"CRLF split after CR", []string{"data: a\r", "\ndata: b\n\n"}, []Event{msg("a\nb")}},
		{"CRLF split before blank line", []string{"data: a\r\n\r", "\ndata: b\r\n\r\n"}, []Event{msg("a"), msg("b")}},
		{"CR then CR", []string{"data: a\r", "\rdata: b\n\n"}, []Event{msg("a"), msg("b")}},
		{"bom split", []string{"\xEF", "\xBB", "\xBFdata: a\n\n"}, []Event{msg("a")}},
		{"sequence split", []string{"data: \xE2", "\x82", "A\n\n"}, []Event{msg("\uFFFDA")}},
		{"valid sequence split", []string{"data: \xF0\x9F", "\x98\x80\n\n"}, []Event{msg("😀")}},
		{"empty reads", []string{"", "data: a", "", "\n", "", "\n"}, []Event{msg("a")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkStream(t, &scriptReader{steps: chunks(c.chunks...)}, decodeCase{want: c.want})
		})
	}
}

// TestDecoderNoReadAhead checks that an event is returned as soon as its
// blank line is in, without a read that would block a live stream; a CR
// line end in particular must not wait for a possible LF.
func TestDecoderNoReadAhead(t *testing.T) {
	errBlocked := errors.New("read after the event was complete")
	for _, in := range []string{"data: a\n\n", "data: a\r\r", "data: a\r\n\r\n", "data: a\r\n\r", "\uFEFFdata: a\n\n"} {
		t.Run(strconv.Quote(in), func(t *testing.T) {
			d := NewDecoder(&scriptReader{steps: []step{{data: in}, {err: errBlocked}}})
			e, err := d.Next()
			if err != nil {
				t.Fatalf("Next error = %v, want event", err)
			}
			if !reflect.DeepEqual(e, msg("a")) {
				t.Fatalf("Next = %#v, want data a", e)
			}
			if _, err := d.Next(); err != errBlocked {
				t.Fatalf("second Next error = %v, want %v", err, errBlocked)
			}
		})
	}
}

func TestDecoderReadError(t *testing.T) {
	errRead := errors.New("connection reset")
	cases := []struct {
		name  string
		steps []step
		want  []any // an Event, or an error Next returns
	}{
		{
			name:  "error passed through and decoding resumes",
			steps: []step{{data: "id: 1\ndata: a\n\ndata: b"}, {err: errRead}, {data: "\n\n"}},
			want:  []any{Event{ID: "1", Type: "message", Data: "a"}, errRead, msg("b"), io.EOF},
		},
		{
			name:  "error between CR and LF",
			steps: []step{{data: "data: a\r"}, {err: errRead}, {data: "\n\ndata: b\n\n"}},
			want:  []any{errRead, msg("a"), msg("b"), io.EOF},
		},
		{
			name:  "error while looking for a bom",
			steps: []step{{data: "\xEF\xBB"}, {err: errRead}, {data: "\xBFdata: a\n\n"}},
			want:  []any{errRead, msg("a"), io.EOF},
		},
		{
			// A reader may go on after io.EOF (a file that grows): what
			// was pending at io.EOF, unterminated line and id included, is
			// gone.
			name:  "stream continued after io.EOF",
			steps: []step{{data: "id: 1\ndata: a\n\nid: 2\ndata: b\ndata: c"}, {err: io.EOF}, {data: "\n\ndata: d\n\n"}},
			want:  []any{Event{ID: "1", Type: "message", Data: "a"}, io.EOF, msg("d"), io.EOF},
		},
		{
			name:  "error with data",
			steps: []step{{data: "data: a\n\n"}, {err: io.ErrUnexpectedEOF}},
			want:  []any{msg("a"), io.ErrUnexpectedEOF, io.EOF},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(&scriptReader{steps: c.steps})
			for i, want := range c.want {
				e, err := d.Next()
				switch want := want.(type) {
				case error:
					if err != want {
						t.Fatalf("Next #%d: error = %v (%#v), want %v", i, err, e, want)
					}
				case Event:
					if err != nil || !reflect.DeepEqual(e, want) {
						t.Fatalf("Next #%d = %#v, %v; want %#v", i, e, err, want)
					}
				}
			}
		})
	}
}

func TestDecoderNoProgress(t *testing.T) {
	d := NewDecoder(iotest.ErrReader(nil)) // (0, nil) for ever
	if _, err := d.Next(); err != io.ErrNoProgress {
		t.Fatalf("Next error = %v, want io.ErrNoProgress", err)
	}
}

// endless is a reader that repeats pattern. It stands for a stream that
// never ends, but fails after 16 MiB so that a Decoder that would read on
// for ever fails the test instead of hanging it.
type endless struct {
	pattern string
	n       int // bytes read so far
}

// errEndless is what endless returns once it has given up.
var errEndless = errors.New("endless reader: read too much")

func (r *endless) Read(p []byte) (int, error) {
	if r.n >= 16<<20 {
		return 0, errEndless
	}
	for i := range p {
		p[i] = r.pattern[(r.n+i)%len(r.pattern)]
	}
	r.n += len(p)
	return len(p), nil
}

func TestDecoderMaxEventSize(t *testing.T) {
	// "data: abc" is 9 bytes, ":12345" 6: line ends do not count.
	cases := []struct {
		name   string
		in     string
		max    int
		want   []Event // the events before the error, if any
		tooBig bool
		lastID string
	}{
		{name: "at the limit", in: "data: abc\n\n", max: 9, want: []Event{msg("abc")}},
		{name: "over the limit", in: "data: abc\n\n", max: 8, tooBig: true},
		{name: "limit is per event", in: "data: abc\n\ndata: def\r\n\r\nid: 12345\n\n", max: 9, want: []Event{msg("abc"), msg("def")}, lastID: "12345"},
		{name: "lines add up", in: "data: abc\ndata: abc\n\n", max: 17, tooBig: true},
		{name: "lines add up to the limit", in: "data: abc\ndata: abc\n\n", max: 18, want: []Event{msg("abc\nabc")}},
		{name: "comments count", in: ":12345\ndata: abc\n\n", max: 14, tooBig: true},
		{name: "comments count up to the limit", in: ":12345\ndata: abc\n\n", max: 15, want: []Event{msg("abc")}},
		{name: "unterminated line over the limit", in: "data: a\n\ndata: abcd", max: 9, want: []Event{msg("a")}, tooBig: true},
		{name: "bom does not count", in: "\uFEFFdata: abc\n\n", max: 9, want: []Event{msg("abc")}},
		{name: "error after earlier events", in: "data: a\n\ndata: abcdefghij\n\ndata: b\n\n", max: 9, want: []Event{msg("a")}, tooBig: true},
		// "data: \xFF\xFF" is 8 bytes, 12 once each byte becomes U+FFFD.
		{name: "invalid bytes count decoded", in: "data: \xFF\xFF\n\n", max: 11, tooBig: true},
		{name: "invalid bytes count decoded up to the limit", in: "data: \xFF\xFF\n\n", max: 12, want: []Event{msg("\uFFFD\uFFFD")}},
		{name: "invalid bytes in an id count", in: "id: \xFF\xFF\xFF\n\n", max: 12, tooBig: true},
		{name: "invalid bytes in a type count", in: "event: \xE2\x82\ndata\n\n", max: 13, tooBig: true},
		{name: "invalid bytes in a comment do not count", in: ":\xFF\xFF\xFF\xFF\ndata\n\n", max: 9, want: []Event{msg("")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, v := range readerVariants {
				t.Run(v.name, func(t *testing.T) {
					d := NewDecoder(v.new(c.in))
					d.SetMaxEventSize(c.max)
					got, err := decodeAll(d)
					if c.tooBig {
						if !errors.Is(err, ErrEventTooLarge) {
							t.Fatalf("Next error = %v, want ErrEventTooLarge", err)
						}
						// The error sticks: the stream cannot be resynchronised.
						if _, err := d.Next(); !errors.Is(err, ErrEventTooLarge) {
							t.Errorf("Next after ErrEventTooLarge: error = %v", err)
						}
					} else if err != io.EOF {
						t.Fatalf("Next error = %v, want io.EOF", err)
					}
					if !reflect.DeepEqual(got, c.want) {
						t.Errorf("events =\n%s\nwant\n%s", formatEvents(got), formatEvents(c.want))
					}
					if id := d.LastEventID(); id != c.lastID {
						t.Errorf("LastEventID() = %q, want %q", id, c.lastID)
					}
				})
			}
		})
	}
}

func TestDecoderDefaultMaxEventSize(t *testing.T) {
	const mib = 1 << 20
	for _, set := range []int{-1, 0, mib} {
		line := "data: " + strings.Repeat("x", mib-len("data: "))
		for _, c := range []struct {
			in     string
			tooBig bool
		}{
			{line + "\n\n", false},
			{line + "x\n\n", true},
			{line[:mib/2] + "\n" + line[mib/2:] + "x\n\n", true},
		} {
			t.Run(fmt.Sprintf("set %d, %d bytes", set, len(c.in)), func(t *testing.T) {
				d := NewDecoder(strings.NewReader(c.in))
				if set != mib {
					d.SetMaxEventSize(set)
				}
				e, err := d.Next()
				if c.tooBig {
					if !errors.Is(err, ErrEventTooLarge) {
						t.Fatalf("Next error = %v, want ErrEventTooLarge", err)
					}
					return
				}
				if err != nil || e.Data != line[len("data: "):] {
					t.Fatalf("Next = %d bytes of data, %v; want %d bytes", len(e.Data), err, mib-len("data: "))
				}
			})
		}
	}
}

// TestDecoderEndlessStream checks that a stream that never ends its line,
// or never ends its event, is refused after about the limit, without
// reading (and buffering) more.
func TestDecoderEndlessStream(t *testing.T) {
	for _, c := range []struct {
		name    string
		pattern string
		counted int // bytes of pattern that count toward the limit
		max     int
	}{
		{"line, default limit", "a", 1, 0},
		{"data line", "data: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 38, 100_000},
		{"comment line", ":", 1, 5000},
		{"small limit", "x", 1, 10},
		{"lines without a blank line", "data: x\n", 7, 100_000},
		{"CR lines without a blank line", "data: x\r", 7, 100_000},
		{"comment lines without a blank line", ":\r\n", 1, 100_000},
	} {
		t.Run(c.name, func(t *testing.T) {
			limit := c.max
			if limit == 0 {
				limit = defaultMaxEventSize
			}
			r := &endless{pattern: c.pattern}
			d := NewDecoder(r)
			d.SetMaxEventSize(c.max)
			if _, err := d.Next(); !errors.Is(err, ErrEventTooLarge) {
				t.Fatalf("Next error = %v, want ErrEventTooLarge", err)
			}
			// What it read holds just over limit counted bytes, plus at
			// most one read buffer.
			if most := (limit+c.counted)*len(c.pattern)/c.counted + decoderBufSize; r.n < limit || r.n > most {
				t.Errorf("read %d bytes with a limit of %d, want at most %d", r.n, limit, most)
			}
			if n := cap(d.buf); n > max(2*limit, decoderBufSize) {
				t.Errorf("buffer grew to %d bytes with a limit of %d", n, limit)
			}
			if n := cap(d.data); n > 2*limit {
				t.Errorf("data buffer grew to %d bytes with a limit of %d", n, limit)
			}
		})
	}
}

// TestDecoderLongLines checks lines longer than the read buffer, which
// make it grow, in all the ways they can end.
func TestDecoderLongLines(t *testing.T) {
	long := strings.Repeat("0123456789", 3*decoderBufSize/10)
	for _, eol := range []string{"\n", "\r", "\r\n"} {
		in := "id: " + long + eol + "data: " + long + eol + "data: " + long[:100] + eol + eol + "data: b" + eol + eol
		c := decodeCase{
			in:     in,
			want:   []Event{{ID: long, Type: "message", Data: long + "\n" + long[:100]}, {ID: long, Type: "message", Data: "b"}},
			lastID: long,
		}
		t.Run(strconv.Quote(eol), func(t *testing.T) {
			for _, v := range readerVariants {
				t.Run(v.name, func(t *testing.T) {
					checkStream(t, v.new(in), c)
				})
			}
		})
	}
}

func TestDecoderSetLastEventID(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		want   []Event
		lastID string
	}{
		{"carried to events without id", "data: a\n\nid: 8\ndata: b\n\ndata: c\n\n",
			[]Event{{ID: "7", Type: "message", Data: "a"}, {ID: "8", Type: "message", Data: "b"}, {ID: "8", Type: "message", Data: "c"}}, "8"},
		{"empty id resets it", "id\ndata: a\n\n", []Event{msg("a")}, ""},
		{"kept when the stream sets none", ": hi\n\n", nil, "7"},
		{"kept over an unterminated event's id", "data: a\n\nid: 9\ndata: b\n", []Event{{ID: "7", Type: "message", Data: "a"}}, "7"},
		{"kept over an id with NUL", "id: 9\x00\ndata: a\n\n", []Event{{ID: "7", Type: "message", Data: "a"}}, "7"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(c.in))
			d.SetLastEventID("7")
			if id := d.LastEventID(); id != "7" {
				t.Fatalf("LastEventID() before Next = %q, want %q", id, "7")
			}
			got, err := decodeAll(d)
			if err != io.EOF {
				t.Fatalf("Next error = %v, want io.EOF", err)
			}
			if view := browserView(got, "7"); !reflect.DeepEqual(view, c.want) {
				t.Errorf("events as a browser sees them =\n%s\nwant\n%s", formatEvents(view), formatEvents(c.want))
			}
			if id := d.LastEventID(); id != c.lastID {
				t.Errorf("LastEventID() = %q, want %q", id, c.lastID)
			}
		})
	}
}

// TestDecoderEventIDs checks the ID of each event as Next returns it: its
// own, or one that a block without data set since the last event fired,
// and nothing for an event that only inherits the last event ID.
func TestDecoderEventIDs(t *testing.T) {
	cleared := func(data string) Event { return Event{ClearID: true, Type: "message", Data: data} }
	withID := func(id, data string) Event { return Event{ID: id, Type: "message", Data: data} }
	cases := []struct {
		name  string
		start string // the ID given to SetLastEventID, if any
		in    string
		want  []Event
	}{
		{"own ID", "", "id: 1\ndata: a\n\n", []Event{withID("1", "a")}},
		{"none of its own", "", "id: 1\ndata: a\n\ndata: b\n\n", []Event{withID("1", "a"), msg("b")}},
		{"own ID repeated", "", "id: 1\ndata: a\n\nid: 1\ndata: b\n\n", []Event{withID("1", "a"), withID("1", "b")}},
		{"empty id field", "", "id: 1\ndata: a\n\nid\ndata: b\n\ndata: c\n\n", []Event{withID("1", "a"), cleared("b"), msg("c")}},
		{"id alone, then an event", "", "id: 5\n\ndata: a\n\n", []Event{withID("5", "a")}},
		{"id alone cleared, then an event", "", "id: 5\ndata: a\n\nid:\n\ndata: b\n\n", []Event{withID("5", "a"), cleared("b")}},
		{"id alone set back to the last fired", "", "id: 5\ndata: a\n\nid: 6\n\nid: 5\n\ndata: b\n\n", []Event{withID("5", "a"), msg("b")}},
		{"id with NUL is no id field", "", "id: 1\ndata: a\n\nid: \x00\ndata: b\n\n", []Event{withID("1", "a"), msg("b")}},
		{"after SetLastEventID", "7", "data: a\n\n", []Event{msg("a")}},
		{"own ID equal to SetLastEventID", "7", "id: 7\ndata: a\n\n", []Event{withID("7", "a")}},
		{"id alone after SetLastEventID", "7", "id: 8\n\ndata: a\n\n", []Event{withID("8", "a")}},
		{"unterminated id dropped", "", "data: a\n\nid: 9", []Event{msg("a")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := NewDecoder(strings.NewReader(c.in))
			if c.start != "" {
				d.SetLastEventID(c.start)
			}
			got, err := decodeAll(d)
			if err != io.EOF {
				t.Fatalf("Next error = %v, want io.EOF", err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("events =\n%s\nwant\n%s", formatEvents(got), formatEvents(c.want))
			}
		})
	}
}

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecoderMemoryBound checks the documented bound on what a Decoder
// allocates whatever the bytes, invalid UTF-8 included: each invalid byte
// becomes three, and that must count toward the limit.
func TestDecoderMemoryBound(t *testing.T) {
	const limit = 1 << 20
	line := func(prefix string, b byte, n int) string {
		return prefix + strings.Repeat(string([]byte{b}), n-len(prefix))
	}
	cases := []struct {
		name    string
		in      string
		dataLen int // 0: the event is too large
	}{
		{"valid data at the limit", line("data: ", 'x', limit) + "\n\n", limit - 6},
		{"invalid data of the limit's length", line("data: ", 0xFF, limit) + "\n\n", 0},
		{"invalid data a third of the limit", line("data: ", 0xFF, limit/3) + "\n\n", 3 * (limit/3 - 6)},
		{"invalid data in many lines", strings.Repeat(line("data: ", 0x80, 1000)+"\n", limit/1000) + "\n", 0},
		{"invalid id of the limit's length", line("id: ", 0xFF, limit) + "\ndata\n\n", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var d *Decoder
			var e Event
			var err error
			n := allocated(func() {
				d = NewDecoder(strings.NewReader(c.in))
				e, err = d.Next()
			})
			if c.dataLen == 0 {
				if !errors.Is(err, ErrEventTooLarge) {
					t.Fatalf("Next = %d bytes of data, %v; want ErrEventTooLarge", len(e.Data), err)
				}
			} else if err != nil || len(e.Data) != c.dataLen {
				t.Fatalf("Next = %d bytes of data, %v; want %d bytes", len(e.Data), err, c.dataLen)
			}
			// What the Decoder keeps: its read buffer and its data buffer,
			// each at most the limit.
			if kept := cap(d.buf) + cap(d.data) + cap(d.id) + cap(d.typ); kept > 2*limit+2 {
				t.Errorf("Decoder keeps %.2f MiB, want at most twice the limit", float64(kept)/(1<<20))
			}
			// What it allocated: the read and data buffers double up to the
			// limit (under twice the limit each, in all), and Data.
			if most := uint64(4*limit + c.dataLen + 64<<10); n > most {
				t.Errorf("allocated %.2f MiB, want at most %.2f MiB", float64(n)/(1<<20), float64(most)/(1<<20))
			}
		})
	}
}

// TestDecoderAllocsPerEvent checks that a long stream allocates only the
// strings of its events, invalid bytes or not.
func TestDecoderAllocsPerEvent(t *testing.T) {
	for _, c := range []struct {
		name  string
		event string
		want  float64 // allocations per event
	}{
		{"data", "data: hello\n\n", 1},
		{"data with invalid bytes", "data: h\xFFllo\xE2\x82\n\n", 1},
		{"new id each time", "id: 1\ndata: hello\n\nid: 2\ndata: hello\n\n", 2},
		{"type repeated", "event: tick\ndata: hello\n\n", 1},
		{"type repeated with invalid bytes", "event: t\xFF\ndata: hello\n\n", 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			const repeat = 100
			stream := strings.Repeat(c.event, repeat)
			events := strings.Count(stream, "\n\n")
			r := strings.NewReader(stream)
			d := NewDecoder(r)
			got := testing.AllocsPerRun(20, func() {
				r.Reset(stream)
				d.reset(r)
				for {
					if _, err := d.Next(); err != nil {
						if err != io.EOF {
							t.Fatal(err)
						}
						return
					}
				}
			}) / float64(events)
			// The first event of a run may allocate its type once more.
			if got > c.want+1.0/float64(events) {
				t.Errorf("%.2f allocations per event, want %v", got, c.want)
			}
		})
	}
}

func TestAppendLossy(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"", ""},
		{"abc", "abc"},
		{"é世😀", "é世😀"},
		{"\uFFFD", "\uFFFD"},
		{"\x80", "\uFFFD"},
		{"\x80\x80", "\uFFFD\uFFFD"},
		{"\xE2\x82A", "\uFFFDA"},
		{"\xE2\x82", "\uFFFD"},
		{"\xE2\x82\xE2\x82\xAC", "\uFFFD€"},
		{"\xC2", "\uFFFD"},
		{"\xC2A", "\uFFFDA"},
		{"\xC0\x80", "\uFFFD\uFFFD"},
		{"\xC1\xBF", "\uFFFD\uFFFD"},
		{"\xE0\x80\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xE0\xA0", "\uFFFD"},
		{"\xED\x9F\xBF", "\uD7FF"},
		{"\xED\xA0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"\xF0\x80\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xF0\x90\x80", "\uFFFD"},
		{"\xF0\x9F\x98A", "\uFFFDA"},
		{"\xF4\x8F\xBF\xBF", "\U0010FFFF"},
		{"\xF4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
		{"\xF5\x80", "\uFFFD\uFFFD"},
		{"\xFE\xFF", "\uFFFD\uFFFD"},
		{"a\xFFb\xE2\x82\xACc\xF0\x9F", "a\uFFFDb€c\uFFFD"},
	}
	for _, c := range cases {
		t.Run(strconv.Quote(c.in), func(t *testing.T) {
			if got := string(appendLossy(nil, []byte(c.in))); got != c.want {
				t.Errorf("appendLossy = %+q, want %+q", got, c.want)
			}
			if got := refUTF8([]byte(c.in)); got != c.want {
				t.Errorf("reference decoder = %+q, want %+q", got, c.want)
			}
			if got := lossyLen([]byte(c.in)); got != len(c.want) {
				t.Errorf("lossyLen = %d, want %d", got, len(c.want))
			}
		})
	}
}

// TestAppendLossyRandom compares appendLossy with the standard's decoder on
// random bytes drawn mostly from the ones that start or continue sequences.
func TestAppendLossyRandom(t *testing.T) {
	alphabet := []byte{'a', 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		p := make([]byte, rng.IntN(8))
		for i := range p {
			p[i] = alphabet[rng.IntN(len(alphabet))]
		}
		if got, want := string(appendLossy(nil, p)), refUTF8(p); got != want || lossyLen(p) != len(want) {
			t.Fatalf("appendLossy(%q) = %+q, lossyLen %d; want %+q", p, got, lossyLen(p), want)
		}
	}
}

// TestDecoderRandom compares the Decoder with a literal transcription of
// the standard on random streams made of the pieces that matter.
func TestDecoderRandom(t *testing.T) {
	pieces := []string{
		"data", "data:", "data: ", "id", "id:", "id: ", "event:", "event: ", "retry:", "retry: ", "Data:",
		":", " ", "\t", "\r", "\n", "\r\n", "\n\n", "\x00", "\uFEFF", "\xEF\xBB", "\xE2\x82", "\x80", "😀",
		"a", "7", "message",
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 3000 {
		var b strings.Builder
		for range rng.IntN(30) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		in := b.String()
		events, lastID, retry := refDecode([]byte(in))
		c := decodeCase{name: strconv.Quote(in), in: in, want: browserView(events, ""), raw: events, lastID: lastID, retry: retry}
		checkResend(t, events)
		for _, v := range readerVariants {
			t.Run(v.name, func(t *testing.T) {
				t.Logf("stream %q", in)
				checkStream(t, v.new(in), c)
			})
		}
		if t.Failed() {
			return
		}
	}
}

func FuzzDecoder(f *testing.F) {
	for _, c := range decodeCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		events, lastID, retry := refDecode(in)
		c := decodeCase{in: string(in), want: browserView(events, ""), raw: events, lastID: lastID, retry: retry}
		checkResend(t, events)
		for _, v := range readerVariants {
			t.Run(v.name, func(t *testing.T) {
				checkStream(t, v.new(c.in), c)
			})
		}
	})
}

// refUTF8 is the WHATWG Encoding Standard's UTF-8 decoder, transcribed
// step by step (without the BOM handling of "UTF-8 decode").
func refUTF8(p []byte) string {
	var out []rune
	var cp rune
	needed, seen := 0, 0
	lower, upper := byte(0x80), byte(0xBF)
	for i := 0; i < len(p); i++ {
		b := p[i]
		if needed == 0 {
			switch {
			case b <= 0x7F:
				out = append(out, rune(b))
			case 0xC2 <= b && b <= 0xDF:
				needed, cp = 1, rune(b&0x1F)
			case 0xE0 <= b && b <= 0xEF:
				if b == 0xE0 {
					lower = 0xA0
				}
				if b == 0xED {
					upper = 0x9F
				}
				needed, cp = 2, rune(b&0xF)
			case 0xF0 <= b && b <= 0xF4:
				if b == 0xF0 {
					lower = 0x90
				}
				if b == 0xF4 {
					upper = 0x8F
				}
				needed, cp = 3, rune(b&0x7)
			default:
				out = append(out, utf8.RuneError)
			}
			continue
		}
		if b < lower || b > upper {
			cp, needed, seen, lower, upper = 0, 0, 0, 0x80, 0xBF
			out = append(out, utf8.RuneError)
			i-- // restore the byte to the stream
			continue
		}
		lower, upper = 0x80, 0xBF
		cp = cp<<6 | rune(b&0x3F)
		if seen++; seen == needed {
			out = append(out, cp)
			cp, needed, seen = 0, 0, 0
		}
	}
	if needed != 0 {
		out = append(out, utf8.RuneError)
	}
	return string(out)
}

// refDecode is the standard's event stream interpretation, transcribed
// step by step on a whole stream: UTF-8 decode, split into lines, process
// each, discard what is pending at the end. The events it returns are as
// Next returns them, with the ID of their own id field, or of an id set
// since the last event fired (see browserView for the standard's view).
func refDecode(p []byte) (events []Event, lastID string, retry time.Duration) {
	return refDecodeFrom(p, "")
}

// refDecodeFrom is refDecode for a stream that starts with a last event ID
// set, as after a reconnect.
func refDecodeFrom(p []byte, startID string) (events []Event, lastID string, retry time.Duration) {
	events, lastID, _, retry = refDecodeResume(p, startID, startID)
	return events, lastID, retry
}

// refDecodeResume is refDecodeFrom for a stream that goes on from another
// (a reconnection): firedID is the last event ID when the last event of
// the streams before fired, and it returns the one at the end of this one.
func refDecodeResume(p []byte, startID, startFired string) (events []Event, lastID, firedID string, retry time.Duration) {
	p = bytes.TrimPrefix(p, []byte(bom))
	s := refUTF8(p)
	lastID = startID
	idBuf := startID
	firedID = startFired
	idField := false
	var data, eventType string
	for {
		i := strings.IndexAny(s, "\r\n")
		if i < 0 {
			return events, lastID, firedID, retry // pending data discarded
		}
		line := s[:i]
		if strings.HasPrefix(s[i:], "\r\n") {
			s = s[i+2:]
		} else {
			s = s[i+1:]
		}
		var name, value string
		switch {
		case line == "":
			lastID = idBuf
			own := idField
			idField = false
			if data == "" {
				eventType = ""
				continue
			}
			data = strings.TrimSuffix(data, "\n")
			typ := eventType
			if typ == "" {
				typ = "message"
			}
			e := Event{Type: typ, Data: data}
			if own || lastID != firedID {
				e.ID, e.ClearID = lastID, lastID == ""
			}
			firedID = lastID
			events = append(events, e)
			data, eventType = "", ""
			continue
		case line[0] == ':':
			continue
		case strings.Contains(line, ":"):
			name, value, _ = strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
		default:
			name = line
		}
		switch name {
		case "event":
			eventType = value
		case "data":
			data += value + "\n"
		case "id":
			if !strings.ContainsRune(value, 0) {
				idBuf, idField = value, true
			}
		case "retry":
			if value != "" && strings.Trim(value, "0123456789") == "" {
				if ms, err := strconv.ParseInt(value, 10, 64); err == nil && ms <= int64(time.Duration(1<<63-1)/time.Millisecond) {
					retry = time.Duration(ms) * time.Millisecond
				}
			}
		}
	}
}

// BenchmarkDecoder decodes a stream of small events, as a typical feed
// sends them: an id that changes, a type that does not, a line of JSON.
func BenchmarkDecoder(b *testing.B) {
	const events = 1000
	for _, eol := range []string{"\n", "\r\n"} {
		var stream []byte
		for i := range events {
			stream = fmt.Appendf(stream, "id: %d%sevent: tick%sdata: {\"n\":%d,\"ok\":true}%s%s", i, eol, eol, i, eol, eol)
		}
		b.Run(map[string]string{"\n": "LF", "\r\n": "CRLF"}[eol], func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(stream)))
			r := bytes.NewReader(stream)
			for b.Loop() {
				r.Reset(stream)
				d := NewDecoder(r)
				n := 0
				for {
					if _, err := d.Next(); err != nil {
						if err != io.EOF {
							b.Fatal(err)
						}
						break
					}
					n++
				}
				if n != events {
					b.Fatalf("decoded %d events, want %d", n, events)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*events), "ns/event")
		})
	}
}
