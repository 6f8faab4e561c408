package web

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/i18n"
)

// recordAccessLimit bounds the entries listed per record, as
// /audit/my-record does.
const recordAccessLimit = 200

// purposeKeys are the messages that say a v3-ActReason purpose of use as
// people do.
var purposeKeys = map[string]string{
	"ETREAT":  "recordaccess.why.etreat",
	"TREAT":   "recordaccess.why.treat",
	"PATRQT":  "recordaccess.why.patrqt",
	"HOPERAT": "recordaccess.why.hoperat",
}

// recordAccessPage is the data of /account/record-access.
type recordAccessPage struct {
	Rows []recordAccessRow
	// Several: the person sees more than one record, so rows say whose.
	Several bool
}

type recordAccessRow struct {
	When, Who, Role, What, Why, Whose string
	Refused                           bool
}

// recordAccess shows who looked at the person's records (their own and
// those they hold proxy access to), newest first, from the audit log. The
// read is recorded in the log before the page is shown; when it cannot be,
// the page is not shown.
func (p *Pages) recordAccess(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	records := access.OwnRecords(pr)
	seen := map[uint64]bool{}
	var found []audit.Found
	for _, rec := range records {
		fs, err := p.AuditLog.Search(ctx, audit.Query{OrgID: pr.OrgID, Patient: rec, Limit: recordAccessLimit})
		if err != nil {
			p.fail(w, r, err)
			return
		}
		for _, f := range fs {
			// The person's own looks at this list are not news to them.
			if f.Entry.Type == audit.TypeAuditLogUsed && f.Entry.Agent.Subject == pr.Subject {
				continue
			}
			if !seen[f.Index] {
				seen[f.Index] = true
				found = append(found, f)
			}
		}
	}
	slices.SortFunc(found, func(x, y audit.Found) int { return cmp.Compare(y.Index, x.Index) })

	ids := make([]string, 0, len(records))
	for _, rec := range records {
		ids = append(ids, strings.TrimPrefix(rec, "Patient/"))
	}
	patientNames, err := p.Access.PatientNames(ctx, pr.OrgID, ids)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	l := u.l
	people := accountNames{p: p, orgID: pr.OrgID, gone: l.T("access.gone")}
	v := recordAccessPage{Several: len(records) > 1}
	for _, f := range found {
		e := f.Entry
		row := recordAccessRow{When: when(l, e.Recorded), What: whatWords(l, e), Why: l.T("recordaccess.why.none"),
			Refused: e.Outcome != audit.Success}
		if k, ok := purposeKeys[e.Agent.PurposeOfUse]; ok {
			row.Why = l.T(k)
		}
		switch id, isAccount := strings.CutPrefix(e.Agent.Subject, "account/"); {
		case e.Agent.Subject == pr.Subject:
			row.Who = l.T("recordaccess.who.you")
		case isAccount:
			if row.Who, err = people.name(ctx, id); err != nil {
				p.fail(w, r, err)
				return
			}
		default:
			row.Who = l.T("recordaccess.who.system")
		}
		row.Role = roleIn(l, identity.Role(e.Agent.Role))
		if row.Role == "" || e.Agent.Role == "api-key" || e.Agent.Role == "client" {
			row.Role = l.T("recordaccess.role.system")
		}
		if v.Several {
			var whose []string
			for _, rec := range e.Patients {
				if slices.Contains(records, rec) {
					id := strings.TrimPrefix(rec, "Patient/")
					whose = append(whose, cmp.Or(patientNames[id], id))
				}
			}
			row.Whose = strings.Join(whose, ", ")
		}
		v.Rows = append(v.Rows, row)
	}

	// Fail closed: the read is in the log before anything is shown.
	entry := audit.Entry{OrgID: pr.OrgID, Type: audit.TypeAuditLogUsed, Subtype: []audit.Coding{audit.Subtype("my-record")},
		Action: audit.Read, Outcome: audit.Success, Agent: audit.Agent{Subject: pr.Subject, Role: pr.Role, Address: httpx.RemoteHost(r)},
		Patients: records, RequestID: httpx.RequestID(ctx)}
	if err := p.AuditLog.Record(ctx, entry); err != nil {
		p.fail(w, r, errs.Wrap(err, errs.Unavailable, "The access log cannot record this look just now; try again."))
		return
	}
	p.r.Page(w, r, http.StatusOK, "record-access", p.personData(w, r, u, l.T("recordaccess.title"), v))
}

// whatWords say in l what an entry's agent did, and to what (the
// references of the records, as the log keeps them).
func whatWords(l *i18n.Localizer, e *audit.Entry) string {
	var verb string
	switch {
	case e.Type == audit.TypeAuditLogUsed:
		return l.T("recordaccess.what.list")
	case slices.ContainsFunc(e.Subtype, func(c audit.Coding) bool { return c.Code == "break-glass" }):
		verb = l.T("recordaccess.what.emergency")
	case slices.ContainsFunc(e.Subtype, func(c audit.Coding) bool { return c.Code == "permission-change" }):
		verb = l.T("recordaccess.what.permission")
	case e.Action == audit.Create:
		verb = l.T("recordaccess.what.added")
	case e.Action == audit.Read:
		verb = l.T("recordaccess.what.viewed")
	case e.Action == audit.Update:
		verb = l.T("recordaccess.what.changed")
	case e.Action == audit.Delete:
		verb = l.T("recordaccess.what.deleted")
	case e.Action == audit.Execute:
		verb = l.T("recordaccess.what.ran")
	default:
		verb = l.T("recordaccess.what.searched")
	}
	var what []string
	for _, en := range e.Entities {
		if en.What != "" {
			what = append(what, en.What)
		}
	}
	switch {
	case len(what) == 0:
		return verb
	case len(what) > 3:
		return verb + " " + l.T("recordaccess.what.more", "List", strings.Join(what[:3], ", "), "N", strconv.Itoa(len(what)-3))
	}
	return verb + " " + strings.Join(what, ", ")
}
