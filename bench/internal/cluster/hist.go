package cluster

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// histBuckets is enough for values up to 2^58 ns with 32 sub-buckets per
// power of two (at most about 3% above the value recorded).
const histBuckets = 64 + 58*32

// A Hist counts durations in logarithmic buckets. Add is safe for
// concurrent use; histograms of several processes merge by adding counts.
type Hist struct {
	counts [histBuckets]atomic.Uint64
}

func bucket(ns int64) int {
	if ns < 64 {
		return int(max(ns, 0))
	}
	v := uint64(ns)
	shift := bits.Len64(v) - 6
	i := 64 + (shift-1)*32 + int(v>>shift) - 32
	return min(i, histBuckets-1)
}

// bucketValue returns the middle of bucket i's range, in ns.
func bucketValue(i int) int64 {
	if i < 64 {
		return int64(i)
	}
	shift := (i-64)/32 + 1
	m := int64((i-64)%32 + 32)
	return m<<shift + int64(1)<<(shift-1)
}

// Add counts d.
func (h *Hist) Add(d time.Duration) { h.counts[bucket(int64(d))].Add(1) }

// Sparse returns the non-empty buckets as pairs of index and count.
func (h *Hist) Sparse() [][2]uint64 {
	var out [][2]uint64
	for i := range h.counts {
		if c := h.counts[i].Load(); c > 0 {
			out = append(out, [2]uint64{uint64(i), c})
		}
	}
	return out
}

// Merge adds the pairs from Sparse of another histogram.
func (h *Hist) Merge(sparse [][2]uint64) {
	for _, p := range sparse {
		if p[0] < histBuckets {
			h.counts[p[0]].Add(p[1])
		}
	}
}

// Count returns how many durations were added.
func (h *Hist) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Quantile returns the q-quantile (0 to 1) by nearest rank, or 0 if h is
// empty.
func (h *Hist) Quantile(q float64) time.Duration {
	n := h.Count()
	if n == 0 {
		return 0
	}
	rank := uint64(q*float64(n) + 0.999999)
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			return time.Duration(bucketValue(i))
		}
	}
	return 0
}
