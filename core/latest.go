package sse

import "strings"

// WithLatestKey sets the key of a published message for [KeepLatest]: a
// queued event is replaced by a newer one of the same key. The default key
// is the event's type (an empty type is "message") and the topics it was
// published to, so a client of several topics keeps the newest value of
// each type on each. key runs once a message, on the hub's delivery
// goroutine, and must be quick; it may read the message but not keep or
// change it. A message whose key is empty is never replaced: every such
// event is delivered.
//
// A publisher chooses a key through what it publishes: for example
// WithLatestKey(func(m sse.Message) string { return m.Event.Type + "/" + m.Topics[0] })
// or a key taken from the event's ID, so that metrics of one type on many
// hosts stay apart.
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
	if h.cfg.policy != KeepLatest {
		return
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
