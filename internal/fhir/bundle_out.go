package fhir

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
)

// bundleWriter writes a Bundle without decoding the resources it carries.
type bundleWriter struct {
	b     bytes.Buffer
	first bool
}

func newBundle(typ string, total int, links map[string]string) *bundleWriter {
	w := &bundleWriter{first: true}
	w.b.WriteString(`{"resourceType":"Bundle","id":"` + NewID() + `","meta":{"lastUpdated":"` + formatInstant(time.Now()) + `"},"type":"` + typ + `"`)
	if total >= 0 {
		w.b.WriteString(`,"total":` + strconv.Itoa(total))
	}
	if len(links) > 0 {
		w.b.WriteString(`,"link":[`)
		i := 0
		for _, rel := range []string{"self", "next"} {
			href, ok := links[rel]
			if !ok {
				continue
			}
			if i > 0 {
				w.b.WriteByte(',')
			}
			i++
			h, _ := marshal(href)
			w.b.WriteString(`{"relation":"` + rel + `","url":`)
			w.b.Write(h)
			w.b.WriteByte('}')
		}
		w.b.WriteByte(']')
	}
	w.b.WriteString(`,"entry":[`)
	return w
}

// entry adds an entry; fields are raw JSON members ("search":{...}).
func (w *bundleWriter) entry(fullURL string, resource []byte, extra ...string) {
	if !w.first {
		w.b.WriteByte(',')
	}
	w.first = false
	w.b.WriteByte('{')
	sep := ""
	if fullURL != "" {
		u, _ := marshal(fullURL)
		w.b.WriteString(`"fullUrl":`)
		w.b.Write(u)
		sep = ","
	}
	if len(resource) > 0 {
		w.b.WriteString(sep + `"resource":`)
		w.b.Write(resource)
		sep = ","
	}
	for _, e := range extra {
		w.b.WriteString(sep + e)
		sep = ","
	}
	w.b.WriteByte('}')
}

func (w *bundleWriter) bytes() []byte {
	w.b.WriteString("]}")
	return w.b.Bytes()
}

// searchParams merges the query string and, for POST _search, the form.
func searchParams(r *http.Request) (url.Values, error) {
	params := r.URL.Query()
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, errs.Invalidf("", "the _search body is not a form: %v", err)
		}
		for k, vs := range r.PostForm {
			params[k] = append(params[k], vs...)
		}
	}
	return params, nil
}

func (a *API) searchType(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ := r.PathValue("type")
	if err := a.access.Allow(r.Context(), p, InteractionSearch, typ); err != nil {
		return err
	}
	params, err := searchParams(r)
	if err != nil {
		return err
	}
	// Includes, iterated ones too, only start from and reach what the
	// caller may see.
	ctx := WithVisibility(r.Context(), func(st *Stored) bool { return a.access.Visible(r.Context(), p, st) })
	if p.Compartments != nil {
		if patients, limited := p.Compartments(typ); limited {
			ctx = WithPatients(ctx, patients)
		}
	}
	res, err := a.search.Search(ctx, p.OrgID, typ, params, lenient(r))
	if err != nil {
		return err
	}
	res.Matches = a.visibleOnly(r.Context(), p, res.Matches)
	res.Included = a.visibleOnly(r.Context(), p, res.Included)
	ev := AuditEvent{Interaction: InteractionSearch, Type: typ, Query: params.Encode(),
		Resources: append(slices.Clip(res.Matches), res.Included...)}
	if err := a.record(r.Context(), p, ev); err != nil {
		return err
	}
	a.writeSearch(w, typ, params, res)
	return nil
}

// visibleOnly keeps the resources the caller may see, in place.
func (a *API) visibleOnly(ctx context.Context, p *Principal, sts []*Stored) []*Stored {
	return slices.DeleteFunc(sts, func(st *Stored) bool { return !a.access.Visible(ctx, p, st) })
}

// writeSearch answers with a searchset Bundle of results the caller may
// see (see visibleOnly).
func (a *API) writeSearch(w http.ResponseWriter, typ string, params url.Values, res *SearchResult) {
	links := map[string]string{"self": a.base + "/" + typ + "?" + params.Encode()}
	if res.Next != "" {
		next := cloneValues(params)
		next.Set("_cursor", res.Next)
		links["next"] = a.base + "/" + typ + "?" + next.Encode()
	}
	elements := elementList(params.Get("_elements"))
	b := newBundle("searchset", res.Total, links)
	for _, m := range res.Matches {
		b.entry(a.base+"/"+m.Ref(), subset(m.JSON, elements), `"search":{"mode":"match"}`)
	}
	for _, m := range res.Included {
		b.entry(a.base+"/"+m.Ref(), m.JSON, `"search":{"mode":"include"}`)
	}
	writeResource(w, http.StatusOK, b.bytes())
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		if k == "_cursor" {
			continue
		}
		out[k] = append([]string(nil), vs...)
	}
	return out
}

func elementList(s string) map[string]bool {
	if s == "" {
		return nil
	}
	out := map[string]bool{"resourceType": true, "id": true, "meta": true}
	for _, e := range strings.Split(s, ",") {
		out[strings.TrimSpace(e)] = true
	}
	return out
}

// subset keeps only the listed top-level elements of raw and marks it
// SUBSETTED, as _elements asks.
func subset(raw []byte, keep map[string]bool) []byte {
	if keep == nil {
		return raw
	}
	members, err := splitObject(raw)
	if err != nil {
		return raw
	}
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	for _, m := range members {
		if !keep[m.Key] {
			continue
		}
		v := m.Value
		if m.Key == "meta" {
			var meta map[string]json.RawMessage
			if json.Unmarshal(v, &meta) == nil {
				meta["tag"] = json.RawMessage(`[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationValue","code":"SUBSETTED","display":"subsetted"}]`)
				v, _ = json.Marshal(meta)
			}
		}
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes()
}

func (a *API) history(w http.ResponseWriter, r *http.Request, p *Principal) error {
	return a.historyOf(w, r, p, r.PathValue("type"), r.PathValue("id"))
}

// historyOf answers the history of one resource, a type ("" id) or the
// whole organisation ("" type).
func (a *API) historyOf(w http.ResponseWriter, r *http.Request, p *Principal, typ, id string) error {
	if err := a.access.Allow(r.Context(), p, InteractionHistory, typ); err != nil {
		return err
	}
	params := r.URL.Query()
	q := HistoryQuery{Type: typ, ID: id, Count: defaultCount}
	if c := params.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 1 {
			return errs.Invalidf("_count", "_count %q is not a positive whole number", c)
		}
		q.Count = min(n, maxCount)
	}
	if s := params.Get("_since"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return errs.Invalidf("_since", "_since %q is not an instant such as 2024-01-31T10:00:00Z", s)
		}
		q.Since = t
	}
	if c := params.Get("_cursor"); c != "" {
		raw, err := decodeCursor(c)
		if err != nil {
			return err
		}
		var cur Cursor
		if err := json.Unmarshal([]byte(raw), &cur); err != nil {
			return errs.Invalidf("_cursor", "the page cursor is not valid")
		}
		q.Before = &cur
	}
	versions, more, err := a.store.History(r.Context(), p.OrgID, q)
	if err != nil {
		return err
	}
	if id != "" && len(versions) == 0 && q.Before == nil {
		return errs.NotFoundf("%s/%s is not known", typ, id)
	}
	path := "/_history"
	if typ != "" {
		path = "/" + typ + path
		if id != "" {
			path = "/" + typ + "/" + id + "/_history"
		}
	}
	links := map[string]string{"self": a.base + path + "?" + params.Encode()}
	if more {
		last := versions[len(versions)-1]
		cur, _ := json.Marshal(Cursor{Time: last.LastUpdated, Type: last.Type, ID: last.ID, Version: last.VersionID})
		next := cloneValues(params)
		next.Set("_cursor", encodeCursor(string(cur)))
		links["next"] = a.base + path + "?" + next.Encode()
	}
	var shown []*Stored
	for i := range versions {
		if v := &versions[i]; a.access.Visible(r.Context(), p, v) {
			shown = append(shown, v)
		}
	}
	if err := a.record(r.Context(), p, AuditEvent{Interaction: InteractionHistory, Type: typ, Query: params.Encode(),
		Resources: shown, Refs: refOfRequest(r)}); err != nil {
		return err
	}
	b := newBundle("history", -1, links)
	for _, v := range shown {
		method, status := "PUT", "200 OK"
		switch {
		case v.Deleted:
			method, status = "DELETE", "204 No Content"
		case v.VersionID == 1:
			method, status = "POST", "201 Created"
		}
		reqURL := v.Type + "/" + v.ID
		if method == "POST" {
			reqURL = v.Type
		}
		b.entry(a.base+"/"+v.Ref(), v.JSON,
			fmt.Sprintf(`"request":{"method":%q,"url":%q}`, method, reqURL),
			fmt.Sprintf(`"response":{"status":%q,"etag":"W/\"%d\"","lastModified":%q}`, status, v.VersionID, formatInstant(v.LastUpdated)))
	}
	writeResource(w, http.StatusOK, b.bytes())
	return nil
}

// everything answers Patient/{id}/$everything: the patient and every
// resource that refers to them, one page of up to 10,000.
func (a *API) everything(w http.ResponseWriter, r *http.Request, p *Principal) error {
	id := r.PathValue("id")
	if err := a.access.Allow(r.Context(), p, InteractionOperation, "Patient"); err != nil {
		return err
	}
	pat, err := a.store.Read(r.Context(), p.OrgID, "Patient", id)
	if err != nil {
		return err
	}
	if !a.access.Visible(r.Context(), p, pat) {
		a.recordRefused(r.Context(), p, AuditEvent{Interaction: InteractionOperation, Operation: "$everything", Type: "Patient", Resources: []*Stored{pat}})
		return errs.NotFoundf("Patient/%s is not known", id)
	}
	related, err := a.search.ReferringTo(r.Context(), p.OrgID, "Patient", id, 10000)
	if err != nil {
		return err
	}
	shown := append([]*Stored{pat}, a.visibleOnly(r.Context(), p, related)...)
	if err := a.record(r.Context(), p, AuditEvent{Interaction: InteractionOperation, Operation: "$everything", Type: "Patient", Resources: shown}); err != nil {
		return err
	}
	b := newBundle("searchset", -1, map[string]string{"self": a.base + "/Patient/" + id + "/$everything"})
	for _, m := range shown {
		b.entry(a.base+"/"+m.Ref(), m.JSON, `"search":{"mode":"match"}`)
	}
	writeResource(w, http.StatusOK, b.bytes())
	return nil
}
