package fhir

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/platform/db"
)

// ResourcesChangedArgs announces that resources of an organisation were
// written in one transaction: the types touched and each version written as
// "Type/id/_history/version".
type ResourcesChangedArgs struct {
	OrgID string   `json:"org_id"`
	Types []string `json:"types"`
	Refs  []string `json:"refs"`
}

// Kind names the job.
func (ResourcesChangedArgs) Kind() string { return "fhir.resources_changed" }

// CountWorker recounts the live resources of the changed types. It counts
// from the table rather than adding deltas, so running a job twice (after a
// crash) gives the same result.
type CountWorker struct {
	river.WorkerDefaults[ResourcesChangedArgs]
	db *db.DB
}

// NewCountWorker returns the worker for fhir.resources_changed jobs.
func NewCountWorker(d *db.DB) *CountWorker { return &CountWorker{db: d} }

// Work recounts the types named by the job.
func (w *CountWorker) Work(ctx context.Context, job *river.Job[ResourcesChangedArgs]) error {
	return w.db.InTx(ctx, func(tx *sql.Tx) error {
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
