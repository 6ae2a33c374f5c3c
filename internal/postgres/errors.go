package postgres

import "io/fs"

// errNotExist marks a tile that is not stored (errors.Is(err, fs.ErrNotExist), as for the tile files).
var errNotExist = fs.ErrNotExist
