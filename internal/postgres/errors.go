package postgres

import "errors"

// errClosed is returned by appends after Close.
var errClosed = errors.New("postgres: audit log closed")
