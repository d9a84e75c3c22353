package sse

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// memLog is the default [Backend]: an in-memory log for one process. It
// numbers events with the current time in microseconds, or the last number
// plus one when that is larger, so IDs keep increasing across a restart:
// they run ahead of the clock only during a burst of more than one event
// per microsecond, and a restart comes later than that. Every message gets
// a number, which is its Pos (and its ID unless the publisher chose one).
//
// It keeps a bounded history: its byte bound counts what an entry costs in
// memory, and a timer frees entries as they pass the age bound, whether or
// not anyone publishes.
//
// It delivers each message under its lock, as it appends it, so that every
// hub sees log order. A publish that finds the hub's fan-out behind waits
// for it before it appends, without the lock and no longer than its
// context allows: an event is in the log, and delivered, or Publish
// returns an error.
type memLog struct {
	limits HistoryLimits
	now    func() time.Time
	// hub, set by the hub that owns the log, says whether its fan-out can
	// take a message now (see [Hub.room]); nil: always.
	hub *Hub

	mu      sync.Mutex
	deliver func(Message)
	last    uint64         // last number given out
	entries []memEntry     // oldest first; entries[head:] are live
	head    int            // index of the oldest live entry
	bytes   int            // size of the live entries
	index   map[string]int // ID -> sequence number of live entries
	seq     int            // sequence number of entries[head]
	expiry  *time.Timer    // runs expireNow when the oldest entry ages out
	closed  bool
}

// memEntry is one message of the history, without the fields a published
// message never has (its payload is text), so that it costs little.
type memEntry struct {
	id, pos, typ, data, comment string
	topics                      []string
	retry                       time.Duration
	at                          int64 // when it was published, in Unix nanoseconds
	size                        int   // what it costs, see entrySize
}

func newMemEntry(msg *Message, at time.Time, size int) memEntry {
	ev := &msg.Event
	return memEntry{id: msg.ID, pos: msg.Pos, typ: ev.Type, data: ev.Data, comment: ev.Comment,
		topics: msg.Topics, retry: ev.Retry, at: at.UnixNano(), size: size}
}

func (e *memEntry) message() Message {
	return Message{ID: e.id, Pos: e.pos, Topics: e.topics,
		Event: Event{ID: e.id, Type: e.typ, Data: e.data, Comment: e.comment, Retry: e.retry}}
}

func newMemLog(limits HistoryLimits) *memLog {
	return &memLog{limits: limits, now: time.Now, index: make(map[string]int)}
}

func (l *memLog) Listen(deliver func(Message)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.deliver = deliver
	return nil
}

func (l *memLog) Publish(ctx context.Context, msg Message) error {
	if err := l.lockWithRoom(ctx); err != nil {
		return err
	}
	defer l.mu.Unlock()
	now := l.now()
	l.last = max(l.last+1, uint64(now.UnixMicro()))
	msg.Pos = strconv.FormatUint(l.last, 10)
	if msg.ID == "" {
		msg.ID = msg.Pos
	}
	l.append(msg, now)
	if l.deliver != nil {
		l.deliver(msg) // under the lock: every hub sees log order
	}
	return nil
}

// lockWithRoom locks the log once it is open and its hub can take a
// message, or returns why not without the lock: the hub or the log is
// closed, or ctx ended while it waited.
func (l *memLog) lockWithRoom(ctx context.Context) error {
	var place *roomTicket // among the publishers waiting for room
	l.mu.Lock()
	for {
		if l.closed {
			l.mu.Unlock()
			if place != nil {
				l.hub.leaveRoom(&place)
			}
			return ErrHubClosed
		}
		if l.hub == nil {
			return nil
		}
		wait, err := l.hub.room(&place)
		if err != nil {
			l.mu.Unlock()
			return err
		}
		if wait == nil {
			return nil
		}
		l.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			l.hub.leaveRoom(&place)
			return ctx.Err()
		}
		l.mu.Lock()
	}
}

// entryOverhead is what an entry costs beyond its strings: the entry
// itself, twice since the slice that holds the entries may be up to half
// empty (see compact), and its ID's slot in the index.
const entryOverhead = 2*int(unsafe.Sizeof(memEntry{})) + indexSlot

// indexSlot estimates the memory of one slot in the ID index: a string
// header and an int, with the map's control bytes, load factor and growth.
const indexSlot = 64

// entrySize is the memory one history entry holds.
func entrySize(msg *Message) int {
	size := entryOverhead + len(msg.ID) + len(msg.Event.Type) + len(msg.Event.Data) + len(msg.Event.Comment)
	if msg.Pos != msg.ID {
		size += len(msg.Pos)
	}
	for _, t := range msg.Topics {
		size += int(unsafe.Sizeof(t)) + len(t)
	}
	return size
}

func (l *memLog) append(msg Message, now time.Time) {
	size := entrySize(&msg)
	if l.limits.Count <= 0 || size > l.limits.Bytes && l.limits.Bytes > 0 {
		l.evict(len(l.entries) - l.head) // keeps nothing: this event cannot be replayed
		return
	}
	l.entries = append(l.entries, newMemEntry(&msg, now, size))
	l.index[msg.ID] = l.seq + len(l.entries) - 1 - l.head
	l.bytes += size
	l.expire(now)
	for n := len(l.entries) - l.head; n > l.limits.Count || l.limits.Bytes > 0 && l.bytes > l.limits.Bytes; n-- {
		l.evict(1)
	}
	l.compact()
	l.armExpiry(now)
}

// compact moves the live entries to the front of the slice once more than
// half of it is dead, and lets a slice go that grew far beyond the live
// entries, so that its memory follows the history's bounds.
func (l *memLog) compact() {
	live := len(l.entries) - l.head
	switch {
	case live == 0:
		l.entries, l.head = nil, 0
	case cap(l.entries) > 4*live && cap(l.entries) > 1024:
		l.entries, l.head = append(make([]memEntry, 0, 2*live), l.entries[l.head:]...), 0
	case l.head > len(l.entries)/2 && l.head > 64:
		n := copy(l.entries, l.entries[l.head:])
		clear(l.entries[n:])
		l.entries, l.head = l.entries[:n], 0
	}
}

// armExpiry starts the timer that frees the oldest entry when it passes
// the age bound, unless the timer is already running.
func (l *memLog) armExpiry(now time.Time) {
	if l.limits.Age <= 0 || l.expiry != nil || l.head == len(l.entries) || l.closed {
		return
	}
	wait := time.Unix(0, l.entries[l.head].at).Add(l.limits.Age).Sub(now)
	l.expiry = time.AfterFunc(max(wait, 0)+time.Millisecond, l.expireNow)
}

// expireNow runs on the expiry timer: it frees what has aged out and
// arms the timer for the next entry.
func (l *memLog) expireNow() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expiry = nil
	if l.closed {
		return
	}
	now := l.now()
	l.expire(now)
	l.compact()
	l.armExpiry(now)
}

// expire evicts entries older than the age limit.
func (l *memLog) expire(now time.Time) {
	if l.limits.Age <= 0 {
		return
	}
	n := 0
	for _, e := range l.entries[l.head:] {
		if now.Sub(time.Unix(0, e.at)) <= l.limits.Age {
			break
		}
		n++
	}
	l.evict(n)
}

func (l *memLog) evict(n int) {
	for _, e := range l.entries[l.head : l.head+n] {
		if l.index[e.id] == l.seq {
			delete(l.index, e.id)
		}
		l.bytes -= e.size
		l.seq++
	}
	clear(l.entries[l.head : l.head+n])
	l.head += n
}

func (l *memLog) Replay(_ context.Context, lastID string, fn func(Message) error) error {
	l.mu.Lock()
	l.expire(l.now())
	seq, ok := l.index[lastID]
	if !ok {
		l.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownID, lastID)
	}
	start := l.head + seq - l.seq + 1
	msgs := make([]Message, 0, len(l.entries)-start)
	for _, e := range l.entries[start:] {
		msgs = append(msgs, e.message())
	}
	l.mu.Unlock()
	for _, m := range msgs {
		if err := fn(m); err != nil {
			return err
		}
	}
	return nil
}

func (l *memLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	l.deliver = nil
	if l.expiry != nil {
		l.expiry.Stop()
		l.expiry = nil
	}
	return nil
}
