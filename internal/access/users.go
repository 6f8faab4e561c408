package access

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/fhir/spec"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/ttlcache"
	"github.com/careloop/careloop/internal/session"
)

// KindUser is the principal kind of a signed-in person.
const KindUser = "user"

// Sessions finds the open session of a cookie's secret.
type Sessions interface {
	Find(ctx context.Context, secret string) (*session.Session, error)
	Now() time.Time
}

// Accounts finds accounts by id.
type Accounts interface {
	ByID(ctx context.Context, orgID, id string) (*identity.Account, error)
}

// Records is what the policy reads from the FHIR store: the patients tied
// to a practitioner (care relationships) and the organisation's Consents.
type Records interface {
	PatientsLinkedTo(ctx context.Context, orgID, who string, links []fhir.Link) ([]string, error)
	Search(ctx context.Context, orgID, typ string, params url.Values, lenient bool) (*fhir.SearchResult, error)
}

// careLinks are the ways a resource ties a practitioner to a patient: a
// care team, an encounter, an order, an appointment.
var careLinks = []fhir.Link{
	{Type: "CareTeam", Param: "participant"},
	{Type: "Encounter", Param: "participant"},
	{Type: "Encounter", Param: "practitioner"},
	{Type: "ServiceRequest", Param: "requester"},
	{Type: "ServiceRequest", Param: "performer"},
	{Type: "Appointment", Param: "actor"},
	{Type: "Appointment", Param: "practitioner"},
}

// GrantTTL bounds how long a person's reach (care relationships, proxy
// grants, break-glass, consents) is reused between requests. Changes made
// through this process apply at once; others within GrantTTL.
const GrantTTL = 5 * time.Second

// Users authenticates signed-in people by their session cookie and works
// out what each may reach. It is safe for concurrent use.
type Users struct {
	Sessions Sessions
	Accounts Accounts
	Grants   *Grants
	Records  Records
	Cookies  session.Cookies
	// BaseURL is the public URL of /fhir: absolute references under it
	// count as local.
	BaseURL string
	// CrossOrigin checks cookie-authenticated requests that change data;
	// bearer tokens are not sent by browsers on their own, cookies are.
	CrossOrigin *http.CrossOriginProtection

	once     sync.Once
	accounts *ttlcache.Cache[accountKey, *identity.Account]
	reach    *ttlcache.Cache[reachKey, *reach]
	consents *ttlcache.Cache[string, *consentsOfOrg] // by org
	// standings holds what each session found open stands for.
	standings *ttlcache.Cache[*session.Session, standing]
}

// accountKey and reachKey key the caches (struct keys: building a string
// key cost an allocation per request).
type accountKey struct{ orgID, accountID string }

// reachKey holds what a reach is computed from besides the records.
type reachKey struct {
	accountKey
	role, fhirRef string
}

// reach is what one person may reach, computed from the records.
type reach struct {
	owner    accountKey
	subject  string          // the account as Principal.Subject names it
	self     string          // own Patient id, for patients
	patients map[string]bool // nil: every patient of the organisation
	glass    map[string]bool // reached through break-glass only
	list     []string        // the keys of patients, sorted; nil with patients
}

// consentsOfOrg holds an organisation's enforced Consents by patient.
type consentsOfOrg struct {
	byPatient map[string][]consentRule
}

// caller is the policy's record of one authenticated request of a person
// (fhir.Principal.Grant).
type caller struct {
	standing
	session *session.Session
	now     time.Time
	// p is the principal of the request, allocated with the caller.
	p fhir.Principal
}

// standing is what a person's session stands for: their account, what
// they reach and the consents of their organisation, as read within
// GrantTTL.
type standing struct {
	account  *identity.Account
	reach    *reach
	consents *consentsOfOrg
}

// init makes the caches on first use; Users is built as a struct literal.
func (u *Users) init() {
	u.once.Do(func() {
		u.accounts = ttlcache.New[accountKey, *identity.Account](10000)
		u.reach = ttlcache.New[reachKey, *reach](10000)
		u.consents = ttlcache.New[string, *consentsOfOrg](1000)
		u.standings = ttlcache.New[*session.Session, standing](100000)
	})
}

// Authenticate returns the principal of the request's session cookie: an
// errs.Unauthorized without an open session, an errs.Forbidden for staff
// who have not enrolled a second factor, and for a cross-origin request
// that would change data.
func (u *Users) Authenticate(r *http.Request) (*fhir.Principal, error) {
	ctx := r.Context()
	secret := u.Cookies.Secret(r)
	if secret == "" {
		return nil, errs.E(errs.Unauthorized, "this API needs an Authorization: Bearer token (an API key from 'careloop apikey create', or an access token from /auth/token), or a signed-in session")
	}
	if u.CrossOrigin != nil {
		if err := u.CrossOrigin.Check(r); err != nil {
			return nil, errs.E(errs.Forbidden, "cross-origin request refused: a signed-in session may change data only from careloop's own pages")
		}
	}
	se, err := u.Sessions.Find(ctx, secret)
	if err != nil {
		return nil, err
	}
	now := u.Sessions.Now()
	u.init()
	// A found session stays the same value while the session store trusts
	// it (session.CacheFor): what it stands for is looked up once for it.
	st, ok := u.standings.Get(se, now)
	if !ok {
		a, err := u.account(ctx, se, now)
		if err != nil {
			return nil, err
		}
		c, err := u.callerOf(ctx, a, se, now)
		if err != nil {
			return nil, err
		}
		st = c.standing
		u.standings.Put(se, st, now, now.Add(GrantTTL))
	}
	if isStaff(st.account.Role) && se.FactorAt.IsZero() {
		return nil, errs.E(errs.Forbidden, "Staff must enroll a second factor before they can see health data: add an authenticator app or a passkey to your account, then sign in again.")
	}
	return (&caller{standing: st, session: se, now: now}).principal(), nil
}

func (c *caller) principal() *fhir.Principal {
	p := &c.p
	*p = fhir.Principal{OrgID: c.account.OrgID, Subject: c.reach.subject, Kind: KindUser,
		Role: string(c.account.Role), Grant: c}
	if c.reach.patients != nil {
		p.Compartments = c.compartments
	}
	return p
}

// compartments returns the patients whose resources of typ the caller may
// reach: those of their reach that no Consent closes to them for the type.
func (c *caller) compartments(typ string) ([]string, bool) {
	if c.reach.patients == nil {
		return nil, false
	}
	out := make([]string, 0, len(c.reach.list))
	for _, pid := range c.reach.list {
		if pid == c.reach.self || c.reach.glass[pid] || !c.consentDenies(pid, typ) {
			out = append(out, pid)
		}
	}
	return out, true
}

// account returns the account of a session, reading it at most once per
// GrantTTL: a changed role applies within that time.
func (u *Users) account(ctx context.Context, se *session.Session, now time.Time) (*identity.Account, error) {
	u.init()
	key := accountKey{se.OrgID, se.AccountID}
	if a, ok := u.accounts.Get(key, now); ok {
		return a, nil
	}
	a, err := u.Accounts.ByID(ctx, se.OrgID, se.AccountID)
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound {
			return nil, errs.E(errs.Unauthorized, "the account of this session no longer exists")
		}
		return nil, err
	}
	u.accounts.Put(key, a, now, now.Add(GrantTTL))
	return a, nil
}

// callerOf builds the caller of a's request, reusing a's reach and the
// organisation's consents for up to GrantTTL.
func (u *Users) callerOf(ctx context.Context, a *identity.Account, se *session.Session, now time.Time) (*caller, error) {
	u.init()
	key := reachKey{accountKey{a.OrgID, a.ID}, string(a.Role), a.FHIRRef}
	rc, ok := u.reach.Get(key, now)
	if !ok {
		var err error
		if rc, err = u.reachOf(ctx, a, now); err != nil {
			return nil, err
		}
		u.reach.Put(key, rc, now, now.Add(GrantTTL))
	}
	cs, ok := u.consents.Get(a.OrgID, now)
	if !ok {
		var err error
		if cs, err = u.loadConsents(ctx, a.OrgID); err != nil {
			return nil, err
		}
		u.consents.Put(a.OrgID, cs, now, now.Add(GrantTTL))
	}
	return &caller{standing: standing{account: a, reach: rc, consents: cs}, session: se, now: now}, nil
}

// Forget drops what is remembered of the accounts' reach, after a grant
// changed, so that this process applies it at once.
func (u *Users) Forget(orgID string, accountIDs ...string) {
	u.init()
	drop := make(map[accountKey]bool, len(accountIDs))
	for _, id := range accountIDs {
		drop[accountKey{orgID, id}] = true
	}
	u.reach.DeleteFunc(func(r *reach) bool { return drop[r.owner] })
	u.standings.DeleteFunc(func(st standing) bool { return drop[st.reach.owner] })
}

// reachOf works out the patients a may reach: their own record and the
// records they hold proxy access to (patients, caregivers), the patients
// in their care and those reached through break-glass (clinical staff),
// every patient (coordinators, compliance officers), or none (admins).
func (u *Users) reachOf(ctx context.Context, a *identity.Account, now time.Time) (*reach, error) {
	rc := &reach{owner: accountKey{a.OrgID, a.ID}, subject: "account/" + a.ID, patients: map[string]bool{}, glass: map[string]bool{}}
	switch {
	case reachesAllPatients(a.Role):
		rc.patients = nil
		return rc, nil
	case a.Role == identity.RolePatient || a.Role == identity.RoleCaregiver:
		if id, ok := strings.CutPrefix(a.FHIRRef, "Patient/"); ok && a.Role == identity.RolePatient {
			rc.self = id
			rc.patients[id] = true
		}
		ids, err := u.Grants.openProxyPatients(ctx, a.OrgID, a.ID, now)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			rc.patients[id] = true
		}
	case mayBreakGlass(a.Role):
		if strings.HasPrefix(a.FHIRRef, "Practitioner/") {
			ids, err := u.Records.PatientsLinkedTo(ctx, a.OrgID, a.FHIRRef, careLinks)
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				rc.patients[id] = true
			}
		}
		ids, err := u.Grants.openBreakGlassPatients(ctx, a.OrgID, a.ID, now)
		if err != nil {
			return nil, err
		}
		for _, id := range ids {
			if !rc.patients[id] {
				rc.patients[id], rc.glass[id] = true, true
			}
		}
	}
	rc.list = make([]string, 0, len(rc.patients))
	for id := range rc.patients {
		rc.list = append(rc.list, id)
	}
	slices.Sort(rc.list)
	return rc, nil
}

// loadConsents reads the organisation's active privacy Consents.
func (u *Users) loadConsents(ctx context.Context, orgID string) (*consentsOfOrg, error) {
	cs := &consentsOfOrg{byPatient: map[string][]consentRule{}}
	params := url.Values{"status": {"active"}, "_count": {"1000"}}
	for page := 0; ; page++ {
		res, err := u.Records.Search(ctx, orgID, "Consent", params, false)
		if err != nil {
			return nil, err
		}
		for _, st := range res.Matches {
			if rule, patient, ok := parseConsent(st.JSON, u.BaseURL); ok {
				cs.byPatient[patient] = append(cs.byPatient[patient], rule)
			}
		}
		if res.Next == "" {
			return cs, nil
		}
		params.Set("_cursor", res.Next)
		if page > 1000 {
			return nil, errs.E(errs.Internal, "access: more than a million active Consents")
		}
	}
}

// allow decides an interaction of a person on a type.
func (c *caller) allow(in fhir.Interaction, typ string) error {
	role := c.account.Role
	if in == fhir.InteractionCapabilities {
		return nil
	}
	if typ == "" {
		return errs.Forbiddenf("people may not %s across the whole server: system-wide history and bulk export are for integrations with a client token", in)
	}
	perm, ok := permOf(in)
	if in == fhir.InteractionOperation {
		perm = rs // $everything reads and searches
	}
	if ok && perms(role, typ)&perm == perm {
		return nil
	}
	return errs.Forbiddenf("a %s may not %s %s resources", role, in, typ)
}

// visible decides whether a person may see one resource: the role must
// read its type; a resource in the Patient compartment must belong to a
// patient the person reaches, and no Consent of that patient may deny the
// person, unless they reached the patient by breaking the glass or it is
// their own record.
func (c *caller) visible(st *fhir.Stored, base string) bool {
	if perms(c.account.Role, st.Type)&rs == 0 {
		return false
	}
	if !spec.InPatientCompartment(st.Type) {
		return true
	}
	pids, ok := storedPatients(st, base)
	if !ok {
		return false
	}
	for _, pid := range pids {
		if c.reach.patients != nil && !c.reach.patients[pid] {
			continue
		}
		if pid == c.reach.self || c.reach.glass[pid] || !c.consentDenies(pid, st.Type) {
			return true
		}
	}
	return false
}

// consentDenies reports whether a Consent of the patient denies this
// person resources of typ.
func (c *caller) consentDenies(patient, typ string) bool {
	rules := c.consents.byPatient[patient]
	if len(rules) == 0 {
		return false
	}
	actor := c.account.FHIRRef
	for _, r := range rules {
		if r.denies(actor, typ, c.now) {
			return true
		}
	}
	return false
}

// callerFrom returns the caller behind a principal of kind user.
func callerFrom(p *fhir.Principal) (*caller, bool) {
	c, ok := p.Grant.(*caller)
	return c, ok && c != nil
}

// PurposeOfUse returns the v3-ActReason code of a caller's access to a
// patient's data, for the audit log: ETREAT (emergency treatment) when a
// person reached the patient by breaking the glass, TREAT for clinical
// staff, PATRQT for patients and caregivers, HOPERAT (operations) for
// everyone else, systems included.
func PurposeOfUse(p *fhir.Principal, patients []string) string {
	c, ok := callerFrom(p)
	if !ok {
		return "HOPERAT"
	}
	for _, pid := range patients {
		if c.reach.glass[pid] {
			return "ETREAT"
		}
	}
	switch c.account.Role {
	case identity.RoleClinician, identity.RoleNurse, identity.RoleTechnician:
		return "TREAT"
	case identity.RolePatient, identity.RoleCaregiver:
		return "PATRQT"
	}
	return "HOPERAT"
}

// OwnRecords returns the records a patient or caregiver may see as their
// own, as "Patient/id": their own and those they hold proxy access to; nil
// for staff and systems. The audit log shows their entries to them ("who
// looked at my record").
func OwnRecords(p *fhir.Principal) []string {
	c, ok := callerFrom(p)
	if !ok || isStaff(c.account.Role) {
		return nil
	}
	out := make([]string, 0, len(c.reach.list))
	for _, id := range c.reach.list {
		out = append(out, "Patient/"+id)
	}
	return out
}
