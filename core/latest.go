package sse

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// WithLatestKey sets the key of a published message for [KeepLatest]: a
// queued event is replaced by a newer one of the same key. The default key
// is the event's type (an empty type is "message") and the topics it was
// published to, so a client of several topics keeps the newest value of
// each type on each. key runs once a message, on the hub's delivery
// goroutine, and must be quick; it may read the message but not keep or
// change it. A message whose key is empty is never replaced, so every
// such event is delivered, and [WithLatest] does not keep it.
//
// The key is the same for every subscriber, and [WithLatest] keeps the
// latest event of each key on each topic. A publisher chooses a key
// through what it publishes, for example the event's type and the host
// its data names, so that metrics of one type from many hosts on one
// topic stay apart:
//
//	sse.WithLatestKey(func(m sse.Message) string {
//		host, _, _ := strings.Cut(m.Event.Data, " ")
//		return m.Event.Type + "/" + host
//	})
func WithLatestKey(key func(Message) string) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.key = key })
}

// defaultKey is the key of a message unless WithLatestKey says otherwise.
func defaultKey(msg Message) string {
	typ := msg.Event.Type
	if typ == "" {
		typ = "message"
	}
	return typ + "\x00" + strings.Join(msg.Topics, "\x00")
}

// keyFrame sets the key of f, the frame of msg, when the hub needs keys.
func (h *Hub) keyFrame(f *frame, msg Message) {
	if h.cfg.policy != KeepLatest && h.cfg.latest == nil || f.end {
		return // an EndEvent is never replaced nor kept: it ends streams once
	}
	if h.cfg.key != nil {
		f.key = h.cfg.key(msg)
	} else {
		f.key = defaultKey(msg)
	}
}

// queueLatest queues f under KeepLatest; the caller holds sub.mu. The
// queued event of the same key, if any, becomes a hole in the queue, so
// that replacing costs the same whatever the queue's length; the queue is
// compacted when its holes are as many as the queue size, so it never
// holds more than twice as many frames. Past the queue size of keys, the
// oldest event is dropped.
func (sub *subscriber) queueLatest(f *frame) {
	size := sub.hub.cfg.queueSize
	if f.key != "" {
		if sub.keys == nil {
			sub.keys = make(map[string]int)
		}
		if i, ok := sub.keys[f.key]; ok {
			sub.queue[i] = nil
			sub.holes++
			sub.dropped++
			sub.hub.dropped.Add(1)
		}
	}
	switch {
	case len(sub.queue)-sub.holes >= size: // full of other keys
		sub.compact(1)
		sub.dropped++
		sub.hub.dropped.Add(1)
	case sub.holes >= size:
		sub.compact(0)
	}
	if f.key != "" {
		sub.keys[f.key] = len(sub.queue)
	}
	sub.queue = append(sub.queue, f)
}

// compact removes the queue's holes and its oldest skip frames, and
// indexes the keys anew. The caller holds sub.mu.
func (sub *subscriber) compact(skip int) {
	clear(sub.keys)
	n := 0
	for _, f := range sub.queue {
		if f == nil {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		if f.key != "" {
			sub.keys[f.key] = n
		}
		sub.queue[n] = f
		n++
	}
	clear(sub.queue[n:])
	sub.queue = sub.queue[:n]
	sub.holes = 0
}

// WithLatest makes the hub keep the latest event of each key (see
// [WithLatestKey]) published to topics, or to every topic if none is
// named, and hand them to each client of those topics as it subscribes,
// in publish order, before any live event: a new client (a new browser
// tab) sees the current state at once instead of waiting for the next
// update. A reconnecting client whose Last-Event-ID the history cannot
// replay gets them instead of a [ResetEvent], or after it if it also
// subscribes to topics not kept. A client whose ID the history replays
// gets the events it missed, as without this option.
//
// The hub holds one event for each key of each such topic as long as it
// runs: keep the topics of values (metrics, statuses) with a bounded set
// of keys, not per-user feeds. Keeping an event costs a map update on the
// delivery goroutine; subscribing copies the topic's kept events under a
// lock that the delivery takes too.
func WithLatest(topics ...string) HubOption {
	return hubOptionFunc(func(c *hubConfig) { c.latest = newLatestTopics(topics) })
}

// WithLiveValues configures a hub for live values, a dashboard say, in one
// option: every topic keeps its latest event of each key for new and
// reconnecting clients ([WithLatest]), a client that falls behind gets the
// newest value of each key ([KeepLatest]), and no history is kept, since a
// client catches up from the latest values rather than a replay. It is
//
//	sse.WithSlowPolicy(sse.KeepLatest), sse.WithHistory(sse.HistoryLimits{}), sse.WithLatest()
//
// Options after it override its parts.
func WithLiveValues() HubOption {
	return hubOptionFunc(func(c *hubConfig) {
		c.policy = KeepLatest
		c.history = HistoryLimits{}
		c.latest = newLatestTopics(nil)
	})
}

// latestTopics holds the latest event of each key of the topics kept by
// WithLatest. Each hub has its own, made as its options are applied.
type latestTopics struct {
	named map[string]bool // nil: every topic

	mu   sync.Mutex                        // also orders the hub's message numbers, see Hub.number
	kept map[string]map[string]latestFrame // topic -> key -> newest
}

// latestFrame is a kept frame and the number of its message.
type latestFrame struct {
	seq uint64
	f   *frame
}

func newLatestTopics(topics []string) *latestTopics {
	l := &latestTopics{kept: make(map[string]map[string]latestFrame)}
	if len(topics) > 0 {
		l.named = make(map[string]bool, len(topics))
		for _, t := range topics {
			l.named[t] = true
		}
	}
	return l
}

func (l *latestTopics) keeps(topic string) bool { return l.named == nil || l.named[topic] }

// number gives the next message number to f, the frame of a message to
// topics (nil for a gap), and keeps f as the latest of its key in the
// topics kept, in one step under the lock that [Hub.join] takes: a client
// receives a message either among the latest events handed to it or live,
// never both, never neither.
func (h *Hub) number(f *frame, topics []string) uint64 {
	l := h.cfg.latest
	if l == nil || f == nil || f.key == "" {
		return h.seq.Add(1)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	seq := h.seq.Add(1)
	for _, t := range topics {
		if !l.keeps(t) {
			continue
		}
		byKey := l.kept[t]
		if byKey == nil {
			byKey = make(map[string]latestFrame)
			l.kept[t] = byKey
		}
		byKey[f.key] = latestFrame{seq: seq, f: f}
	}
	return seq
}

// join returns the number of the last message before sub joins, and sets
// sub's latest frames: those kept for its topics up to that message, in
// publish order. The caller holds h.mu.
func (h *Hub) join(sub *subscriber) uint64 {
	l := h.cfg.latest
	if l == nil {
		return h.seq.Load()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	sub.allKept = true
	var kept []latestFrame
	for _, t := range sub.distinct {
		if !l.keeps(t) {
			sub.allKept = false
			continue
		}
		for _, lf := range l.kept[t] {
			kept = append(kept, lf)
		}
	}
	slices.SortFunc(kept, func(a, b latestFrame) int { return cmp.Compare(a.seq, b.seq) })
	kept = slices.CompactFunc(kept, func(a, b latestFrame) bool { return a.f == b.f }) // a message to two of its topics
	sub.latest = make([][]byte, len(kept))
	for i, lf := range kept {
		sub.latest[i] = lf.f.bytes
	}
	return h.seq.Load()
}
