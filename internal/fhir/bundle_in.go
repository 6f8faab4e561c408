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
	"sort"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
)

// maxBundleEntries bounds one batch or transaction.
const maxBundleEntries = 10000

type bundleIn struct {
	ResourceType string    `json:"resourceType"`
	Type         string    `json:"type"`
	Entry        []entryIn `json:"entry"`
}

type entryIn struct {
	FullURL  string          `json:"fullUrl"`
	Resource json.RawMessage `json:"resource"`
	Request  *struct {
		Method      string `json:"method"`
		URL         string `json:"url"`
		IfNoneExist string `json:"ifNoneExist"`
		IfMatch     string `json:"ifMatch"`
	} `json:"request"`
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
	var b bundleIn
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&b); err != nil {
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
func (a *API) transaction(ctx context.Context, p *Principal, entries []entryIn, lenient bool) ([]entryResult, error) {
	var results []entryResult
	err := a.db.InTx(ctx, func(tx *sql.Tx) (err error) {
		results, err = a.transactionTx(ctx, tx, p, entries, lenient)
		return err
	})
	if err != nil {
		return nil, err
	}
	return results, nil
}

// transactionTx is transaction inside tx.
func (a *API) transactionTx(ctx context.Context, tx *sql.Tx, p *Principal, entries []entryIn, lenient bool) ([]entryResult, error) {
	results := make([]entryResult, len(entries))
	order := make([]int, len(entries))
	for i := range order {
		order[i] = i
	}
	for i, e := range entries {
		if _, ok := entryOrder[strings.ToUpper(e.Request.Method)]; !ok {
			return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.method", i), "method %q is not supported in a transaction", e.Request.Method)
		}
	}
	sort.SliceStable(order, func(x, y int) bool {
		return entryOrder[strings.ToUpper(entries[order[x]].Request.Method)] < entryOrder[strings.ToUpper(entries[order[y]].Request.Method)]
	})
	var changes changeSet
	err := func() error {
		// First give every created resource its id, so references between
		// entries can be rewritten before anything is stored.
		ids := map[string]string{} // fullUrl -> Type/id
		targets := make([]string, len(entries))
		for _, i := range order {
			e := entries[i]
			method := strings.ToUpper(e.Request.Method)
			typ, id, query := splitRequestURL(e.Request.URL)
			where := fmt.Sprintf("Bundle.entry[%d]", i)
			if !a.isType(typ) {
				return errs.Invalidf(where+".request.url", "%q does not name a FHIR resource type", e.Request.URL)
			}
			switch method {
			case "POST":
				if e.Request.IfNoneExist != "" {
					matches, err := a.conditionalMatches(ctx, tx, p, typ, e.Request.IfNoneExist)
					if err != nil {
						return withEntry(err, i)
					}
					if len(matches) > 1 {
						return errs.E(errs.PreconditionFailed, fmt.Sprintf("entry %d: ifNoneExist %q matches %d resources", i, e.Request.IfNoneExist, len(matches)))
					}
					if len(matches) == 1 {
						targets[i] = "existing:" + matches[0].ID
						results[i] = entryResult{status: http.StatusOK, stored: matches[0]}
						if e.FullURL != "" {
							ids[e.FullURL] = typ + "/" + matches[0].ID
						}
						continue
					}
				}
				newID := NewID()
				targets[i] = newID
				if e.FullURL != "" {
					ids[e.FullURL] = typ + "/" + newID
				}
			case "PUT":
				if id == "" && query != "" {
					matches, err := a.conditionalMatches(ctx, tx, p, typ, query)
					if err != nil {
						return withEntry(err, i)
					}
					switch len(matches) {
					case 0:
						id = NewID()
					case 1:
						id = matches[0].ID
					default:
						return errs.E(errs.PreconditionFailed, fmt.Sprintf("entry %d: the conditional update matches %d resources", i, len(matches)))
					}
				}
				if id == "" {
					return errs.Invalidf(where+".request.url", "PUT needs Type/id or Type?search, not %q", e.Request.URL)
				}
				targets[i] = id
				if e.FullURL != "" {
					ids[e.FullURL] = typ + "/" + id
				}
			}
		}
		for _, i := range order {
			e := entries[i]
			method := strings.ToUpper(e.Request.Method)
			typ, id, query := splitRequestURL(e.Request.URL)
			if err := a.access.Allow(ctx, p, interactionOf(method, id), typ); err != nil {
				return withEntry(err, i)
			}
			if strings.HasPrefix(targets[i], "existing:") {
				continue
			}
			var err error
			switch method {
			case "DELETE":
				if id == "" {
					matches, merr := a.conditionalMatches(ctx, tx, p, typ, query)
					if merr != nil {
						return withEntry(merr, i)
					}
					for _, m := range matches {
						if _, err := a.store.deleteTx(ctx, tx, p.OrgID, typ, m.ID, &changes); err != nil {
							return withEntry(err, i)
						}
					}
					results[i] = entryResult{status: http.StatusNoContent}
					continue
				}
				if err := a.checkVisibleTx(ctx, tx, p, typ, id); err != nil {
					return withEntry(err, i)
				}
				st, derr := a.store.deleteTx(ctx, tx, p.OrgID, typ, id, &changes)
				if derr != nil {
					return withEntry(derr, i)
				}
				results[i] = entryResult{status: http.StatusNoContent, stored: st}
			case "POST", "PUT":
				raw, rerr := a.resolveReferences(ctx, tx, p, e.Resource, ids, i)
				if rerr != nil {
					return rerr
				}
				if method == "PUT" {
					raw = withID(raw, targets[i])
				}
				if err := a.checkResource(typ, "", raw, lenient); err != nil {
					return withEntry(err, i)
				}
				if method == "POST" {
					st, cerr := a.store.createTx(ctx, tx, p.OrgID, typ, targets[i], raw, &changes)
					err = cerr
					results[i] = entryResult{status: http.StatusCreated, stored: st, location: true}
				} else {
					if verr := a.checkVisibleTx(ctx, tx, p, typ, targets[i]); verr != nil {
						return withEntry(verr, i)
					}
					match, merr := parseETag(e.Request.IfMatch, "ifMatch")
					if merr != nil {
						return withEntry(merr, i)
					}
					st, created, uerr := a.store.updateTx(ctx, tx, p.OrgID, typ, targets[i], raw, match, &changes)
					err = uerr
					status := http.StatusOK
					if created {
						status = http.StatusCreated
					}
					results[i] = entryResult{status: status, stored: st, location: true}
				}
			case "GET", "HEAD":
				if id == "" {
					return errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.url", i), "searches inside a transaction are not supported; use a batch")
				}
				st, rerr := a.store.ReadTx(ctx, tx, p.OrgID, typ, id)
				if rerr == nil && !a.access.Visible(ctx, p, st) {
					rerr = errs.NotFoundf("%s/%s is not known", typ, id)
				}
				err = rerr
				results[i] = entryResult{status: http.StatusOK, stored: st}
			case "PATCH":
				return errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].request.method", i), "PATCH inside a Bundle is not supported; use PATCH on the resource")
			}
			if err != nil {
				return withEntry(err, i)
			}
		}
		return nil
	}()
	if err != nil {
		return nil, err
	}
	// One announcement for the whole transaction.
	if err := a.store.announce(ctx, tx, p.OrgID, &changes); err != nil {
		return nil, err
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

// resolveReferences rewrites the references of a resource: fullUrls of
// other entries to their ids, conditional references to the one resource
// they match. It leaves raw untouched when nothing needs rewriting.
func (a *API) resolveReferences(ctx context.Context, tx *sql.Tx, p *Principal, raw json.RawMessage, ids map[string]string, entry int) ([]byte, error) {
	if len(raw) == 0 {
		return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].resource", entry), "entry %d has no resource", entry)
	}
	if !bytes.Contains(raw, []byte(`"reference"`)) {
		return raw, nil
	}
	var doc any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, errs.Invalidf(fmt.Sprintf("Bundle.entry[%d].resource", entry), "entry %d: malformed JSON: %v", entry, err)
	}
	changed := false
	var walkErr error
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, child := range x {
				if s, ok := child.(string); ok && k == "reference" {
					if to, ok := ids[s]; ok {
						x[k] = to
						changed = true
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
						changed = true
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
		return nil, walkErr
	}
	if !changed {
		return raw, nil
	}
	return marshal(doc)
}
