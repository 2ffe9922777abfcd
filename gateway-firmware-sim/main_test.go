package gwsim

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that the simulator leaves no goroutine behind: every
// gateway's generator, publisher, connector and paho client end with Run.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
