package cluster

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/eventwire/sse/bench/internal/load"
	"github.com/eventwire/sse/bench/internal/server"
)

// A command is one line the load tool writes to a client process.
type command struct {
	Op     string   `json:"op"` // connect, arm, status, collect
	Addrs  []string `json:"addrs,omitempty"`
	N      int      `json:"n,omitempty"`
	Conc   int      `json:"conc,omitempty"`
	Offset int      `json:"offset,omitempty"`
	Resume bool     `json:"resume,omitempty"`
	Base   int      `json:"base,omitempty"`
}

// Status is what a client process answers to status: its counters.
type Status struct {
	Readers    int64  `json:"readers"`
	Failed     int64  `json:"failed"`
	Primed     int64  `json:"primed"`
	Ended      int64  `json:"ended"`
	Received   int64  `json:"received"` // deliveries in the current window
	Reconnects int64  `json:"reconnects"`
	DialFails  int64  `json:"dial_fails"`
	Down       int64  `json:"down"`
	Back       int64  `json:"back"`
	LastBack   int64  `json:"last_back"`  // unix ns
	MaxOutage  int64  `json:"max_outage"` // ns
	MaxRedial  int64  `json:"max_redial"` // ns
	Other      int64  `json:"other"`      // events without a benchmark payload (sse-reset, ...)
	RSSKiB     int64  `json:"rss_kib"`
	Err        string `json:"err,omitempty"`
}

// Collected is what a client process answers to collect: the current
// window's measurements.
type Collected struct {
	Status
	Hist      [][2]uint64 `json:"hist"`
	MaxLat    []int64     `json:"max_lat"` // per event, ns; -1: nobody got it
	Count     []int64     `json:"count"`   // per event, deliveries
	First     int64       `json:"first"`   // earliest send time delivered, unix ns
	Last      int64       `json:"last"`    // latest receipt, unix ns
	Gaps      int64       `json:"gaps"`
	Backs     int64       `json:"backs"`
	Short     int64       `json:"short"`     // readers that miss events at the end
	Shortfall int64       `json:"shortfall"` // events they miss
	Notes     []string    `json:"notes,omitempty"`
}

// ServeAgent runs a client process: it reads commands, one JSON object a
// line, from in and answers each with one line on out, until in ends; then
// it closes its clients. The load tool starts it with -cluster-agent.
func ServeAgent(in io.Reader, out io.Writer) error {
	f := newFleet(load.NewSources(64))
	defer f.close()
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		var c command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		var reply any
		switch c.Op {
		case "connect":
			f.connect(c.Addrs, c.N, c.Conc, c.Offset, c.Resume)
			reply = f.status()
		case "arm":
			f.arm(c.Base, c.N)
			reply = f.status()
		case "status":
			reply = f.status()
		case "collect":
			reply = f.collect()
		default:
			st := f.status()
			st.Err = "unknown op " + c.Op
			reply = st
		}
		if err := enc.Encode(reply); err != nil {
			return err
		}
	}
	return sc.Err()
}

func (f *fleet) status() Status {
	f.mu.Lock()
	n := len(f.readers)
	f.mu.Unlock()
	return Status{
		Readers:    int64(n),
		Failed:     f.failed.Load(),
		Primed:     f.primed.Load(),
		Ended:      f.ended.Load(),
		Received:   f.win.Load().got.Load(),
		Reconnects: f.reconnects.Load(),
		DialFails:  f.dialFails.Load(),
		Down:       f.down.Load(),
		Back:       f.back.Load(),
		LastBack:   f.lastBack.Load(),
		MaxOutage:  f.maxOutage.Load(),
		MaxRedial:  f.maxRedial.Load(),
		Other:      f.other.Load(),
		RSSKiB:     server.RSSKiB(os.Getpid()),
	}
}

func (f *fleet) collect() Collected {
	w := f.win.Load()
	c := Collected{Status: f.status(), Hist: w.hist.Sparse(), First: w.first.Load(), Last: w.last.Load()}
	f.notesMu.Lock()
	c.Notes = append(c.Notes, f.notes...)
	f.notesMu.Unlock()
	c.MaxLat = make([]int64, w.n)
	c.Count = make([]int64, w.n)
	for i := range w.n {
		c.MaxLat[i] = w.maxLat[i].Load()
		c.Count[i] = w.count[i].Load()
	}
	f.mu.Lock()
	readers := f.readers
	f.mu.Unlock()
	end := w.base + w.n
	for _, r := range readers {
		r.mu.Lock()
		want, gaps, backs := r.want, r.gaps, r.backs
		if r.gen != w.gen {
			want, gaps, backs = w.base, 0, 0
		}
		c.Gaps += gaps
		c.Backs += backs
		if want < end {
			c.Short++
			c.Shortfall += int64(end - want)
		}
		r.mu.Unlock()
	}
	return c
}
