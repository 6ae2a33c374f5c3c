package postgres

import (
	"errors"
	"io/fs"
)

// errNotExist marks a tile that is not stored (errors.Is(err, fs.ErrNotExist), as for the tile files).
var errNotExist = fs.ErrNotExist

// errClosed is returned by appends after Close.
var errClosed = errors.New("postgres: audit log closed")
