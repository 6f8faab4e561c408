package app

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/keys"
	"github.com/careloop/careloop/internal/signin"
)

// fhirAudit writes the FHIR API's interactions to the audit log as
// entries of the IHE Basic Audit Log Patterns: who (the caller, their role
// and purpose of use, their network address), what (the interaction, the
// resources or the query), about whom (the patients whose compartments the
// resources are in) and the request id.
type fhirAudit struct {
	log  *audit.Log
	base string // the public URL of /fhir
}

func (f fhirAudit) Record(ctx context.Context, p *fhir.Principal, ev fhir.AuditEvent) error {
	return f.log.Record(ctx, f.entry(ctx, p, ev))
}

func (f fhirAudit) RecordTx(ctx context.Context, tx *sql.Tx, p *fhir.Principal, ev fhir.AuditEvent) error {
	return f.log.AppendTx(ctx, tx, f.entry(ctx, p, ev))
}

func (f fhirAudit) entry(ctx context.Context, p *fhir.Principal, ev fhir.AuditEvent) audit.Entry {
	e := audit.Entry{OrgID: p.OrgID, Type: audit.TypeRest, Subtype: []audit.Coding{audit.Interaction(subtypeOf(ev))},
		Action: actionOf(ev.Interaction), Outcome: audit.Success, RequestID: httpx.RequestID(ctx)}
	e.Entities = make([]audit.Entity, 0, len(ev.Resources)+len(ev.Refs)+1)
	var patients []string // ids; a read concerns one or two, so a list beats a set
	addPatient := func(id string) {
		if !slices.Contains(patients, id) {
			patients = append(patients, id)
		}
	}
	for _, st := range ev.Resources {
		e.Entities = append(e.Entities, audit.Entity{What: st.Ref()})
		for _, id := range access.PatientsOf(st, f.base) {
			addPatient(id)
		}
	}
	for _, ref := range ev.Refs {
		e.Entities = append(e.Entities, audit.Entity{What: ref})
		if id, ok := strings.CutPrefix(ref, "Patient/"); ok {
			addPatient(id)
		}
	}
	if ev.Query != "" {
		e.Entities = append(e.Entities, audit.Entity{Query: ev.Query})
	}
	if ev.Operation != "" {
		e.Subtype = append(e.Subtype, audit.Subtype(ev.Operation))
		if strings.HasPrefix(ev.Operation, "$export") {
			e.Type = audit.TypeExport
		}
	}
	if ev.Refused {
		e.Outcome, e.OutcomeDesc = audit.MinorFailure, "refused by the access policy"
	}
	e.Patients = make([]string, len(patients))
	for i, id := range patients {
		e.Patients[i] = "Patient/" + id
	}
	e.Agent = audit.Agent{Subject: p.Subject, Role: p.Role, PurposeOfUse: access.PurposeOfUse(p, patients),
		Address: httpx.ClientAddress(ctx)}
	if e.Agent.Role == "" {
		e.Agent.Role = p.Kind // a system: api-key or client
	}
	if p.Kind == access.KindClient {
		e.Agent.ClientID = strings.TrimPrefix(p.Subject, "client/")
	}
	return e
}

// subtypeOf returns the restful-interaction code of an event.
func subtypeOf(ev fhir.AuditEvent) string {
	switch ev.Interaction {
	case fhir.InteractionHistory:
		switch {
		case len(ev.Refs) > 0:
			return "history-instance"
		case ev.Type != "":
			return "history-type"
		}
		return "history-system"
	case fhir.InteractionSearch:
		return "search-type"
	}
	return string(ev.Interaction)
}

// actionOf returns the AuditEvent action of an interaction.
func actionOf(in fhir.Interaction) audit.Action {
	switch in {
	case fhir.InteractionCreate:
		return audit.Create
	case fhir.InteractionUpdate, fhir.InteractionPatch:
		return audit.Update
	case fhir.InteractionDelete:
		return audit.Delete
	case fhir.InteractionOperation, fhir.InteractionTransaction:
		return audit.Execute
	}
	return audit.Read
}

// securityAudit writes sign-ins, sign-outs, changes of second factors and
// passwords, proxy grants and break-glass to the audit log.
type securityAudit struct{ log *audit.Log }

// SignInEvent records a sign-in (successful or not) or a sign-out.
func (s securityAudit) SignInEvent(ctx context.Context, ev signin.Event) error {
	e := audit.Entry{OrgID: ev.OrgID, Type: audit.TypeLogin, Action: audit.Execute, Outcome: audit.Success,
		Agent:     audit.Agent{Subject: accountSubject(ev.AccountID), Role: ev.Role, Address: ev.Address},
		RequestID: httpx.RequestID(ctx)}
	if ev.Logout {
		e.Type = audit.TypeLogout
	}
	if ev.Method != "" {
		e.Entities = []audit.Entity{{Query: "method=" + ev.Method}}
	}
	if ev.Failed {
		e.Subtype = []audit.Coding{audit.Subtype("login-failed")}
		e.Outcome, e.OutcomeDesc = audit.MinorFailure, ev.Reason
	}
	return s.log.Record(ctx, e)
}

// SecurityEventTx records a change of an account's security settings in
// the change's transaction.
func (s securityAudit) SecurityEventTx(ctx context.Context, tx *sql.Tx, ev identity.SecurityEvent) error {
	return s.log.AppendTx(ctx, tx, audit.Entry{OrgID: ev.OrgID, Type: audit.TypeSecurityAlert,
		Subtype: []audit.Coding{audit.Subtype("factor-change")}, Action: audit.Update, Outcome: audit.Success,
		OutcomeDesc: ev.What, Agent: s.agent(ctx, ev.AccountID), RequestID: httpx.RequestID(ctx)})
}

// GrantEventTx records a proxy grant or revocation, a break-glass or its
// review, in the change's transaction.
func (s securityAudit) GrantEventTx(ctx context.Context, tx *sql.Tx, ev access.GrantEvent) error {
	e := audit.Entry{OrgID: ev.OrgID, Type: audit.TypeSecurityAlert, Subtype: []audit.Coding{audit.Subtype("permission-change")},
		Action: audit.Execute, Outcome: audit.Success, OutcomeDesc: ev.What, Agent: s.agent(ctx, ev.AccountID),
		Patients: []string{"Patient/" + ev.Patient}, RequestID: httpx.RequestID(ctx)}
	if ev.Reason != "" {
		e.OutcomeDesc += ": " + ev.Reason
	}
	if ev.BreakGlass {
		e.Subtype = []audit.Coding{audit.Subtype("break-glass")}
		e.Agent.PurposeOfUse = "ETREAT"
	}
	return s.log.AppendTx(ctx, tx, e)
}

func (s securityAudit) agent(ctx context.Context, accountID string) audit.Agent {
	return audit.Agent{Subject: accountSubject(accountID), Address: httpx.ClientAddress(ctx)}
}

// accountSubject names an account as the policy names people.
func accountSubject(id string) string {
	if id == "" {
		return ""
	}
	return "account/" + id
}

// openAudit opens the audit log of the server: checkpoints signed with a
// key drawn from careloop's secret key file, named after the base URL's
// host, published where the configuration says.
func (a *App) openAudit() error {
	key, err := keys.LoadOrCreate(a.Config.KeyFile())
	if err != nil {
		return err
	}
	if dir := a.Config.AuditPublishDir; dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("audit: publish folder: %w", err)
		}
	}
	cfg := audit.Config{DB: a.DB, Origin: "careloop/" + a.Config.BaseURL.Host,
		Seed: key.Derive(audit.KeyPurpose, ed25519.SeedSize), CheckpointInterval: a.Config.AuditCheckpointEvery,
		SequenceInterval: a.Config.AuditSequenceEvery, Logger: a.Log.With("component", "audit"),
		Publisher: audit.PublishTo(a.Config.AuditPublishDir, a.Config.AuditPublishURL)}
	// With the database on this machine, reads' entries go through a local
	// spool: a write instead of a commit (see audit.Config.SpoolDir).
	if path := a.Config.SQLitePath(); path != "" {
		cfg.SpoolDir = filepath.Dir(path)
	}
	a.Audit, err = audit.New(cfg)
	return err
}

// auditViewers lets the audit log's API see who asks: compliance officers
// search everything of their organisation; patients and caregivers see
// the entries about their own records.
type auditViewers struct{ users *access.Users }

func (v auditViewers) AuditViewer(r *http.Request) (*audit.Viewer, error) {
	p, err := v.users.Authenticate(r)
	if err != nil {
		return nil, err
	}
	return &audit.Viewer{OrgID: p.OrgID, Subject: p.Subject, Role: p.Role, Patients: access.OwnRecords(p)}, nil
}

// auditSecurity records the sign-in API's events, and the changes of the
// second factors it enrolls, in the audit log.
func (a *App) auditSecurity(api *signin.API) {
	sec := securityAudit{a.Audit}
	api.Service.Audit = sec
	if f, ok := api.Enroll.(*identity.FactorStore); ok {
		f.Audit = sec
	}
	if p, ok := api.Passkeys.(*identity.Passkeys); ok {
		p.Audit = sec
	}
}

// FHIRAuditor returns the FHIR API's auditor on a's audit log, for
// benchmarks and tools that build the API themselves.
func FHIRAuditor(a *App) fhir.Auditor {
	return fhirAudit{log: a.Audit, base: a.Config.BaseURL.String() + "/fhir"}
}
