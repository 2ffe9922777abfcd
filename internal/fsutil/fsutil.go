// Package fsutil holds the file-system steps every durable file of the
// platform takes: the WAL, parts, series files, the forward queue, the
// session log, the gateways and tokens files and the simulator's queue.
package fsutil

import (
	"fmt"
	"os"
)

// SyncDir fsyncs a directory, making the names created, renamed or removed
// in it durable. A file written under a temporary name, fsynced and renamed
// is only known to survive a crash once its directory is synced too.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open directory %s for fsync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot fsync directory %s: %w", dir, err)
	}
	return nil
}
