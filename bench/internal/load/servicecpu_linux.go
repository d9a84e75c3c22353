package load

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of the CPU times in /proc/<pid>/stat (USER_HZ,
// 100 on Linux whatever the kernel's own tick).
const clockTick = 10 * time.Millisecond

// serviceCPU returns the CPU time (user and system) that the processes
// pids and their children have used: their own, that of their live
// children (a PostgreSQL server's sessions) and that of the children that
// exited. It returns -1 if a process cannot be read.
func serviceCPU(pids []int) time.Duration {
	if len(pids) == 0 {
		return -1
	}
	all, _ := filepath.Glob("/proc/[0-9]*/stat")
	var total time.Duration
	for _, pid := range pids {
		own, children, ok := procCPU(pid)
		if !ok {
			return -1
		}
		total += own + children
		for _, p := range all {
			child, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if procParent(child) == pid {
				if own, _, ok := procCPU(child); ok {
					total += own
				}
			}
		}
	}
	return total
}

// statFields returns the fields of /proc/<pid>/stat after the command
// name (which may hold spaces): field 3 of proc(5), the state, first.
func statFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// procCPU returns the process's own CPU time and that of its children
// that exited and were waited for (cutime + cstime, in clock ticks). Its
// own time is the sum of its threads' time on a CPU in nanoseconds
// (/proc/<pid>/task/*/schedstat) where the kernel keeps it, else utime +
// stime in clock ticks.
func procCPU(pid int) (own, children time.Duration, ok bool) {
	f := statFields(pid)
	if len(f) < 15 { // utime, stime, cutime, cstime are fields 14 to 17
		return 0, 0, false
	}
	n := func(i int) time.Duration {
		v, _ := strconv.ParseInt(f[i-3], 10, 64)
		return time.Duration(v) * clockTick
	}
	if ns, ok := schedCPU(pid); ok {
		return ns, n(16) + n(17), true
	}
	return n(14) + n(15), n(16) + n(17), true
}

// schedCPU returns the time the process's threads have spent on a CPU,
// from the first field of each /proc/<pid>/task/<tid>/schedstat, and
// false if there is none or it reads 0 (kernels without scheduler
// statistics).
func schedCPU(pid int) (time.Duration, bool) {
	files, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/schedstat")
	var total time.Duration
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			continue
		}
		ns, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			continue
		}
		total += time.Duration(ns)
	}
	return total, total > 0
}

// ProcessCPU returns the CPU time (user and system) that process pid has
// used itself, or -1 if it cannot be read.
func ProcessCPU(pid int) time.Duration {
	own, _, ok := procCPU(pid)
	if !ok {
		return -1
	}
	return own
}

// procParent returns the parent's PID, or -1.
func procParent(pid int) int {
	f := statFields(pid)
	if len(f) < 2 {
		return -1
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return -1
	}
	return ppid
}
