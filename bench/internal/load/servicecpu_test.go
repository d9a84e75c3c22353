//go:build linux

package load

import (
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestServiceCPU checks that serviceCPU counts a busy child's CPU time,
// no more than the kernel reports once it has exited.
func TestServiceCPU(t *testing.T) {
	if got := serviceCPU([]int{os.Getpid()}); got < 0 {
		t.Fatalf("serviceCPU(this process) = %v", got)
	}
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Skip(err)
	}
	pid := cmd.Process.Pid
	var busy time.Duration
	for deadline := time.Now().Add(10 * time.Second); busy < 50*time.Millisecond && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		busy = serviceCPU([]int{pid})
	}
	cmd.Process.Kill()
	cmd.Wait()
	if busy < 50*time.Millisecond {
		t.Fatalf("a busy loop used %v of CPU in 10 s by serviceCPU's count", busy)
	}
	u := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if busy > u+2*clockTick { // ticks against nanoseconds: allow rounding
		t.Errorf("serviceCPU counted %v, more than the %v the process used", busy, u)
	}
	if got := serviceCPU([]int{pid}); got != -1 {
		t.Errorf("serviceCPU of an ended process = %v, want -1", got)
	}
}
