//go:build !unix

package access

// lockFile does not lock on systems without flock: there, two `quantrac
// token` commands run at the same moment can lose one's change. Quantrac's
// supported platforms are unix.
func lockFile(string) (unlock func(), err error) { return func() {}, nil }
