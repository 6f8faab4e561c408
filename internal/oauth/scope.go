package oauth

import (
	"fmt"
	"slices"
	"strings"
)

// Perm is a set of SMART v2 resource permissions: the letters c, r, u, d
// and s of a scope such as system/Observation.rs.
type Perm uint8

// The permissions of SMART v2 scopes, in the order their letters must
// appear.
const (
	PermCreate Perm = 1 << iota // c: create
	PermRead                    // r: read, vread, history
	PermUpdate                  // u: update, patch
	PermDelete                  // d: delete
	PermSearch                  // s: search

	// PermAll is cruds.
	PermAll = PermCreate | PermRead | PermUpdate | PermDelete | PermSearch
)

// permLetters are the letters of the permissions, bit by bit.
const permLetters = "cruds"

// String returns the letters of p in SMART v2 order ("rs", "cruds"), or
// the empty string for no permission.
func (p Perm) String() string {
	var b [len(permLetters)]byte
	n := 0
	for i := range len(permLetters) {
		if p&(1<<i) != 0 {
			b[n] = permLetters[i]
			n++
		}
	}
	return string(b[:n])
}

// Scope is one SMART resource scope: a context (system, user or patient),
// a resource type or "*", and the permissions granted on it.
type Scope struct {
	Context string // "system", "user" or "patient"
	Type    string // an R4 resource type, or "*" for every type
	Perms   Perm
}

// String returns the scope in canonical SMART v2 form:
// system/Observation.rs.
func (s Scope) String() string {
	return s.Context + "/" + s.Type + "." + s.Perms.String()
}

// maxScopeLen bounds one scope; the longest R4 type name is far shorter.
const maxScopeLen = 128

// ParseScope parses one SMART resource scope. It accepts the v2 form
// (system/Observation.rs, system/*.cruds: letters among c, r, u, d, s, each
// at most once and in that order) and the v1 form, which it maps to v2:
// .read is rs, .write is cud, .* is cruds. Scopes with a query
// (system/Observation.rs?category=laboratory) are refused: careloop does
// not grant them. ParseScope checks syntax only; whether Type is an R4
// resource type is the caller's question.
func ParseScope(s string) (Scope, error) {
	if len(s) > maxScopeLen {
		return Scope{}, fmt.Errorf("scope %.40q...: longer than %d characters", s, maxScopeLen)
	}
	if strings.ContainsRune(s, '?') {
		return Scope{}, fmt.Errorf("scope %q: scopes with search parameters are not supported", s)
	}
	ctx, rest, ok := strings.Cut(s, "/")
	if !ok {
		return Scope{}, fmt.Errorf("scope %q: not a resource scope such as system/Observation.rs", s)
	}
	switch ctx {
	case "system", "user", "patient":
	default:
		return Scope{}, fmt.Errorf("scope %q: context must be system, user or patient", s)
	}
	dot := strings.LastIndexByte(rest, '.')
	if dot < 0 {
		return Scope{}, fmt.Errorf("scope %q: no permissions after the resource type (such as .rs)", s)
	}
	typ, perms := rest[:dot], rest[dot+1:]
	if !validType(typ) {
		return Scope{}, fmt.Errorf("scope %q: %q is neither * nor a resource type name", s, typ)
	}
	p, err := parsePerms(perms)
	if err != nil {
		return Scope{}, fmt.Errorf("scope %q: %w", s, err)
	}
	return Scope{Context: ctx, Type: typ, Perms: p}, nil
}

// validType reports whether t is "*" or shaped like a resource type name:
// an upper-case ASCII letter followed by ASCII letters.
func validType(t string) bool {
	if t == "*" {
		return true
	}
	if t == "" || len(t) > 64 || t[0] < 'A' || t[0] > 'Z' {
		return false
	}
	for i := 1; i < len(t); i++ {
		c := t[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func parsePerms(s string) (Perm, error) {
	switch s {
	case "read":
		return PermRead | PermSearch, nil
	case "write":
		return PermCreate | PermUpdate | PermDelete, nil
	case "*":
		return PermAll, nil
	case "":
		return 0, fmt.Errorf("no permissions: say some of c, r, u, d, s (or read, write, * in SMART v1)")
	}
	var p Perm
	last := -1
	for i := range len(s) {
		j := strings.IndexByte(permLetters, s[i])
		if j < 0 {
			return 0, fmt.Errorf("%q is not a permission: use the letters c, r, u, d, s", s[i])
		}
		if j <= last {
			return 0, fmt.Errorf("permissions %q: each letter at most once, in the order c, r, u, d, s", s)
		}
		last = j
		p |= 1 << j
	}
	return p, nil
}

// ParseScopes parses a space-separated list of scopes, as in an OAuth
// scope parameter, and returns them in canonical form (see Canonical). It
// stops at the first scope ParseScope refuses.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, f := range strings.Fields(s) {
		sc, err := ParseScope(f)
		if err != nil {
			return nil, err
		}
		out = append(out, sc)
	}
	return Canonical(out), nil
}

// Canonical merges scopes of the same context and type, drops empty ones
// and those a wildcard of the same context already covers, and sorts them:
// by context, "*" first, then by type.
func Canonical(scopes []Scope) []Scope {
	type key struct{ ctx, typ string }
	merged := map[key]Perm{}
	for _, s := range scopes {
		merged[key{s.Context, s.Type}] |= s.Perms
	}
	var out []Scope
	for k, p := range merged {
		if k.typ != "*" {
			p &^= merged[key{k.ctx, "*"}]
		}
		if p != 0 {
			out = append(out, Scope{Context: k.ctx, Type: k.typ, Perms: p})
		}
	}
	slices.SortFunc(out, func(a, b Scope) int {
		if c := strings.Compare(a.Context, b.Context); c != 0 {
			return c
		}
		return strings.Compare(a.Type, b.Type) // "*" sorts before letters
	})
	return out
}

// FormatScopes joins scopes with spaces, as in an OAuth scope parameter.
func FormatScopes(scopes []Scope) string {
	parts := make([]string, len(scopes))
	for i, s := range scopes {
		parts[i] = s.String()
	}
	return strings.Join(parts, " ")
}

// Grant returns the system scopes both requested and allowed: for each
// type, the permissions of the request that the allowance also gives. A
// request for system/*.rs against an allowance of system/Observation.rs
// and system/Patient.r grants those two; a request for
// system/Observation.cruds against system/*.rs grants system/Observation.rs.
// Scopes of other contexts are never granted to a machine client.
func Grant(requested, allowed []Scope) []Scope {
	var out []Scope
	for _, r := range requested {
		if r.Context != "system" {
			continue
		}
		for _, a := range allowed {
			if a.Context != "system" {
				continue
			}
			switch {
			case a.Type == "*" || a.Type == r.Type:
				out = append(out, Scope{Context: "system", Type: r.Type, Perms: r.Perms & a.Perms})
			case r.Type == "*":
				out = append(out, Scope{Context: "system", Type: a.Type, Perms: r.Perms & a.Perms})
			}
		}
	}
	return Canonical(out)
}

// Permits reports whether granted, a list of scopes in canonical v2 form
// (as stored with an access token and carried by fhir.Principal.Scopes),
// gives any of the permissions p on resources of type typ. Only system
// scopes count. typ "*" asks for a wildcard scope: a permission on every
// type. Permits does not allocate: the policy calls it for every
// interaction and every resource returned.
func Permits(granted []string, typ string, p Perm) bool {
	for _, s := range granted {
		rest, ok := strings.CutPrefix(s, "system/")
		if !ok {
			continue
		}
		dot := strings.LastIndexByte(rest, '.')
		if dot < 0 {
			continue
		}
		if t := rest[:dot]; t != "*" && t != typ {
			continue
		}
		for i := dot + 1; i < len(rest); i++ {
			if j := strings.IndexByte(permLetters, rest[i]); j >= 0 && p&(1<<j) != 0 {
				return true
			}
		}
	}
	return false
}
