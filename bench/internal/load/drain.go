package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// DrainSpec is scenario S: Clients streams on a first server, which shuts
// down draining them over Window (sse.DrainOnShutdown) onto a second
// server that shares its backend, while the second server publishes
// events of Size bytes at Rate events/s, from Before the shutdown until
// After the window.
type DrainSpec struct {
	Clients       int
	Window        time.Duration
	Rate          float64
	Size          int
	Before, After time.Duration
}

func (s DrainSpec) String() string {
	return fmt.Sprintf("S: %d streams drained over %v onto a second server, %g events/s × %s from %v before to %v after the window",
		s.Clients, s.Window, s.Rate, byteSize(s.Size), s.Before, s.After)
}

// events returns how many events the run publishes.
func (s DrainSpec) events() int {
	return int(math.Round(s.Rate * (s.Before + s.Window + s.After).Seconds()))
}

// DrainResult is what a drain run measured.
type DrainResult struct {
	Impl string
	Spec DrainSpec

	Readers       int   // streams opened on the first server
	ConnectFailed int64 // of those, clients that could not connect
	Published     int   // events published during the run

	Moved        int // clients whose stream on the first server ended and that resumed on the second
	NotEnded     int // clients whose stream on the first server had not ended when the run ended
	ResumeFailed int // clients that could not resume on the second server
	EndedEarly   int // clients whose stream ended before the shutdown, or on the second server

	// PerSecond counts the clients that resumed on the second server in
	// each second from the start of the shutdown (a reconnection counts
	// when the second server's response headers arrive).
	PerSecond []int
	// EndedPerSecond counts the streams on the first server that ended
	// (as the clients saw it) in each second from the start of the
	// shutdown: resumption follows after the retry hint.
	EndedPerSecond []int
	Busiest        int     // the most reconnections in one second of the window
	Average        float64 // reconnections within the window per second of it

	RetryMin, RetryMax time.Duration // the retry hints the streams ended with
	GapP50, GapMax     time.Duration // from a stream's end on the first server to its resumption on the second

	Lost      int64 // events not received, all clients together
	Short     int   // clients missing one event or more
	Dups      int64 // events received twice or more
	DupConns  int   // clients that received an event twice
	Reordered int64
	Resets    int // reset events (sse-reset) received

	P50, P99, Max time.Duration // delivery times of the events, replayed ones included

	DupExamples  []string       // the first repeated event of a few clients
	ResumeErrors map[string]int // why clients could not resume, by error
	ShutdownTook time.Duration  // from http.Server.Shutdown's call to its return, in the first server
	ShutdownErr  string
	Err          string // the run could not be made
}

// drainClient is one client of a drain run. Its fields are written by its
// goroutine only, and read by others after the run has closed it.
type drainClient struct {
	lat       []int64 // delivery time of event seq in ns; -1: not received
	dups      int64
	reordered int64
	maxSeq    int
	resets    int
	lastID    string
	retry     time.Duration // the last retry hint received
	primed    bool

	endedAt   time.Time // the first server's stream ended
	resumedAt time.Time // the second server's response headers arrived
	err1      error     // why the first stream ended
	err2      error     // why the second stream could not start or ended

	// For the report's examples: on which server (1 or 2) each event came
	// first, the event that last set lastID, what the client resumed
	// from, and the first event received twice.
	from      []byte
	lastIDSeq int
	resumeID  string
	resumeSeq int
	onSecond  int // events received on the second server
	dup       string
}

// drainRun is the shared state of one drain run's clients.
type drainRun struct {
	src      *Sources
	addr2    string
	shutdown atomic.Bool // the first server's shutdown has started

	primed   atomic.Int64
	received atomic.Int64 // run events received, first copies only
	resumed  atomic.Int64

	mu     sync.Mutex
	conns  []net.Conn
	closed bool
	wg     sync.WaitGroup
}

// track keeps conn to be closed by close; it closes conn and returns
// false if the run is closed.
func (d *drainRun) track(conn net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		conn.Close()
		return false
	}
	d.conns = append(d.conns, conn)
	return true
}

func (d *drainRun) isClosed() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.closed
}

// close closes every connection and waits for the clients to end.
func (d *drainRun) close() {
	d.mu.Lock()
	d.closed = true
	conns := d.conns
	d.conns = nil
	d.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	d.wg.Wait()
}

// Drain runs spec with two servers of impl, which must share its events
// through a backend (see server.Service).
func (r *Runner) Drain(ctx context.Context, impl string, spec DrainSpec) (res DrainResult) {
	res = DrainResult{Impl: impl, Spec: spec}
	if server.Service(impl) == "" {
		res.Err = impl + " shares no backend between servers"
		return res
	}
	env := append(slices.Clone(r.Env), server.DrainEnv+"="+spec.Window.String())
	s1, err := StartChild(ctx, r.Exe, impl, env)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer s1.Stop()
	s2, err := StartChild(ctx, r.Exe, impl, env)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer s2.Stop()
	ctl1, ctl2 := newControl(s1.Addr), newControl(s2.Addr)
	defer ctl1.close()
	defer ctl2.close()

	events := spec.events()
	d := &drainRun{src: r.Sources, addr2: s2.Addr}
	defer d.close()
	clients := make([]*drainClient, 0, spec.Clients)
	var failed atomic.Int64
	sem := make(chan struct{}, 128)
	var dials sync.WaitGroup
	start := time.Now()
	for range spec.Clients {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		c := &drainClient{lat: make([]int64, events), from: make([]byte, events), maxSeq: -1, lastIDSeq: -1}
		for i := range c.lat {
			c.lat[i] = notReceived
		}
		clients = append(clients, c)
		dials.Add(1)
		d.wg.Add(1)
		go func() {
			conn, err := r.Sources.Dial(ctx, s1.Addr)
			if err == nil {
				if _, err = io.WriteString(conn, request); err != nil {
					conn.Close()
				}
			}
			<-sem
			dials.Done()
			defer d.wg.Done()
			if err != nil {
				failed.Add(1)
				c.err1 = err
				return
			}
			if !d.track(conn) {
				return
			}
			c.run(d, conn)
		}()
	}
	dials.Wait()
	res.Readers = len(clients)
	res.ConnectFailed = failed.Load()
	r.logf("  %d streams connected to the first server in %v (%d failed)", res.Readers, time.Since(start).Round(time.Millisecond), res.ConnectFailed)

	// Every stream subscribed: primers, published through the second
	// server, reach the first server's hub through the backend.
	deadline := time.Now().Add(2 * time.Minute)
	for d.primed.Load() < int64(res.Readers)-res.ConnectFailed {
		if time.Now().After(deadline) || ctx.Err() != nil {
			res.Err = fmt.Sprintf("only %d of %d streams subscribed within 2m", d.primed.Load(), res.Readers)
			return res
		}
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := ctl2.publish(pctx, 1, 32, 0, -1)
		cancel()
		if err != nil {
			r.logf("  primer publish: %v", err)
		}
		if err := Sleep(ctx, 100*time.Millisecond); err != nil {
			res.Err = err.Error()
			return res
		}
	}
	if err := Sleep(ctx, 500*time.Millisecond); err != nil {
		res.Err = err.Error()
		return res
	}

	pubDone := make(chan server.PublishResult, 1)
	go func() {
		out, err := ctl2.publish(ctx, events, spec.Size, spec.Rate, 0)
		if err != nil && out.Err == "" {
			out.Err = err.Error()
		}
		pubDone <- out
	}()
	if err := Sleep(ctx, spec.Before); err != nil {
		res.Err = err.Error()
		return res
	}
	d.shutdown.Store(true)
	t0 := time.Now()
	r.logf("  shutting the first server down, draining over %v", spec.Window)
	shutDone := make(chan server.ShutdownResult, 1)
	go func() {
		sctx, cancel := context.WithTimeout(ctx, spec.Window+time.Minute)
		defer cancel()
		out, err := server.Control{Base: ctl1.base, HC: ctl1.hc}.Shutdown(sctx)
		if err != nil {
			out.Err = err.Error()
		}
		shutDone <- out
	}()
	sh := <-shutDone
	res.ShutdownTook, res.ShutdownErr = time.Duration(sh.ElapsedNs), sh.Err
	r.logf("  Shutdown returned after %v %s; %d of %d clients resumed on the second server",
		res.ShutdownTook.Round(time.Millisecond), sh.Err, d.resumed.Load(), res.Readers)
	pub := <-pubDone
	res.Published = pub.Published
	if pub.Err != "" && res.Err == "" {
		res.Err = "publish: " + pub.Err
	}
	// Let the last events and replays arrive: until every client has
	// every event, or none came for 3 s.
	want := int64(res.Readers-int(res.ConnectFailed)) * int64(res.Published)
	last, lastChange := d.received.Load(), time.Now()
	for d.received.Load() < want && time.Since(lastChange) < 3*time.Second && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if got := d.received.Load(); got != last {
			last, lastChange = got, time.Now()
		}
	}
	d.close()
	res.collect(clients, t0)
	return res
}

// collect fills in the counts from the clients' records; t0 is the start
// of the shutdown.
func (res *DrainResult) collect(clients []*drainClient, t0 time.Time) {
	var lat, gaps []int64
	windowSecs := int(math.Ceil(res.Spec.Window.Seconds()))
	res.PerSecond = make([]int, windowSecs)
	res.EndedPerSecond = make([]int, windowSecs)
	inWindow := 0
	res.RetryMin = time.Duration(math.MaxInt64)
	for _, c := range clients {
		if c.err1 != nil && c.endedAt.IsZero() && c.resumedAt.IsZero() && !c.primed {
			continue // never connected
		}
		if !c.endedAt.IsZero() && !c.endedAt.Before(t0) {
			res.EndedPerSecond = count(res.EndedPerSecond, c.endedAt.Sub(t0))
		}
		switch {
		case c.endedAt.IsZero():
			res.NotEnded++
		case c.endedAt.Before(t0):
			res.EndedEarly++
		case c.resumedAt.IsZero():
			res.ResumeFailed++
			if res.ResumeErrors == nil {
				res.ResumeErrors = map[string]int{}
			}
			res.ResumeErrors[fmt.Sprint(c.err2)]++
		default:
			res.Moved++
			if c.err2 != nil {
				res.EndedEarly++ // the second stream ended before the run did
			}
			res.PerSecond = count(res.PerSecond, c.resumedAt.Sub(t0))
			if c.resumedAt.Sub(t0) <= res.Spec.Window {
				inWindow++
			}
			gaps = append(gaps, int64(c.resumedAt.Sub(c.endedAt)))
			res.RetryMin = min(res.RetryMin, c.retry)
			res.RetryMax = max(res.RetryMax, c.retry)
		}
		short := false
		for seq, l := range c.lat {
			if seq >= res.Published {
				break
			}
			if l < 0 {
				res.Lost++
				short = true
				continue
			}
			lat = append(lat, l)
		}
		if short {
			res.Short++
		}
		res.Dups += c.dups
		if c.dups > 0 {
			res.DupConns++
			if len(res.DupExamples) < 5 {
				res.DupExamples = append(res.DupExamples, c.dup)
			}
		}
		res.Reordered += c.reordered
		res.Resets += c.resets
	}
	if res.Moved == 0 {
		res.RetryMin = 0
	}
	for i, n := range res.PerSecond {
		if i < windowSecs {
			res.Busiest = max(res.Busiest, n)
		}
	}
	if res.Spec.Window > 0 {
		res.Average = float64(inWindow) / res.Spec.Window.Seconds()
	}
	if len(gaps) > 0 {
		slices.Sort(gaps)
		res.GapP50, res.GapMax = time.Duration(percentile(gaps, 50)), time.Duration(gaps[len(gaps)-1])
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50, res.P99 = time.Duration(percentile(lat, 50)), time.Duration(percentile(lat, 99))
		res.Max = time.Duration(lat[len(lat)-1])
	}
}

// count adds one to the count of the second d falls in, growing counts
// if need be.
func count(counts []int, d time.Duration) []int {
	sec := int(d / time.Second)
	for sec >= len(counts) {
		counts = append(counts, 0)
	}
	counts[sec]++
	return counts
}

// run reads the first server's stream until it ends; if the first
// server's shutdown has started, it waits for the retry hint and resumes
// on the second server with its last event ID, and reads that stream
// until the run closes it.
func (c *drainClient) run(d *drainRun, conn net.Conn) {
	c.err1 = c.read(d, conn)
	if d.isClosed() {
		return
	}
	c.endedAt = time.Now()
	// Close it now, not with the run: twice as many descriptors as
	// clients would pass the open-file limit (often 20,000 here).
	conn.Close()
	if !d.shutdown.Load() {
		return // ended before the shutdown: counted, not resumed
	}
	c.resumeID, c.resumeSeq = c.lastID, c.lastIDSeq
	wait := c.retry
	if wait <= 0 {
		wait = time.Second
	}
	time.Sleep(wait)
	if d.isClosed() {
		return
	}
	conn2, err := d.src.Dial(context.Background(), d.addr2)
	if err != nil {
		c.err2 = err
		return
	}
	if !d.track(conn2) {
		return
	}
	req := "GET /events?stream=bench HTTP/1.1\r\nHost: bench\r\nAccept: text/event-stream\r\nCache-Control: no-cache\r\n" +
		"Last-Event-ID: " + c.lastID + "\r\n\r\n"
	if _, err := io.WriteString(conn2, req); err != nil {
		c.err2 = err
		return
	}
	err = c.read(d, conn2)
	if !d.isClosed() {
		c.err2 = err
	}
}

// read reads one response's event stream until it ends. It sets
// resumedAt when the headers of a response with a Last-Event-ID arrive.
func (c *drainClient) read(d *drainRun, conn net.Conn) error {
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s", errStatus, resp.Status)
	}
	if !c.endedAt.IsZero() {
		c.resumedAt = time.Now()
		d.resumed.Add(1)
	}
	lr := bufio.NewReaderSize(resp.Body, 4096)
	var (
		data, typ, id []byte
		hasData       bool
		idSet         bool
	)
	for {
		line, err := lr.ReadSlice('\n')
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return fmt.Errorf("a line longer than %d bytes", lr.Size())
			}
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 { // dispatch
			seq := -1
			switch {
			case string(typ) == "sse-reset":
				c.resets++
			case hasData:
				var sent int64
				var ok bool
				if sent, seq, ok = server.ParsePayload(append(data, ' ')); ok {
					c.deliver(d, sent, seq, string(id))
				}
			}
			if idSet {
				c.lastID, c.lastIDSeq = string(id), seq
			}
			data, typ, hasData, idSet = data[:0], typ[:0], false, false
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "data":
			data, hasData = append(data[:0], value...), true
		case "event":
			typ = append(typ[:0], value...)
		case "id":
			id, idSet = append(id[:0], value...), true
		case "retry":
			if ms, err := strconv.Atoi(string(value)); err == nil {
				c.retry = time.Duration(ms) * time.Millisecond
			}
		}
	}
}

func (c *drainClient) deliver(d *drainRun, sent int64, seq int, id string) {
	now := time.Now().UnixNano()
	server := byte(1)
	if !c.resumedAt.IsZero() {
		server = 2
		c.onSecond++
	}
	switch {
	case seq < 0:
		if !c.primed {
			c.primed = true
			d.primed.Add(1)
		}
		return
	case seq >= len(c.lat):
		return
	case c.lat[seq] != notReceived:
		c.dups++
		if c.dup == "" {
			c.dup = fmt.Sprintf("event %d (ID %s) first from server %d, again from server %d as its %d. event there; resumed from ID %q (event %d)",
				seq, id, c.from[seq], server, c.onSecond, c.resumeID, c.resumeSeq)
		}
		return
	}
	c.from[seq] = server
	if seq < c.maxSeq {
		c.reordered++
	}
	c.maxSeq = max(c.maxSeq, seq)
	c.lat[seq] = now - sent
	d.received.Add(1)
}
