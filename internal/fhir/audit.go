package fhir

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
)

// AuditEvent is one interaction with health data, as the API reports it
// to the audit log.
type AuditEvent struct {
	Interaction Interaction
	// Operation names an operation ("$everything", "$export",
	// "$export-file"); "" for the plain interactions.
	Operation string
	// Type is the resource type acted on; "" for the whole server.
	Type string
	// Resources are the resources read or written (after the access check:
	// only what the caller received or changed).
	Resources []*Stored
	// Query is the query string of a search or history, or what names the
	// data of an operation (an export's id and file).
	Query string
	// Refused marks an attempt the policy turned down: the caller asked for
	// Refs (Type/id) and got 403, or 404 for a resource they may not see.
	Refused bool
	Refs    []string
}

// Auditor records interactions with health data in the audit log.
type Auditor interface {
	// Record stores ev before the data it describes leaves the server; an
	// error fails the request (fail closed).
	Record(ctx context.Context, p *Principal, ev AuditEvent) error
	// RecordTx stores ev in the transaction of the write it describes.
	RecordTx(ctx context.Context, tx *sql.Tx, p *Principal, ev AuditEvent) error
}

// record reports a read to the audit log, if there is one.
func (a *API) record(ctx context.Context, p *Principal, ev AuditEvent) error {
	if a.audit == nil {
		return nil
	}
	return a.audit.Record(ctx, p, ev)
}

// recordTx reports a write to the audit log in the write's transaction.
func (a *API) recordTx(ctx context.Context, tx *sql.Tx, p *Principal, ev AuditEvent) error {
	if a.audit == nil {
		return nil
	}
	return a.audit.RecordTx(ctx, tx, p, ev)
}

// recordRefused reports an attempt the policy refused (ev.Refused is set
// here). It is best effort: the caller gets the refusal whether or not the
// entry could be stored, and a failure is logged.
func (a *API) recordRefused(ctx context.Context, p *Principal, ev AuditEvent) {
	if a.audit == nil || p == nil {
		return
	}
	ev.Refused = true
	if err := a.audit.Record(ctx, p, ev); err != nil {
		a.log.Error("fhir: audit a refused request", "err", err)
	}
}

// interactionOfRequest names the interaction a request asked for, for the
// audit entry of a refusal.
func interactionOfRequest(r *http.Request) Interaction {
	path := r.URL.Path
	switch {
	case strings.Contains(path, "/$"):
		return InteractionOperation
	case strings.Contains(path, "/_history"):
		if r.PathValue("vid") != "" {
			return InteractionVRead
		}
		return InteractionHistory
	case strings.HasSuffix(path, "/_search"):
		return InteractionSearch
	}
	if r.Method == http.MethodPatch {
		return InteractionPatch
	}
	return interactionOf(r.Method, r.PathValue("id"))
}

// refOfRequest returns the Type/id a request names, if it names one.
func refOfRequest(r *http.Request) []string {
	if typ, id := r.PathValue("type"), r.PathValue("id"); typ != "" && id != "" {
		return []string{typ + "/" + id}
	}
	return nil
}
