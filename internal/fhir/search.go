package fhir

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/fhir/index"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
)

// ParamInfo describes a search parameter of a resource type.
type ParamInfo struct {
	Code    string
	Type    string   // number, date, string, token, reference, quantity, uri, composite, special
	Targets []string // reference target types
}

// ParamLookup finds a search parameter of a resource type.
type ParamLookup func(resourceType, code string) (ParamInfo, bool)

// Searcher runs FHIR searches over the search index.
type Searcher struct {
	db     *db.DB
	params ParamLookup
}

// NewSearcher returns a Searcher on d knowing the parameters of params.
func NewSearcher(d *db.DB, params ParamLookup) *Searcher {
	return &Searcher{db: d, params: params}
}

// Page size bounds.
const (
	defaultCount = 50
	maxCount     = 1000
)

// SearchResult is one page of a search.
type SearchResult struct {
	Matches  []*Stored
	Included []*Stored
	Total    int    // number of matches in all, -1 when not counted
	Next     string // cursor of the next page, "" on the last
}

// query is a search being built: SQL conditions on the resource table r.
type query struct {
	org   string
	typ   string
	conds []string
	args  []any
}

func (q *query) arg(v any) string {
	q.args = append(q.args, v)
	return fmt.Sprintf("$%d", len(q.args))
}

// resultParams are the parameters that shape results rather than filter.
var resultParams = map[string]bool{"_count": true, "_sort": true, "_include": true, "_revinclude": true, "_summary": true,
	"_elements": true, "_total": true, "_cursor": true, "_format": true, "_pretty": true, "_contained": true, "_containedType": true}

// Search runs params against resources of typ of the organisation. Unknown
// parameters are errors unless lenient. cursor continues a previous page.
func (s *Searcher) Search(ctx context.Context, orgID, typ string, params url.Values, lenient bool) (*SearchResult, error) {
	q := &query{org: orgID, typ: typ}
	q.arg(orgID)
	q.arg(typ)
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// Selective parameters (tokens, references, strings) pick candidate
	// resources; range parameters (dates, quantities, numbers) then filter
	// the candidates through their per-resource index, unless nothing else
	// narrows the search.
	isRange := map[string]bool{}
	selective := false
	for _, k := range keys {
		name, _, _ := strings.Cut(k, ":")
		name, _, _ = strings.Cut(name, ".")
		if resultParams[name] {
			continue
		}
		if p, ok := s.params(typ, name); ok && !strings.ContainsAny(k, ".:") && (p.Type == "date" || p.Type == "quantity" || p.Type == "number") {
			isRange[k] = true
		} else {
			selective = true
		}
	}
	var filters []string
	for _, k := range keys {
		name, _, _ := strings.Cut(k, ":")
		name, _, _ = strings.Cut(name, ".")
		if resultParams[name] {
			continue
		}
		filter := isRange[k] && selective
		for _, v := range params[k] {
			cond, err := s.condition(q, typ, k, v, 0, filter)
			if err != nil {
				if lenient && errs.CodeOf(err) == errs.Invalid {
					continue
				}
				return nil, err
			}
			if filter {
				filters = append(filters, cond)
			} else {
				q.conds = append(q.conds, cond)
			}
		}
	}
	q.conds = append(q.conds, filters...)
	count := defaultCount
	if c := params.Get("_count"); c != "" {
		n, err := strconv.Atoi(c)
		if err != nil || n < 0 {
			return nil, errs.Invalidf("_count", "_count %q is not a whole number", c)
		}
		count = min(n, maxCount)
	}
	order, keyset, err := s.order(q, typ, params.Get("_sort"))
	if err != nil {
		return nil, err
	}
	res := &SearchResult{Total: -1}
	where := "r.org_id = $1 AND r.resource_type = $2 AND NOT r.deleted"
	for _, c := range q.conds {
		where += " AND " + c
	}
	summary := params.Get("_summary")
	if summary == "count" || params.Get("_total") == "accurate" {
		if err := s.db.Read.QueryRowContext(ctx, "SELECT count(*) FROM fhir_resources r WHERE "+where, q.args...).Scan(&res.Total); err != nil {
			return nil, fmt.Errorf("fhir: count %s: %w", typ, err)
		}
		if summary == "count" {
			return res, nil
		}
	}
	offset := 0
	if c := params.Get("_cursor"); c != "" {
		pos, err := decodeCursor(c)
		if err != nil {
			return nil, err
		}
		if keyset {
			where += " AND r.id > " + q.arg(pos)
		} else if offset, err = strconv.Atoi(pos); err != nil || offset < 0 {
			return nil, errs.Invalidf("_cursor", "the page cursor is not valid")
		}
	}
	if count == 0 {
		return res, nil
	}
	sqlText := fmt.Sprintf("SELECT r.id, r.version_id, r.last_updated, r.content FROM fhir_resources r WHERE %s ORDER BY %s LIMIT %d OFFSET %d", where, order, count+1, offset)
	rows, err := s.db.Read.QueryContext(ctx, sqlText, q.args...)
	if err != nil {
		return nil, fmt.Errorf("fhir: search %s: %w", typ, err)
	}
	defer rows.Close()
	for rows.Next() {
		st := &Stored{Type: typ}
		var content string
		if err := rows.Scan(&st.ID, &st.VersionID, &st.LastUpdated, &content); err != nil {
			return nil, fmt.Errorf("fhir: search %s: %w", typ, err)
		}
		st.LastUpdated = st.LastUpdated.UTC()
		st.JSON = []byte(content)
		res.Matches = append(res.Matches, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("fhir: search %s: %w", typ, err)
	}
	if len(res.Matches) > count {
		res.Matches = res.Matches[:count]
		if keyset {
			res.Next = encodeCursor(res.Matches[count-1].ID)
		} else {
			res.Next = encodeCursor(strconv.Itoa(offset + count))
		}
	} else if offset == 0 && params.Get("_cursor") == "" && res.Total < 0 {
		res.Total = len(res.Matches)
	}
	if err := s.includes(ctx, orgID, typ, params, res); err != nil {
		return nil, err
	}
	return res, nil
}

func encodeCursor(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeCursor(c string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", errs.Invalidf("_cursor", "the page cursor is not valid")
	}
	return string(b), nil
}

// order returns the ORDER BY clause for _sort and whether paging can use
// the stable keyset on id (only for the default order).
func (s *Searcher) order(q *query, typ, sortParam string) (string, bool, error) {
	if sortParam == "" {
		return "r.id", true, nil
	}
	var parts []string
	for _, key := range strings.Split(sortParam, ",") {
		dir := "ASC"
		agg := "MIN"
		if strings.HasPrefix(key, "-") {
			dir, agg, key = "DESC", "MAX", key[1:]
		}
		switch key {
		case "_id":
			parts = append(parts, "r.id "+dir)
			continue
		case "_lastUpdated":
			parts = append(parts, "r.last_updated "+dir)
			continue
		}
		p, ok := s.params(typ, key)
		if !ok {
			return "", false, errs.Invalidf("_sort", "%s has no search parameter %q to sort by", typ, key)
		}
		var col, table string
		switch p.Type {
		case "date":
			table, col = "fhir_idx_date", "low"
			if dir == "DESC" {
				col = "high"
			}
		case "string":
			table, col = "fhir_idx_string", "value"
		case "token":
			table, col = "fhir_idx_token", "code"
		case "number":
			table, col = "fhir_idx_number", "value"
		case "quantity":
			table, col = "fhir_idx_quantity", "value"
		case "uri":
			table, col = "fhir_idx_uri", "value"
		case "reference":
			table, col = "fhir_idx_reference", "target_id"
		default:
			return "", false, errs.Invalidf("_sort", "cannot sort by %s, a %s parameter", key, p.Type)
		}
		parts = append(parts, fmt.Sprintf("(SELECT %s(x.%s) FROM %s x WHERE x.org_id = r.org_id AND x.resource_type = r.resource_type AND x.id = r.id AND x.param = %s) %s",
			agg, col, table, q.arg(key), dir))
	}
	return strings.Join(parts, ", ") + ", r.id", false, nil
}

// maxChain bounds chained and reverse-chained parameters.
const maxChain = 3

// condition returns a SQL condition on r for one parameter key=value of
// resources of typ. depth counts chaining. A filter condition looks up r's
// own index rows (EXISTS) instead of selecting every matching resource (IN).
func (s *Searcher) condition(q *query, typ, key, value string, depth int, filter bool) (string, error) {
	ids, err := s.idSet(q, typ, key, value, depth, "r.org_id")
	if err != nil {
		return "", err
	}
	if filter && strings.HasPrefix(strings.TrimPrefix(ids, "NOT "), "SELECT x.id FROM ") {
		if sub, ok := strings.CutPrefix(ids, "NOT "); ok {
			return "NOT EXISTS (" + sub + " AND x.id = r.id)", nil
		}
		return "EXISTS (" + ids + " AND x.id = r.id)", nil
	}
	if strings.HasPrefix(ids, "NOT ") {
		return "r.id NOT IN (" + strings.TrimPrefix(ids, "NOT ") + ")", nil
	}
	if strings.HasPrefix(ids, "COND ") {
		return strings.TrimPrefix(ids, "COND "), nil
	}
	return "r.id IN (" + ids + ")", nil
}

// idSet returns a subquery selecting the ids of resources of typ matching
// key=value; "NOT subquery" for negated parameters; "COND expr" for a plain
// condition on r.
func (s *Searcher) idSet(q *query, typ, key, value string, depth int, orgExpr string) (string, error) {
	if depth > maxChain {
		return "", errs.Invalidf(key, "chains are limited to %d levels", maxChain)
	}
	if strings.HasPrefix(key, "_has:") {
		return s.has(q, typ, key, value, depth)
	}
	name, modifier, _ := strings.Cut(key, ":")
	chain := ""
	if i := strings.Index(key, "."); i >= 0 {
		name, modifier, _ = strings.Cut(key[:i], ":")
		chain = key[i+1:]
	}
	switch name {
	case "_id":
		if modifier != "" || chain != "" {
			return "", errs.Invalidf(key, "_id takes no modifier")
		}
		var ors []string
		for _, v := range index.SplitOr(value) {
			ors = append(ors, "r.id = "+q.arg(v))
		}
		return "COND (" + strings.Join(ors, " OR ") + ")", nil
	case "_lastUpdated":
		var ors []string
		for _, v := range index.SplitOr(value) {
			prefix, rng, err := index.ParseDateValue(v)
			if err != nil {
				return "", errs.Invalidf(key, "_lastUpdated: %v", err)
			}
			ors = append(ors, dateCond(q, prefix, rng, "r.last_updated", "r.last_updated", true))
		}
		return "COND (" + strings.Join(ors, " OR ") + ")", nil
	}
	p, ok := s.params(typ, name)
	if !ok {
		return "", errs.Invalidf(key, "%s has no search parameter %q", typ, name)
	}
	base := func(table string) string {
		return fmt.Sprintf("SELECT x.id FROM %s x WHERE x.org_id = %s AND x.resource_type = %s AND x.param = %s", table, q.arg(q.org), q.arg(typ), q.arg(name))
	}
	if modifier == "missing" {
		table := kindTable(p.Type)
		if table == "" {
			return "", errs.Invalidf(key, ":missing is not supported on %s parameters", p.Type)
		}
		switch value {
		case "true":
			return "NOT " + base(table), nil
		case "false":
			return base(table), nil
		default:
			return "", errs.Invalidf(key, ":missing takes true or false, not %q", value)
		}
	}
	if chain != "" {
		if p.Type != "reference" {
			return "", errs.Invalidf(key, "only reference parameters can be chained; %s is a %s", name, p.Type)
		}
		targets := p.Targets
		if modifier != "" {
			targets = []string{modifier}
		}
		if len(targets) != 1 {
			return "", errs.Invalidf(key, "%s can refer to %s; name one, as in %s:%s.%s", name, strings.Join(targets, ", "), name, firstOr(targets), chain)
		}
		inner, err := s.idSet(q, targets[0], chain, value, depth+1, orgExpr)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("%s AND x.target_type = %s AND x.target_id IN (%s)", base("fhir_idx_reference"), q.arg(targets[0]), idsQuery(q, targets[0], inner)), nil
	}
	var ors []string
	negate := false
	for _, v := range index.SplitOr(value) {
		var cond string
		var err error
		switch p.Type {
		case "token":
			cond, negate, err = tokenCond(q, modifier, v)
		case "string":
			cond, err = stringCond(q, modifier, v)
		case "date":
			cond, err = dateValueCond(q, modifier, v)
		case "reference":
			cond, err = referenceCond(q, p, modifier, v)
		case "quantity":
			cond, err = quantityCond(q, modifier, v)
		case "number":
			cond, err = numberCond(q, modifier, v)
		case "uri":
			cond, err = uriCond(q, modifier, v)
		default:
			err = errs.Invalidf(key, "%s parameters such as %s are not supported yet", p.Type, name)
		}
		if err != nil {
			return "", errs.Invalidf(key, "%s=%s: %s", key, v, errs.MessageOf(err))
		}
		ors = append(ors, cond)
	}
	sub := base(kindTable(p.Type)) + " AND (" + strings.Join(ors, " OR ") + ")"
	if negate {
		return "NOT " + sub, nil
	}
	return sub, nil
}

// idsQuery turns what idSet returns for resources of typ into a subquery
// selecting their ids.
func idsQuery(q *query, typ, ids string) string {
	if cond, ok := strings.CutPrefix(ids, "COND "); ok {
		return fmt.Sprintf("SELECT r.id FROM fhir_resources r WHERE r.org_id = %s AND r.resource_type = %s AND NOT r.deleted AND %s",
			q.arg(q.org), q.arg(typ), cond)
	}
	if sub, ok := strings.CutPrefix(ids, "NOT "); ok {
		return fmt.Sprintf("SELECT r.id FROM fhir_resources r WHERE r.org_id = %s AND r.resource_type = %s AND NOT r.deleted AND r.id NOT IN (%s)",
			q.arg(q.org), q.arg(typ), sub)
	}
	return ids
}

func firstOr(s []string) string {
	if len(s) == 0 {
		return "Type"
	}
	return s[0]
}

// has handles _has:Type:param:searchParam=value, the reverse chain.
func (s *Searcher) has(q *query, typ, key, value string, depth int) (string, error) {
	parts := strings.SplitN(key, ":", 4)
	if len(parts) != 4 || parts[1] == "" || parts[2] == "" || parts[3] == "" {
		return "", errs.Invalidf(key, "_has takes the form _has:Type:reference-parameter:search-parameter=value")
	}
	other, refParam, rest := parts[1], parts[2], parts[3]
	p, ok := s.params(other, refParam)
	if !ok || p.Type != "reference" {
		return "", errs.Invalidf(key, "%s has no reference parameter %q", other, refParam)
	}
	inner, err := s.idSet(q, other, rest, value, depth+1, "r.org_id")
	if err != nil {
		return "", err
	}
	innerSQL := idsQuery(q, other, inner)
	return fmt.Sprintf("SELECT x.target_id FROM fhir_idx_reference x WHERE x.org_id = %s AND x.resource_type = %s AND x.param = %s AND x.target_type = %s AND x.id IN (%s)",
		q.arg(q.org), q.arg(other), q.arg(refParam), q.arg(typ), innerSQL), nil
}

func kindTable(kind string) string {
	switch kind {
	case "token", "string", "date", "reference", "quantity", "number", "uri":
		return "fhir_idx_" + kind
	}
	return ""
}

func tokenCond(q *query, modifier, v string) (cond string, negate bool, err error) {
	system, hasSystem, code := index.ParseTokenValue(v)
	switch modifier {
	case "", "not":
		negate = modifier == "not"
		switch {
		case !hasSystem:
			return "x.code = " + q.arg(code), negate, nil
		case code == "":
			return "x.system = " + q.arg(system), negate, nil
		default:
			return "(x.code = " + q.arg(code) + " AND x.system = " + q.arg(system) + ")", negate, nil
		}
	case "text":
		return "LOWER(x.display) LIKE " + q.arg("%"+likeEscape(strings.ToLower(v))+"%") + " ESCAPE '\\'", false, nil
	default:
		return "", false, errs.Invalidf("", "modifier :%s is not supported on token parameters", modifier)
	}
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func stringCond(q *query, modifier, v string) (string, error) {
	switch modifier {
	case "":
		return "x.value LIKE " + q.arg(likeEscape(index.NormalizeString(v))+"%") + " ESCAPE '\\'", nil
	case "contains":
		return "x.value LIKE " + q.arg("%"+likeEscape(index.NormalizeString(v))+"%") + " ESCAPE '\\'", nil
	case "exact":
		return "x.exact = " + q.arg(v), nil
	default:
		return "", errs.Invalidf("", "modifier :%s is not supported on string parameters", modifier)
	}
}

func dateValueCond(q *query, modifier, v string) (string, error) {
	if modifier != "" {
		return "", errs.Invalidf("", "modifier :%s is not supported on date parameters", modifier)
	}
	prefix, rng, err := index.ParseDateValue(v)
	if err != nil {
		return "", err
	}
	return dateCond(q, prefix, rng, "x.low", "x.high", false), nil
}

// dateCond renders the FHIR date comparison of prefix between the value
// range [lowCol, highCol) and the search range rng. Timestamp columns take
// time values; index columns take Unix milliseconds.
func dateCond(q *query, prefix index.Prefix, rng index.DateRange, lowCol, highCol string, timestamps bool) string {
	val := func(t time.Time) string {
		if timestamps {
			return q.arg(t.UTC())
		}
		return q.arg(t.UnixMilli())
	}
	cols := map[string]string{"low": lowCol, "high": highCol}
	conds := index.DateConditions(prefix)
	var parts []string
	for _, c := range conds {
		right := rng.Low
		if c.Right == "high" {
			right = rng.High
		}
		if timestamps && c.Left == "high" {
			// A timestamp column holds an instant t, the range [t, t+1ms):
			// high OP x is low OP x-1ms.
			right = right.Add(-time.Millisecond)
		}
		parts = append(parts, cols[c.Left]+" "+c.Op+" "+val(right))
	}
	expr := "(" + strings.Join(parts, " AND ") + ")"
	if index.DateNegated(prefix) {
		return "(NOT " + expr + ")"
	}
	return expr
}

func referenceCond(q *query, p ParamInfo, modifier, v string) (string, error) {
	typ, id := "", v
	if modifier != "" && modifier != "identifier" {
		typ = modifier
	}
	if modifier == "identifier" {
		return "", errs.Invalidf("", ":identifier is not supported yet on reference parameters")
	}
	if strings.Contains(v, "://") {
		// An absolute URL: local when it ends in Type/id.
		parts := strings.Split(strings.TrimSuffix(v, "/"), "/")
		if len(parts) >= 2 {
			typ, id = parts[len(parts)-2], parts[len(parts)-1]
		}
		return "(x.url = " + q.arg(v) + " OR (x.target_type = " + q.arg(typ) + " AND x.target_id = " + q.arg(id) + "))", nil
	}
	if t, i, ok := strings.Cut(v, "/"); ok {
		typ, id = t, i
	}
	if id == "" {
		return "", errs.Invalidf("", "a reference needs an id")
	}
	if typ == "" {
		return "x.target_id = " + q.arg(id), nil
	}
	return "(x.target_type = " + q.arg(typ) + " AND x.target_id = " + q.arg(id) + ")", nil
}

func quantityCond(q *query, modifier, v string) (string, error) {
	if modifier != "" {
		return "", errs.Invalidf("", "modifier :%s is not supported on quantity parameters", modifier)
	}
	prefix, qty, err := index.ParseQuantityValue(v)
	if err != nil {
		return "", err
	}
	cond := numericCond(q, "x.value", prefix, qty.Value)
	if qty.System != "" {
		cond += " AND x.system = " + q.arg(qty.System)
	}
	if qty.Code != "" {
		cond += " AND (x.code = " + q.arg(qty.Code) + " OR x.unit = " + q.arg(qty.Code) + ")"
	}
	return "(" + cond + ")", nil
}

func numberCond(q *query, modifier, v string) (string, error) {
	if modifier != "" {
		return "", errs.Invalidf("", "modifier :%s is not supported on number parameters", modifier)
	}
	prefix, n, _, err := index.ParseNumberValue(v)
	if err != nil {
		return "", err
	}
	return numericCond(q, "x.value", prefix, n), nil
}

// numericCond compares col with n by prefix; eq and ap allow for the
// precision of the value (half a unit of its last digit, 10% for ap).
func numericCond(q *query, col string, prefix index.Prefix, n float64) string {
	switch prefix {
	case "gt", "sa":
		return col + " > " + q.arg(n)
	case "lt", "eb":
		return col + " < " + q.arg(n)
	case "ge":
		return col + " >= " + q.arg(n)
	case "le":
		return col + " <= " + q.arg(n)
	case "ne":
		return col + " <> " + q.arg(n)
	case "ap":
		d := abs(n) * 0.1
		return "(" + col + " >= " + q.arg(n-d) + " AND " + col + " <= " + q.arg(n+d) + ")"
	default:
		d := abs(n) * 1e-9
		return "(" + col + " >= " + q.arg(n-d) + " AND " + col + " <= " + q.arg(n+d) + ")"
	}
}

func abs(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}

func uriCond(q *query, modifier, v string) (string, error) {
	switch modifier {
	case "":
		return "x.value = " + q.arg(v), nil
	case "below":
		return "x.value LIKE " + q.arg(likeEscape(v)+"%") + " ESCAPE '\\'", nil
	case "above":
		return q.arg(v) + " LIKE " + concat("x.value", "'%'"), nil
	default:
		return "", errs.Invalidf("", "modifier :%s is not supported on uri parameters", modifier)
	}
}

func concat(a, b string) string { return a + " || " + b }

// includes adds the resources named by _include and _revinclude.
func (s *Searcher) includes(ctx context.Context, orgID, typ string, params url.Values, res *SearchResult) error {
	if len(res.Matches) == 0 {
		return nil
	}
	seen := map[string]bool{}
	for _, m := range res.Matches {
		seen[m.Ref()] = true
	}
	ids := make([]string, len(res.Matches))
	for i, m := range res.Matches {
		ids[i] = m.ID
	}
	add := func(rows *sql.Rows) error {
		defer rows.Close()
		for rows.Next() {
			st := &Stored{}
			var content string
			if err := rows.Scan(&st.Type, &st.ID, &st.VersionID, &st.LastUpdated, &content); err != nil {
				return err
			}
			if seen[st.Ref()] {
				continue
			}
			seen[st.Ref()] = true
			st.LastUpdated = st.LastUpdated.UTC()
			st.JSON = []byte(content)
			res.Included = append(res.Included, st)
		}
		return rows.Err()
	}
	for _, inc := range params["_include"] {
		src, param, target, err := s.includeSpec(inc)
		if err != nil {
			return err
		}
		if src != typ {
			continue
		}
		q := &query{}
		idList := inList(q, ids)
		sqlText := fmt.Sprintf(`SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.content FROM fhir_resources r
			JOIN fhir_idx_reference x ON x.org_id = r.org_id AND x.target_type = r.resource_type AND x.target_id = r.id
			WHERE x.org_id = %s AND x.resource_type = %s AND x.param = %s AND x.id IN (%s) AND NOT r.deleted`,
			q.arg(orgID), q.arg(typ), q.arg(param), idList)
		if target != "" {
			sqlText += " AND r.resource_type = " + q.arg(target)
		}
		rows, err := s.db.Read.QueryContext(ctx, sqlText+" ORDER BY r.resource_type, r.id LIMIT 10000", q.args...)
		if err != nil {
			return fmt.Errorf("fhir: _include: %w", err)
		}
		if err := add(rows); err != nil {
			return fmt.Errorf("fhir: _include: %w", err)
		}
	}
	for _, inc := range params["_revinclude"] {
		src, param, _, err := s.includeSpec(inc)
		if err != nil {
			return err
		}
		q := &query{}
		idList := inList(q, ids)
		rows, err := s.db.Read.QueryContext(ctx, fmt.Sprintf(`SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.content FROM fhir_resources r
			JOIN fhir_idx_reference x ON x.org_id = r.org_id AND x.resource_type = r.resource_type AND x.id = r.id
			WHERE x.org_id = %s AND x.resource_type = %s AND x.param = %s AND x.target_type = %s AND x.target_id IN (%s) AND NOT r.deleted
			ORDER BY r.id LIMIT 10000`, q.arg(orgID), q.arg(src), q.arg(param), q.arg(typ), idList), q.args...)
		if err != nil {
			return fmt.Errorf("fhir: _revinclude: %w", err)
		}
		if err := add(rows); err != nil {
			return fmt.Errorf("fhir: _revinclude: %w", err)
		}
	}
	return nil
}

func inList(q *query, ids []string) string {
	ph := make([]string, len(ids))
	for i, id := range ids {
		ph[i] = q.arg(id)
	}
	return strings.Join(ph, ", ")
}

// includeSpec parses Type:param[:targetType] of _include and _revinclude.
func (s *Searcher) includeSpec(v string) (src, param, target string, err error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return "", "", "", errs.Invalidf("_include", "%q is not of the form Type:parameter[:targetType]", v)
	}
	p, ok := s.params(parts[0], parts[1])
	if !ok || p.Type != "reference" {
		return "", "", "", errs.Invalidf("_include", "%s has no reference parameter %q", parts[0], parts[1])
	}
	if len(parts) == 3 {
		target = parts[2]
	}
	return parts[0], parts[1], target, nil
}

// ReferringTo returns the live resources that refer to typ/id through any
// reference parameter, at most limit, by type and id.
func (s *Searcher) ReferringTo(ctx context.Context, orgID, typ, id string, limit int) ([]*Stored, error) {
	rows, err := s.db.Read.QueryContext(ctx, fmt.Sprintf(`SELECT r.resource_type, r.id, r.version_id, r.last_updated, r.content FROM fhir_resources r
		WHERE r.org_id = $1 AND NOT r.deleted AND EXISTS (SELECT 1 FROM fhir_idx_reference x
			WHERE x.org_id = r.org_id AND x.resource_type = r.resource_type AND x.id = r.id AND x.target_type = $2 AND x.target_id = $3)
		ORDER BY r.resource_type, r.id LIMIT %d`, limit), orgID, typ, id)
	if err != nil {
		return nil, fmt.Errorf("fhir: resources referring to %s/%s: %w", typ, id, err)
	}
	defer rows.Close()
	var out []*Stored
	for rows.Next() {
		st := &Stored{}
		var content string
		if err := rows.Scan(&st.Type, &st.ID, &st.VersionID, &st.LastUpdated, &content); err != nil {
			return nil, err
		}
		st.LastUpdated = st.LastUpdated.UTC()
		st.JSON = []byte(content)
		out = append(out, st)
	}
	return out, rows.Err()
}

// Match returns the live resources of typ matching a query string, for
// conditional interactions, at most limit.
func (s *Searcher) Match(ctx context.Context, tx *sql.Tx, orgID, typ, rawQuery string, limit int) ([]*Stored, error) {
	params, err := url.ParseQuery(rawQuery)
	if err != nil {
		return nil, errs.Invalidf("", "the condition %q is not a query string: %v", rawQuery, err)
	}
	if len(params) == 0 {
		return nil, errs.Invalidf("", "a condition needs at least one search parameter")
	}
	q := &query{org: orgID, typ: typ}
	q.arg(orgID)
	q.arg(typ)
	for k, vs := range params {
		if resultParams[k] {
			continue
		}
		for _, v := range vs {
			cond, err := s.condition(q, typ, k, v, 0, false)
			if err != nil {
				return nil, err
			}
			q.conds = append(q.conds, cond)
		}
	}
	where := "r.org_id = $1 AND r.resource_type = $2 AND NOT r.deleted"
	for _, c := range q.conds {
		where += " AND " + c
	}
	rows, err := tx.QueryContext(ctx, fmt.Sprintf("SELECT r.id, r.version_id, r.last_updated, r.content FROM fhir_resources r WHERE %s ORDER BY r.id LIMIT %d", where, limit), q.args...)
	if err != nil {
		return nil, fmt.Errorf("fhir: match %s?%s: %w", typ, rawQuery, err)
	}
	defer rows.Close()
	var out []*Stored
	for rows.Next() {
		st := &Stored{Type: typ}
		var content string
		if err := rows.Scan(&st.ID, &st.VersionID, &st.LastUpdated, &content); err != nil {
			return nil, err
		}
		st.LastUpdated = st.LastUpdated.UTC()
		st.JSON = []byte(content)
		out = append(out, st)
	}
	return out, rows.Err()
}
