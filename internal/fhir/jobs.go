package fhir

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/platform/outbox"
)

// ResourcesChangedArgs describes what one transaction wrote for an
// organisation: the types touched, each version written as
// "Type/id/_history/version", and per type the change of the number of
// live resources. Store.OnWrite hands it to the modules that react. It is
// also the fhir.resources_changed job that earlier versions inserted with
// every write (absent Live in the oldest), which CountWorker still works
// off after an upgrade.
type ResourcesChangedArgs struct {
	OrgID string           `json:"org_id"`
	Types []string         `json:"types"`
	Refs  []string         `json:"refs"`
	Live  map[string]int64 `json:"live,omitempty"`
}

// Kind names the job.
func (ResourcesChangedArgs) Kind() string { return "fhir.resources_changed" }

// CountWorker works off the fhir.resources_changed jobs that earlier
// versions inserted with every write: it adds each job's changes and marks
// the job completed in the same transaction, so a job is counted exactly
// once even when a crash makes River run it again. Writes now announce
// their counts through the outbox (CountsTopic, ApplyCounts).
type CountWorker struct {
	river.WorkerDefaults[ResourcesChangedArgs]
	db *db.DB
}

// NewCountWorker returns the worker for fhir.resources_changed jobs.
func NewCountWorker(d *db.DB) *CountWorker { return &CountWorker{db: d} }

// Work adds the job's changes to the counts.
func (w *CountWorker) Work(ctx context.Context, job *river.Job[ResourcesChangedArgs]) error {
	return w.db.InTx(ctx, func(tx *sql.Tx) error {
		if job.Args.Live != nil {
			sum := map[countKey]int64{}
			for t, n := range job.Args.Live {
				sum[countKey{job.Args.OrgID, t}] = n
			}
			if err := addCounts(ctx, tx, sum); err != nil {
				return err
			}
			return jobs.CompleteTx(ctx, tx, job)
		}
		// A job of an earlier version, without changes: recount its types.
		for _, t := range job.Args.Types {
			var n int64
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM fhir_resources WHERE org_id = $1 AND resource_type = $2 AND NOT deleted",
				job.Args.OrgID, t).Scan(&n); err != nil {
				return fmt.Errorf("fhir: count %s: %w", t, err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO fhir_type_counts (org_id, resource_type, live) VALUES ($1, $2, $3)
				ON CONFLICT (org_id, resource_type) DO UPDATE SET live = excluded.live`, job.Args.OrgID, t, n); err != nil {
				return fmt.Errorf("fhir: store count of %s: %w", t, err)
			}
		}
		return nil
	})
}

// CountsTopic is the outbox topic of the changes to the counts of live
// resources per type: every write enqueues one item, ApplyCounts adds them.
const CountsTopic = "fhir.counts"

// countsPayload is a CountsTopic item.
type countsPayload struct {
	Live map[string]int64 `json:"live"`
}

// enqueueCounts enqueues the changes to the counts of live resources of a
// write transaction in tx.
func enqueueCounts(ctx context.Context, tx *sql.Tx, orgID string, live map[string]int64) error {
	raw, err := json.Marshal(countsPayload{Live: live})
	if err != nil {
		return fmt.Errorf("fhir: announce counts: %w", err)
	}
	return outbox.Enqueue(ctx, tx, CountsTopic, orgID, raw)
}

// ApplyCounts is the outbox handler of CountsTopic: it adds the changes of
// a batch of writes to the counts of live resources per type, one
// statement per organisation and type. The items are deleted in the same
// transaction, so each write is counted exactly once. (Recounting from the
// table instead would read every resource of the type for every write:
// fine for a thousand resources, ruinous for a million.)
func ApplyCounts(ctx context.Context, tx *sql.Tx, items []outbox.Item) (func(), error) {
	sum := map[countKey]int64{}
	for _, it := range items {
		var p countsPayload
		if err := json.Unmarshal(it.Payload, &p); err != nil {
			return nil, fmt.Errorf("fhir: counts item %d: %w", it.Seq, err)
		}
		for t, n := range p.Live {
			sum[countKey{it.OrgID, t}] += n
		}
	}
	return nil, addCounts(ctx, tx, sum)
}

type countKey struct{ org, typ string }

// addCounts adds each change to the count of its organisation and type,
// in the same order in every transaction (PostgreSQL locks the rows).
func addCounts(ctx context.Context, tx *sql.Tx, sum map[countKey]int64) error {
	keys := slices.SortedFunc(maps.Keys(sum), func(a, b countKey) int {
		if a.org != b.org {
			return strings.Compare(a.org, b.org)
		}
		return strings.Compare(a.typ, b.typ)
	})
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO fhir_type_counts (org_id, resource_type, live) VALUES ($1, $2, $3)
			ON CONFLICT (org_id, resource_type) DO UPDATE SET live = fhir_type_counts.live + excluded.live`, k.org, k.typ, sum[k]); err != nil {
			return fmt.Errorf("fhir: count %s: %w", k.typ, err)
		}
	}
	return nil
}
