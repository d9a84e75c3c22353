package sse

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"time"
	"unicode/utf8"
)

const (
	// defaultMaxEventSize is the event size limit of a new [Decoder].
	defaultMaxEventSize = 1 << 20

	// decoderBufSize is the initial size of a [Decoder]'s read buffer.
	decoderBufSize = 4096

	// maxEmptyReads is how many reads in a row may return neither bytes nor
	// an error before a [Decoder] gives up with [io.ErrNoProgress].
	maxEmptyReads = 100

	// bom is the UTF-8 byte order mark.
	bom = "\xEF\xBB\xBF"
)

// errBadRead reports an [io.Reader] that returned an impossible count.
var errBadRead = errors.New("sse: reader returned an invalid count")

// Decoder reads events from an event stream exactly as a browser's
// EventSource does: it decodes the stream as UTF-8 (skipping one leading
// byte order mark and replacing invalid bytes with U+FFFD), splits it into
// lines at CRLF, LF or CR, and dispatches an event at each blank line,
// following the WHATWG HTML standard's "Server-sent events" parsing rules.
// It is the client side of what [Event.AppendText] writes; [Events] builds
// a reconnecting HTTP client on it.
//
// A Decoder reads ahead into a buffer of its own, so it may consume more of
// the underlying reader than the events it has returned. It never waits for
// more input once a complete event is buffered, so it suits live streams.
// However long the stream or its lines, and whatever bytes it holds, a
// Decoder keeps at most about twice the event size limit (see
// [Decoder.SetMaxEventSize]): its read buffer and the event being built,
// both counted after UTF-8 decoding. The Data of an event is never longer
// than the limit.
//
// A Decoder is not safe for concurrent use.
type Decoder struct {
	rd   io.Reader
	rerr error // error from rd, returned once the buffered lines are used up
	err  error // sticky error: the event size limit was exceeded

	// The read buffer: buf[r:w] holds the bytes not yet consumed.
	buf  []byte
	r, w int
	// scan and lf cache line-end searches across reads: buf[r:scan] holds
	// neither CR nor LF, and buf[r:lf] holds no LF (lf == w: none yet).
	scan, lf int

	started bool // the leading byte order mark, if any, has been skipped
	skipLF  bool // the last line ended with CR: an LF right after it is part of that line end

	max  int // event size limit in bytes
	size int // decoded bytes of the lines of the event being built

	// The event being built, decoded as UTF-8 field by field.
	data []byte // data buffer: each data value followed by LF
	typ  []byte // event type buffer
	id   []byte // last event ID buffer

	lastID   string // last event ID string, set at dispatch
	firedID  string // the last event ID when the last event fired
	idField  bool   // the event being built has an id field
	lastType string // last event type returned, reused while it repeats
	retry    time.Duration
	retrySet bool // a retry field was read since the last event fired
	retried  bool // a retry field was ever read
}

// NewDecoder returns a Decoder reading from r. It buffers its reads.
//
// It allocates a 4 KiB read buffer, which grows only for lines that do not
// fit in it. The event size limit starts at 1 MiB.
func NewDecoder(r io.Reader) *Decoder {
	return &Decoder{
		rd:  r,
		buf: make([]byte, decoderBufSize),
		max: defaultMaxEventSize,
	}
}

// SetMaxEventSize limits the bytes one event (all its lines together) may
// take; 0 means the default (1 MiB). Over the limit [Decoder.Next] returns
// an error wrapping [ErrEventTooLarge].
//
// The size of an event is the sum of the lengths of its lines, line ends
// not counted, from the blank line that ended the previous event up to the
// blank line that ends it; comment lines and ignored fields count too.
// Lengths are counted after UTF-8 decoding, which turns each invalid byte
// sequence of one to three bytes into the three bytes of U+FFFD, so a
// stream of invalid bytes cannot make an event three times the limit. The
// limit is checked while a line is read, so an endless line is refused
// after about n bytes, not buffered. A negative n also means the default.
// After [ErrEventTooLarge] the Decoder returns that error for good.
func (d *Decoder) SetMaxEventSize(n int) {
	if n <= 0 {
		n = defaultMaxEventSize
	}
	d.max = n
}

// Next reads until the next event is dispatched and returns it: Type is
// the event type ("message" when empty), Data is the data buffer with its
// one trailing LF removed, and ID is the event's own ID, from its id
// field (an empty id field sets ClearID instead). An event without an id
// field has no ID, unless a block that fired no event (an id alone)
// changed the last event ID since the previous event: it then carries that
// ID, or ClearID. So an event sent on as it came ([Stream.Send]) leaves
// the next client with the same last event ID at every event, and no id
// line is added to an event that had none. The last event ID in force,
// carried over events that set none, which a browser reports as the
// event's lastEventId, is [Decoder.LastEventID]. Only ID, ClearID, Type and
// Data are set. At the
// end of the stream it returns [io.EOF] (an event not ended by a blank line
// is dropped, its id too); other read errors are returned as they come.
//
// Next blocks until an event is complete or the reader fails. After a read
// error other than [io.EOF] the Decoder keeps its state, so a later call
// resumes where the stream stopped. An event over the size limit yields an
// error wrapping [ErrEventTooLarge] (see [Decoder.SetMaxEventSize]).
//
// Next allocates one string per event for Data (none when it is empty),
// and one for ID or Type only when they differ from the previous event's.
func (d *Decoder) Next() (Event, error) {
	if d.err != nil {
		return Event{}, d.err
	}
	for {
		line, err := d.readLine()
		if err != nil {
			if err == io.EOF {
				d.discard()
			}
			return Event{}, err
		}
		if len(line) == 0 {
			if e, ok := d.dispatch(); ok {
				return e, nil
			}
			continue
		}
		if err := d.field(line); err != nil {
			return Event{}, err
		}
	}
}

// SetLastEventID sets the last event ID as if the stream had set it and an
// event had fired since: [Decoder.LastEventID] reports id until the stream
// sets another, and the next event without an id field has no ID. A
// client that resumes a stream calls it with the ID it sent in the
// Last-Event-ID header. Call it before the first [Decoder.Next]; it replaces any ID of
// an event being built. It does not allocate.
func (d *Decoder) SetLastEventID(id string) {
	d.lastID, d.firedID = id, id
	d.id = append(d.id[:0], id...)
}

// LastEventID returns the last event ID the stream has set so far, as a
// client would send it on reconnect (it is updated by a dispatch even when
// no event fires).
//
// An ID set by an event that the stream did not end with a blank line is
// not counted. LastEventID does not allocate.
func (d *Decoder) LastEventID() string {
	return d.lastID
}

// Retry returns the last valid reconnection delay the stream has set
// (retry field, ASCII digits only), or 0 if none.
//
// As in browsers, a retry field takes effect as soon as its line is read,
// whether or not its event is ever dispatched. A delay too long for a
// [time.Duration] is ignored. Retry does not allocate.
func (d *Decoder) Retry() time.Duration {
	return d.retry
}

// readLine returns the next line without its line end. The line points
// into the read buffer and is valid until the next call.
func (d *Decoder) readLine() ([]byte, error) {
	for {
		if d.prepare() {
			if end := d.lineEnd(); end >= 0 {
				line := d.buf[d.r:end]
				if len(line) > d.max-d.size {
					return nil, d.tooLarge()
				}
				d.size += len(line)
				d.skipLF = d.buf[end] == '\r'
				d.r = end + 1
				return line, nil
			}
			// The buffered bytes are the start of a line: refuse it now
			// rather than buffer a line that can only end over the limit.
			if d.w-d.r > d.max-d.size {
				return nil, d.tooLarge()
			}
		}
		if d.rerr != nil {
			err := d.rerr
			d.rerr = nil
			return nil, err
		}
		d.fill()
	}
}

// prepare skips the leading byte order mark and the LF of a CRLF split
// from its CR. It reports false when it needs more bytes to decide.
func (d *Decoder) prepare() bool {
	if !d.started {
		p := d.buf[d.r:d.w]
		if len(p) < len(bom) && string(p) == bom[:len(p)] {
			return false
		}
		if len(p) >= len(bom) && string(p[:len(bom)]) == bom {
			d.r += len(bom)
		}
		d.started = true
	}
	if d.skipLF && d.r < d.w {
		if d.buf[d.r] == '\n' {
			d.r++
		}
		d.skipLF = false
	}
	return true
}

// lineEnd returns the index in buf of the CR or LF that ends the line
// starting at r, or -1 if the buffer holds no line end yet. It searches
// with the vectorised [bytes.IndexByte] and remembers how far it looked, so
// a line that arrives a byte at a time, or a stream of CR line ends, is not
// searched again and again.
func (d *Decoder) lineEnd() int {
	d.scan = max(d.scan, d.r)
	d.lf = max(d.lf, d.scan)
	if d.lf < d.w && d.buf[d.lf] != '\n' {
		if i := bytes.IndexByte(d.buf[d.lf:d.w], '\n'); i >= 0 {
			d.lf += i
		} else {
			d.lf = d.w
		}
	}
	if i := bytes.IndexByte(d.buf[d.scan:d.lf], '\r'); i >= 0 {
		d.scan += i
		return d.scan
	}
	d.scan = d.lf
	if d.lf < d.w {
		return d.lf
	}
	return -1
}

// fill reads once more into the buffer, making room first: it moves the
// unconsumed bytes to the front, or grows the buffer when a single line
// fills it. readLine has checked that line against the size limit, so the
// buffer stays below about twice the limit.
func (d *Decoder) fill() {
	if d.r == d.w {
		d.r, d.w, d.scan, d.lf = 0, 0, 0, 0
	}
	if d.w == len(d.buf) {
		if d.r > 0 {
			d.w = copy(d.buf, d.buf[d.r:d.w])
			d.scan = max(d.scan-d.r, 0)
			d.lf = max(d.lf-d.r, 0)
			d.r = 0
		} else {
			// Double the buffer, but jump straight to the size of the
			// longest line allowed (with its line end) once a doubling
			// would reach it, so that it is not reallocated once more.
			n := 2 * len(d.buf)
			if n >= d.max {
				n = max(d.max, len(d.buf)) + 1
			}
			buf := make([]byte, n)
			copy(buf, d.buf[:d.w])
			d.buf = buf
		}
	}
	for range maxEmptyReads {
		n, err := d.rd.Read(d.buf[d.w:])
		if n < 0 || n > len(d.buf)-d.w {
			d.rerr = errBadRead
			return
		}
		d.w += n
		if err != nil {
			d.rerr = err
			return
		}
		if n > 0 {
			return
		}
	}
	d.rerr = io.ErrNoProgress
}

// tooLarge makes the Decoder fail for good with [ErrEventTooLarge].
func (d *Decoder) tooLarge() error {
	d.err = fmt.Errorf("%w: over the limit of %d bytes", ErrEventTooLarge, d.max)
	return d.err
}

// field processes a line that is not blank. It fails only when decoding a
// value takes the event over the size limit.
func (d *Decoder) field(line []byte) error {
	if line[0] == ':' {
		return nil // comment
	}
	// Field names and the ':' are ASCII, and an ASCII byte always ends an
	// incomplete UTF-8 sequence, so the line can be split and the names
	// compared before decoding: the result is what decoding first gives.
	name, value := line, line[:0]
	if i := bytes.IndexByte(line, ':'); i >= 0 {
		name, value = line[:i], line[i+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	var ok bool
	switch string(name) {
	case "data":
		if d.data, ok = d.appendDecoded(d.data, value); !ok {
			return d.tooLarge()
		}
		d.data = append(d.data, '\n')
	case "event":
		if d.typ, ok = d.appendDecoded(d.typ[:0], value); !ok {
			return d.tooLarge()
		}
	case "id":
		// Only the byte 0x00 decodes to U+0000.
		if bytes.IndexByte(value, 0) < 0 {
			if d.id, ok = d.appendDecoded(d.id[:0], value); !ok {
				return d.tooLarge()
			}
			d.idField = true
		}
	case "retry":
		if r, ok := parseRetry(value); ok {
			d.retry, d.retrySet, d.retried = r, true, true
		}
	}
	return nil
}

// appendDecoded appends v decoded as UTF-8 to dst, with room for one more
// byte. What invalid bytes add in decoding counts toward the event's size:
// it reports false, appending nothing, if that takes the event over the
// limit. Decoding a value on its own gives what decoding the whole stream
// would: the line ends and the ':' around it are ASCII, and an ASCII byte
// always ends an incomplete sequence.
func (d *Decoder) appendDecoded(dst, v []byte) ([]byte, bool) {
	if utf8.Valid(v) {
		return append(d.grow(dst, len(v)+1), v...), true
	}
	n := lossyLen(v)
	if n-len(v) > d.max-d.size {
		return dst, false
	}
	d.size += n - len(v)
	return appendLossy(d.grow(dst, n+1), v), true
}

// grow returns b with room for n more bytes. It doubles b, up to the size
// limit that an event's values cannot pass: append grows a large slice by
// only a quarter at a time, which would copy the data of a long event
// about five times.
func (d *Decoder) grow(b []byte, n int) []byte {
	if cap(b)-len(b) >= n {
		return b
	}
	c := min(max(2*cap(b), len(b)+n), max(d.max+1, len(b)+n))
	return append(make([]byte, 0, c), b...)
}

// dispatch ends the event being built at a blank line. It reports whether
// an event fires.
func (d *Decoder) dispatch() (Event, bool) {
	d.size = 0
	d.lastID = d.text(d.id, d.lastID)
	own := d.idField
	d.idField = false
	if len(d.data) == 0 {
		d.typ = d.typ[:0]
		return Event{}, false
	}
	typ := defaultType
	if len(d.typ) > 0 {
		d.lastType = d.text(d.typ, d.lastType)
		typ = d.lastType
	}
	e := Event{Type: typ, Data: string(d.data[:len(d.data)-1])}
	if own || d.lastID != d.firedID {
		e.ID, e.ClearID = d.lastID, d.lastID == ""
	}
	d.firedID = d.lastID
	d.data, d.typ = d.data[:0], d.typ[:0]
	return e, true
}

// discard drops the event being built at the end of the stream, its id
// and its unterminated last line included.
func (d *Decoder) discard() {
	d.data, d.typ = d.data[:0], d.typ[:0]
	d.idField = false
	d.id = append(d.id[:0], d.lastID...)
	d.size = 0
	d.r = d.w
}

// reset makes the Decoder read a new response from r, as a client does
// when it reconnects: whatever was pending from the old reader (a partial
// line, an event not yet ended) is dropped, the byte order mark is looked
// for again, and the last event ID and retry delay carry over. The buffers
// are kept. A sticky [ErrEventTooLarge] stays.
func (d *Decoder) reset(r io.Reader) {
	d.rd, d.rerr = r, nil
	d.r, d.w, d.scan, d.lf = 0, 0, 0, 0
	d.started, d.skipLF = false, false
	d.data, d.typ = d.data[:0], d.typ[:0]
	d.idField = false
	d.id = append(d.id[:0], d.lastID...)
	d.size = 0
}

// takeRetry reports whether a retry field was read since it was last
// called, and the delay now in force.
func (d *Decoder) takeRetry() (time.Duration, bool) {
	set := d.retrySet
	d.retrySet = false
	return d.retry, set
}

// retryInForce returns the stream's reconnection delay, and whether the
// stream has set one (a retry of 0 is a delay of 0).
func (d *Decoder) retryInForce() (time.Duration, bool) {
	return d.retry, d.retried
}

// text returns p as a string, or prev without allocating if they are
// equal. p has been decoded already.
func (d *Decoder) text(p []byte, prev string) string {
	if string(p) == prev {
		return prev
	}
	return string(p)
}

// lossyLen returns the length of what appendLossy makes of p.
func lossyLen(p []byte) int {
	n := 0
	for len(p) > 0 {
		i := validPrefix(p)
		n += i
		if p = p[i:]; len(p) > 0 {
			n += len(string(utf8.RuneError))
			p = p[invalidLen(p):]
		}
	}
	return n
}

// appendLossy appends p to dst as the WHATWG UTF-8 decoder reads it: each
// maximal subpart of an ill-formed sequence (the longest prefix that could
// start a valid one, or else a single byte) becomes one U+FFFD.
func appendLossy(dst, p []byte) []byte {
	for len(p) > 0 {
		i := validPrefix(p)
		dst = append(dst, p[:i]...)
		if p = p[i:]; len(p) > 0 {
			dst = append(dst, string(utf8.RuneError)...)
			p = p[invalidLen(p):]
		}
	}
	return dst
}

// validPrefix returns the length of the longest prefix of p that is valid
// UTF-8.
func validPrefix(p []byte) int {
	i := 0
	for i < len(p) {
		if p[i] < utf8.RuneSelf {
			i++
			continue
		}
		_, n := utf8.DecodeRune(p[i:])
		if n == 1 {
			break // a valid rune of one byte is ASCII, handled above
		}
		i += n
	}
	return i
}

// invalidLen returns the length of the maximal subpart of the ill-formed
// sequence at the start of p, following the byte ranges of the WHATWG
// UTF-8 decoder (the same as Unicode's table of well-formed sequences).
func invalidLen(p []byte) int {
	var need int
	lo, hi := byte(0x80), byte(0xBF)
	switch b := p[0]; {
	case 0xC2 <= b && b <= 0xDF:
		need = 1
	case 0xE0 <= b && b <= 0xEF:
		need = 2
		if b == 0xE0 {
			lo = 0xA0
		} else if b == 0xED {
			hi = 0x9F
		}
	case 0xF0 <= b && b <= 0xF4:
		need = 3
		if b == 0xF0 {
			lo = 0x90
		} else if b == 0xF4 {
			hi = 0x8F
		}
	default:
		return 1
	}
	n := 1
	for n <= need && n < len(p) && lo <= p[n] && p[n] <= hi {
		lo, hi = 0x80, 0xBF
		n++
	}
	return n
}

// parseRetry parses a retry value: one or more ASCII digits, a delay in
// milliseconds. A delay too long for a [time.Duration] is refused.
func parseRetry(v []byte) (time.Duration, bool) {
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	if len(v) == 0 {
		return 0, false
	}
	var ms int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		digit := int64(c - '0')
		if ms > (maxMS-digit)/10 {
			return 0, false
		}
		ms = ms*10 + digit
	}
	return time.Duration(ms) * time.Millisecond, true
}
