package fhir

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/jsonx"
)

// maxBundleEntries bounds one batch or transaction.
const maxBundleEntries = 10000

type bundleIn struct {
	ResourceType string    `json:"resourceType"`
	Type         string    `json:"type"`
	Entry        []entryIn `json:"entry"`
}

// decodeBundle reads what the server uses of a Bundle: its resourceType,
// type and, of each entry, fullUrl, resource (as received) and request. It
// reads the document once and checks that all of it is well-formed JSON;
// a member of the wrong JSON type is an error naming it.
func decodeBundle(raw []byte) (bundleIn, error) {
	var b bundleIn
	r := jsonx.NewReader(raw)
	// str reads a string member; the member's path is formatted only for
	// an error (entry < 0: a member of the Bundle itself).
	str := func(dst *string, entry int, path string) error {
		s, err := r.String()
		if err != nil {
			if entry >= 0 {
				path = fmt.Sprintf("Bundle.entry[%d].%s", entry, path)
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		*dst = s
		return nil
	}
	err := r.Object(func(key string) error {
		switch key {
		case "resourceType":
			return str(&b.ResourceType, -1, "resourceType")
		case "type":
			return str(&b.Type, -1, "type")
		case "entry":
			b.Entry = nil // a repeated member replaces the one before, as in encoding/json
			return r.Array(func(i int) error {
				b.Entry = append(b.Entry, entryIn{})
				e := &b.Entry[len(b.Entry)-1]
				return r.Object(func(key string) error {
					switch key {
					case "fullUrl":
						return str(&e.FullURL, i, "fullUrl")
					case "resource":
						if r.Peek() == 'n' {
							return r.Skip()
						}
						raw, err := r.Raw()
						e.Resource = raw
						return err
					case "request":
						if r.Peek() == 'n' {
							return r.Skip()
						}
						e.Request = &entryRequest{}
						rq := e.Request
						return r.Object(func(key string) error {
							switch key {
							case "method":
								return str(&rq.Method, i, "request.method")
							case "url":
								return str(&rq.URL, i, "request.url")
							case "ifNoneExist":
								return str(&rq.IfNoneExist, i, "request.ifNoneExist")
							case "ifMatch":
								return str(&rq.IfMatch, i, "request.ifMatch")
							}
							return r.Skip()
						})
					}
					return r.Skip()
				})
			})
		}
		return r.Skip()
	})
	if err == nil {
		err = r.End()
	}
	return b, err
}

type entryIn struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *entryRequest   `json:"request"`
}

// entryRequest is Bundle.entry.request.
type entryRequest struct {
	Method      string `json:"method"`
	URL         string `json:"url"`
	IfNoneExist string `json:"ifNoneExist"`
	IfMatch     string `json:"ifMatch"`
}

// entryResult is the outcome of one entry, for the response Bundle.
type entryResult struct {
	status   int
	stored   *Stored
	outcome  []byte
	location bool
}

func (a *API) bundle(w http.ResponseWriter, r *http.Request, p *Principal) error {
	raw, err := body(r)
	if err != nil {
		return err
	}
	b, err := decodeBundle(raw)
	if err != nil {
		return errs.Invalidf("", "the body is not a Bundle: %v", err)
	}
	if b.ResourceType != "Bundle" {
		return errs.Invalidf("resourceType", "POST /fhir takes a Bundle, not %q", b.ResourceType)
	}
	if len(b.Entry) > maxBundleEntries {
		return errs.E(errs.TooLarge, fmt.Sprintf("a Bundle may hold at most %d entries; this one holds %d", maxBundleEntries, len(b.Entry)))
	}
	for i, e := range b.Entry {
		if e.Request == nil || e.Request.Method == "" || e.Request.URL == "" {
			return errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request", i), "entry %d has no request method and url", i)
		}
	}
	var results []entryResult
	switch b.Type {
	case "transaction":
		results, err = a.transaction(r.Context(), p, b.Entry, lenient(r))
		if err != nil {
			return err
		}
	case "batch":
		results = a.batch(r.Context(), p, b.Entry, lenient(r))
	default:
		return errs.Invalidf("Bundle.type", "Bundle.type must be transaction or batch, not %q", b.Type)
	}
	a.store.wrote(r.Context(), len(results))
	minimal := preference(r, "return") == "minimal"
	out := newBundle(b.Type+"-response", -1, nil)
	for _, res := range results {
		resp := fmt.Sprintf(`"response":{"status":%q`, strconv.Itoa(res.status)+" "+http.StatusText(res.status))
		var resource []byte
		fullURL := ""
		if st := res.stored; st != nil {
			fullURL = a.base + "/" + st.Ref()
			resp += fmt.Sprintf(`,"etag":"W/\"%d\"","lastModified":%q`, st.VersionID, formatInstant(st.LastUpdated))
			if res.location {
				resp += fmt.Sprintf(`,"location":%q`, fmt.Sprintf("%s/_history/%d", st.Ref(), st.VersionID))
			}
			if !minimal && !st.Deleted {
				resource = st.JSON
			}
		}
		if res.outcome != nil {
			resp += `,"outcome":` + string(res.outcome)
		}
		out.entry(fullURL, resource, resp+"}")
	}
	writeResource(w, http.StatusOK, out.bytes())
	return nil
}

// entryOrder is the order in which a transaction processes methods.
var entryOrder = map[string]int{"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}

// transaction runs every entry in one database transaction: all succeed or
// nothing is stored. References to the fullUrl of another entry
// (urn:uuid:…) and conditional references (Type?search) are rewritten to
// the ids they resolve to.
//
// What needs no database (ids for new resources, reference rewriting,
// validation, search index entries) is worked out first, on every core and
// outside the transaction, so that the database's one writer spends its
// time on writing.
func (a *API) transaction(ctx context.Context, p *Principal, entries []entryIn, lenient bool) ([]entryResult, error) {
	plan, err := a.planTransaction(entries, lenient)
	if err != nil {
		return nil, err
	}
	var results []entryResult
	err = a.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		results, err = a.transactionTx(ctx, tx, p, plan)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// txPlan is a transaction's entries with what was worked out before its
// database transaction.
type txPlan struct {
	entries []entryIn
	lenient bool
	order   []int               // entries in processing order
	methods []string            // upper case
	urls    []requestURL        // each entry's request.url, split
	targets []string            // the id each POST or PUT writes; "" until known
	fresh   []bool              // targets[i] was made by NewID
	ids     map[string]string   // fullUrl -> Type/id, as far as known
	pending map[string]bool     // fullUrls known only once conditions are searched
	ready   []*preparedResource // nil: prepare inside the transaction
}

// requestURL is an entry's request.url split into its parts.
type requestURL struct{ typ, id, query string }

// preparedResource is an entry's resource made ready before the database
// transaction.
type preparedResource struct {
	raw   []byte // references rewritten, id set for PUT
	index prepared
	err   error // reported at the entry's turn, after its access check
}

// errNeedsDatabase marks a resource whose references can only be resolved
// inside the transaction.
var errNeedsDatabase = errors.New("fhir: references need the database")

// planTransaction checks the entries, orders them, gives new resources
// their ids and prepares every resource it can.
func (a *API) planTransaction(entries []entryIn, lenient bool) (*txPlan, error) {
	n := len(entries)
	pl := &txPlan{entries: entries, lenient: lenient, order: make([]int, n), methods: make([]string, n), urls: make([]requestURL, n),
		targets: make([]string, n), fresh: make([]bool, n), ids: map[string]string{}, pending: map[string]bool{}, ready: make([]*preparedResource, n)}
	for i, e := range entries {
		pl.order[i] = i
		pl.methods[i] = strings.ToUpper(e.Request.Method)
		u := &pl.urls[i]
		u.typ, u.id, u.query = splitRequestURL(e.Request.URL)
		if _, ok := entryOrder[pl.methods[i]]; !ok {
			return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.method", i), "method %q is not supported in a transaction", e.Request.Method)
		}
	}
	sort.SliceStable(pl.order, func(x, y int) bool { return entryOrder[pl.methods[pl.order[x]]] < entryOrder[pl.methods[pl.order[y]]] })
	for i, e := range entries {
		typ, id, query := pl.urls[i].typ, pl.urls[i].id, pl.urls[i].query
		if !a.isType(typ) {
			return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.url", i), "%q does not name a FHIR resource type", e.Request.URL)
		}
		switch {
		case pl.methods[i] == "POST" && e.Request.IfNoneExist == "":
			pl.targets[i], pl.fresh[i] = NewID(), true
		case pl.methods[i] == "PUT" && id != "":
			pl.targets[i] = id
		case pl.methods[i] == "PUT" && query == "":
			return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.url", i), "PUT needs Type/id or Type?search, not %q", e.Request.URL)
		}
		if e.FullURL == "" || (pl.methods[i] != "POST" && pl.methods[i] != "PUT") {
			continue
		}
		if pl.targets[i] != "" {
			pl.ids[e.FullURL] = typ + "/" + pl.targets[i]
		} else {
			pl.pending[e.FullURL] = true
		}
	}
	var todo []int
	for i := range entries {
		if pl.targets[i] != "" {
			todo = append(todo, i)
		}
	}
	parallel(len(todo), func(k int) {
		i := todo[k]
		typ := pl.urls[i].typ
		pr := a.prepareResource(context.Background(), nil, nil, pl, i, typ)
		if !errors.Is(pr.err, errNeedsDatabase) {
			pl.ready[i] = pr
		}
	})
	return pl, nil
}

// prepareResource rewrites, validates and indexes the resource of entry i.
// Without tx, references that need a search answer errNeedsDatabase.
func (a *API) prepareResource(ctx context.Context, tx *sql.Tx, p *Principal, pl *txPlan, i int, typ string) *preparedResource {
	raw, doc, err := a.resolveReferences(ctx, tx, p, pl, i)
	if err != nil {
		return &preparedResource{err: err}
	}
	if pl.methods[i] == "PUT" {
		raw = withID(raw, pl.targets[i])
	}
	t, ok := doc["resourceType"].(string)
	if !ok && doc["resourceType"] != nil {
		return &preparedResource{err: withEntry(errs.Invalidf("resourceType", "resourceType must be a string"), i)}
	}
	if err := a.checkHeaded(typ, "", t, "", raw, pl.lenient); err != nil {
		return &preparedResource{err: withEntry(err, i)}
	}
	pr := &preparedResource{raw: raw}
	sp, err := prepareStamp(raw, pl.targets[i])
	if err != nil {
		return &preparedResource{err: withEntry(err, i)}
	}
	pr.index.stamp, pr.index.stampID = sp, pl.targets[i]
	if ix := a.store.indexer; ix != nil {
		// The index does not read id or meta.versionId and lastUpdated, the
		// parts stamped at write time, so it can be computed now, from the
		// resource as decoded for its references.
		var entries []IndexEntry
		if di, ok := ix.(docIndexer); ok {
			entries, err = di.IndexDoc(typ, doc)
		} else {
			entries, err = ix.Index(typ, raw)
		}
		if err != nil {
			return &preparedResource{err: withEntry(err, i)}
		}
		pr.index.entries, pr.index.done = entries, true
	}
	return pr
}

// docIndexer is an Indexer that also indexes decoded resources, saving a
// decoding; *SpecIndexer is one.
type docIndexer interface {
	IndexDoc(typ string, doc map[string]any) ([]IndexEntry, error)
}

// parallel calls fn(0) … fn(n-1) on as many goroutines as there are CPUs.
func parallel(n int, fn func(i int)) {
	workers := min(n, runtime.GOMAXPROCS(0))
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Go(func() {
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				fn(i)
			}
		})
	}
	wg.Wait()
}

// transactionTx carries out a planned transaction inside tx.
func (a *API) transactionTx(ctx context.Context, tx *sql.Tx, p *Principal, pl *txPlan) ([]entryResult, error) {
	entries := pl.entries
	results := make([]entryResult, len(entries))
	existing := make([]bool, len(entries))
	w := a.store.writer(p.OrgID)
	var audited []AuditEvent
	// First the conditional creates and updates: the searches that decide
	// their ids, before anything is written.
	for _, i := range pl.order {
		e := entries[i]
		typ, query := pl.urls[i].typ, pl.urls[i].query
		switch {
		case pl.methods[i] == "POST" && e.Request.IfNoneExist != "":
			matches, err := a.conditionalMatches(ctx, tx, p, typ, e.Request.IfNoneExist)
			if err != nil {
				return nil, withEntry(err, i)
			}
			if len(matches) > 1 {
				return nil, errs.E(errs.PreconditionFailed, fmt.Sprintf("entry %d: ifNoneExist %q matches %d resources", i, e.Request.IfNoneExist, len(matches)))
			}
			if len(matches) == 1 {
				existing[i] = true
				pl.targets[i] = matches[0].ID
				results[i] = entryResult{status: http.StatusOK, stored: matches[0]}
			} else {
				pl.targets[i], pl.fresh[i] = NewID(), true
			}
		case pl.methods[i] == "PUT" && pl.targets[i] == "":
			matches, err := a.conditionalMatches(ctx, tx, p, typ, query)
			if err != nil {
				return nil, withEntry(err, i)
			}
			switch len(matches) {
			case 0:
				pl.targets[i], pl.fresh[i] = NewID(), true
			case 1:
				pl.targets[i] = matches[0].ID
			default:
				return nil, errs.E(errs.PreconditionFailed, fmt.Sprintf("entry %d: the conditional update matches %d resources", i, len(matches)))
			}
		default:
			continue
		}
		if e.FullURL != "" {
			pl.ids[e.FullURL] = typ + "/" + pl.targets[i]
		}
	}
	// A transaction may change each resource once.
	touched := map[string]int{}
	for _, i := range pl.order {
		typ, id := pl.urls[i].typ, pl.urls[i].id
		if pl.methods[i] == "POST" || pl.methods[i] == "PUT" {
			id = pl.targets[i]
		}
		if id == "" || existing[i] || pl.methods[i] == "GET" || pl.methods[i] == "HEAD" {
			continue
		}
		key := typ + "/" + id
		if j, ok := touched[key]; ok {
			return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request", i), "entries %d and %d both change %s; a transaction may change a resource once", j, i, key)
		}
		touched[key] = i
	}
	for _, i := range pl.order {
		e := entries[i]
		method := pl.methods[i]
		typ, id, query := pl.urls[i].typ, pl.urls[i].id, pl.urls[i].query
		if err := a.access.Allow(ctx, p, interactionOf(method, id), typ); err != nil {
			return nil, withEntry(err, i)
		}
		if existing[i] {
			continue
		}
		switch method {
		case "DELETE":
			if id == "" {
				if err := w.flush(ctx, tx); err != nil {
					return nil, err
				}
				matches, err := a.conditionalMatches(ctx, tx, p, typ, query)
				if err != nil {
					return nil, withEntry(err, i)
				}
				for _, m := range matches {
					if _, err := w.delete(ctx, tx, typ, m.ID, i); err != nil {
						return nil, withEntry(err, i)
					}
					audited = append(audited, AuditEvent{Interaction: InteractionDelete, Type: typ, Resources: []*Stored{m}})
				}
				results[i] = entryResult{status: http.StatusNoContent}
				continue
			}
			cur, err := a.visibleTx(ctx, tx, p, typ, id)
			if err != nil {
				return nil, withEntry(err, i)
			}
			st, err := w.delete(ctx, tx, typ, id, i)
			if err != nil {
				return nil, withEntry(err, i)
			}
			if cur != nil {
				audited = append(audited, AuditEvent{Interaction: InteractionDelete, Type: typ, Resources: []*Stored{cur}})
			}
			results[i] = entryResult{status: http.StatusNoContent, stored: st}
		case "POST", "PUT":
			pr := pl.ready[i]
			if pr == nil {
				if err := w.flush(ctx, tx); err != nil {
					return nil, err
				}
				pr = a.prepareResource(ctx, tx, p, pl, i, typ)
			}
			if pr.err != nil {
				return nil, pr.err
			}
			if method == "POST" {
				st, err := w.create(ctx, tx, typ, pl.targets[i], pl.fresh[i], pr.raw, &pr.index, i)
				if err == nil {
					err = a.admit(ctx, p, st)
				}
				if err != nil {
					return nil, withEntry(err, i)
				}
				audited = append(audited, AuditEvent{Interaction: InteractionCreate, Type: typ, Resources: []*Stored{st}})
				results[i] = entryResult{status: http.StatusCreated, stored: st, location: true}
				continue
			}
			if err := a.checkVisibleTx(ctx, tx, p, typ, pl.targets[i]); err != nil {
				return nil, withEntry(err, i)
			}
			match, err := parseETag(e.Request.IfMatch, "ifMatch")
			if err != nil {
				return nil, withEntry(err, i)
			}
			st, created, err := w.update(ctx, tx, typ, pl.targets[i], pr.raw, match, &pr.index, i)
			if err == nil {
				err = a.admit(ctx, p, st)
			}
			if err != nil {
				return nil, withEntry(err, i)
			}
			audited = append(audited, AuditEvent{Interaction: writeInteraction(created), Type: typ, Resources: []*Stored{st}})
			status := http.StatusOK
			if created {
				status = http.StatusCreated
			}
			results[i] = entryResult{status: status, stored: st, location: true}
		case "GET", "HEAD":
			if id == "" {
				return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.url", i), "searches inside a transaction are not supported; use a batch")
			}
			if err := w.flush(ctx, tx); err != nil {
				return nil, err
			}
			st, err := a.store.ReadTx(ctx, tx, p.OrgID, typ, id)
			if err == nil && !a.access.Visible(ctx, p, st) {
				err = errs.NotFoundf("%s/%s is not known", typ, id)
			}
			if err != nil {
				return nil, withEntry(err, i)
			}
			audited = append(audited, AuditEvent{Interaction: InteractionRead, Type: typ, Resources: []*Stored{st}})
			results[i] = entryResult{status: http.StatusOK, stored: st}
		case "PATCH":
			return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.method", i), "PATCH inside a Bundle is not supported; use PATCH on the resource")
		}
	}
	// One announcement for the whole transaction.
	if err := w.finish(ctx, tx); err != nil {
		return nil, err
	}
	// One audit entry for the transaction, naming every resource it read
	// or changed, committed with the writes.
	if len(audited) == 1 {
		if err := a.recordTx(ctx, tx, p, audited[0]); err != nil {
			return nil, err
		}
	} else if len(audited) > 1 {
		ev := AuditEvent{Interaction: InteractionTransaction}
		for _, e := range audited {
			ev.Resources = append(ev.Resources, e.Resources...)
		}
		if err := a.recordTx(ctx, tx, p, ev); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// batch runs every entry on its own; one entry's failure is reported in its
// response and does not stop the others.
func (a *API) batch(ctx context.Context, p *Principal, entries []entryIn, lenient bool) []entryResult {
	results := make([]entryResult, len(entries))
	for i, e := range entries {
		res, err := a.transaction(ctx, p, []entryIn{e}, lenient)
		if err != nil {
			var oe *OutcomeError
			issues := []Issue{{Severity: "error", Code: issueType(errs.CodeOf(err)), Message: errs.MessageOf(err), Expression: errs.FieldOf(err)}}
			code := errs.CodeOf(err)
			if errors.As(err, &oe) {
				issues, code = oe.Issues, oe.Code
			}
			results[i] = entryResult{status: errs.HTTPStatus(code), outcome: outcome(issues)}
			continue
		}
		results[i] = res[0]
	}
	return results
}

// withEntry prefixes the error's locations with the bundle entry.
func withEntry(err error, i int) error {
	prefix := fmt.Sprintf("Bundle.entry[%d].resource", i)
	var oe *OutcomeError
	if errors.As(err, &oe) {
		out := &OutcomeError{Code: oe.Code}
		for _, is := range oe.Issues {
			is.Message = fmt.Sprintf("entry %d: %s", i, is.Message)
			if is.Expression != "" {
				is.Expression = prefix + "." + is.Expression
			}
			out.Issues = append(out.Issues, is)
		}
		return out
	}
	if e := errs.Safe(err); e.Code != errs.Internal {
		field := prefix
		if e.Field != "" {
			field += "." + e.Field
		}
		return &errs.Error{Code: e.Code, Message: fmt.Sprintf("entry %d: %s", i, e.Message), Field: field, Err: err}
	}
	return err
}

func interactionOf(method, id string) Interaction {
	switch method {
	case "DELETE":
		return InteractionDelete
	case "POST":
		return InteractionCreate
	case "PUT":
		return InteractionUpdate
	default:
		if id == "" {
			return InteractionSearch
		}
		return InteractionRead
	}
}

// splitRequestURL splits an entry's request url: "Patient", "Patient/1",
// "Patient?identifier=x", or an absolute URL ending in those.
func splitRequestURL(u string) (typ, id, query string) {
	if i := strings.Index(u, "?"); i >= 0 {
		u, query = u[:i], u[i+1:]
	}
	if strings.Contains(u, "://") {
		if pu, err := url.Parse(u); err == nil {
			u = pu.Path
		}
		parts := strings.Split(strings.Trim(u, "/"), "/")
		if n := len(parts); n >= 2 && !strings.HasPrefix(parts[n-1], "_") {
			if typePattern.MatchString(parts[n-2]) {
				return parts[n-2], parts[n-1], query
			}
		}
		if n := len(parts); n >= 1 {
			return parts[n-1], "", query
		}
	}
	typ, id, _ = strings.Cut(strings.Trim(u, "/"), "/")
	return typ, id, query
}

// resolveReferences rewrites the references of entry's resource: fullUrls
// of other entries to their ids, conditional references to the one resource
// they match. Without tx, a conditional reference or a fullUrl whose id
// depends on a search answers errNeedsDatabase. It returns the resource
// compacted (white space removed, every other byte as received) with its
// references rewritten in place, and the resource decoded, as rewritten.
func (a *API) resolveReferences(ctx context.Context, tx *sql.Tx, p *Principal, pl *txPlan, entry int) ([]byte, map[string]any, error) {
	raw, ids := pl.entries[entry].Resource, pl.ids
	if len(raw) == 0 {
		return nil, nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].resource", entry), "entry %d has no resource", entry)
	}
	v, compact, spans, err := jsonx.DecodeCompact(raw, "reference")
	doc, _ := v.(map[string]any)
	if err != nil || doc == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return nil, nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].resource", entry), "entry %d: malformed JSON: %v", entry, err)
	}
	if len(spans) == 0 {
		return compact, doc, nil
	}
	replaced := map[string]string{} // reference as received → as stored
	var walkErr error
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				if s, ok := child.(string); ok && k == "reference" {
					if to, ok := ids[s]; ok {
						x[k] = to
						replaced[s] = to
					} else if tx == nil && (pl.pending[s] || strings.Contains(s, "?")) {
						walkErr = errNeedsDatabase
						return
					} else if t, q, ok := strings.Cut(s, "?"); ok && a.isType(t) && walkErr == nil {
						matches, err := a.conditionalMatches(ctx, tx, p, t, q)
						if err != nil {
							walkErr = err
							return
						}
						if len(matches) != 1 {
							walkErr = errs.E(errs.PreconditionFailed, fmt.Sprintf("entry %d: the conditional reference %q matches %d resources, not 1", entry, s, len(matches)))
							return
						}
						x[k] = t + "/" + matches[0].ID
						replaced[s] = t + "/" + matches[0].ID
					} else if strings.HasPrefix(s, "urn:uuid:") || strings.HasPrefix(s, "urn:oid:") {
						walkErr = errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].resource", entry), "entry %d refers to %s, which no entry of the transaction has as fullUrl", entry, s)
						return
					}
					continue
				}
				walk(child)
			}
		case []any:
			for _, child := range x {
				walk(child)
			}
		}
	}
	walk(doc)
	if walkErr != nil {
		return nil, nil, walkErr
	}
	if len(replaced) == 0 {
		return compact, doc, nil
	}
	return spliceStrings(compact, spans, replaced), doc, nil
}

// spliceStrings returns doc with each string literal at spans whose value
// is a key of replace written as that key's value instead.
func spliceStrings(doc []byte, spans []jsonx.Span, replace map[string]string) []byte {
	out := make([]byte, 0, len(doc)+len(replace)*16)
	from := 0
	for _, sp := range spans {
		lit := doc[sp.Start:sp.End]
		var to string
		var ok bool
		if bytes.IndexByte(lit, '\\') < 0 {
			to, ok = replace[string(lit[1:len(lit)-1])]
		} else if v, err := jsonx.Decode(lit); err == nil {
			to, ok = replace[v.(string)]
		}
		if !ok {
			continue
		}
		out = append(out, doc[from:sp.Start]...)
		out = jsonx.AppendString(out, to)
		from = sp.End
	}
	return append(out, doc[from:]...)
}
