package fhir

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Bulk export ($export) follows the FHIR Bulk Data asynchronous pattern:
// the kick-off request stores the export and its job in one transaction and
// answers 202 with a status URL; the job writes NDJSON into the database
// (so that any careloop node can serve it); the status URL answers 202
// while it runs and then the manifest of output files.

// exportFileLimit is the most resources per output file.
const exportFileLimit = 10000

// ExportArgs is the job that runs one bulk export.
type ExportArgs struct {
	OrgID    string `json:"org_id"`
	ExportID string `json:"export_id"`
}

// Kind names the job.
func (ExportArgs) Kind() string { return "fhir.export" }

// ExportWorker runs bulk exports.
type ExportWorker struct {
	river.WorkerDefaults[ExportArgs]
	db *db.DB
}

// NewExportWorker returns the worker for fhir.export jobs.
func NewExportWorker(d *db.DB) *ExportWorker { return &ExportWorker{db: d} }

// Timeout allows large exports.
func (w *ExportWorker) Timeout(*river.Job[ExportArgs]) time.Duration { return time.Hour }

// Work writes the export's files. A run after a crash starts again from the
// beginning, replacing what an earlier run wrote. When the last attempt
// fails, the export is marked failed so that its status says so.
func (w *ExportWorker) Work(ctx context.Context, job *river.Job[ExportArgs]) error {
	err := w.run(ctx, job)
	if err != nil && job.Attempt >= job.MaxAttempts {
		_, _ = w.db.Write.ExecContext(context.WithoutCancel(ctx), "UPDATE fhir_exports SET status = 'failed', error = $1 WHERE org_id = $2 AND id = $3",
			err.Error(), job.Args.OrgID, job.Args.ExportID)
	}
	return err
}

func (w *ExportWorker) run(ctx context.Context, job *river.Job[ExportArgs]) error {
	org, id := job.Args.OrgID, job.Args.ExportID
	var status, patient, types string
	var since sql.NullTime
	err := w.db.Read.QueryRowContext(ctx, "SELECT status, patient_id, types, since FROM fhir_exports WHERE org_id = $1 AND id = $2", org, id).
		Scan(&status, &patient, &types, &since)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && status != "in-progress") {
		return nil // cancelled or finished
	}
	if err != nil {
		return fmt.Errorf("fhir: export %s: %w", id, err)
	}
	if _, err := w.db.Write.ExecContext(ctx, "DELETE FROM fhir_export_files WHERE org_id = $1 AND export_id = $2", org, id); err != nil {
		return fmt.Errorf("fhir: export %s: %w", id, err)
	}
	typeList := splitNonEmpty(types)
	if len(typeList) == 0 {
		rows, err := w.db.Read.QueryContext(ctx, "SELECT DISTINCT resource_type FROM fhir_resources WHERE org_id = $1 AND NOT deleted ORDER BY resource_type", org)
		if err != nil {
			return fmt.Errorf("fhir: export %s: %w", id, err)
		}
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				rows.Close()
				return err
			}
			typeList = append(typeList, t)
		}
		rows.Close()
	}
	seq := 0
	for _, typ := range typeList {
		last := ""
		for {
			where := "r.org_id = $1 AND r.resource_type = $2 AND NOT r.deleted AND r.id > $3"
			args := []any{org, typ, last}
			if since.Valid {
				args = append(args, since.Time.UTC())
				where += fmt.Sprintf(" AND r.last_updated >= $%d", len(args))
			}
			if patient != "" {
				args = append(args, patient)
				n := len(args)
				if typ == "Patient" {
					where += fmt.Sprintf(" AND r.id = $%d", n)
				} else {
					where += fmt.Sprintf(` AND EXISTS (SELECT 1 FROM fhir_idx_reference x WHERE x.res = r.rk
						AND x.target_type = 'Patient' AND x.target_id = $%d)`, n)
				}
			}
			rows, err := w.db.Read.QueryContext(ctx, fmt.Sprintf("SELECT r.id, r.content FROM fhir_resources r WHERE %s ORDER BY r.id LIMIT %d", where, exportFileLimit), args...)
			if err != nil {
				return fmt.Errorf("fhir: export %s %s: %w", id, typ, err)
			}
			var buf bytes.Buffer
			count := 0
			for rows.Next() {
				var rid, content string
				if err := rows.Scan(&rid, &content); err != nil {
					rows.Close()
					return err
				}
				// Resources are kept as received, maybe indented; NDJSON
				// needs each on one line.
				if err := json.Compact(&buf, []byte(content)); err != nil {
					rows.Close()
					return fmt.Errorf("fhir: export %s: stored %s/%s: %w", id, typ, rid, err)
				}
				buf.WriteByte('\n')
				last = rid
				count++
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			if count == 0 {
				break
			}
			seq++
			if _, err := w.db.Write.ExecContext(ctx, `INSERT INTO fhir_export_files (org_id, export_id, seq, resource_type, count, content)
				VALUES ($1, $2, $3, $4, $5, $6)`, org, id, seq, typ, count, buf.String()); err != nil {
				return fmt.Errorf("fhir: export %s: %w", id, err)
			}
			if count < exportFileLimit {
				break
			}
		}
	}
	_, err = w.db.Write.ExecContext(ctx, "UPDATE fhir_exports SET status = 'completed', completed_at = $1 WHERE org_id = $2 AND id = $3 AND status = 'in-progress'",
		time.Now().UTC(), org, id)
	return err
}

func splitNonEmpty(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// exportKickoff starts an export of the organisation (patient empty) or of
// one patient's compartment.
func (a *API) exportKickoff(w http.ResponseWriter, r *http.Request, p *Principal) error {
	if err := a.access.Allow(r.Context(), p, InteractionOperation, ""); err != nil {
		return err
	}
	if preference(r, "respond-async") == "" && !strings.Contains(strings.Join(r.Header.Values("Prefer"), ","), "respond-async") {
		return errs.Invalidf("Prefer", "$export runs asynchronously: send Prefer: respond-async")
	}
	q := r.URL.Query()
	switch f := q.Get("_outputFormat"); f {
	case "", "application/fhir+ndjson", "application/ndjson", "ndjson":
	default:
		return errs.Invalidf("_outputFormat", "_outputFormat %q is not supported; use application/fhir+ndjson", f)
	}
	types := splitNonEmpty(q.Get("_type"))
	for _, t := range types {
		if !a.isType(t) {
			return errs.Invalidf("_type", "%q in _type is not a FHIR resource type", t)
		}
	}
	sort.Strings(types)
	var since any
	if s := q.Get("_since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return errs.Invalidf("_since", "_since %q is not an instant such as 2024-01-31T10:00:00Z", s)
		}
		since = t.UTC()
	}
	patient := r.PathValue("id")
	if patient != "" {
		if _, err := a.store.Read(r.Context(), p.OrgID, "Patient", patient); err != nil {
			return err
		}
	}
	id := NewID()
	err := a.db.InTx(r.Context(), func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(r.Context(), `INSERT INTO fhir_exports (org_id, id, request, patient_id, types, since, status, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, 'in-progress', $7)`, p.OrgID, id, a.base+strings.TrimPrefix(r.URL.RequestURI(), "/fhir"), patient,
			strings.Join(types, ","), since, time.Now().UTC()); err != nil {
			return fmt.Errorf("fhir: export: %w", err)
		}
		if _, err := a.store.jobs.InsertTx(r.Context(), tx, ExportArgs{OrgID: p.OrgID, ExportID: id}, nil); err != nil {
			return err
		}
		ev := AuditEvent{Interaction: InteractionOperation, Operation: "$export", Query: "export=" + id + "&" + q.Encode()}
		if patient != "" {
			ev.Type, ev.Refs = "Patient", []string{"Patient/" + patient}
		}
		return a.recordTx(r.Context(), tx, p, ev)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Content-Location", a.base+"/$export-status/"+id)
	w.WriteHeader(http.StatusAccepted)
	return nil
}

type manifestFile struct {
	Type  string `json:"type"`
	URL   string `json:"url"`
	Count int    `json:"count"`
}

// exportStatus answers 202 while the export runs, then its manifest.
func (a *API) exportStatus(w http.ResponseWriter, r *http.Request, p *Principal) error {
	// Polling and downloading need what the kick-off needed.
	if err := a.access.Allow(r.Context(), p, InteractionOperation, ""); err != nil {
		return err
	}
	id := r.PathValue("id")
	var status, request, errText string
	var created time.Time
	err := a.db.Read.QueryRowContext(r.Context(), "SELECT status, request, error, created_at FROM fhir_exports WHERE org_id = $1 AND id = $2", p.OrgID, id).
		Scan(&status, &request, &errText, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return errs.NotFoundf("no export %q", id)
	}
	if err != nil {
		return fmt.Errorf("fhir: export status: %w", err)
	}
	switch status {
	case "in-progress":
		w.Header().Set("X-Progress", "in progress")
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusAccepted)
		return nil
	case "failed":
		// The cause is logged by the job; clients see that it failed.
		return errs.Wrap(errors.New(errText), errs.Internal, "the export failed; start a new one")
	}
	rows, err := a.db.Read.QueryContext(r.Context(), "SELECT seq, resource_type, count FROM fhir_export_files WHERE org_id = $1 AND export_id = $2 ORDER BY seq", p.OrgID, id)
	if err != nil {
		return fmt.Errorf("fhir: export status: %w", err)
	}
	defer rows.Close()
	output := []manifestFile{}
	for rows.Next() {
		var seq int
		var f manifestFile
		if err := rows.Scan(&seq, &f.Type, &f.Count); err != nil {
			return err
		}
		f.URL = fmt.Sprintf("%s/$export-file/%s.%d", a.base, id, seq)
		output = append(output, f)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	manifest := map[string]any{
		"transactionTime":     formatInstant(created),
		"request":             request,
		"requiresAccessToken": true,
		"output":              output,
		"error":               []any{},
	}
	b, err := marshal(manifest)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	return nil
}

// exportDelete cancels an export or deletes its files.
func (a *API) exportDelete(w http.ResponseWriter, r *http.Request, p *Principal) error {
	// Polling and downloading need what the kick-off needed.
	if err := a.access.Allow(r.Context(), p, InteractionOperation, ""); err != nil {
		return err
	}
	id := r.PathValue("id")
	err := a.db.InTx(r.Context(), func(tx *sql.Tx) error {
		res, err := tx.ExecContext(r.Context(), "DELETE FROM fhir_exports WHERE org_id = $1 AND id = $2", p.OrgID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return errs.NotFoundf("no export %q", id)
		}
		_, err = tx.ExecContext(r.Context(), "DELETE FROM fhir_export_files WHERE org_id = $1 AND export_id = $2", p.OrgID, id)
		return err
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// exportFile serves one NDJSON output file, named export-id.sequence.
func (a *API) exportFile(w http.ResponseWriter, r *http.Request, p *Principal) error {
	// Polling and downloading need what the kick-off needed.
	if err := a.access.Allow(r.Context(), p, InteractionOperation, ""); err != nil {
		return err
	}
	id, seqText, _ := strings.Cut(r.PathValue("file"), ".")
	seq, err := strconv.Atoi(seqText)
	if err != nil {
		return errs.NotFoundf("no such export file")
	}
	var content string
	err = a.db.Read.QueryRowContext(r.Context(), "SELECT content FROM fhir_export_files WHERE org_id = $1 AND export_id = $2 AND seq = $3",
		p.OrgID, id, seq).Scan(&content)
	if errors.Is(err, sql.ErrNoRows) {
		return errs.NotFoundf("no such export file")
	}
	if err != nil {
		return fmt.Errorf("fhir: export file: %w", err)
	}
	if err := a.record(r.Context(), p, AuditEvent{Interaction: InteractionOperation, Operation: "$export-file",
		Query: "export=" + id + "&file=" + seqText}); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/fhir+ndjson")
	_, _ = w.Write([]byte(content))
	return nil
}
