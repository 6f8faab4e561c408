package audit

import (
	"cmp"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// RoleComplianceOfficer may search everything of its organisation.
const RoleComplianceOfficer = "compliance-officer"

// Viewer is who reads the audit log.
type Viewer struct {
	OrgID, Subject, Role string   // Role "compliance-officer" may search everything of OrgID
	Patients             []string // Patient/id refs a patient or caregiver may see entries about
}

// Viewers finds the Viewer of a request, or returns an errs.Unauthorized / errs.Forbidden.
type Viewers interface {
	AuditViewer(r *http.Request) (*Viewer, error)
}

// API serves the audit log over HTTP. Every read of the log is itself
// recorded before the answer leaves (fail closed).
type API struct {
	Log     *Log
	Viewers Viewers
	// BaseURL, if set, makes the fullUrl of search results
	// (BaseURL + "/AuditEvent/" + id).
	BaseURL string
}

// Register mounts the endpoints on mux:
//
//	GET /audit/AuditEvent              search (compliance officers)
//	GET /audit/checkpoint              the latest signed checkpoint
//	GET /audit/proof/inclusion         ?index=N or ?entry=ID, &size=N
//	GET /audit/proof/consistency       ?from=N&to=N
//	GET /audit/my-record               who looked at the viewer's patients' records
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /audit/AuditEvent", a.officer("search", Execute, a.search))
	mux.HandleFunc("GET /audit/checkpoint", a.officer("checkpoint", Read, a.checkpoint))
	mux.HandleFunc("GET /audit/proof/inclusion", a.officer("inclusion-proof", Read, a.inclusion))
	mux.HandleFunc("GET /audit/proof/consistency", a.officer("consistency-proof", Read, a.consistency))
	mux.HandleFunc("GET /audit/my-record", a.myRecord)
}

// answer computes a response for a viewer: the body, the patients the read
// concerns, or an error.
type answer func(r *http.Request, v *Viewer) (body any, patients []string, err error)

// officer wraps h for compliance officers: it finds the viewer, refuses
// others, and records the read (or the refused attempt) before answering.
func (a *API) officer(what string, action Action, h answer) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, err := a.Viewers.AuditViewer(r)
		if err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		if v.Role != RoleComplianceOfficer {
			err := errs.Forbiddenf("Only a compliance officer may read the audit log.")
			a.respond(w, r, v, what, action, nil, nil, err)
			return
		}
		body, patients, err := h(r, v)
		a.respond(w, r, v, what, action, patients, body, err)
	}
}

// respond records the read of the audit log by v, then writes body or err.
// If the read cannot be recorded the viewer gets an error, not the data.
func (a *API) respond(w http.ResponseWriter, r *http.Request, v *Viewer, what string, action Action, patients []string, body any, err error) {
	e := Entry{
		OrgID: v.OrgID, Type: TypeAuditLogUsed, Subtype: []Coding{Subtype(what)}, Action: action,
		Agent:    Agent{Subject: v.Subject, Role: v.Role, Address: httpx.RemoteHost(r)},
		Patients: patients, RequestID: httpx.RequestID(r.Context()),
	}
	if r.URL.RawQuery != "" {
		e.Entities = []Entity{{Query: r.URL.RawQuery}}
	}
	switch errs.CodeOf(err) {
	case "":
		e.Outcome = Success
	case errs.Invalid, errs.Forbidden, errs.NotFound:
		e.Outcome, e.OutcomeDesc = MinorFailure, errs.MessageOf(err)
	default:
		e.Outcome, e.OutcomeDesc = SeriousFailure, errs.MessageOf(err)
	}
	if rerr := a.Log.Record(r.Context(), e); rerr != nil {
		if err == nil {
			err = errs.Wrap(rerr, errs.Unavailable, "The audit log cannot record this read just now; try again.")
		}
	}
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if err := httpx.WriteJSON(w, http.StatusOK, body); err != nil {
		httpx.WriteError(w, r, err)
	}
}

func (a *API) search(r *http.Request, v *Viewer) (any, []string, error) {
	q, err := ParseQuery(v.OrgID, r.URL.Query())
	if err != nil {
		return nil, nil, err
	}
	var patients []string
	if q.Patient != "" {
		patients = []string{q.Patient}
	}
	found, err := a.Log.Search(r.Context(), q)
	if err != nil {
		return nil, patients, err
	}
	return searchBundle(a.BaseURL, found), patients, nil
}

// checkpointBody is the JSON of a checkpoint.
type checkpointBody struct {
	Origin      string `json:"origin"`
	Size        uint64 `json:"size"`
	Root        string `json:"root"`
	Issued      string `json:"issued"`
	Note        string `json:"note"`
	VerifierKey string `json:"verifierKey,omitempty"`
}

func (a *API) checkpointJSON(cp *Checkpoint) *checkpointBody {
	return &checkpointBody{Origin: a.Log.Origin(), Size: cp.Size, Root: base64.StdEncoding.EncodeToString(cp.Root),
		Issued: cp.Issued.Format(recordedLayout), Note: string(cp.Note), VerifierKey: a.Log.VerifierKey()}
}

func (a *API) checkpoint(r *http.Request, _ *Viewer) (any, []string, error) {
	cp, err := a.Log.LatestCheckpoint(r.Context())
	if err != nil {
		return nil, nil, err
	}
	return a.checkpointJSON(cp), nil, nil
}

type inclusionBody struct {
	Index    uint64   `json:"index"`
	Size     uint64   `json:"size"`
	LeafHash string   `json:"leafHash"`
	Hashes   []string `json:"hashes"`
}

func (a *API) inclusion(r *http.Request, _ *Viewer) (any, []string, error) {
	q := r.URL.Query()
	if err := only(q, "index", "entry", "size"); err != nil {
		return nil, nil, err
	}
	size, err := a.sizeParam(r.Context(), q, "size")
	if err != nil {
		return nil, nil, err
	}
	var index uint64
	switch {
	case q.Get("entry") != "" && q.Get("index") == "":
		if index, err = a.Log.LeafIndex(r.Context(), q.Get("entry")); err != nil {
			return nil, nil, err
		}
	case q.Get("entry") == "" && q.Get("index") != "":
		if index, err = uintParam(q, "index"); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, errs.Invalidf("index", "Give either index or entry.")
	}
	leaf, hashes, err := a.Log.InclusionProof(r.Context(), index, size)
	if err != nil {
		return nil, nil, err
	}
	return &inclusionBody{Index: index, Size: size, LeafHash: b64(leaf), Hashes: b64s(hashes)}, nil, nil
}

type consistencyBody struct {
	From   uint64   `json:"from"`
	To     uint64   `json:"to"`
	Hashes []string `json:"hashes"`
}

func (a *API) consistency(r *http.Request, _ *Viewer) (any, []string, error) {
	q := r.URL.Query()
	if err := only(q, "from", "to"); err != nil {
		return nil, nil, err
	}
	from, err := uintParam(q, "from")
	if err != nil {
		return nil, nil, err
	}
	to, err := a.sizeParam(r.Context(), q, "to")
	if err != nil {
		return nil, nil, err
	}
	hashes, err := a.Log.ConsistencyProof(r.Context(), from, to)
	if err != nil {
		return nil, nil, err
	}
	return &consistencyBody{From: from, To: to, Hashes: b64s(hashes)}, nil, nil
}

// sizeParam reads a tree size, defaulting to the latest checkpoint's.
func (a *API) sizeParam(ctx context.Context, q url.Values, name string) (uint64, error) {
	if q.Get(name) != "" {
		return uintParam(q, name)
	}
	cp, err := a.Log.LatestCheckpoint(ctx)
	if err != nil {
		return 0, err
	}
	return cp.Size, nil
}

func only(q url.Values, names ...string) error {
	for k, v := range q {
		if !slices.Contains(names, k) {
			return errs.Invalidf(k, "Unknown parameter %q.", k)
		}
		if len(v) > 1 {
			return errs.Invalidf(k, "Give %s once.", k)
		}
	}
	return nil
}

func uintParam(q url.Values, name string) (uint64, error) {
	n, err := strconv.ParseUint(q.Get(name), 10, 63)
	if err != nil {
		return 0, errs.Invalidf(name, "%s must be a whole number.", name)
	}
	return n, nil
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func b64s(bs [][]byte) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b64(b)
	}
	return out
}

// Access is one line of "who looked at my record".
type Access struct {
	When    string   `json:"when"`
	Who     string   `json:"who"`
	Name    string   `json:"name,omitempty"`
	Role    string   `json:"role,omitempty"`
	Purpose string   `json:"purpose,omitempty"`
	Action  string   `json:"action"`
	Patient []string `json:"patient"`
	What    []string `json:"what,omitempty"`
}

// myRecordLimit bounds the accesses listed per patient.
const myRecordLimit = 200

func (a *API) myRecord(w http.ResponseWriter, r *http.Request) {
	v, err := a.Viewers.AuditViewer(r)
	if err != nil {
		httpx.WriteError(w, r, err)
		return
	}
	if len(r.URL.Query()) > 0 {
		a.respond(w, r, v, "my-record", Read, v.Patients, nil, errs.Invalidf("", "my-record takes no parameters."))
		return
	}
	seen := map[uint64]bool{}
	var found []Found
	for _, p := range v.Patients {
		fs, err := a.Log.Search(r.Context(), Query{OrgID: v.OrgID, Patient: p, Limit: myRecordLimit})
		if err != nil {
			a.respond(w, r, v, "my-record", Read, v.Patients, nil, err)
			return
		}
		for _, f := range fs {
			// The viewer's own looks at this list are not news to them.
			if f.Entry.Type == TypeAuditLogUsed && f.Entry.Agent.Subject == v.Subject {
				continue
			}
			if !seen[f.Index] {
				seen[f.Index] = true
				found = append(found, f)
			}
		}
	}
	slices.SortFunc(found, func(x, y Found) int { return cmp.Compare(y.Index, x.Index) })
	out := struct {
		Accesses []Access `json:"accesses"`
	}{Accesses: []Access{}}
	for _, f := range found {
		e := f.Entry
		acc := Access{When: e.Recorded.Format(recordedLayout), Who: e.Agent.Subject, Name: e.Agent.Name, Role: e.Agent.Role,
			Purpose: e.Agent.PurposeOfUse, Action: actionWord(e), Patient: e.Patients}
		for _, en := range e.Entities {
			if en.What != "" {
				acc.What = append(acc.What, en.What)
			}
		}
		out.Accesses = append(out.Accesses, acc)
	}
	a.respond(w, r, v, "my-record", Read, v.Patients, out, nil)
}

// actionWord says in a word what an entry's agent did.
func actionWord(e *Entry) string {
	if e.Type == TypeAuditLogUsed {
		return "read the audit log"
	}
	switch e.Action {
	case Create:
		return "created"
	case Read:
		return "viewed"
	case Update:
		return "changed"
	case Delete:
		return "deleted"
	}
	return "searched"
}
