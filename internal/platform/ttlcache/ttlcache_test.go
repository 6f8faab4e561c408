package ttlcache

import (
	"testing"
	"time"
)

func TestCache(t *testing.T) {
	c := New[string, int](3)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c.Put("a", 1, t0, t0.Add(10*time.Second))
	if v, ok := c.Get("a", t0.Add(9*time.Second)); !ok || v != 1 {
		t.Errorf("before expiry: %d %v", v, ok)
	}
	if _, ok := c.Get("a", t0.Add(10*time.Second)); ok {
		t.Error("found at its expiry")
	}
	if _, ok := c.Get("nope", t0); ok {
		t.Error("found a missing key")
	}
	// Full: expired entries go first, the live stay.
	c.Put("b", 2, t0, t0.Add(time.Second))
	c.Put("c", 3, t0, t0.Add(time.Hour))
	c.Put("d", 4, t0.Add(20*time.Second), t0.Add(time.Hour))
	if _, ok := c.Get("c", t0.Add(time.Minute)); !ok {
		t.Error("a live entry was dropped while expired ones were there")
	}
	if len(c.entries) != 2 {
		t.Errorf("%d entries after making room, want 2", len(c.entries))
	}
	c.DeleteFunc(func(v int) bool { return v == 3 })
	if _, ok := c.Get("c", t0.Add(time.Minute)); ok {
		t.Error("DeleteFunc kept c")
	}
	// Full of live entries: start over rather than grow.
	big := New[int, int](2)
	big.Put(1, 1, t0, t0.Add(time.Hour))
	big.Put(2, 2, t0, t0.Add(time.Hour))
	big.Put(3, 3, t0, t0.Add(time.Hour))
	if len(big.entries) != 1 {
		t.Errorf("%d entries, want 1", len(big.entries))
	}
}
