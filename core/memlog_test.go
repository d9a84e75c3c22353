package sse

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestHubHistoryPerTopic checks that each topic keeps its own newest
// events: a busy topic (bob's feed) does not push a quiet one's event
// (ann's notification) out of the history, and a client whose topics let
// go of events after its Last-Event-ID gets a reset, not a partial replay.
func TestHubHistoryPerTopic(t *testing.T) {
	hub := newTestHub(t, WithHistory(HistoryLimits{PerTopic: 3, Count: 100}))
	srv := startHubServer(t, hub, nil)
	hubPublish(t, hub, Event{ID: "a1", Data: "ann"}, "ann")
	hubPublish(t, hub, Event{ID: "a2", Data: "ann"}, "ann")
	hubPublish(t, hub, Event{ID: "ab", Data: "both"}, "ann", "bob")
	for i := 1; i <= 10; i++ {
		hubPublish(t, hub, Event{ID: "b" + strconv.Itoa(i), Data: "bob"}, "bob")
	}
	tests := []struct {
		lastID string
		topics []string
		want   []string
	}{
		{"a1", []string{"ann"}, []string{"a2=ann", "ab=both"}}, // bob's ten events took nothing of ann's
		{"a2", []string{"ann"}, []string{"ab=both"}},           // kept by ann though bob let it go
		{"b8", []string{"bob"}, []string{"b9=bob", "b10=bob"}},
		{"b7", []string{"bob"}, []string{"reset(id=)"}},        // b8 is the oldest bob keeps: b7 itself is gone
		{"ab", []string{"bob"}, []string{"reset(id=)"}},        // bob let go of b1 to b7, after ab
		{"a1", []string{"ann", "bob"}, []string{"reset(id=)"}}, // the same, for a client of both
		{"b9", []string{"ann"}, []string{}},                    // an ID of another topic: nothing of ann's after it
		{"a2", []string{"carol"}, []string{}},                  // a topic with no history
	}
	for _, tt := range tests {
		if got := hubReplay(t, hub, srv, tt.lastID, tt.topics...); !slices.Equal(got, tt.want) {
			t.Errorf("replay of %q after %q = %q, want %q", tt.topics, tt.lastID, got, tt.want)
		}
	}
}

// TestMemLogPerTopicModel publishes random events to random topics and
// checks every replay against a model of the history written for clarity:
// which events each topic keeps, which the bounds on the whole take, and
// when a client must be reset.
func TestMemLogPerTopicModel(t *testing.T) {
	topics := []string{"a", "b", "c", "d"}
	for seed := range uint64(200) {
		rng := rand.New(rand.NewPCG(seed, 7))
		limits := HistoryLimits{PerTopic: 1 + rng.IntN(4), Count: 1 + rng.IntN(12)}
		l := newMemLog(limits)
		m := newHistoryModel(limits)
		for i := range 40 {
			var ts []string
			for _, name := range topics {
				if rng.IntN(3) == 0 {
					ts = append(ts, name)
				}
			}
			if len(ts) == 0 {
				ts = []string{topics[rng.IntN(len(topics))]}
			}
			id := "e" + strconv.Itoa(i)
			if err := l.Publish(context.Background(), Message{ID: id, Topics: ts, Event: Event{ID: id, Data: "x"}}); err != nil {
				t.Fatal(err)
			}
			m.publish(ts)
			if l.live != len(m.liveEvents()) {
				t.Fatalf("seed %d, after e%d: %d live entries, the model has %d", seed, i, l.live, len(m.liveEvents()))
			}
			for range 3 {
				last := rng.IntN(i + 2) // e(i+1) is unknown
				want := rng.Perm(len(topics))[:1+rng.IntN(len(topics))]
				var sub []string
				for _, k := range want {
					sub = append(sub, topics[k])
				}
				got := replaySummary(l, "e"+strconv.Itoa(last), sub)
				if exp := m.replay(last, sub); !slices.Equal(got, exp) {
					t.Fatalf("seed %d (%+v), after e%d: replay of %q after e%d = %q, want %q", seed, limits, i, sub, last, got, exp)
				}
			}
		}
	}
}

// replaySummary replays l after lastID for a client of topics, as a
// subscriber does: the IDs it would send, or "reset".
func replaySummary(l *memLog, lastID string, topics []string) []string {
	wants := func(ts []string) bool {
		return slices.ContainsFunc(ts, func(t string) bool { return slices.Contains(topics, t) })
	}
	got := []string{}
	err := l.Replay(context.Background(), lastID, func(msg Message) error {
		switch {
		case msg.Gap && (len(msg.Topics) == 0 || wants(msg.Topics)):
			return ErrUnknownID
		case !msg.Gap && wants(msg.Topics):
			got = append(got, msg.ID)
		}
		return nil
	})
	if errors.Is(err, ErrUnknownID) {
		return []string{"reset"}
	}
	if err != nil {
		return []string{err.Error()}
	}
	return got
}

// historyModel is the per-topic history, kept the plain way.
type historyModel struct {
	limits HistoryLimits
	topics [][]string        // of each event
	held   []map[string]bool // the topics that keep each event
	dead   []bool
	lost   map[string][]int // events each topic let go of by its own bound
}

func newHistoryModel(limits HistoryLimits) *historyModel {
	return &historyModel{limits: limits, lost: map[string][]int{}}
}

func (m *historyModel) publish(topics []string) {
	i := len(m.topics)
	m.topics = append(m.topics, topics)
	m.held = append(m.held, map[string]bool{})
	m.dead = append(m.dead, false)
	for _, t := range topics {
		m.held[i][t] = true
		var kept []int
		for j := range m.topics {
			if !m.dead[j] && m.held[j][t] {
				kept = append(kept, j)
			}
		}
		if len(kept) > m.limits.PerTopic {
			j := kept[0]
			delete(m.held[j], t)
			m.lost[t] = append(m.lost[t], j)
			if len(m.held[j]) == 0 {
				m.dead[j] = true
			}
		}
	}
	for len(m.liveEvents()) > m.limits.Count {
		m.dead[m.liveEvents()[0]] = true
	}
}

func (m *historyModel) liveEvents() []int {
	var live []int
	for j := range m.topics {
		if !m.dead[j] {
			live = append(live, j)
		}
	}
	return live
}

func (m *historyModel) replay(last int, topics []string) []string {
	if last >= len(m.topics) || m.dead[last] {
		return []string{"reset"}
	}
	for _, t := range topics {
		for _, j := range m.lost[t] {
			if j > last {
				return []string{"reset"}
			}
		}
	}
	got := []string{}
	for _, j := range m.liveEvents() {
		if j > last && slices.ContainsFunc(m.topics[j], func(t string) bool { return slices.Contains(topics, t) }) {
			got = append(got, fmt.Sprintf("e%d", j))
		}
	}
	return got
}
