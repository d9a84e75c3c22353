package backoff

import (
	"context"
	"testing"
	"time"
)

func TestDelay(t *testing.T) {
	tests := []struct {
		n          int
		minW, maxW time.Duration
		lo, hi     time.Duration // the range the jitter keeps it in
	}{
		{1, time.Second, time.Minute, 500 * time.Millisecond, time.Second},
		{2, time.Second, time.Minute, time.Second, 2 * time.Second},
		{4, time.Second, time.Minute, 4 * time.Second, 8 * time.Second},
		{20, time.Second, time.Minute, 30 * time.Second, time.Minute},
		{200, time.Second, 1<<63 - 1, (1<<63 - 1) / 2, 1<<63 - 1}, // no overflow
	}
	for _, tt := range tests {
		for range 100 {
			if d := Delay(tt.n, tt.minW, tt.maxW); d < tt.lo || d > tt.hi {
				t.Fatalf("Delay(%d, %v, %v) = %v, want within [%v, %v]", tt.n, tt.minW, tt.maxW, d, tt.lo, tt.hi)
			}
		}
	}
}

func TestSleep(t *testing.T) {
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep with a live context reported it ended")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep with an ended context reported it alive")
	}
}
