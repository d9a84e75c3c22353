package cluster

import (
	"context"
	"slices"
	"time"
)

// A Step is what one measured batch of events gave, over all clients.
type Step struct {
	Readers   int64
	Events    int
	Expected  int64 // readers × events
	Delivered int64 // deliveries, duplicates left out
	Lost      int64 // events some reader never got (or got only out of order)
	Backs     int64 // duplicates and events out of order
	Short     int64 // readers missing events at the end
	PerSec    float64
	P50, P99  time.Duration
	Max       time.Duration
	// ToLast is, per event, the time from its send until the last client
	// had it (-1: nobody).
	ToLast  []time.Duration
	Wall    time.Duration // first send to last receipt
	Publish time.Duration // how long the publisher took
	Stalled bool          // delivery stopped before all events arrived
	Load    Load
	Clients Status
	PubErr  string
	Notes   []string // the first anomalies the clients saw
	// DroppedClients and Dropped are the hubs' counters at the end, all
	// servers that answer together: clients cut off, events dropped.
	DroppedClients, Dropped uint64
}

// measure publishes n events of size bytes numbered from base at rate
// events/s on the first server, and waits until every client has them or
// delivery stops; during, if set, runs once after the given delay while
// events flow. It returns what the clients measured.
//
// With pubs above 1, that many publishers run at once on the server, each
// with its share of the rate and a consecutive share of the numbers; the
// clients then see their events interleaved, so the order is not checked
// and Lost counts the deliveries missing (a duplicate would hide a loss).
func (g *rig) measure(ctx context.Context, pubs, base, n, size int, rate float64, after time.Duration, during func()) (Step, error) {
	pubs = min(max(pubs, 1), max(n, 1))
	var s Step
	if err := g.arm(base, n); err != nil {
		return s, err
	}
	st, err := g.status()
	if err != nil {
		return s, err
	}
	s.Readers, s.Events = st.Readers, n
	s.Expected = st.Readers * int64(n)
	c0 := g.cpu()
	type pubRes struct {
		elapsed time.Duration
		err     error
	}
	done := make(chan pubRes, pubs)
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for j := range pubs {
		from, to := base+n*j/pubs, base+n*(j+1)/pubs
		go func() {
			res, err := g.publish(pctx, 0, to-from, size, rate/float64(pubs), from)
			done <- pubRes{time.Duration(res.ElapsedNs), err}
		}()
	}
	running := pubs
	var timer <-chan time.Time
	if during != nil {
		t := time.NewTimer(after)
		defer t.Stop()
		timer = t.C
	}
	published := false
	last, lastChange := int64(-1), time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-ctx.Done():
			return s, ctx.Err()
		case p := <-done:
			running--
			published = running == 0
			s.Publish = max(s.Publish, p.elapsed)
			if p.err != nil && s.PubErr == "" {
				s.PubErr = p.err.Error()
			}
		case <-timer:
			during()
		case <-tick.C:
		}
		st, err := g.status()
		if err != nil {
			return s, err
		}
		if st.Received >= s.Expected && published {
			break
		}
		if st.Received != last {
			last, lastChange = st.Received, time.Now()
		}
		idle := time.Since(lastChange)
		switch {
		case published && idle > 3*time.Second:
			s.Stalled = true
			break wait
		case idle > g.r.Stall:
			g.r.logf("  no event delivered for %v with %d of %d delivered: stopping", g.r.Stall, st.Received, s.Expected)
			s.Stalled = true
			break wait
		}
	}
	c1 := g.cpu()
	s.Load = loadBetween(c0, c1)
	cancel()
	for ; running > 0; running-- {
		<-done
	}
	var h Hist
	first, lastRecv := int64(1<<63-1), int64(0)
	toLast := make([]int64, n)
	for i := range toLast {
		toLast[i] = -1
	}
	var total int64
	for _, a := range g.agents {
		c, err := a.collect()
		if err != nil {
			return s, err
		}
		h.Merge(c.Hist)
		first, lastRecv = min(first, c.First), max(lastRecv, c.Last)
		for i, v := range c.MaxLat {
			toLast[i] = max(toLast[i], v)
		}
		for _, v := range c.Count {
			total += v
		}
		s.Lost += c.Gaps + c.Shortfall
		s.Backs += c.Backs
		s.Short += c.Short
		s.Clients = addStatus(s.Clients, c.Status)
		s.Notes = append(s.Notes, c.Notes...)
	}
	for i := range g.servers {
		if st, err := g.stats(ctx, i, false); err == nil && st.Hub != nil {
			s.DroppedClients += st.Hub.DroppedClients
			s.Dropped += st.Hub.Dropped
		}
	}
	if pubs > 1 {
		s.Lost, s.Backs, s.Short = max(s.Expected-total, 0), 0, 0
		s.Delivered = min(total, s.Expected)
	} else {
		s.Delivered = total - s.Backs
	}
	s.P50, s.P99 = h.Quantile(0.50), h.Quantile(0.99)
	s.Max = h.Quantile(1)
	if lastRecv > first {
		s.Wall = time.Duration(lastRecv - first)
		s.PerSec = float64(s.Delivered) / s.Wall.Seconds()
	}
	for _, v := range toLast {
		s.ToLast = append(s.ToLast, time.Duration(v))
	}
	return s, nil
}

func median(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	v = slices.Clone(v)
	slices.Sort(v)
	return v[len(v)/2]
}
