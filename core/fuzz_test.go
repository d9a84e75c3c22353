package sse

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzRoundTrip encodes any event and reads it back with the spec decoder:
// a valid event arrives with its ID, type and data (line breaks normalised
// to LF) and nothing else; an invalid one is refused without a byte
// written. A second event after it proves the frame ended cleanly.
func FuzzRoundTrip(f *testing.F) {
	f.Add("1", "update", "hello", "", int64(0))
	f.Add("", "", "a\r\nb\rc\n", "note\r\nmore", int64(1500))
	f.Add("x\ny", "t", "d", "", int64(0))
	f.Add("x\x00", "t", "d", "", int64(0))
	f.Add("order\x01 7", "", "d", "", int64(0))
	f.Add(" 2", "", "d", "", int64(0))
	f.Add("", "a\rb", "d", "", int64(0))
	f.Add("ü", "größe", "\ufeffdata: x\n\n", ": c", int64(-1))
	f.Add("", "", "caf\xe9", "", int64(0))
	f.Fuzz(func(t *testing.T, id, typ, data, comment string, retryMS int64) {
		ev := Event{ID: id, Type: typ, Data: data, Comment: comment, Retry: time.Duration(retryMS) * time.Millisecond}
		frame, err := ev.AppendText([]byte("prefix"))
		if err != nil {
			if string(frame) != "prefix" {
				t.Fatalf("refused event wrote %q", frame[len("prefix"):])
			}
			checkRefusal(t, ev, err)
			return
		}
		if reason := invalidReason(ev); reason != "" {
			t.Fatalf("accepted an event with %s: %q", reason, frame)
		}
		frame = append(frame[len("prefix"):], "data: end\n\n"...)

		d := NewDecoder(bytes.NewReader(frame))
		fires := data != "" || typ != ""
		if fires {
			got, err := d.Next()
			if err != nil {
				t.Fatalf("decode %q: %v", frame, err)
			}
			wantType := typ
			if wantType == "" {
				wantType = "message"
			}
			want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(data)
			if got.Data != want || got.Type != wantType || got.ID != id {
				t.Fatalf("frame %q decoded to %+v, want id %q type %q data %q", frame, got, id, wantType, want)
			}
		}
		// The next event has no ID of its own: it reports an ID only when
		// the frame set one without firing, and the ID stays in force.
		end, err := d.Next()
		wantEndID := id
		if fires {
			wantEndID = ""
		}
		if err != nil || end.Data != "end" || end.Type != "message" || end.ID != wantEndID || d.LastEventID() != id {
			t.Fatalf("event after %q decoded to %+v, %v; the frame did not end cleanly", frame, end, err)
		}
		if _, err := d.Next(); err != io.EOF {
			t.Fatalf("stream %q has more events than were sent (err %v)", frame, err)
		}
		if retryMS >= 1 && d.Retry() != time.Duration(retryMS)*time.Millisecond {
			t.Fatalf("retry %d ms decoded as %v", retryMS, d.Retry())
		}
	})
}

// invalidReason says why ev must be refused, or "" if it is valid.
func invalidReason(ev Event) string {
	switch {
	case strings.ContainsFunc(ev.ID, func(r rune) bool { return r < ' ' || r == 0x7F }) ||
		strings.HasPrefix(ev.ID, " ") || strings.HasSuffix(ev.ID, " ") || !utf8.ValidString(ev.ID):
		return "an ID that cannot come back in a Last-Event-ID header"
	case strings.ContainsAny(ev.Type, "\r\n") || !utf8.ValidString(ev.Type):
		return "a bad type"
	case !utf8.ValidString(ev.Data) || !utf8.ValidString(ev.Comment):
		return "text that is not UTF-8"
	case ev.Retry < 0:
		return "a negative retry"
	case ev.ID == "" && ev.Type == "" && ev.Data == "" && ev.Comment == "" && ev.Retry == 0:
		return "nothing in it"
	}
	return ""
}

func checkRefusal(t *testing.T, ev Event, err error) {
	t.Helper()
	reason := invalidReason(ev)
	if reason == "" {
		t.Fatalf("valid event %+v refused: %v", ev, err)
	}
	for _, sentinel := range []error{ErrInvalidID, ErrInvalidType, ErrInvalidData, ErrInvalidRetry, ErrEmptyEvent} {
		if errors.Is(err, sentinel) {
			return
		}
	}
	t.Fatalf("refusal of %+v (%s) wraps no sentinel: %v", ev, reason, err)
}
