package gateways

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/quantrac/quantrac/internal/fsutil"
)

// FileMode is the permission of a gateways file: it holds password hashes,
// so only the node's own user may read it.
const FileMode = 0o600

// maxFileSize bounds a gateways file: 100 000 gateways fit in well under it.
const maxFileSize = 64 << 20

// Read parses the gateways file at path.
func Read(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot open gateways file: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot stat gateways file: %w", err)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("cannot read gateways file %s: %d bytes, limit %d", path, st.Size(), maxFileSize)
	}
	entries, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("gateways file %s: %w", path, err)
	}
	return entries, nil
}

// ReadOrEmpty is Read, except that a file that does not exist yet is an
// empty list: `quantrac gateway add` creates the file.
func ReadOrEmpty(path string) ([]Entry, error) {
	entries, err := Read(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return entries, err
}

// Write replaces the gateways file at path with entries, atomically: it
// writes a temporary file in the same directory, fsyncs it, renames it over
// path and fsyncs the directory. A reader (the broker on SIGHUP) sees the
// old file or the new one, never a mix, and a crash leaves one of the two.
func Write(path string, entries []Entry) error {
	for i := range entries {
		if err := entries[i].Validate(); err != nil {
			return fmt.Errorf("cannot write gateways file: %w", err)
		}
	}
	// Check what we are about to write parses back the same.
	data := Append(nil, entries)
	if _, err := Parse(bytes.NewReader(data)); err != nil {
		return fmt.Errorf("cannot write gateways file: %w", err)
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("cannot create temporary gateways file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := tmp.Chmod(FileMode); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot set gateways file permissions: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot write gateways file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("cannot fsync gateways file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cannot close gateways file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cannot replace gateways file: %w", err)
	}
	return fsutil.SyncDir(dir)
}

// Lock takes an exclusive advisory lock beside path (path + ".lock"), so
// that two `quantrac gateway` commands run at once do not lose each other's
// change. The returned function releases it.
func Lock(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, FileMode)
	if err != nil {
		return nil, fmt.Errorf("cannot open gateways lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("cannot lock gateways file: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
