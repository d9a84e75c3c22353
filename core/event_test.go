package sse

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var update = flag.Bool("update", false, "rewrite the golden frames under testdata/frames")

// goldenDir holds the golden frames; the module keeps its test data at the
// root.
const goldenDir = "../testdata/frames"

// indentedJSON marshals itself with line breaks, as a careless MarshalJSON
// might; the frame must still hold it on one data line.
type indentedJSON struct{}

func (indentedJSON) MarshalJSON() ([]byte, error) {
	return []byte("{\n  \"a\": [\n    1,\n    2\n  ]\n}"), nil
}

// rawMarshaler returns its bytes from MarshalJSON as they are.
type rawMarshaler string

func (m rawMarshaler) MarshalJSON() ([]byte, error) { return []byte(m), nil }

func TestEventGolden(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
	}{
		{"data", Event{Data: "hello"}},
		{"full", Event{ID: "42", Type: "update", Data: "hello", Retry: 2500 * time.Millisecond, Comment: "note"}},
		{"lf", Event{Data: "one\ntwo\nthree"}},
		{"crlf", Event{Data: "one\r\ntwo\r\nthree"}},
		{"cr", Event{Data: "one\rtwo\rthree"}},
		{"mixed-breaks", Event{Data: "a\r\nb\nc\rd\r\r\ne"}},
		{"trailing-lf", Event{Data: "line\n"}},
		{"trailing-crlf", Event{Data: "line\r\n"}},
		{"only-breaks", Event{Data: "\n\n"}},
		{"leading-space-and-colon", Event{Data: " spaced\n:colon\n: both"}},
		{"field-lookalike", Event{Data: "x\nid: 99\nevent: evil\nretry: 1\n\ndata: injected"}},
		{"nul-in-data", Event{Data: "a\x00b"}},
		{"utf8", Event{ID: "ü-1", Type: "größe", Data: "héllo wörld 👋\u2028next"}},
		{"bom-in-data", Event{Data: "\ufeffstarts with a BOM"}},
		{"type-without-data", Event{Type: "ping"}},
		{"id-only", Event{ID: "7"}},
		{"clear-id", Event{ClearID: true}},
		{"clear-id-with-data", Event{ClearID: true, Data: "after reset"}},
		{"retry-only", Event{Retry: 10 * time.Second}},
		{"retry-rounds-down", Event{Data: "x", Retry: 1999 * time.Microsecond}},
		{"comment-multiline", Event{Comment: "first\nsecond\r\nthird\rfourth"}},
		{"comment-and-data", Event{Comment: "keep", Data: "x"}},
		{"bytes", Event{Bytes: []byte("from\nbytes")}},
		{"json", Event{Type: "json", JSON: map[string]any{"text": "line\nbreak", "html": "<b>&</b>", "n": 1}}},
		{"json-indented-marshaler", Event{JSON: indentedJSON{}}},
		{"json-string-with-separators", Event{JSON: "a\u2028b\u2029c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.ev.AppendText(nil)
			if err != nil {
				t.Fatalf("AppendText: %v", err)
			}
			path := filepath.Join(goldenDir, tt.name+".sse")
			if *update {
				if err := os.MkdirAll(goldenDir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./core -run TestEventGolden -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("frame mismatch\n got: %q\nwant: %q", got, want)
			}
		})
	}
}

// TestEventDecodesBack checks what a browser would see: every golden event,
// read back with the spec decoder, gives the data, type and ID that were
// sent, with line breaks normalised to LF.
func TestEventDecodesBack(t *testing.T) {
	tests := []struct {
		ev       Event
		wantType string
		wantData string
	}{
		{Event{Data: "a\r\nb\nc\rd\r\r\ne"}, "message", "a\nb\nc\nd\n\ne"},
		{Event{Data: "line\n"}, "message", "line\n"},
		{Event{Data: "\n\n"}, "message", "\n\n"},
		{Event{Data: " spaced\n:colon"}, "message", " spaced\n:colon"},
		{Event{Data: "x\nid: 99\nevent: evil\n\ndata: injected"}, "message", "x\nid: 99\nevent: evil\n\ndata: injected"},
		{Event{ID: "ü-1", Type: "größe", Data: "a\x00b"}, "größe", "a\x00b"},
		{Event{Type: "ping"}, "ping", ""},
		{Event{Bytes: []byte("b\r\n")}, "message", "b\n"},
		{Event{JSON: indentedJSON{}}, "message", `{"a":[1,2]}`},
	}
	for i, tt := range tests {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			frame, err := tt.ev.AppendText(nil)
			if err != nil {
				t.Fatal(err)
			}
			d := NewDecoder(bytes.NewReader(frame))
			got, err := d.Next()
			if err != nil {
				t.Fatalf("decode %q: %v", frame, err)
			}
			if got.Type != tt.wantType || got.Data != tt.wantData || got.ID != tt.ev.ID {
				t.Errorf("decoded %+v from %q, want type %q data %q id %q", got, frame, tt.wantType, tt.wantData, tt.ev.ID)
			}
			if extra, err := d.Next(); err == nil {
				t.Errorf("one event decoded as two; second: %+v", extra)
			}
		})
	}
}

// TestEventClearIDResets checks what a client makes of ClearID: the last
// event ID it carries over becomes empty, both when the reset stands alone
// and when it comes with data.
func TestEventClearIDResets(t *testing.T) {
	var stream []byte
	for _, ev := range []Event{
		{ID: "1", Data: "a"},
		{Data: "b"},
		{ClearID: true},
		{Data: "c"},
		{ID: "2", Data: "d"},
		{ClearID: true, Data: "e"},
	} {
		var err error
		if stream, err = ev.AppendText(stream); err != nil {
			t.Fatal(err)
		}
	}
	d := NewDecoder(bytes.NewReader(stream))
	for _, want := range []struct{ data, id string }{{"a", "1"}, {"b", "1"}, {"c", ""}, {"d", "2"}, {"e", ""}} {
		got, err := d.Next()
		if err != nil {
			t.Fatalf("decoding %q: %v", stream, err)
		}
		if got.Data != want.data || d.LastEventID() != want.id {
			t.Errorf("got data %q with last event ID %q, want data %q id %q", got.Data, d.LastEventID(), want.data, want.id)
		}
	}
}

func TestEventRefused(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want error
	}{
		{"id-lf", Event{ID: "1\ndata: injected", Data: "x"}, ErrInvalidID},
		{"id-cr", Event{ID: "1\rretry: 1", Data: "x"}, ErrInvalidID},
		{"id-crlf", Event{ID: "1\r\n", Data: "x"}, ErrInvalidID},
		{"id-nul", Event{ID: "1\x00", Data: "x"}, ErrInvalidID},
		{"id-not-utf8", Event{ID: "\xff", Data: "x"}, ErrInvalidID},
		{"id-control", Event{ID: "order\x01 7", Data: "x"}, ErrInvalidID},
		{"id-tab", Event{ID: "a\tb", Data: "x"}, ErrInvalidID},
		{"id-del", Event{ID: "a\x7f", Data: "x"}, ErrInvalidID},
		{"id-leading-space", Event{ID: " 2", Data: "x"}, ErrInvalidID},
		{"id-trailing-space", Event{ID: "2 ", Data: "x"}, ErrInvalidID},
		{"id-only-space", Event{ID: " ", Data: "x"}, ErrInvalidID},
		{"type-lf", Event{Type: "a\ndata: injected", Data: "x"}, ErrInvalidType},
		{"type-cr", Event{Type: "a\r", Data: "x"}, ErrInvalidType},
		{"type-not-utf8", Event{Type: "a\xc3", Data: "x"}, ErrInvalidType},
		{"data-not-utf8", Event{Data: "caf\xe9"}, ErrInvalidData},
		{"bytes-not-utf8", Event{Bytes: []byte{0xff, 0xfe}}, ErrInvalidData},
		{"comment-not-utf8", Event{Comment: "\x80", Data: "x"}, ErrInvalidData},
		{"json-unsupported", Event{JSON: make(chan int)}, ErrInvalidData},
		{"json-nan-after-fields", Event{ID: "5", Type: "t", JSON: []float64{1, math.NaN()}}, ErrInvalidData},
		{"json-raw-not-utf8", Event{ID: "5", JSON: json.RawMessage("\"caf\xe9\"")}, ErrInvalidData},
		{"json-marshaler-not-utf8", Event{JSON: rawMarshaler("[\"\xff\"]")}, ErrInvalidData},
		{"json-field-not-utf8", Event{JSON: struct{ V json.RawMessage }{json.RawMessage("\"\xc3\"")}}, ErrInvalidData},
		{"clear-id-and-id", Event{ID: "1", ClearID: true, Data: "x"}, ErrInvalidID},
		{"retry-negative", Event{Retry: -time.Second, Data: "x"}, ErrInvalidRetry},
		{"retry-sub-millisecond", Event{Retry: time.Microsecond, Data: "x"}, ErrInvalidRetry},
		{"data-and-bytes", Event{Data: "a", Bytes: []byte("b")}, ErrDataConflict},
		{"data-and-json", Event{Data: "a", JSON: 1}, ErrDataConflict},
		{"bytes-and-json", Event{Bytes: []byte("a"), JSON: 1}, ErrDataConflict},
		{"empty", Event{}, ErrEmptyEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("kept: ")
			got, err := tt.ev.AppendText(prefix)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if string(got) != "kept: " {
				t.Errorf("buffer changed to %q; an invalid event must write nothing", got)
			}
		})
	}
}

// TestPlainASCII compares the eight-bytes-at-a-time check with a plain
// loop, for every position of a CR, a high byte and the bytes next to CR
// in strings around the word size.
func TestPlainASCII(t *testing.T) {
	reference := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] == '\r' || s[i] >= 0x80 {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 33; n++ {
		base := []byte(strings.Repeat("a", n))
		check := func(s []byte) {
			if got, want := plainASCII(string(s)), reference(string(s)); got != want {
				t.Errorf("plainASCII(%q) = %v, want %v", s, got, want)
			}
		}
		check(base)
		for i := range n {
			for _, c := range []byte{'\r', '\n', 0x0c, 0x0e, 0x8d, 0x80, 0xff, 0x00, 0x7f} {
				s := bytes.Clone(base)
				s[i] = c
				check(s)
			}
		}
	}
}

// TestEventIDRoundTrip checks the rule for IDs against what it stands for:
// every ID the encoder accepts reaches a client through the stream and
// comes back byte for byte in the Last-Event-ID header of a reconnection
// to a net/http server, and every ID it refuses for its bytes could not
// make that trip (tab inside an ID, which a header could carry, is refused
// too, to keep the rule short). It tries every byte value alone, first,
// in the middle and last, and some multi-byte characters.
func TestEventIDRoundTrip(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.Header.Get("Last-Event-ID"))
	}))
	defer srv.Close()
	// sentBack returns the ID the server reads back, and false if the
	// client refused to send it or the server refused the request.
	sentBack := func(id string) (string, bool) {
		req, err := http.NewRequest(http.MethodGet, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Last-Event-ID", id)
		resp, err := srv.Client().Do(req)
		if err != nil {
			return "", false // the client would not send it
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return string(body), resp.StatusCode == http.StatusOK
	}

	var ids []string
	for c := range 256 {
		b := string([]byte{byte(c)})
		ids = append(ids, b, b+"7", "7"+b+"7", "7"+b)
	}
	ids = append(ids, "é", "ü-1", "\u2028", "\u0085", "\u00a0x\u00a0", "👋", "a b")
	accepted := 0
	for _, id := range ids {
		frame, err := (&Event{ID: id, Data: "x"}).AppendText(nil)
		if err != nil {
			if !errors.Is(err, ErrInvalidID) {
				t.Fatalf("ID %q: error %v, want ErrInvalidID", id, err)
			}
			if got, ok := sentBack(id); ok && got == id && utf8.ValidString(id) && !strings.Contains(id, "\t") {
				t.Errorf("ID %q refused, but it makes the round trip", id)
			}
			continue
		}
		accepted++
		dec := NewDecoder(bytes.NewReader(frame))
		if _, err := dec.Next(); err != nil || dec.LastEventID() != id {
			t.Errorf("ID %q: client keeps %q (%v)", id, dec.LastEventID(), err)
			continue
		}
		if got, ok := sentBack(id); !ok || got != id {
			t.Errorf("ID %q accepted, but the server reads Last-Event-ID %q (request ok: %v)", id, got, ok)
		}
	}
	if want := 95*4 - 3; accepted < want { // printable ASCII, but a space first or last
		t.Errorf("%d IDs accepted, want at least %d", accepted, want)
	}
}

// TestEventDefaultType checks that the type "message", which a client
// gives an event without a type, is not written, and that the event still
// fires as one.
func TestEventDefaultType(t *testing.T) {
	for _, tt := range []struct {
		ev   Event
		want string
	}{
		{Event{Type: "message", Data: "x"}, "data: x\n\n"},
		{Event{Type: "message"}, "data: \n\n"},
		{Event{ID: "1", Type: "message", Data: "x"}, "id: 1\ndata: x\n\n"},
		{Event{Type: "messages", Data: "x"}, "event: messages\ndata: x\n\n"},
	} {
		got, err := tt.ev.AppendText(nil)
		if err != nil || string(got) != tt.want {
			t.Errorf("%+v: %q, %v; want %q", tt.ev, got, err, tt.want)
		}
		ev, err := NewDecoder(bytes.NewReader(got)).Next()
		if err != nil || ev.Type != tt.ev.Type || ev.Data != tt.ev.Data {
			t.Errorf("%q decodes to %+v, %v", got, ev, err)
		}
	}
}
