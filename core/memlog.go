package sse

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

// memLog is the default [Backend]: an in-memory log for one process. It
// numbers events with the current time in microseconds, or the last number
// plus one when that is larger, so IDs keep increasing across a restart:
// they run ahead of the clock only during a burst of more than one event
// per microsecond, and a restart comes later than that. It keeps a bounded
// history.
type memLog struct {
	limits HistoryLimits
	now    func() time.Time

	mu      sync.Mutex
	deliver func(Message)
	last    uint64         // last number given out
	entries []memEntry     // oldest first; entries[head:] are live
	head    int            // index of the oldest live entry
	bytes   int            // size of the live entries
	index   map[string]int // ID -> sequence number of live entries
	seq     int            // sequence number of entries[head]
	closed  bool
}

type memEntry struct {
	msg  Message
	at   time.Time
	size int
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

func (l *memLog) Publish(_ context.Context, msg Message) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrHubClosed
	}
	now := l.now()
	if msg.ID == "" {
		l.last = max(l.last+1, uint64(now.UnixMicro()))
		msg.ID = strconv.FormatUint(l.last, 10)
	}
	l.append(msg, now)
	if l.deliver != nil {
		l.deliver(msg) // under the lock: every hub sees log order
	}
	return nil
}

func (l *memLog) append(msg Message, now time.Time) {
	size := len(msg.ID) + len(msg.Event.Type) + len(msg.Event.Data) + len(msg.Event.Comment)
	for _, t := range msg.Topics {
		size += len(t)
	}
	if l.limits.Count <= 0 || size > l.limits.Bytes && l.limits.Bytes > 0 {
		l.evict(len(l.entries) - l.head) // keeps nothing: this event cannot be replayed
		return
	}
	l.entries = append(l.entries, memEntry{msg: msg, at: now, size: size})
	l.index[msg.ID] = l.seq + len(l.entries) - 1 - l.head
	l.bytes += size
	l.expire(now)
	for n := len(l.entries) - l.head; n > l.limits.Count || l.limits.Bytes > 0 && l.bytes > l.limits.Bytes; n-- {
		l.evict(1)
	}
	if l.head > len(l.entries)/2 && l.head > 64 { // compact the slice
		l.entries = append(l.entries[:0], l.entries[l.head:]...)
		l.head = 0
	}
}

// expire evicts entries older than the age limit.
func (l *memLog) expire(now time.Time) {
	if l.limits.Age <= 0 {
		return
	}
	n := 0
	for _, e := range l.entries[l.head:] {
		if now.Sub(e.at) <= l.limits.Age {
			break
		}
		n++
	}
	l.evict(n)
}

func (l *memLog) evict(n int) {
	for _, e := range l.entries[l.head : l.head+n] {
		if l.index[e.msg.ID] == l.seq {
			delete(l.index, e.msg.ID)
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
		msgs = append(msgs, e.msg)
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
	return nil
}
