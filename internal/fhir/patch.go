package fhir

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
)

// setMember returns the JSON object raw with member key set to value (raw
// JSON), added after resourceType when absent.
func setMember(raw []byte, key string, value string) ([]byte, error) {
	members, err := splitObject(raw)
	if err != nil {
		return nil, err
	}
	found := false
	for i := range members {
		if members[i].Key == key {
			members[i].Value = []byte(value)
			found = true
		}
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range members {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(m.Key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(m.Value)
		if m.Key == "resourceType" && !found {
			k, _ := json.Marshal(key)
			b.WriteByte(',')
			b.Write(k)
			b.WriteByte(':')
			b.WriteString(value)
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// patchOp is one operation of an RFC 6902 JSON Patch.
type patchOp struct {
	Op    string          `json:"op"`
	Path  string          `json:"path"`
	From  string          `json:"from"`
	Value json.RawMessage `json:"value"`
}

// applyPatch applies the JSON Patch document to the JSON document doc.
// Any failing operation, a failing test included, fails the whole patch.
func applyPatch(doc, patch []byte) ([]byte, error) {
	var ops []patchOp
	dec := json.NewDecoder(bytes.NewReader(patch))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ops); err != nil {
		return nil, errs.Invalidf("", "the body is not a JSON Patch array of operations: %v", err)
	}
	var root any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&root); err != nil {
		return nil, fmt.Errorf("fhir: stored resource: %w", err)
	}
	for i, op := range ops {
		var err error
		root, err = applyOp(root, op)
		if err != nil {
			return nil, errs.Invalidf("", "patch operation %d (%s %s): %v", i, op.Op, op.Path, err)
		}
	}
	return marshal(root)
}

// marshal encodes v as compact JSON without escaping <, > and &.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func decodeValue(raw json.RawMessage) (any, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("value is required")
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func applyOp(root any, op patchOp) (any, error) {
	switch op.Op {
	case "add", "replace":
		v, err := decodeValue(op.Value)
		if err != nil {
			return nil, err
		}
		if op.Op == "replace" {
			if _, err := get(root, op.Path); err != nil {
				return nil, err
			}
			return put(root, op.Path, v, true)
		}
		return put(root, op.Path, v, false)
	case "remove":
		return remove(root, op.Path)
	case "move":
		v, err := get(root, op.From)
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(op.Path, op.From+"/") {
			return nil, fmt.Errorf("cannot move a value into itself")
		}
		if root, err = remove(root, op.From); err != nil {
			return nil, err
		}
		return put(root, op.Path, v, false)
	case "copy":
		v, err := get(root, op.From)
		if err != nil {
			return nil, err
		}
		return put(root, op.Path, deepCopy(v), false)
	case "test":
		want, err := decodeValue(op.Value)
		if err != nil {
			return nil, err
		}
		got, err := get(root, op.Path)
		if err != nil {
			return nil, err
		}
		if !equalJSON(got, want) {
			return nil, fmt.Errorf("test failed: the value differs")
		}
		return root, nil
	default:
		return nil, fmt.Errorf("unknown operation %q", op.Op)
	}
}

// pointer splits a JSON Pointer into unescaped tokens.
func pointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q must start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func arrayIndex(tok string, n int, allowEnd bool) (int, error) {
	if allowEnd && tok == "-" {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || (tok != "0" && strings.HasPrefix(tok, "0")) {
		return 0, fmt.Errorf("%q is not an array index", tok)
	}
	limit := n - 1
	if allowEnd {
		limit = n
	}
	if i > limit {
		return 0, fmt.Errorf("index %d is out of range", i)
	}
	return i, nil
}

func get(root any, path string) (any, error) {
	toks, err := pointer(path)
	if err != nil {
		return nil, err
	}
	cur := root
	for _, t := range toks {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("%s does not exist", path)
			}
			cur = v
		case []any:
			i, err := arrayIndex(t, len(c), false)
			if err != nil {
				return nil, err
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%s does not exist", path)
		}
	}
	return cur, nil
}

// put sets the value at path; replace overwrites array elements instead of
// inserting.
func put(root any, path string, v any, replace bool) (any, error) {
	toks, err := pointer(path)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return v, nil
	}
	parent, err := get(root, "/"+strings.Join(escape(toks[:len(toks)-1]), "/"))
	if len(toks) == 1 {
		parent, err = root, nil
	}
	if err != nil {
		return nil, err
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]any:
		c[last] = v
		return root, nil
	case []any:
		i, err := arrayIndex(last, len(c), !replace)
		if err != nil {
			return nil, err
		}
		if replace {
			c[i] = v
			return root, nil
		}
		c = append(c, nil)
		copy(c[i+1:], c[i:])
		c[i] = v
		return setAt(root, toks[:len(toks)-1], c)
	default:
		return nil, fmt.Errorf("the parent of %s is not an object or array", path)
	}
}

func remove(root any, path string) (any, error) {
	toks, err := pointer(path)
	if err != nil || len(toks) == 0 {
		return nil, fmt.Errorf("cannot remove %q", path)
	}
	parent := root
	if len(toks) > 1 {
		if parent, err = get(root, "/"+strings.Join(escape(toks[:len(toks)-1]), "/")); err != nil {
			return nil, err
		}
	}
	last := toks[len(toks)-1]
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[last]; !ok {
			return nil, fmt.Errorf("%s does not exist", path)
		}
		delete(c, last)
		return root, nil
	case []any:
		i, err := arrayIndex(last, len(c), false)
		if err != nil {
			return nil, err
		}
		c = append(c[:i:i], c[i+1:]...)
		return setAt(root, toks[:len(toks)-1], c)
	default:
		return nil, fmt.Errorf("%s does not exist", path)
	}
}

// setAt stores v at the location toks, for arrays whose header changed.
func setAt(root any, toks []string, v any) (any, error) {
	if len(toks) == 0 {
		return v, nil
	}
	parent := root
	var err error
	if len(toks) > 1 {
		if parent, err = get(root, "/"+strings.Join(escape(toks[:len(toks)-1]), "/")); err != nil {
			return nil, err
		}
	}
	switch c := parent.(type) {
	case map[string]any:
		c[toks[len(toks)-1]] = v
	case []any:
		i, err := arrayIndex(toks[len(toks)-1], len(c), false)
		if err != nil {
			return nil, err
		}
		c[i] = v
	}
	return root, nil
}

func escape(toks []string) []string {
	out := make([]string, len(toks))
	for i, t := range toks {
		out[i] = strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1")
	}
	return out
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	out, _ := decodeValue(b)
	return out
}

func equalJSON(a, b any) bool {
	na, aok := a.(json.Number)
	nb, bok := b.(json.Number)
	if aok && bok {
		fa, _ := na.Float64()
		fb, _ := nb.Float64()
		return fa == fb
	}
	return reflect.DeepEqual(a, b)
}

func (a *API) patch(w http.ResponseWriter, r *http.Request, p *Principal) error {
	typ, id := r.PathValue("type"), r.PathValue("id")
	if err := a.access.Allow(r.Context(), p, InteractionPatch, typ); err != nil {
		return err
	}
	match, err := ifMatch(r)
	if err != nil {
		return err
	}
	patchDoc, err := body(r)
	if err != nil {
		return err
	}
	var st *Stored
	err = a.db.InTx(r.Context(), func(tx *sql.Tx) error {
		cur, err := a.store.ReadTx(r.Context(), tx, p.OrgID, typ, id)
		if err != nil {
			return err
		}
		if !a.access.Visible(r.Context(), p, cur) {
			return errs.NotFoundf("%s/%s is not known", typ, id)
		}
		patched, err := applyPatch(cur.JSON, patchDoc)
		if err != nil {
			return err
		}
		if err := a.checkResource(typ, id, patched, lenient(r)); err != nil {
			return err
		}
		// Without If-Match, the patch still applies only to the version read.
		if match == 0 {
			match = cur.VersionID
		}
		st, _, err = a.store.UpdateTx(r.Context(), tx, p.OrgID, typ, id, patched, match)
		if err != nil {
			return err
		}
		return a.admitAndRecord(r.Context(), tx, p, InteractionPatch, st)
	})
	if err != nil {
		return err
	}
	a.store.wrote(r.Context(), 1)
	a.writeStored(w, r, http.StatusOK, st)
	return nil
}
