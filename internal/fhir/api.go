package fhir

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// Principal is who calls the API, as established by Access.Authenticate.
type Principal struct {
	OrgID   string // the organisation whose data the caller reaches
	Subject string // who: an account or a machine client
	Kind    string // "api-key", "client", "user", ...
	// Scopes are the SMART scopes granted to a machine client ("client"),
	// in canonical v2 form (system/Observation.rs); nil for callers whose
	// access scopes do not limit. Shared: do not modify.
	Scopes []string
	// Role is a signed-in person's role in the organisation ("patient",
	// "clinician", ...); empty for systems.
	Role string
	// Compartments, when not nil, limits the caller's searches: for a type
	// in the Patient compartment it returns the Patient ids whose resources
	// of that type the caller may reach, and limited true; searches then
	// match only resources in those compartments (none when the list is
	// empty), so that pages and totals count only what the caller may see.
	// Access.Visible still decides each resource.
	Compartments func(resourceType string) (patients []string, limited bool)
	// Grant is the policy's own record of what the caller may reach, built
	// by Authenticate; the API passes it back through Principal untouched.
	Grant any
}

// Interaction names a FHIR interaction, for the policy.
type Interaction string

// The interactions of the API.
const (
	InteractionRead         Interaction = "read"
	InteractionVRead        Interaction = "vread"
	InteractionUpdate       Interaction = "update"
	InteractionPatch        Interaction = "patch"
	InteractionDelete       Interaction = "delete"
	InteractionCreate       Interaction = "create"
	InteractionSearch       Interaction = "search-type"
	InteractionHistory      Interaction = "history"
	InteractionCapabilities Interaction = "capabilities"
	InteractionOperation    Interaction = "operation"
	// InteractionTransaction is a transaction Bundle as a whole, for the
	// audit log; the policy decides each of its entries.
	InteractionTransaction Interaction = "transaction"
)

// Access is the one policy point in front of the API: every request is
// authenticated, every interaction allowed or refused before any data is
// touched, and every resource that leaves in a search, history or bundle
// passes Visible.
type Access interface {
	// Authenticate returns the caller, or an errs.Unauthorized.
	Authenticate(r *http.Request) (*Principal, error)
	// Allow returns nil when p may perform in on resources of the type
	// ("" for system-level interactions), else an errs.Forbidden.
	Allow(ctx context.Context, p *Principal, in Interaction, resourceType string) error
	// Visible reports whether p may see the stored resource.
	Visible(ctx context.Context, p *Principal, st *Stored) bool
}

// Validator checks a resource's JSON against the FHIR structure
// definitions; issues of severity error reject the resource.
type Validator func(resourceType string, raw []byte) []Issue

// TypeChecker reports whether a name is an R4 resource type.
type TypeChecker func(name string) bool

// APIConfig is what the API is built from.
type APIConfig struct {
	DB       *db.DB
	Store    *Store
	Search   *Searcher
	Access   Access
	Validate Validator
	IsType   TypeChecker
	// Audit, if not nil, records every interaction with health data.
	Audit Auditor
	Log   *slog.Logger
	// BaseURL is the public URL of /fhir, for Location headers and links.
	BaseURL string
	// Capabilities is served at /fhir/metadata.
	Capabilities []byte
}

// API serves the FHIR R4 REST API.
type API struct {
	db       *db.DB
	store    *Store
	search   *Searcher
	access   Access
	validate Validator
	isType   TypeChecker
	audit    Auditor
	log      *slog.Logger
	base     string
	caps     []byte
}

// NewAPI returns the API.
func NewAPI(c APIConfig) *API {
	log := c.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{db: c.DB, store: c.Store, search: c.Search, access: c.Access, validate: c.Validate, isType: c.IsType, audit: c.Audit,
		log: log, base: strings.TrimSuffix(c.BaseURL, "/"), caps: c.Capabilities}
}

// Register adds the API's routes under /fhir to mux.
func (a *API) Register(mux *http.ServeMux) {
	h := func(pattern string, fn func(w http.ResponseWriter, r *http.Request, p *Principal) error) {
		mux.HandleFunc(pattern, a.wrap(fn))
	}
	mux.HandleFunc("GET /fhir/metadata", a.metadata)
	h("POST /fhir", a.bundle)
	h("POST /fhir/{$}", a.bundle)
	h("GET /fhir/_history", a.history)
	h("GET /fhir/{type}", a.searchType)
	h("POST /fhir/{type}/_search", a.searchType)
	h("POST /fhir/{type}", a.create)
	h("PUT /fhir/{type}", a.conditionalUpdate)
	// GET /fhir/{type}/_history is served by read: a pattern of its own
	// would collide with /fhir/$export-status/{id}.
	h("GET /fhir/{type}/{id}", a.read)
	h("PUT /fhir/{type}/{id}", a.update)
	h("PATCH /fhir/{type}/{id}", a.patch)
	h("DELETE /fhir/{type}/{id}", a.delete)
	h("GET /fhir/{type}/{id}/_history", a.history)
	h("GET /fhir/{type}/{id}/_history/{vid}", a.vread)
	h("GET /fhir/Patient/{id}/$everything", a.everything)
	h("GET /fhir/$export", a.exportKickoff)
	h("GET /fhir/Patient/$export", a.exportKickoff)
	h("GET /fhir/Patient/{id}/$export", a.exportKickoff)
	h("GET /fhir/$export-status/{id}", a.exportStatus)
	h("DELETE /fhir/$export-status/{id}", a.exportDelete)
	h("GET /fhir/$export-file/{file}", a.exportFile)
}

// wrap negotiates the format, authenticates the caller and answers errors
// as OperationOutcomes.
func (a *API) wrap(fn func(w http.ResponseWriter, r *http.Request, p *Principal) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := negotiate(r); err != nil {
			a.writeError(w, r, err)
			return
		}
		p, err := a.access.Authenticate(r)
		if err != nil {
			if errs.CodeOf(err) == errs.Unauthorized {
				// RFC 9110 and RFC 6750: a 401 names the scheme to use.
				challenge := `Bearer realm="careloop"`
				if r.Header.Get("Authorization") != "" {
					challenge += `, error="invalid_token"`
				}
				w.Header().Set("WWW-Authenticate", challenge)
			}
			a.writeError(w, r, err)
			return
		}
		if t := r.PathValue("type"); t != "" && !a.isType(t) {
			a.writeError(w, r, errs.NotFoundf("%q is not a FHIR R4 resource type", t))
			return
		}
		if err := fn(w, r, p); err != nil {
			if errs.CodeOf(err) == errs.Forbidden {
				a.recordRefused(r.Context(), p, AuditEvent{Interaction: interactionOfRequest(r), Type: r.PathValue("type"), Refs: refOfRequest(r)})
			}
			a.writeError(w, r, err)
		}
	}
}

// negotiate refuses representations the API does not speak: XML (406) and
// request bodies that are not FHIR JSON (415).
func negotiate(r *http.Request) error {
	if f := r.URL.Query().Get("_format"); f != "" {
		switch f {
		case "json", "application/json", "application/fhir+json":
		default:
			return errs.E(errs.NotAcceptable, fmt.Sprintf("_format %q is not supported: this server speaks FHIR JSON only (application/fhir+json)", f))
		}
	}
	if acc := r.Header.Get("Accept"); acc != "" && !acceptsJSON(acc) {
		return errs.E(errs.NotAcceptable, fmt.Sprintf("Accept %q is not supported: this server speaks FHIR JSON only (application/fhir+json)", acc))
	}
	if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		ct := r.Header.Get("Content-Type")
		mt, _, _ := mime.ParseMediaType(ct)
		ok := mt == "application/fhir+json" || mt == "application/json"
		if r.Method == http.MethodPatch {
			ok = mt == "application/json-patch+json"
		}
		if strings.HasSuffix(r.URL.Path, "/_search") {
			ok = mt == "application/x-www-form-urlencoded" || ct == ""
		}
		if !ok {
			want := "application/fhir+json"
			if r.Method == http.MethodPatch {
				want = "application/json-patch+json"
			}
			return errs.E(errs.Unsupported, fmt.Sprintf("Content-Type %q is not supported here; send %s", ct, want))
		}
	}
	return nil
}

func acceptsJSON(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		switch mt {
		case "application/fhir+json", "application/json", "*/*", "application/*", "":
			return true
		}
	}
	return false
}

// body reads the request body (already bounded by the HTTP platform).
func body(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, errs.Wrap(err, errs.TooLarge, fmt.Sprintf("the request body is larger than the limit of %d bytes", mbe.Limit))
		}
		return nil, errs.Wrap(err, errs.Invalid, "the request body could not be read")
	}
	if len(b) == 0 {
		return nil, errs.Invalidf("", "the request body is empty; send a FHIR resource as JSON")
	}
	return b, nil
}

// checkResource validates raw as a resource of typ: JSON, type, id (when
// wantID is not empty, it must match) and the structure definitions.
func (a *API) checkResource(typ, wantID string, raw []byte, lenient bool) error {
	t, id, err := head(raw)
	if err != nil {
		return &OutcomeError{Code: errs.Invalid, Issues: []Issue{{Severity: "error", Code: "structure", Message: errs.MessageOf(err)}}}
	}
	return a.checkHeaded(typ, wantID, t, id, raw, lenient)
}

// checkHeaded is checkResource for a resource whose resourceType t and id
// have been read already.
func (a *API) checkHeaded(typ, wantID, t, id string, raw []byte, lenient bool) error {
	if t != typ {
		return &OutcomeError{Code: errs.Invalid, Issues: []Issue{{Severity: "error", Code: "invalid", Expression: "resourceType",
			Message: fmt.Sprintf("the body is a %q but the URL says %s", t, typ)}}}
	}
	if wantID != "" && id != wantID {
		return &OutcomeError{Code: errs.Invalid, Issues: []Issue{{Severity: "error", Code: "invalid", Expression: typ + ".id",
			Message: fmt.Sprintf("the body's id %q does not match the URL's %q", id, wantID)}}}
	}
	if a.validate == nil {
		return nil
	}
	var errors []Issue
	for _, is := range a.validate(typ, raw) {
		if is.Severity == "error" || is.Severity == "fatal" {
			if lenient && is.Code != "structure" {
				continue
			}
			errors = append(errors, is)
		}
	}
	if len(errors) > 0 {
		code := errs.Unprocessable
		for _, is := range errors {
			if is.Code == "structure" {
				code = errs.Invalid
			}
		}
		return &OutcomeError{Code: code, Issues: errors}
	}
	return nil
}

// lenient reports whether the client asked for lenient handling.
func lenient(r *http.Request) bool {
	return preference(r, "handling") == "lenient"
}

// preference returns the value of a Prefer header token.
func preference(r *http.Request, name string) string {
	for _, h := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(h, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			if strings.EqualFold(k, name) {
				return strings.Trim(v, `"`)
			}
		}
	}
	return ""
}

// writeStored answers with a stored resource and its version headers.
func (a *API) writeStored(w http.ResponseWriter, r *http.Request, status int, st *Stored) {
	h := w.Header()
	h.Set("ETag", fmt.Sprintf(`W/"%d"`, st.VersionID))
	h.Set("Last-Modified", st.LastUpdated.UTC().Format(http.TimeFormat))
	if status == http.StatusCreated || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		h.Set("Location", fmt.Sprintf("%s/%s/%s/_history/%d", a.base, st.Type, st.ID, st.VersionID))
	}
	switch preference(r, "return") {
	case "minimal":
		w.WriteHeader(status)
	case "OperationOutcome":
		writeResource(w, status, outcome([]Issue{{Severity: "information", Code: "informational",
			Message: fmt.Sprintf("%s/%s version %d stored", st.Type, st.ID, st.VersionID)}}))
	default:
		writeResource(w, status, st.JSON)
	}
}

// ifMatch reads an If-Match header: W/"3" or "3".
func ifMatch(r *http.Request) (int64, error) {
	return parseETag(r.Header.Get("If-Match"), "If-Match")
}

// parseETag reads a version from an ETag such as W/"3" (0 when v is
// empty); field names the header or element it came from, for the error.
func parseETag(v, field string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(etagVersion(v), 10, 64)
	if err != nil || n < 1 {
		return 0, errs.Invalidf(field, "%s %q is not a version such as W/\"3\"", field, v)
	}
	return n, nil
}

// etagVersion strips the weak marker and quotes of an ETag.
func etagVersion(v string) string {
	return strings.Trim(strings.TrimPrefix(strings.TrimSpace(v), "W/"), `"`)
}

func (a *API) metadata(w http.ResponseWriter, r *http.Request) {
	if err := negotiate(r); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeResource(w, http.StatusOK, a.caps)
}

func (a *API) read(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if id == "_history" {
		return a.historyOf(w, r, p, typ, "")
	}
	if err := a.access.Allow(r.Context(), p, InteractionRead, typ); err != nil {
		return err
	}
	st, err := a.store.Read(r.Context(), p.OrgID, typ, id)
	if err != nil {
		return err
	}
	if !a.access.Visible(r.Context(), p, st) {
		a.recordRefused(r.Context(), p, AuditEvent{Interaction: InteractionRead, Type: typ, Resources: []*Stored{st}})
		return errs.NotFoundf("%s/%s is not known", typ, id)
	}
	if err := a.record(r.Context(), p, AuditEvent{Interaction: InteractionRead, Type: typ, Resources: []*Stored{st}}); err != nil {
		return err
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && etagVersion(inm) == strconv.FormatInt(st.VersionID, 10) {
		w.Header().Set("ETag", fmt.Sprintf(`W/"%d"`, st.VersionID))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	a.writeStored(w, r, http.StatusOK, st)
	return nil
}

func (a *API) vread(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ, id := r.PathValue("type"), r.PathValue("id")
	vid, err := strconv.ParseInt(r.PathValue("vid"), 10, 64)
	if err != nil || vid < 1 {
		return errs.Invalidf("", "%q is not a version id", r.PathValue("vid"))
	}
	if err := a.access.Allow(r.Context(), p, InteractionVRead, typ); err != nil {
		return err
	}
	st, err := a.store.VRead(r.Context(), p.OrgID, typ, id, vid)
	if err != nil {
		return err
	}
	if !a.access.Visible(r.Context(), p, st) {
		a.recordRefused(r.Context(), p, AuditEvent{Interaction: InteractionVRead, Type: typ, Resources: []*Stored{st}})
		return errs.NotFoundf("%s/%s is not known", typ, id)
	}
	if err := a.record(r.Context(), p, AuditEvent{Interaction: InteractionVRead, Type: typ, Resources: []*Stored{st}}); err != nil {
		return err
	}
	a.writeStored(w, r, http.StatusOK, st)
	return nil
}

func (a *API) create(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ := r.PathValue("type")
	if err := a.access.Allow(r.Context(), p, InteractionCreate, typ); err != nil {
		return err
	}
	raw, err := body(r)
	if err != nil {
		return err
	}
	if err := a.checkResource(typ, "", raw, lenient(r)); err != nil {
		return err
	}
	var st *Stored
	status := http.StatusCreated
	err = a.db.InTx(r.Context(), func(tx *sql.Tx) error {
		if cond := r.Header.Get("If-None-Exist"); cond != "" {
			matches, err := a.conditionalMatches(r.Context(), tx, p, typ, cond)
			if err != nil {
				return err
			}
			switch len(matches) {
			case 0:
			case 1:
				st, status = matches[0], http.StatusOK
				return nil
			default:
				return errs.E(errs.PreconditionFailed, fmt.Sprintf("If-None-Exist %q matches %d resources", cond, len(matches)))
			}
		}
		st, err = a.store.CreateTx(r.Context(), tx, p.OrgID, typ, "", raw)
		if err != nil {
			return err
		}
		if err := a.admit(r.Context(), p, st); err != nil {
			return err
		}
		return a.recordTx(r.Context(), tx, p, AuditEvent{Interaction: InteractionCreate, Type: typ, Resources: []*Stored{st}})
	})
	if err != nil {
		return err
	}
	a.store.wrote(r.Context(), 1)
	a.writeStored(w, r, status, st)
	return nil
}

func (a *API) update(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if !validID(id) {
		return errs.Invalidf("id", "%q is not a FHIR id (1 to 64 of A-Z a-z 0-9 - .)", id)
	}
	if err := a.access.Allow(r.Context(), p, InteractionUpdate, typ); err != nil {
		return err
	}
	match, err := ifMatch(r)
	if err != nil {
		return err
	}
	raw, err := body(r)
	if err != nil {
		return err
	}
	if err := a.checkResource(typ, id, raw, lenient(r)); err != nil {
		return err
	}
	var st *Stored
	var created bool
	err = a.db.InTx(r.Context(), func(tx *sql.Tx) error {
		if err := a.checkVisibleTx(r.Context(), tx, p, typ, id); err != nil {
			return err
		}
		st, created, err = a.store.UpdateTx(r.Context(), tx, p.OrgID, typ, id, raw, match)
		if err != nil {
			return err
		}
		return a.admitAndRecord(r.Context(), tx, p, writeInteraction(created), st)
	})
	if err != nil {
		return err
	}
	a.writtenUpdate(w, r, st, created)
	return nil
}

// writtenUpdate answers a committed update: 201 when it created the
// resource, 200 otherwise.
func (a *API) writtenUpdate(w http.ResponseWriter, r *http.Request, st *Stored, created bool) {
	a.store.wrote(r.Context(), 1)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	a.writeStored(w, r, status, st)
}

// checkVisibleTx refuses writes to an existing resource the caller may not
// see, answering as if it did not exist.
func (a *API) checkVisibleTx(ctx context.Context, tx *sql.Tx, p *Principal, typ, id string) error {
	_, err := a.visibleTx(ctx, tx, p, typ, id)
	return err
}

// visibleTx returns the current version of a resource, nil when there is
// none (never created, or deleted), and an errs.NotFound when the caller
// may not see it.
func (a *API) visibleTx(ctx context.Context, tx *sql.Tx, p *Principal, typ, id string) (*Stored, error) {
	cur, err := a.store.ReadTx(ctx, tx, p.OrgID, typ, id)
	if err != nil {
		if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Gone {
			return nil, nil
		}
		return nil, err
	}
	if !a.access.Visible(ctx, p, cur) {
		return nil, errs.NotFoundf("%s/%s is not known", typ, id)
	}
	return cur, nil
}

func (a *API) conditionalUpdate(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ := r.PathValue("type")
	if r.URL.RawQuery == "" {
		return errs.E(errs.MethodNotAllowed, "PUT on a type needs search parameters (conditional update) or an id in the URL")
	}
	if err := a.access.Allow(r.Context(), p, InteractionUpdate, typ); err != nil {
		return err
	}
	raw, err := body(r)
	if err != nil {
		return err
	}
	if err := a.checkResource(typ, "", raw, lenient(r)); err != nil {
		return err
	}
	_, bodyID, _ := head(raw)
	var st *Stored
	var created bool
	err = a.db.InTx(r.Context(), func(tx *sql.Tx) error {
		st, created, err = a.conditionalPut(r.Context(), tx, p, typ, r.URL.RawQuery, raw, bodyID)
		if err != nil {
			return err
		}
		return a.admitAndRecord(r.Context(), tx, p, writeInteraction(created), st)
	})
	if err != nil {
		return err
	}
	a.writtenUpdate(w, r, st, created)
	return nil
}

// conditionalPut writes raw where a conditional update's search decides:
// a new resource when it matches none, the match when it matches one, and
// an errs.PreconditionFailed when it matches more.
func (a *API) conditionalPut(ctx context.Context, tx *sql.Tx, p *Principal, typ, query string, raw []byte, bodyID string) (*Stored, bool, error) {
	matches, err := a.conditionalMatches(ctx, tx, p, typ, query)
	if err != nil {
		return nil, false, err
	}
	switch len(matches) {
	case 0:
		if bodyID != "" {
			return a.store.UpdateTx(ctx, tx, p.OrgID, typ, bodyID, raw, 0)
		}
		st, err := a.store.CreateTx(ctx, tx, p.OrgID, typ, "", raw)
		return st, true, err
	case 1:
		if bodyID != "" && bodyID != matches[0].ID {
			return nil, false, errs.Invalidf("id", "the body's id %q differs from the matching resource %s", bodyID, matches[0].Ref())
		}
		return a.store.UpdateTx(ctx, tx, p.OrgID, typ, matches[0].ID, withID(raw, matches[0].ID), 0)
	default:
		return nil, false, errs.E(errs.PreconditionFailed, fmt.Sprintf("the conditional update matches %d resources", len(matches)))
	}
}

// admitAndRecord admits a write (see admit) and records it in the audit
// log, in its transaction.
func (a *API) admitAndRecord(ctx context.Context, tx *sql.Tx, p *Principal, in Interaction, st *Stored) error {
	if err := a.admit(ctx, p, st); err != nil {
		return err
	}
	return a.recordTx(ctx, tx, p, AuditEvent{Interaction: in, Type: st.Type, Resources: []*Stored{st}})
}

// writeInteraction is the interaction of a write that created the
// resource or updated it.
func writeInteraction(created bool) Interaction {
	if created {
		return InteractionCreate
	}
	return InteractionUpdate
}

// admit refuses a write whose result the caller could not see: a patient
// writing into another patient's record, a clinician into the record of a
// patient outside their care. It runs inside the write's transaction, so a
// refusal changes nothing.
func (a *API) admit(ctx context.Context, p *Principal, st *Stored) error {
	if st == nil || a.access.Visible(ctx, p, st) {
		return nil
	}
	return errs.Forbiddenf("%s may not write %s there: the result would be outside the records they may reach", p.Subject, st.Type)
}

// withID returns raw with its id set.
func withID(raw []byte, id string) []byte {
	out, err := setMember(raw, "id", strconv.Quote(id))
	if err != nil {
		return raw
	}
	return out
}

func (a *API) delete(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if err := a.access.Allow(r.Context(), p, InteractionDelete, typ); err != nil {
		return err
	}
	err := a.db.InTx(r.Context(), func(tx *sql.Tx) error {
		cur, err := a.visibleTx(r.Context(), tx, p, typ, id)
		if err != nil {
			return err
		}
		if _, err := a.store.DeleteTx(r.Context(), tx, p.OrgID, typ, id); err != nil {
			return err
		}
		if cur == nil {
			return nil // deleting what is not there changes nothing
		}
		// The entry names the version deleted, whose content says whose it was.
		return a.recordTx(r.Context(), tx, p, AuditEvent{Interaction: InteractionDelete, Type: typ, Resources: []*Stored{cur}})
	})
	if err != nil {
		return err
	}
	a.store.wrote(r.Context(), 1)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// conditionalMatches returns the resources of typ matching a condition
// (a query string) that the caller may see, at most two: enough to tell
// none, one and many apart.
func (a *API) conditionalMatches(ctx context.Context, tx *sql.Tx, p *Principal, typ, cond string) ([]*Stored, error) {
	found, err := a.search.Match(ctx, tx, p.OrgID, typ, strings.TrimPrefix(cond, "?"), 2)
	if err != nil {
		return nil, err
	}
	var out []*Stored
	for _, st := range found {
		if a.access.Visible(ctx, p, st) {
			out = append(out, st)
		}
	}
	return out, nil
}
