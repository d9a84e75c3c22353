package sse

import (
	"cmp"
	"context"
	"fmt"
	"slices"
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
// not anyone publishes. Each topic keeps at most its own number of events
// (HistoryLimits.PerTopic), so that a busy topic cannot push a quiet one's
// events out: an entry leaves the history once every topic it was
// published to has let it go, or the bounds on the whole (count, bytes,
// age) take the oldest. A replay after an ID whose topic has let go of
// later events starts with a Gap message for that topic.
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
	last    uint64 // last number given out
	// entries[head:] holds the live entries, oldest first, and the dead
	// ones between them (those every topic let go of), until compact
	// drops them; entries[head] is live unless there are none.
	entries []memEntry
	head    int
	live    int                  // live entries
	bytes   int                  // size of the live entries
	index   map[string]uint64    // ID -> num of the newest live entry with it
	topics  map[string]*memTopic // the live entries of each topic
	next    uint64               // num of the next entry
	expiry  *time.Timer          // runs expireNow when the oldest entry ages out
	closed  bool
}

// memEntry is one message of the history, without the fields a published
// message never has (its payload is text), so that it costs little.
type memEntry struct {
	id, pos, typ, data, comment string
	topics                      []string // distinct
	retry                       time.Duration
	at                          int64  // when it was published, in Unix nanoseconds
	size                        int    // what it costs, see entrySize
	num                         uint64 // its place in entries, kept as they move
	holds                       int    // topics that still keep it; 0: dead
}

// memTopic is the history of one topic: its live entries, oldest first,
// and the newest entry it let go of to stay within its bound.
type memTopic struct {
	nums    []uint64 // nums[start:] are live
	start   int
	trimmed uint64 // num+1 of the newest entry let go of by the bound; 0: none
}

func (t *memTopic) front() uint64 { return t.nums[t.start] }
func (t *memTopic) len() int      { return len(t.nums) - t.start }

// pop lets go of the topic's oldest entry.
func (t *memTopic) pop() {
	t.start++
	if t.start > len(t.nums)/2 && t.start > 32 {
		n := copy(t.nums, t.nums[t.start:])
		t.nums, t.start = t.nums[:n], 0
	}
}

func newMemEntry(msg *Message, topics []string, at time.Time, size int) memEntry {
	ev := &msg.Event
	return memEntry{id: msg.ID, pos: msg.Pos, typ: ev.Type, data: ev.Data, comment: ev.Comment,
		topics: topics, retry: ev.Retry, at: at.UnixNano(), size: size, holds: len(topics)}
}

func (e *memEntry) message() Message {
	return Message{ID: e.id, Pos: e.pos, Topics: e.topics,
		Event: Event{ID: e.id, Type: e.typ, Data: e.data, Comment: e.comment, Retry: e.retry}}
}

func newMemLog(limits HistoryLimits) *memLog {
	return &memLog{limits: limits, now: time.Now, index: make(map[string]uint64), topics: make(map[string]*memTopic)}
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
// itself, three times since the slice that holds the entries may be up to
// a third dead and half empty (see compact), and its ID's slot in the
// index.
const entryOverhead = 3*int(unsafe.Sizeof(memEntry{})) + indexSlot

// topicSlot is what an entry costs in each of its topics' lists: a number,
// four times since a list may be half consumed and half empty.
const topicSlot = 4 * 8

// topicOverhead is what a topic with entries in the history costs: its
// memTopic and its slot in the map of topics.
const topicOverhead = int(unsafe.Sizeof(memTopic{})) + indexSlot

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
		size += int(unsafe.Sizeof(t)) + len(t) + topicSlot
	}
	return size
}

func (l *memLog) append(msg Message, now time.Time) {
	size := entrySize(&msg)
	if l.limits.Count <= 0 || size > l.limits.Bytes && l.limits.Bytes > 0 {
		for l.live > 0 { // keeps nothing: this event cannot be replayed
			l.evictOldest()
		}
		l.compact()
		return
	}
	topics := msg.Topics
	if len(topics) > 1 {
		topics = slices.Clone(topics)
		slices.Sort(topics)
		topics = slices.Compact(topics)
	}
	num := l.next
	l.next++
	l.entries = append(l.entries, newMemEntry(&msg, topics, now, size))
	l.entries[len(l.entries)-1].num = num
	l.index[msg.ID] = num
	l.bytes += size
	l.live++
	for _, name := range topics {
		t := l.topics[name]
		if t == nil {
			t = &memTopic{}
			l.topics[name] = t
			l.bytes += topicOverhead + len(name)
		}
		t.nums = append(t.nums, num)
		if l.limits.PerTopic > 0 && t.len() > l.limits.PerTopic {
			l.letGo(t)
		}
	}
	l.expire(now)
	for l.live > l.limits.Count || l.limits.Bytes > 0 && l.bytes > l.limits.Bytes {
		l.evictOldest()
	}
	l.compact()
	l.armExpiry(now)
}

// find returns the entry numbered num, which must be in the history.
func (l *memLog) find(num uint64) *memEntry {
	return &l.entries[l.place(num)]
}

// place returns the index in entries of the entry numbered num, or of the
// first one after it if it is not there.
func (l *memLog) place(num uint64) int {
	i, _ := slices.BinarySearchFunc(l.entries[l.head:], num, func(e memEntry, num uint64) int { return cmp.Compare(e.num, num) })
	return l.head + i
}

// letGo makes topic t let go of its oldest entry, to stay within its
// bound, and frees the entry if no other topic keeps it.
func (l *memLog) letGo(t *memTopic) {
	num := t.front()
	t.pop()
	t.trimmed = num + 1
	e := l.find(num)
	if e.holds--; e.holds == 0 {
		l.kill(e)
	}
}

// evictOldest frees the oldest live entry, for the bounds on the whole:
// every topic that keeps it has it first.
func (l *memLog) evictOldest() {
	e := &l.entries[l.head]
	for _, name := range e.topics {
		if t := l.topics[name]; t.front() == e.num {
			t.pop()
			if t.len() == 0 {
				delete(l.topics, name)
				l.bytes -= topicOverhead + len(name)
			}
		}
	}
	l.kill(e)
}

// kill frees a live entry, and moves head past the dead entries.
func (l *memLog) kill(e *memEntry) {
	if l.index[e.id] == e.num {
		delete(l.index, e.id)
	}
	l.bytes -= e.size
	l.live--
	*e = memEntry{num: e.num} // holds 0: dead
	for l.head < len(l.entries) && l.entries[l.head].holds == 0 {
		l.head++
	}
}

// compact lets go of the dead entries once they are more than half the
// live ones, and of a slice that grew far beyond the live entries, so that its
// memory follows the history's bounds.
func (l *memLog) compact() {
	n := len(l.entries) - l.head // live and dead
	switch {
	case l.live == 0:
		l.entries, l.head = nil, 0
	case n > l.live+l.live/2 && n > 64 || cap(l.entries) > 4*n && cap(l.entries) > 1024:
		kept := make([]memEntry, 0, 2*l.live)
		for _, e := range l.entries[l.head:] {
			if e.holds > 0 {
				kept = append(kept, e)
			}
		}
		l.entries, l.head = kept, 0
	case l.head > len(l.entries)/2 && l.head > 64:
		m := copy(l.entries, l.entries[l.head:])
		clear(l.entries[m:])
		l.entries, l.head = l.entries[:m], 0
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
	for l.live > 0 && now.Sub(time.Unix(0, l.entries[l.head].at)) > l.limits.Age {
		l.evictOldest()
	}
}

func (l *memLog) Replay(_ context.Context, lastID string, fn func(Message) error) error {
	l.mu.Lock()
	l.expire(l.now())
	num, ok := l.index[lastID]
	if !ok {
		l.mu.Unlock()
		return fmt.Errorf("%w: %q", ErrUnknownID, lastID)
	}
	// A topic that let go of an entry after lastID keeps the mark on its
	// oldest live entry, which comes after lastID too.
	var lost []string
	var msgs []Message
	for i := l.place(num + 1); i < len(l.entries); i++ {
		e := &l.entries[i]
		if e.holds == 0 {
			continue
		}
		for _, name := range e.topics {
			if t := l.topics[name]; t.front() == e.num && t.trimmed > num+1 {
				lost = append(lost, name)
			}
		}
		msgs = append(msgs, e.message())
	}
	l.mu.Unlock()
	if lost != nil {
		if err := fn(Message{Gap: true, Topics: lost}); err != nil {
			return err
		}
	}
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
