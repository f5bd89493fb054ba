package queue

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine behind (timers,
// Run workers).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
