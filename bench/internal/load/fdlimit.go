package load

import "fmt"

// FDMargin is the open files a process keeps for other things than its
// streams (listeners, pipes, the control connection, the runtime's own)
// when a run's size is fitted to the open-file limit.
const FDMargin = 200

// FitStreams returns how many of streams idle streams a run can open
// under limit, the open-file limit (RLIMIT_NOFILE) of the tool and of the
// server it starts: each stream holds one descriptor in the tool (its
// client) and one in the server, so streams above limit less [FDMargin]
// are cut down to that. A limit of 0 means unknown: streams is returned.
func FitStreams(streams int, limit uint64) int {
	if limit == 0 || streams < 1 || uint64(streams)+FDMargin <= limit {
		return streams
	}
	if limit <= FDMargin {
		return 1
	}
	return int(limit - FDMargin)
}

// fitNote says why a run opened fewer streams than asked, or nothing if
// it opened them all.
func (r IdleResult) fitNote() string {
	if r.Fitted == r.Clients {
		return ""
	}
	return fmt.Sprintf("%d streams exceed the open-file limit %d less a margin of %d: running %d", r.Clients, r.FileLimit, FDMargin, r.Fitted)
}
