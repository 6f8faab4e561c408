package fhir

import (
	"context"
	"database/sql"
	"fmt"
	"sort"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/jobs"
)

// ResourcesChangedArgs announces that resources of an organisation were
// written in one transaction: the types touched, each version written as
// "Type/id/_history/version", and per type the change of the number of live
// resources (absent in jobs of earlier versions).
type ResourcesChangedArgs struct {
	OrgID string           `json:"org_id"`
	Types []string         `json:"types"`
	Refs  []string         `json:"refs"`
	Live  map[string]int64 `json:"live,omitempty"`
}

// Kind names the job.
func (ResourcesChangedArgs) Kind() string { return "fhir.resources_changed" }

// CountWorker keeps the number of live resources per type: it adds each
// job's changes and marks the job completed in the same transaction, so a
// job is counted exactly once even when a crash makes River run it again.
// (Recounting from the table instead would read every resource of the type
// for every write: fine for a thousand resources, ruinous for a million.)
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
			types := make([]string, 0, len(job.Args.Live))
			for t := range job.Args.Live {
				types = append(types, t)
			}
			sort.Strings(types) // the same lock order in every transaction
			for _, t := range types {
				if _, err := tx.ExecContext(ctx, `INSERT INTO fhir_type_counts (org_id, resource_type, live) VALUES ($1, $2, $3)
					ON CONFLICT (org_id, resource_type) DO UPDATE SET live = fhir_type_counts.live + excluded.live`, job.Args.OrgID, t, job.Args.Live[t]); err != nil {
					return fmt.Errorf("fhir: count %s: %w", t, err)
				}
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
