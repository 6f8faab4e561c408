// Package ttlcache is a small, bounded, concurrency-safe cache whose
// entries expire: for answers that may be reused for a few seconds, such as
// what a bearer token stands for.
package ttlcache

import (
	"sync"
	"time"
)

// Cache maps keys to values until each entry's expiry. The zero value is
// not usable; call New.
type Cache[K comparable, V any] struct {
	max     int
	mu      sync.RWMutex
	entries map[K]entry[V]
}

type entry[V any] struct {
	v     V
	until time.Time
}

// New returns a cache of at most max entries.
func New[K comparable, V any](max int) *Cache[K, V] {
	return &Cache[K, V]{max: max, entries: make(map[K]entry[V])}
}

// Get returns the value of k if it has not expired at now.
func (c *Cache[K, V]) Get(k K, now time.Time) (V, bool) {
	c.mu.RLock()
	e, ok := c.entries[k]
	c.mu.RUnlock()
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Put keeps v for k until until. When the cache is full it first drops the
// entries expired at now, and everything if none had.
func (c *Cache[K, V]) Put(k K, v V, now, until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.entries) >= c.max {
		for key, e := range c.entries {
			if !now.Before(e.until) {
				delete(c.entries, key)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[k] = entry[V]{v: v, until: until}
}

// DeleteFunc drops the entries whose value drop reports true.
func (c *Cache[K, V]) DeleteFunc(drop func(V) bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.entries {
		if drop(e.v) {
			delete(c.entries, k)
		}
	}
}

// Delete drops the entry of k, if any.
func (c *Cache[K, V]) Delete(k K) {
	c.mu.Lock()
	delete(c.entries, k)
	c.mu.Unlock()
}
