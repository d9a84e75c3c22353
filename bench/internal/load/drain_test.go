package load

import (
	"slices"
	"testing"
	"time"
)

// TestDrainCollect checks the counts of a drain run from made-up client
// records: reconnections per second of the window, losses and repeats.
func TestDrainCollect(t *testing.T) {
	t0 := time.Unix(1000, 0)
	client := func(ended, resumed time.Duration, got ...int) *drainClient {
		c := &drainClient{lat: []int64{notReceived, notReceived, notReceived}, from: make([]byte, 3), primed: true, retry: 300 * time.Millisecond}
		for _, seq := range got {
			if c.lat[seq] != notReceived {
				c.dups++
			}
			c.lat[seq] = int64(time.Millisecond)
		}
		if ended > 0 {
			c.endedAt = t0.Add(ended)
		}
		if resumed > 0 {
			c.resumedAt = t0.Add(resumed)
		}
		return c
	}
	clients := []*drainClient{
		client(100*time.Millisecond, 500*time.Millisecond, 0, 1, 2),
		client(200*time.Millisecond, 900*time.Millisecond, 0, 1, 2),
		client(1500*time.Millisecond, 1600*time.Millisecond, 0, 1, 1, 2), // event 1 twice
		client(2500*time.Millisecond, 0, 0),                              // could not resume: lost 1 and 2
		client(0, 0, 0, 1, 2),                                            // never ended
	}
	res := DrainResult{Spec: DrainSpec{Window: 3 * time.Second}, Published: 3}
	res.collect(clients, t0)
	if want := []int{2, 1, 0}; !slices.Equal(res.PerSecond, want) {
		t.Errorf("PerSecond = %v, want %v", res.PerSecond, want)
	}
	if res.Busiest != 2 || res.Average != 1 {
		t.Errorf("busiest %d, average %v; want 2 and 1", res.Busiest, res.Average)
	}
	if res.Moved != 3 || res.ResumeFailed != 1 || res.NotEnded != 1 {
		t.Errorf("moved %d, resume failed %d, not ended %d; want 3, 1, 1", res.Moved, res.ResumeFailed, res.NotEnded)
	}
	if res.Lost != 2 || res.Short != 1 || res.Dups != 1 || res.DupConns != 1 {
		t.Errorf("lost %d (%d clients), dups %d (%d clients); want 2 (1), 1 (1)", res.Lost, res.Short, res.Dups, res.DupConns)
	}
	if res.GapP50 != 400*time.Millisecond || res.GapMax != 700*time.Millisecond {
		t.Errorf("gap p50 %v, max %v; want 400ms, 700ms", res.GapP50, res.GapMax)
	}
}
