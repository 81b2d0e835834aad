//go:build !unix

package main

import "os"

// lockFile does nothing where flock is missing: two parley processes that
// refresh the same token at the same moment may end the session.
func lockFile(*os.File) error { return nil }

func unlockFile(*os.File) error { return nil }
