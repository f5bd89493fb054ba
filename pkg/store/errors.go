package store

import "errors"

// Errors returned by the store; check them with errors.Is.
var (
	ErrNotFound        = errors.New("store: not found")
	ErrAlreadyExists   = errors.New("store: already exists")
	ErrConflict        = errors.New("store: conflict: the object changed")
	ErrNotLeader       = errors.New("store: fenced: not the leader")
	ErrInvalidRevision = errors.New("store: invalid resourceVersion")
	ErrCompacted       = errors.New("store: revision compacted")
)
