package sqlite

import (
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/profilevault/profilevault/vault"
)

// recordCache keeps sealed subject records — ciphertexts and wrapped DEKs only, nothing decrypted — so hot
// reads skip SQLite. The writer invalidates every subject a transaction touched before it answers that
// transaction's requests, and a generation counter stops a reader from caching a snapshot that an
// invalidation has overtaken in the meantime.
type recordCache struct {
	mu  sync.Mutex // orders add against invalidate
	lru *lru.Cache[string, vault.SubjectRecord]
	gen uint64
}

func newRecordCache(size int) (*recordCache, error) {
	if size <= 0 {
		return nil, nil
	}
	l, err := lru.New[string, vault.SubjectRecord](size)
	if err != nil {
		return nil, err
	}
	return &recordCache{lru: l}, nil
}

func (c *recordCache) get(id string) (vault.SubjectRecord, bool) {
	if c == nil {
		return vault.SubjectRecord{}, false
	}
	return c.lru.Get(id)
}

func (c *recordCache) len() int {
	if c == nil {
		return 0
	}
	return c.lru.Len()
}

// generation is read before a database read whose result may be cached.
func (c *recordCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// add caches rec unless an invalidation happened since gen was read.
func (c *recordCache) add(id string, rec vault.SubjectRecord, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.lru.Add(id, rec)
	}
}

// invalidate drops the given subjects; called by the writer after every commit that touched them.
func (c *recordCache) invalidate(ids map[string]struct{}) {
	if c == nil || len(ids) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range ids {
		c.lru.Remove(id)
	}
	c.gen++
}
