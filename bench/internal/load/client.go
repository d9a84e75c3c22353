package load

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

	"github.com/eventwire/sse/bench/internal/server"
)

// request is the one request every client sends: what an EventSource
// sends, plus the query r3labs needs to pick its stream.
const request = "GET /events?stream=bench HTTP/1.1\r\nHost: bench\r\n" +
	"Accept: text/event-stream\r\nCache-Control: no-cache\r\n\r\n"

// Sources hands out loopback source addresses in turn (127.0.0.1,
// 127.0.0.2, ...), so that tens of thousands of connections, and the
// TIME_WAIT they leave, do not exhaust one address's ephemeral ports.
type Sources struct {
	ips  []net.IP
	next atomic.Uint64
}

// NewSources returns n (1 to 250) source addresses 127.0.0.1 to 127.0.0.n.
func NewSources(n int) *Sources {
	n = min(max(n, 1), 250)
	s := &Sources{}
	for i := range n {
		s.ips = append(s.ips, net.IPv4(127, 0, 0, byte(1+i)))
	}
	return s
}

var errNotLoopback = errors.New("not a loopback address")

// Dial connects to addr, which must be a loopback address, from the next
// source address, within 5 s.
func (s *Sources) Dial(ctx context.Context, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("dial %s: %w", addr, errNotLoopback)
	}
	ip := s.ips[s.next.Add(1)%uint64(len(s.ips))]
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: ip}}
	return d.DialContext(ctx, "tcp", addr)
}

// A Fleet is a set of SSE clients of one server: readers, each a raw TCP
// connection with one goroutine that parses the stream and records every
// event's delivery time, and silent clients that send the request and
// never read.
type Fleet struct {
	events int // run events each reader expects, numbered 0..events-1

	mu      sync.Mutex
	conns   []net.Conn
	silent  []net.Conn
	readers []*reader
	closed  bool
	wg      sync.WaitGroup

	cut atomic.Bool // events delivered from now on are counted late

	received atomic.Int64 // run events delivered (first copies only)
	primed   atomic.Int64 // readers that have seen a primer event
	ended    atomic.Int64 // readers whose stream ended before Close
	failed   atomic.Int64 // clients that could not connect
}

// NewFleet returns an empty fleet whose readers expect events run events.
func NewFleet(events int) *Fleet { return &Fleet{events: events} }

// Marks in reader.lat for events without a delivery time.
const (
	notReceived = -1
	late        = -2 // received after Fleet.CloseSilent
)

// reader is one reading client. Its fields are written by its goroutine
// only, and read by others after Fleet.Close.
type reader struct {
	lat       []int64 // delivery time of event seq in ns; -1: not received
	dups      int
	reordered int
	maxSeq    int
	minSent   int64 // earliest send time of a run event
	lastRecv  int64 // latest receipt of a run event
	primed    bool
	err       error // why the stream ended, if it ended before Close
}

// Connect opens readers more clients, dialing at most conc at a time, and
// returns when every dial has finished (not when the streams are
// subscribed: see Primed).
func (f *Fleet) Connect(ctx context.Context, src *Sources, addr string, readers, conc int) {
	f.open(ctx, src, addr, readers, conc, true)
}

// ConnectSilent opens n clients that send the request and never read:
// once their socket buffers are full, the server's writes to them block.
func (f *Fleet) ConnectSilent(ctx context.Context, src *Sources, addr string, n int) {
	f.open(ctx, src, addr, n, 8, false)
}

func (f *Fleet) open(ctx context.Context, src *Sources, addr string, n, conc int, read bool) {
	sem := make(chan struct{}, max(conc, 1))
	var dials sync.WaitGroup
	defer dials.Wait()
	for range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		dials.Add(1)
		go func() {
			defer dials.Done()
			defer func() { <-sem }()
			conn, err := src.Dial(ctx, addr)
			if err == nil {
				if _, err = io.WriteString(conn, request); err != nil {
					conn.Close()
				}
			}
			if err != nil {
				f.failed.Add(1)
				return
			}
			if !read {
				if f.add(conn, nil) {
					f.mu.Lock()
					f.silent = append(f.silent, conn)
					f.mu.Unlock()
				}
				return
			}
			r := newReader(f.events)
			if !f.add(conn, r) {
				return
			}
			go func() {
				defer f.wg.Done()
				err := r.run(f, conn)
				if !f.isClosed() {
					r.err = err
					f.ended.Add(1)
				}
			}()
		}()
	}
}

func newReader(events int) *reader {
	r := &reader{lat: make([]int64, events), maxSeq: -1, minSent: 1<<63 - 1}
	for i := range r.lat {
		r.lat[i] = notReceived
	}
	return r
}

// add keeps conn, to be closed by Close, and registers its reader, if
// any, whose goroutine the caller must then start. It closes conn and
// returns false if the fleet is closed.
func (f *Fleet) add(conn net.Conn, r *reader) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		conn.Close()
		return false
	}
	f.conns = append(f.conns, conn)
	if r != nil {
		f.readers = append(f.readers, r)
		f.wg.Add(1)
	}
	return true
}

func (f *Fleet) isClosed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.closed
}

// Readers returns how many reading clients are connected or were.
func (f *Fleet) Readers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.readers)
}

// Received returns the run events delivered so far, all readers together.
func (f *Fleet) Received() int64 { return f.received.Load() }

// Primed returns how many readers have received a primer event.
func (f *Fleet) Primed() int64 { return f.primed.Load() }

// Ended returns how many readers' streams have ended by themselves.
func (f *Fleet) Ended() int64 { return f.ended.Load() }

// Failed returns how many clients could not connect.
func (f *Fleet) Failed() int64 { return f.failed.Load() }

// CloseSilent closes the silent clients and counts the events delivered
// from then on as late: they were held back by the silent clients.
func (f *Fleet) CloseSilent() {
	f.cut.Store(true)
	f.mu.Lock()
	silent := f.silent
	f.silent = nil
	f.mu.Unlock()
	for _, c := range silent {
		c.Close()
	}
}

// Close closes every connection and waits for the readers to end. After
// it, the readers' records can be read.
func (f *Fleet) Close() {
	f.mu.Lock()
	f.closed = true
	conns := f.conns
	f.conns = nil
	f.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	f.wg.Wait()
}

var errStatus = errors.New("unexpected response status")

// run reads the stream until it ends. An event is taken as delivered when
// its closing blank line has been read.
func (r *reader) run(f *Fleet, conn net.Conn) error {
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s", errStatus, resp.Status)
	}
	lr := bufio.NewReaderSize(resp.Body, 4096)
	lineStart := true
	pending := false
	var sent int64
	var seq int
	for {
		line, err := lr.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return err
		}
		if lineStart {
			switch {
			case len(line) == 1 || len(line) == 2 && line[0] == '\r':
				if pending {
					r.deliver(f, sent, seq)
				}
				pending = false
			case bytes.HasPrefix(line, dataPrefix):
				sent, seq, pending = server.ParsePayload(line[len(dataPrefix):])
			}
		}
		lineStart = err == nil // a line longer than the buffer goes on
	}
}

var dataPrefix = []byte("data: ")

func (r *reader) deliver(f *Fleet, sent int64, seq int) {
	now := time.Now().UnixNano()
	switch {
	case seq < 0: // a primer
		if !r.primed {
			r.primed = true
			f.primed.Add(1)
		}
		return
	case seq >= len(r.lat): // not from this run
		return
	case r.lat[seq] != notReceived:
		r.dups++
		return
	case f.cut.Load():
		r.lat[seq] = late
		f.received.Add(1)
		return
	}
	if seq < r.maxSeq {
		r.reordered++
	}
	r.maxSeq = max(r.maxSeq, seq)
	r.lat[seq] = now - sent
	r.minSent = min(r.minSent, sent)
	r.lastRecv = max(r.lastRecv, now)
	f.received.Add(1)
}
