package ssepg

import (
	"testing"

	"github.com/eventwire/sse/internal/backendtest"
	"github.com/eventwire/sse/internal/leaktest"
)

// The scenario every backend runs: IDs chosen by publishers, resuming
// from each kind of ID, a reset for an unknown one.
func TestChosenIDs(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t))
	backendtest.ChosenIDs(t, in.hub)
}

// Every ID that could not come back in a Last-Event-ID header is refused,
// by the hub and by the backend called directly, before anything is
// written.
func TestInvalidIDs(t *testing.T) {
	leaktest.Check(t)
	pg := sharedPostgres(t)
	in := newInstance(t, pg.url(), newTable(t))
	backendtest.InvalidIDs(t, in.hub, in.b)
}
