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
	"slices"
	"sync/atomic"
	"time"

	"github.com/eventwire/sse/bench/internal/server"
)

// LatestSpec is a keep-latest run (L): Clients readers that keep up, Stuck
// clients that never read and Slow clients that read SlowRate bytes/s, while
// Events events of Size bytes are published at Rate events/s, spread over
// server.LatestKeys keys (event seq has key seq mod LatestKeys).
type LatestSpec struct {
	Clients, Stuck, Slow int
	Events, Size         int
	Rate                 float64
	SlowRate             int
}

func (s LatestSpec) String() string {
	return fmt.Sprintf("L: %d clients + %d stuck + %d slow (%s/s) × %d events × %s over %d keys, %g ev/s",
		s.Clients, s.Stuck, s.Slow, byteSize(s.SlowRate), s.Events, byteSize(s.Size), server.LatestKeys, s.Rate)
}

// LatestResult is what a keep-latest run measured.
type LatestResult struct {
	Impl string
	Spec LatestSpec

	Readers       int
	Expected      int64 // events × readers
	Delivered     int64 // events the readers received
	Short         int   // readers missing at least one event
	Latest        int   // readers that received the latest event of every key
	P50, P99, Max time.Duration

	HeapBefore, HeapMax, HeapAfter uint64 // server heap in use: before publishing, highest seen, at the end
	RSSBefore, RSSMax              int64  // server RSS in KiB

	SlowGot    []int64       // events each slow client received
	SlowLatest int           // slow clients that ended with the latest event of every key
	SlowEnded  int           // slow clients whose stream the server ended
	CatchUp    time.Duration // from the last publish until the last slow client had every key's latest event

	Hub     server.HubStats // the hub's counters at the end (eventwire implementations)
	StuckIn time.Duration   // from the first publish until the hub had dropped every stuck client
	Err     string
}

// Latest runs spec against impl: do readers that keep up get every event
// in time, does the server's memory stay bounded with stuck and slow
// clients, and does each slow client end with the latest event of every
// key?
func (r *Runner) Latest(ctx context.Context, impl string, spec LatestSpec) (res LatestResult) {
	res = LatestResult{Impl: impl, Spec: spec}
	child, ctl, err := r.server(ctx, impl)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer child.Stop()
	defer ctl.close()
	f := NewFleet(spec.Events)
	defer f.Close()
	f.ConnectSilent(ctx, r.Sources, child.Addr, spec.Stuck)
	f.Connect(ctx, r.Sources, child.Addr, spec.Clients, 128)
	slow := make([]*slowReader, spec.Slow)
	for i := range slow {
		conn, err := r.Sources.Dial(ctx, child.Addr)
		if err == nil {
			// A receive buffer smaller than loopback's MSS (64 KiB) would
			// stall the sender for seconds at a time: keep it above.
			conn.(*net.TCPConn).SetReadBuffer(256 << 10) //nolint:errcheck // a larger buffer only delays catching up
			_, err = io.WriteString(conn, request)
		}
		if err != nil {
			res.Err = fmt.Sprintf("slow client: %v", err)
			return res
		}
		slow[i] = newSlowReader(conn, spec.SlowRate, spec.Events)
		defer slow[i].close()
	}
	res.Readers = f.Readers()
	if err := r.prime(ctx, ctl, f, 60*time.Second); err != nil {
		res.Err = err.Error()
		return res
	}
	if err := r.primeSlow(ctx, ctl, slow, 30*time.Second); err != nil {
		res.Err = err.Error()
		return res
	}
	res.Expected = int64(res.Readers) * int64(spec.Events)

	st0, err := ctl.stats(ctx, true)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.HeapBefore, res.HeapMax, res.RSSBefore, res.RSSMax = st0.HeapInuse, st0.HeapInuse, st0.RSSKiB, st0.RSSKiB

	// Sample the server while it publishes, until the slow clients are
	// done; note when the hub has dropped the stuck clients.
	start := time.Now()
	var stuckIn atomic.Int64 // the time StuckIn measures, once seen
	sampled := make(chan struct{})
	sctx, stopSampling := context.WithCancel(ctx)
	go func() {
		defer close(sampled)
		for Sleep(sctx, 250*time.Millisecond) == nil {
			st, err := ctl.stats(sctx, false)
			if err != nil {
				continue
			}
			res.HeapMax = max(res.HeapMax, st.HeapInuse)
			res.RSSMax = max(res.RSSMax, st.RSSKiB)
			if st.Hub != nil && stuckIn.Load() == 0 && st.Hub.DroppedClients >= uint64(spec.Stuck) {
				stuckIn.Store(int64(time.Since(start)))
			}
		}
	}()

	pubErr := make(chan error, 1)
	go func() {
		out, err := ctl.publish(ctx, spec.Events, spec.Size, spec.Rate, 0)
		if err == nil && out.Err != "" {
			err = fmt.Errorf("server: %s after %d events", out.Err, out.Published)
		}
		pubErr <- err
	}()
	if _, perr := r.await(ctx, f, res.Expected, pubErr); perr != "" {
		res.Err = "publish: " + perr
	}
	published := time.Now() // the readers that keep up have every event
	want := latestSeqs(spec.Events)
	for _, s := range slow {
		for !s.has(want) && !s.ended.Load() && time.Since(published) < catchUpLimit && ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		if s.has(want) {
			res.SlowLatest++
			res.CatchUp = max(res.CatchUp, time.Since(published))
		}
	}
	// Stuck clients go with the write timeout (10 s by default).
	for stuckIn.Load() == 0 && spec.Stuck > 0 && time.Since(start) < 30*time.Second && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
	}
	stopSampling()
	<-sampled
	res.StuckIn = time.Duration(stuckIn.Load())
	if st, err := ctl.stats(ctx, true); err == nil {
		res.HeapAfter = st.HeapInuse
		if st.Hub != nil {
			res.Hub = *st.Hub
		}
	}
	f.Close()
	for _, s := range slow {
		s.close()
		res.SlowGot = append(res.SlowGot, s.got.Load())
		if s.ended.Load() {
			res.SlowEnded++
		}
	}

	var lat []int64
	for _, rd := range f.readers {
		if !slices.ContainsFunc(want, func(seq int64) bool { return seq >= 0 && rd.lat[seq] < 0 }) {
			res.Latest++
		}
		short := false
		for _, l := range rd.lat {
			if l < 0 {
				short = true
			} else {
				lat = append(lat, l)
			}
		}
		if short {
			res.Short++
		}
	}
	res.Delivered = int64(len(lat))
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50 = time.Duration(percentile(lat, 50))
		res.P99 = time.Duration(percentile(lat, 99))
		res.Max = time.Duration(lat[len(lat)-1])
	}
	return res
}

// catchUpLimit bounds the wait for a slow client to receive the latest
// event of every key once the readers have every event: what its kernel
// buffers hold (up to a few MiB) must drain first.
const catchUpLimit = 60 * time.Second

// latestSeqs returns the last event of each key among events events.
func latestSeqs(events int) []int64 {
	want := make([]int64, server.LatestKeys)
	for k := range want {
		want[k] = -1
	}
	for seq := max(events-server.LatestKeys, 0); seq < events; seq++ {
		want[seq%server.LatestKeys] = int64(seq)
	}
	return want
}

// slowReader is a client that reads its stream at a bounded rate and
// records the last event it received of each key.
type slowReader struct {
	conn   net.Conn
	last   []atomic.Int64 // key -> the seq of the last event received, -1: none
	got    atomic.Int64   // run events received
	primed atomic.Bool
	ended  atomic.Bool // the stream ended before close
	closed atomic.Bool
	done   chan struct{}
}

func newSlowReader(conn net.Conn, rate, events int) *slowReader {
	s := &slowReader{conn: conn, last: make([]atomic.Int64, server.LatestKeys), done: make(chan struct{})}
	for i := range s.last {
		s.last[i].Store(-1)
	}
	go func() {
		defer close(s.done)
		s.run(&throttled{r: conn, rate: rate}, events)
		if !s.closed.Load() {
			s.ended.Store(true)
		}
	}()
	return s
}

// run reads the stream until it ends.
func (s *slowReader) run(r io.Reader, events int) {
	resp, err := http.ReadResponse(bufio.NewReaderSize(r, 4096), nil)
	if err != nil {
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return
	}
	lr := bufio.NewReaderSize(resp.Body, 4096)
	lineStart, pending, seq := true, false, 0
	for {
		line, err := lr.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
		if lineStart {
			switch {
			case len(line) == 1 || len(line) == 2 && line[0] == '\r':
				switch {
				case !pending:
				case seq < 0:
					s.primed.Store(true)
				case seq < events:
					s.last[seq%server.LatestKeys].Store(int64(seq))
					s.got.Add(1)
				}
				pending = false
			case bytes.HasPrefix(line, dataPrefix):
				_, seq, pending = server.ParsePayload(line[len(dataPrefix):])
			}
		}
		lineStart = err == nil
	}
}

// has reports whether the last event received of each key is want's.
func (s *slowReader) has(want []int64) bool {
	for k, seq := range want {
		if s.last[k].Load() != seq {
			return false
		}
	}
	return true
}

// primeSlow publishes primer events every 100 ms until every slow client
// has received one.
func (r *Runner) primeSlow(ctx context.Context, ctl *control, slow []*slowReader, within time.Duration) error {
	deadline := time.Now().Add(within)
	for _, s := range slow {
		for !s.primed.Load() {
			if time.Now().After(deadline) || s.ended.Load() {
				return errors.New("a slow client did not subscribe")
			}
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			_, err := ctl.publish(pctx, 1, 32, 0, -1)
			cancel()
			if err != nil {
				return err
			}
			if err := Sleep(ctx, 100*time.Millisecond); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *slowReader) close() {
	s.closed.Store(true)
	s.conn.Close()
	<-s.done
}

// throttled reads from r at rate bytes/s on average, 1 KiB at a time: each
// read waits until the bytes read so far are due.
type throttled struct {
	r     io.Reader
	rate  int
	start time.Time
	total int64
}

func (t *throttled) Read(p []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	n, err := t.r.Read(p[:min(len(p), 1024)])
	t.total += int64(n)
	time.Sleep(time.Until(t.start.Add(time.Duration(t.total) * time.Second / time.Duration(t.rate))))
	return n, err
}
