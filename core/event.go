package sse

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"
)

// Event is one server-sent event. The zero value of each field leaves that
// field off the wire.
//
// The payload comes from at most one of Data, Bytes and JSON. An event
// fires in the browser only when it has a payload or a Type. An event with
// only a Retry sets the reconnection delay without firing. An event with
// only an ID sets the client's last event ID without firing, as the
// standard says, but not in every browser (Firefox keeps the ID of the last
// event that fired): to move a client's position, send the ID with data.
type Event struct {
	// ID sets the client's last event ID, which it sends back in the
	// Last-Event-ID header when it reconnects. So that it comes back
	// unchanged, it must be UTF-8 without control characters (U+0000 to
	// U+001F, tab among them, and U+007F) and without a space at either
	// end: a header cannot carry the first, and loses the second. To
	// reset the client's last event ID instead, leave ID empty and set
	// ClearID.
	ID string

	// ClearID writes an id field with an empty value, which resets the
	// client's last event ID: a reconnect after it sends no Last-Event-ID.
	// It cannot be combined with a non-empty ID.
	ClearID bool

	// Type is the event type the client dispatches on (addEventListener);
	// empty means "message", and "message" is not written, since a client
	// reads it from no type at all. It must not hold CR or LF.
	Type string

	// Data is the payload as text. Line breaks (CRLF, LF or CR) split it
	// over several data lines; the client sees each of them as LF.
	Data string

	// Bytes is the payload as bytes, written without a copy to a string.
	// It is read during the call that encodes the event and not kept.
	Bytes []byte

	// JSON, if not nil, is encoded with encoding/json as the payload.
	JSON any

	// Retry, if positive, tells the client how long to wait before it
	// reconnects. It is sent in whole milliseconds, rounded down; a
	// negative or sub-millisecond delay is refused.
	Retry time.Duration

	// Comment is sent as comment lines, one per line of the text. Clients
	// ignore comments; proxies see traffic.
	Comment string
}

// defaultType is the type of an event without an event field.
const defaultType = "message"

// AppendText appends the wire form of e, ending with the blank line that
// dispatches it, to b and returns the extended buffer. It implements
// [encoding.TextAppender].
//
// An invalid event returns b unchanged and an error wrapping
// [ErrInvalidID], [ErrInvalidType], [ErrInvalidData], [ErrInvalidRetry],
// [ErrDataConflict] or [ErrEmptyEvent]. Encoding text or bytes into a buffer
// with room allocates nothing; encoding JSON allocates.
func (e *Event) AppendText(b []byte) ([]byte, error) {
	return (*frameEncoder)(nil).append(b, e)
}

// frameEncoder encodes events into frames. It keeps the JSON encoder that
// writes JSON payloads straight into the frame, so a long-lived frameEncoder
// (one per stream) sets it up once. A nil *frameEncoder makes a temporary
// one for each JSON payload.
type frameEncoder struct {
	out  appendWriter
	json *json.Encoder
}

// appendWriter is an io.Writer that appends to a byte slice.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// append appends the frame of e to b. On error b is returned unchanged.
func (fe *frameEncoder) append(b []byte, e *Event) ([]byte, error) {
	data, lfOnly, err := e.validate()
	if err != nil {
		return b, err
	}
	start := len(b)
	if e.Comment != "" {
		b = appendLines(b, ": ", e.Comment, false)
	}
	switch {
	case e.ID != "":
		b = append(b, "id: "...)
		b = append(b, e.ID...)
		b = append(b, '\n')
	case e.ClearID:
		b = append(b, "id:\n"...)
	}
	if e.Type != "" && e.Type != defaultType {
		b = append(b, "event: "...)
		b = append(b, e.Type...)
		b = append(b, '\n')
	}
	if e.Retry > 0 {
		b = append(b, "retry: "...)
		b = strconv.AppendInt(b, e.Retry.Milliseconds(), 10)
		b = append(b, '\n')
	}
	switch {
	case e.JSON != nil:
		if b, err = fe.appendJSON(b, e.JSON); err != nil {
			return b[:start], err
		}
	case data != "" || e.Type != "":
		b = appendLines(b, "data: ", data, lfOnly)
	}
	return append(b, '\n'), nil
}

// appendJSON appends v as one data line. encoding/json writes compact JSON
// with line breaks inside strings escaped (it compacts the output of
// MarshalJSON methods too), so the value always fits on one line. It
// escapes invalid UTF-8 in the strings it encodes itself, but copies what a
// json.Marshaler (json.RawMessage among them) returns as it is, so the
// output is checked like any other text.
func (fe *frameEncoder) appendJSON(b []byte, v any) ([]byte, error) {
	if fe == nil {
		fe = new(frameEncoder)
	}
	if fe.json == nil {
		fe.json = json.NewEncoder(&fe.out)
	}
	start := len(b)
	fe.out.b = append(b, "data: "...)
	err := fe.json.Encode(v) // ends the line with '\n'
	b, fe.out.b = fe.out.b, nil
	if err != nil {
		return b, fmt.Errorf("%w: JSON: %w", ErrInvalidData, err)
	}
	if !utf8.Valid(b[start:]) {
		return b, fmt.Errorf("%w: JSON is not UTF-8", ErrInvalidData)
	}
	return b, nil
}

// validate checks every field before anything is written, and returns the
// text payload (Data, or a view of Bytes) and whether it is known to hold
// no CR, so that only LF can split it.
func (e *Event) validate() (data string, lfOnly bool, err error) {
	data = e.Data
	payloads := 0
	if data != "" {
		payloads++
	}
	if len(e.Bytes) > 0 {
		payloads++
		data = bytesView(e.Bytes)
	}
	if e.JSON != nil {
		payloads++
	}
	switch {
	case payloads > 1:
		return "", false, ErrDataConflict
	case payloads == 0 && e.ID == "" && !e.ClearID && e.Type == "" && e.Retry == 0 && e.Comment == "":
		return "", false, ErrEmptyEvent
	case e.ClearID && e.ID != "":
		return "", false, fmt.Errorf("%w: ClearID with ID %q", ErrInvalidID, e.ID)
	case e.Retry < 0 || (e.Retry > 0 && e.Retry < time.Millisecond):
		return "", false, fmt.Errorf("%w: %v is not a whole number of milliseconds", ErrInvalidRetry, e.Retry)
	case !validID(e.ID):
		return "", false, fmt.Errorf("%w: %q", ErrInvalidID, e.ID)
	case !validField(e.Type, breakByte):
		return "", false, fmt.Errorf("%w: %q", ErrInvalidType, e.Type)
	case e.Comment != "" && !utf8.ValidString(e.Comment):
		return "", false, fmt.Errorf("%w: comment is not UTF-8", ErrInvalidData)
	case plainText(data):
		lfOnly = true
	case !utf8.ValidString(data):
		return "", false, fmt.Errorf("%w: payload is not UTF-8", ErrInvalidData)
	}
	return data, lfOnly, nil
}

// plainText reports whether s is ASCII without CR: valid UTF-8 that only
// LF can split, so that one check stands for the UTF-8 validation and the
// search for CR. It checks 64 bytes at a time (see plainBlocks), and the
// rest with plainASCII.
func plainText(s string) bool {
	n := len(s) &^ 63
	if n > 0 && !plainBlocks(unsafe.StringData(s), n) {
		return false
	}
	return plainASCII(s[n:])
}

// plainASCII reports whether s is ASCII without CR: valid UTF-8 that only
// LF can split. It reads eight bytes at a time.
func plainASCII(s string) bool {
	const (
		ones = 0x0101010101010101
		high = 0x80 * ones
		crs  = '\r' * ones
	)
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		x := w ^ crs // a zero byte where w has a CR
		if (w|(x-ones)&^x)&high != 0 {
			return false
		}
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf || s[i] == '\r' {
			return false
		}
	}
	return true
}

// validID reports whether s can be an event ID: a field (see validField)
// that also makes the round trip through a Last-Event-ID header, so no
// control character and no space at either end. Header values cannot
// hold control characters but tab (net/http answers 400), and lose the
// spaces and tabs around them.
func validID(s string) bool {
	return s == "" || s[0] != ' ' && s[len(s)-1] != ' ' && validField(s, breakByte|ctlByte)
}

// validField reports whether s can stand in a field: UTF-8 without a byte
// of the classes in forbidden (see fieldBytes). It looks every byte up in
// fieldBytes, without a branch, and decides once at the end.
func validField(s string, forbidden byte) bool {
	var seen byte
	for i := 0; i < len(s); i++ {
		seen |= fieldBytes[s[i]]
	}
	switch {
	case seen == 0:
		return true
	case seen&forbidden != 0:
		return false
	default:
		return seen&nonASCIIByte == 0 || utf8.ValidString(s)
	}
}

// The classes of bytes that validField tells apart.
const (
	breakByte    = 1 << iota // CR or LF: would end the line
	ctlByte                  // any other control character, U+0000 and tab among them
	nonASCIIByte             // part of a multi-byte UTF-8 sequence, or invalid
)

// fieldBytes gives the class of every byte value, 0 for the printable
// ASCII bytes that may stand in any field.
var fieldBytes = func() (t [256]byte) {
	for c := range ' ' {
		t[c] = ctlByte
	}
	t[0x7F] = ctlByte
	t['\r'], t['\n'] = breakByte, breakByte
	for c := utf8.RuneSelf; c < len(t); c++ {
		t[c] = nonASCIIByte
	}
	return t
}()

// appendLines appends s as lines that each start with prefix, splitting it
// at CRLF, LF and CR (LF alone if lfOnly says s holds no CR). A trailing
// line break yields a last, empty line, so the break survives the client's
// removal of the final LF.
func appendLines(b []byte, prefix, s string, lfOnly bool) []byte {
	if lfOnly || strings.IndexByte(s, '\r') < 0 {
		// Common case: LF only, found with the vectorised search.
		for {
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				break
			}
			b = append(b, prefix...)
			b = append(b, s[:i+1]...)
			s = s[i+1:]
		}
	} else {
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '\n' || c == '\r' {
				b = append(b, prefix...)
				b = append(b, s[:i]...)
				b = append(b, '\n')
				if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
					i++
				}
				s, i = s[i+1:], -1
			}
		}
	}
	b = append(b, prefix...)
	b = append(b, s...)
	return append(b, '\n')
}

// bytesView returns p as a string without copying it. The string must not
// outlive the call that encodes the event: the caller may change p after.
func bytesView(p []byte) string {
	return unsafe.String(unsafe.SliceData(p), len(p))
}
