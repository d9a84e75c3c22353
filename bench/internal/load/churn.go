package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ChurnResult is what a connect/disconnect run measured.
type ChurnResult struct {
	Impl    string
	Cycles  int
	Failed  int64 // cycles that could not connect or saw no event
	Elapsed time.Duration

	GBefore, GAfter       int   // server goroutines before the cycles and after they settled
	RSSBefore, RSSAfter   int64 // server RSS in KiB, after returning free memory to the OS
	GMid                  int   // goroutines, after the first half of the cycles
	RSSMid                int64 // RSS after the first half of the cycles
	HeapBefore, HeapAfter uint64
	SubsAfter             int  // subscribers the server counts after (-1: unknown)
	Settled               bool // goroutines back to the count before, within 15 s
	SettleTime            time.Duration
	Err                   string
}

// Churn makes cycles short-lived connections to impl, conc at a time,
// while the server publishes a small event every 10 ms: every other client
// closes as soon as it has sent its request, the others once they have
// received one event. It then checks that the server's goroutines and
// memory went back to where they were, and that memory did not grow from
// the first half of the cycles to the second.
func (r *Runner) Churn(ctx context.Context, impl string, cycles, conc int) (res ChurnResult) {
	res = ChurnResult{Impl: impl, Cycles: cycles, SubsAfter: -1}
	child, ctl, err := r.server(ctx, impl)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	defer child.Stop()
	defer ctl.close()

	pctx, stopPublishing := context.WithCancel(ctx)
	defer stopPublishing()
	published := make(chan struct{})
	go func() {
		defer close(published)
		ctl.publish(pctx, 100*600, 64, 100, 0) //nolint:errcheck // canceled at the end
	}()
	defer func() { stopPublishing(); <-published }()
	if err := Sleep(ctx, 300*time.Millisecond); err != nil {
		res.Err = err.Error()
		return res
	}
	before, err := ctl.stats(ctx, true)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.GBefore, res.RSSBefore, res.HeapBefore = before.Goroutines, before.RSSKiB, before.HeapInuse

	start := time.Now()
	var failed atomic.Int64
	half := cycles / 2
	r.cycles(ctx, child.Addr, 0, half, conc, &failed)
	mid, err := ctl.stats(ctx, true)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.GMid, res.RSSMid = mid.Goroutines, mid.RSSKiB
	r.cycles(ctx, child.Addr, half, cycles, conc, &failed)
	res.Elapsed = time.Since(start)
	res.Failed = failed.Load()
	r.logf("  %d cycles in %v (%d failed)", cycles, res.Elapsed.Round(time.Millisecond), res.Failed)

	settle := time.Now()
	for time.Since(settle) < 15*time.Second && ctx.Err() == nil {
		st, err := ctl.stats(ctx, false)
		if err == nil && st.Goroutines <= res.GBefore {
			res.Settled = true
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	res.SettleTime = time.Since(settle)
	after, err := ctl.stats(ctx, true)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	res.GAfter, res.RSSAfter, res.HeapAfter, res.SubsAfter = after.Goroutines, after.RSSKiB, after.HeapInuse, after.Subscribers
	return res
}

// cycles runs cycles from to to, conc at a time, counting failures.
func (r *Runner) cycles(ctx context.Context, addr string, from, to, conc int, failed *atomic.Int64) {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(to) || ctx.Err() != nil {
					return
				}
				if err := r.cycle(ctx, addr, i%2 == 1); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
}

var errNoEvent = errors.New("stream ended before an event")

// cycle opens one stream and closes it: at once, or once an event has come
// (within 3 s).
func (r *Runner) cycle(ctx context.Context, addr string, waitEvent bool) error {
	conn, err := r.Sources.Dial(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, request); err != nil {
		return err
	}
	if !waitEvent {
		return nil
	}
	if err := conn.SetReadDeadline(time.Now().Add(3 * time.Second)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(conn, 1024)
	for {
		line, err := br.ReadSlice('\n')
		if bytes.HasPrefix(line, dataPrefix) {
			return nil
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				return errNoEvent
			}
			return err
		}
	}
}
