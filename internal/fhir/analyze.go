package fhir

import (
	"context"
	"sync"

	"github.com/careloop/careloop/internal/platform/db"
)

// statsKeeper refreshes PostgreSQL's planner statistics of the resource and
// index tables while they grow. Without them a freshly loaded database is
// planned as if its tables were empty, and a chained search that takes 2 ms
// with statistics took minutes without. Autovacuum catches up eventually;
// this closes the gap after bulk loads. It analyses when the writes since
// the last analysis reach a fifth of the rows written until then (at least
// 500), so its cost stays a small fraction of the writing.
type statsKeeper struct {
	mu      sync.Mutex
	running bool
	since   int64 // writes since the last analysis
	before  int64 // writes up to the last analysis
}

var statsTables = "fhir_resources, fhir_resource_history, fhir_idx_token, fhir_idx_string, fhir_idx_date, fhir_idx_reference, fhir_idx_quantity, fhir_idx_number, fhir_idx_uri, fhir_idx_composite"

// wrote records n committed writes and analyses the tables when due. It
// runs in the caller, so that the caller's next search is planned well.
func (s *Store) wrote(ctx context.Context, n int) {
	if s.db.Dialect != db.Postgres || n <= 0 {
		return
	}
	k := &s.stats
	k.mu.Lock()
	k.since += int64(n)
	due := !k.running && k.since >= max(500, k.before/5)
	if due {
		k.running = true
	}
	k.mu.Unlock()
	if !due {
		return
	}
	_, err := s.db.Write.ExecContext(context.WithoutCancel(ctx), "ANALYZE "+statsTables)
	k.mu.Lock()
	k.running = false
	if err == nil {
		k.before += k.since
		k.since = 0
	}
	k.mu.Unlock()
}

// Wrote tells the store that n resources were committed by a caller that
// wrote them with PutTx and its kin in its own transaction (seeding, a
// bulk tool): the planner's statistics are refreshed when due, as after
// the API's own writes. Call it after the commit.
func (s *Store) Wrote(ctx context.Context, n int) { s.wrote(ctx, n) }
