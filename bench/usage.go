package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Usage is a process's CPU time and memory.
type Usage struct {
	CPU time.Duration // user + system
	// PeakRSS is the high-water mark of resident memory (VmHWM), RSS the
	// resident memory now (VmRSS), in bytes.
	PeakRSS, RSS int64
}

// clockTick is USER_HZ, the unit of CPU times in /proc/<pid>/stat; it is
// 100 on every Linux architecture Go supports.
const clockTick = 100

// procUsage reads /proc/<pid>/stat and /proc/<pid>/status.
func procUsage(pid int) (Usage, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Usage{}, fmt.Errorf("cannot read process stat: %w", err)
	}
	// The command name, in parentheses, may hold blanks: count fields
	// after its closing parenthesis. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return Usage{}, fmt.Errorf("cannot parse process stat %q", stat)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return Usage{}, fmt.Errorf("cannot parse process stat %q", stat)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return Usage{}, fmt.Errorf("cannot parse process stat %q", stat)
	}
	u := Usage{CPU: time.Duration(ut+st) * time.Second / clockTick}
	u.PeakRSS, u.RSS, err = procMemory(pid)
	return u, err
}

// procMemory reads VmHWM and VmRSS from /proc/<pid>/status.
func procMemory(pid int) (hwm, rss int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("cannot read process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmHWM" && k != "VmRSS") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("cannot parse %s %q: %w", k, v, err)
		}
		if k == "VmHWM" {
			hwm = kb << 10
		} else {
			rss = kb << 10
		}
	}
	return hwm, rss, sc.Err()
}

// selfUsage is this process's usage, from getrusage and /proc/self.
func selfUsage() (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, fmt.Errorf("cannot get resource usage: %w", err)
	}
	u := Usage{CPU: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
	var err error
	u.PeakRSS, u.RSS, err = procMemory(os.Getpid())
	return u, err
}

// storeBytes sums the sizes of the store's files under dir: everything but
// the broker's session state, the tokens file and the audit log.
func storeBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			if rel == "mqtt" {
				return filepath.SkipDir
			}
			return nil
		}
		if rel == "tokens.json" || rel == "audit.log" {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		total += info.Size()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("cannot measure the store's size: %w", err)
	}
	return total, nil
}
