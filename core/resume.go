package sse

import "slices"

// A client may resume on a hub whose backend's listener has not yet
// reached the client's Last-Event-ID: on another server sharing the log,
// the client saw events that this hub's fan-out has not delivered yet.
// The replay, read from the log, sends what came after the ID; the
// fan-out then still brings the events before it, which the client has.
// Such a subscriber waits for the message carrying its Last-Event-ID to
// go through the fan-out and drops what comes before it.
//
// Whether the fan-out is behind is known from the replay: the fan-out is
// ahead of the ID if the replay, which runs after the subscriber joined,
// met the last message numbered when it joined (see subscriber.replay).
// A hub that has numbered no message since it started cannot tell: a
// client resuming on it then may get again events published between the
// start of the backend's listener and its ID.

// numberLive numbers the next message of the fan-out, as [Hub.number]
// does, and ends the wait of the subscribers whose Last-Event-ID it
// carries. A gap ends every wait: what came before it cannot be told
// from what was lost.
func (h *Hub) numberLive(f *frame, msg Message) uint64 {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	seq := h.number(f, msg.Topics)
	if f != nil {
		f.seq = seq
	}
	if msg.Gap {
		for _, subs := range h.awaiting {
			for _, sub := range subs {
				sub.reach(seq)
			}
		}
		clear(h.awaiting)
		return seq
	}
	h.liveID, h.livePos = msg.ID, msg.position()
	if subs, ok := h.awaiting[msg.ID]; ok {
		for _, sub := range subs {
			sub.reach(seq)
		}
		delete(h.awaiting, msg.ID)
	}
	return seq
}

// joinLive numbers sub in as [Hub.join] does and, if its Last-Event-ID
// is not the last message numbered, makes it wait for that ID until its
// replay shows the fan-out to be ahead of it (see endWait). The caller
// holds h.mu.
func (h *Hub) joinLive(sub *subscriber) {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	sub.joined = h.join(sub)
	last := sub.stream.LastEventID()
	if last == "" || h.livePos == "" || last == h.liveID {
		return // no resume, nothing numbered yet, or the fan-out is at the ID
	}
	sub.awaitID, sub.joinedPos = last, h.livePos
	sub.awaiting.Store(true)
	if h.awaiting == nil {
		h.awaiting = make(map[string][]*subscriber)
	}
	h.awaiting[last] = append(h.awaiting[last], sub)
}

// endWait ends sub's wait for its Last-Event-ID, if it still waits: the
// fan-out was ahead of it, the replay did not resume, or sub leaves.
func (h *Hub) endWait(sub *subscriber) {
	h.liveMu.Lock()
	defer h.liveMu.Unlock()
	if sub.awaitID == "" {
		return
	}
	subs := h.awaiting[sub.awaitID]
	if i := slices.Index(subs, sub); i >= 0 {
		subs = slices.Delete(subs, i, i+1)
	}
	if len(subs) == 0 {
		delete(h.awaiting, sub.awaitID)
	} else {
		h.awaiting[sub.awaitID] = subs
	}
	sub.awaiting.Store(false)
	sub.reached.Store(0)
	sub.awaitID = ""
}

// reach ends sub's wait: the message numbered seq carried its ID.
func (sub *subscriber) reach(seq uint64) {
	sub.reached.Store(seq)
	sub.awaiting.Store(false)
}

// before reports whether f comes before sub's Last-Event-ID in the
// fan-out, so that the client has it.
func (sub *subscriber) before(f *frame) bool {
	if f == gapFrame {
		return false
	}
	return sub.awaiting.Load() || f.seq <= sub.reached.Load()
}
