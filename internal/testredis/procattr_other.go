//go:build !linux

package testredis

import "os/exec"

// DieWithParent is a no-op outside Linux.
func DieWithParent(cmd *exec.Cmd) {}
