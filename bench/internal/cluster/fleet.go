package cluster

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventwire/sse/bench/internal/load"
	"github.com/eventwire/sse/bench/internal/server"
)

// A window is the range of event numbers a measurement expects:
// [base, base+n). Events outside it are primers or strays from an earlier
// window, and are not measured.
type window struct {
	gen     int64
	base, n int

	hist   Hist
	maxLat []atomic.Int64 // per event: the longest delivery time, ns; -1 none yet
	count  []atomic.Int64 // per event: deliveries
	first  atomic.Int64   // earliest send time of a delivered event, unix ns
	last   atomic.Int64   // latest receipt, unix ns
	got    atomic.Int64   // deliveries in the window, duplicates included
}

func newWindow(gen int64, base, n int) *window {
	w := &window{gen: gen, base: base, n: n, maxLat: make([]atomic.Int64, n), count: make([]atomic.Int64, n)}
	for i := range w.maxLat {
		w.maxLat[i].Store(-1)
	}
	w.first.Store(1<<63 - 1)
	return w
}

func (w *window) record(seq int, sent, now int64) {
	i := seq - w.base
	lat := now - sent
	w.hist.Add(time.Duration(lat))
	w.count[i].Add(1)
	for {
		old := w.maxLat[i].Load()
		if lat <= old || w.maxLat[i].CompareAndSwap(old, lat) {
			break
		}
	}
	for {
		old := w.first.Load()
		if sent >= old || w.first.CompareAndSwap(old, sent) {
			break
		}
	}
	for {
		old := w.last.Load()
		if now <= old || w.last.CompareAndSwap(old, now) {
			break
		}
	}
	w.got.Add(1)
}

// A fleet is the SSE clients of one client process. Each reader is a raw
// TCP connection read by one goroutine, which checks that the events of
// the current window come once each and in order. With resume set, a
// reader whose stream ends reconnects to the next server in its list with
// the Last-Event-ID it has, as a browser's EventSource does.
type fleet struct {
	src *load.Sources

	win atomic.Pointer[window]

	mu      sync.Mutex
	readers []*reader
	closed  bool
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	primed     atomic.Int64
	ended      atomic.Int64 // streams that ended and were not resumed
	failed     atomic.Int64 // first connections that failed
	reconnects atomic.Int64 // successful reconnections
	dialFails  atomic.Int64 // failed attempts to reconnect
	down       atomic.Int64 // readers whose stream broke at least once
	back       atomic.Int64 // of those, readers that caught up again
	lastBack   atomic.Int64 // unix ns of the latest catch-up
	maxOutage  atomic.Int64 // longest break to catch-up, ns
	maxRedial  atomic.Int64 // longest break to a new stream's response, ns
	other      atomic.Int64 // events that are not the benchmark's (a reset, say)

	notesMu sync.Mutex
	notes   []string // the first anomalies seen: events missing, repeated or out of order
}

// note records an anomaly, up to 10.
func (f *fleet) note(format string, args ...any) {
	f.notesMu.Lock()
	defer f.notesMu.Unlock()
	if len(f.notes) < 10 {
		f.notes = append(f.notes, fmt.Sprintf(format, args...))
	}
}

func newFleet(src *load.Sources) *fleet {
	ctx, cancel := context.WithCancel(context.Background())
	f := &fleet{src: src, ctx: ctx, cancel: cancel}
	f.win.Store(newWindow(0, 0, 0))
	return f
}

// reader is one client. Its mutex guards the in-order state, which the
// reader's goroutine updates per event and arm and collect read.
type reader struct {
	addrs  []string
	resume bool
	spread int // added to the step to the next server, so that moving clients spread out

	mu     sync.Mutex
	gen    int64
	want   int   // next event number expected in the window
	gaps   int64 // events skipped over (lost, or come later out of order)
	backs  int64 // events at or below one already delivered: duplicates or out of order
	primed bool
	conn   net.Conn

	// Owned by the reader's goroutine.
	lastID string
	idx    int
	downAt int64 // unix ns the stream broke, 0 while it is up or caught up
	moves  int   // reconnections
}

// connect opens n readers, dialing at most conc at a time; reader i starts
// on addrs[i mod len(addrs)] (after rotating by offset). It returns when
// every first dial has finished.
func (f *fleet) connect(addrs []string, n, conc, offset int, resume bool) {
	sem := make(chan struct{}, max(conc, 1))
	var dials sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		dials.Add(1)
		r := &reader{addrs: addrs, resume: resume, idx: (i + offset) % len(addrs), spread: i % max(len(addrs)-1, 1)}
		go func() {
			defer dials.Done()
			defer func() { <-sem }()
			conn, br, err := f.open(r.addrs[r.idx], "")
			if err != nil {
				f.failed.Add(1)
				return
			}
			if !f.add(r, conn) {
				conn.Close()
				return
			}
			go f.run(r, conn, br)
		}()
	}
	dials.Wait()
}

func (f *fleet) add(r *reader, conn net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	r.conn = conn
	f.readers = append(f.readers, r)
	f.wg.Add(1)
	return true
}

// open dials addr, sends the request and reads the response header.
func (f *fleet) open(addr, lastID string) (net.Conn, *bufio.Reader, error) {
	conn, err := f.src.Dial(f.ctx, addr)
	if err != nil {
		return nil, nil, err
	}
	req := "GET /events?stream=bench HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n"
	if lastID != "" {
		req += "Last-Event-ID: " + lastID + "\r\n"
	}
	if _, err := io.WriteString(conn, req+"\r\n"); err != nil {
		conn.Close()
		return nil, nil, err
	}
	br := bufio.NewReaderSize(conn, 4096)
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, nil, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	return conn, bufio.NewReaderSize(resp.Body, 4096), nil
}

func (f *fleet) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// run reads r's stream and, with resume set, its successors until the
// fleet closes.
func (f *fleet) run(r *reader, conn net.Conn, br *bufio.Reader) {
	defer f.wg.Done()
	for {
		r.read(f, br)
		conn.Close()
		if f.isClosed() {
			return
		}
		if !r.resume {
			f.ended.Add(1)
			return
		}
		if r.downAt == 0 {
			r.downAt = time.Now().UnixNano()
			f.down.Add(1)
		}
		for {
			if f.isClosed() {
				return
			}
			r.idx = (r.idx + 1 + r.spread) % len(r.addrs)
			r.spread = 0 // after the first try, go round
			c, b, err := f.open(r.addrs[r.idx], r.lastID)
			if err == nil {
				f.mu.Lock()
				ok := !f.closed
				if ok {
					r.conn = c
				}
				f.mu.Unlock()
				if !ok {
					c.Close()
					return
				}
				conn, br = c, b
				storeMax(&f.maxRedial, time.Now().UnixNano()-r.downAt)
				r.moves++
				f.reconnects.Add(1)
				break
			}
			f.dialFails.Add(1)
			time.Sleep(20 * time.Millisecond)
		}
	}
}

var (
	dataPrefix = []byte("data:")
	idPrefix   = []byte("id:")
)

// read parses the stream until it ends. An event counts when its closing
// blank line arrives.
func (r *reader) read(f *fleet, br *bufio.Reader) {
	lineStart, pending, fields := true, false, false
	var sent int64
	var seq int
	var id []byte
	hasID := false
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
		if lineStart {
			switch {
			case len(line) == 1 || len(line) == 2 && line[0] == '\r':
				if hasID {
					r.lastID = string(id)
				}
				if pending {
					r.deliver(f, sent, seq)
				} else if fields {
					f.other.Add(1)
				}
				pending, hasID, fields = false, false, false
			case line[0] != ':':
				fields = true
			}
			switch {
			case bytes.HasPrefix(line, dataPrefix):
				sent, seq, pending = server.ParsePayload(fieldValue(line[len(dataPrefix):]))
			case bytes.HasPrefix(line, idPrefix):
				id = append(id[:0], bytes.TrimRight(fieldValue(line[len(idPrefix):]), "\r\n")...)
				hasID = true
			}
		}
		lineStart = err == nil
	}
}

// fieldValue drops the one space that may follow a field's colon.
func fieldValue(b []byte) []byte {
	if len(b) > 0 && b[0] == ' ' {
		return b[1:]
	}
	return b
}

func (r *reader) deliver(f *fleet, sent int64, seq int) {
	now := time.Now().UnixNano()
	if r.downAt != 0 && sent >= r.downAt {
		// The first event sent after the break: everything before it
		// has been replayed (order is checked below).
		f.back.Add(1)
		storeMax(&f.lastBack, now)
		storeMax(&f.maxOutage, now-r.downAt)
		r.downAt = 0
	}
	if seq < 0 {
		r.mu.Lock()
		first := !r.primed
		r.primed = true
		r.mu.Unlock()
		if first {
			f.primed.Add(1)
		}
		return
	}
	w := f.win.Load()
	if seq < w.base || seq >= w.base+w.n {
		return
	}
	r.mu.Lock()
	if r.gen != w.gen {
		r.gen, r.want, r.gaps, r.backs = w.gen, w.base, 0, 0
	}
	switch {
	case seq == r.want:
		r.want++
	case seq > r.want:
		f.note("event %d after %d: %d missing (Last-Event-ID %s, %d reconnections)", seq, r.want-1, seq-r.want, r.lastID, r.moves)
		r.gaps += int64(seq - r.want)
		r.want = seq + 1
	default:
		r.backs++
		f.note("event %d after %d (Last-Event-ID %s, %d reconnections)", seq, r.want-1, r.lastID, r.moves)
	}
	r.mu.Unlock()
	w.record(seq, sent, now)
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if v <= old || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// arm starts a new window: events base to base+n-1 are measured from now.
func (f *fleet) arm(base, n int) {
	w := newWindow(f.win.Load().gen+1, base, n)
	f.win.Store(w)
	f.mu.Lock()
	readers := f.readers
	f.mu.Unlock()
	for _, r := range readers {
		r.mu.Lock()
		r.gen, r.want, r.gaps, r.backs = w.gen, w.base, 0, 0
		r.mu.Unlock()
	}
}

// close closes every connection and waits for the readers to end.
func (f *fleet) close() {
	f.mu.Lock()
	f.closed = true
	readers := f.readers
	f.mu.Unlock()
	f.cancel()
	for _, r := range readers {
		f.mu.Lock()
		c := r.conn
		f.mu.Unlock()
		c.Close()
	}
	f.wg.Wait()
}
