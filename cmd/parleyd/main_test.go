package main

import (
	"testing"

	"github.com/parley-chat/parley/internal/testenv"
)

// TestMain says when the tests that need PostgreSQL or Redis were skipped,
// and which variable would run them.
func TestMain(m *testing.M) { testenv.Main(m, "cmd/parleyd") }
