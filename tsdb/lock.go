package tsdb

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockName is the file in the data directory that an open store holds an
// exclusive flock(2) on. The kernel drops the lock when the process dies,
// kill -9 included, so a crashed server never leaves a stale lock behind.
const lockName = "LOCK"

// ErrLocked is returned by Open when another process (or another DB in this
// one) has the data directory open.
var ErrLocked = errors.New("data directory is in use by another store")

// dirLock is a held flock on a data directory.
type dirLock struct{ f *os.File }

func lockDir(dir string) (*dirLock, error) {
	name := filepath.Join(dir, lockName)
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("cannot open lock file %s: %w", name, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("cannot lock %s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("cannot lock %s: %w", name, err)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) release() error {
	return l.f.Close() // closing the descriptor drops the flock
}

// DirInUse reports whether a store holds the data directory open. It takes
// and drops a shared lock, so it never blocks an Open for long; a directory
// without a lock file is not in use.
func DirInUse(dir string) (bool, error) {
	f, err := os.Open(filepath.Join(dir, lockName))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot open lock file: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return true, nil
		}
		return false, fmt.Errorf("cannot test lock file: %w", err)
	}
	return false, nil // closing f drops the shared lock
}
