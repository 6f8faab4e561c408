package journey

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/careloop/careloop/internal/platform/db"
)

// Version names one written version, as in fhir.ResourcesChangedArgs.Refs:
// "Type/id/_history/version".
type Version = string

// parseVersion splits "Type/id/_history/v".
func parseVersion(v string) (typ, id string, version int64, ok bool) {
	parts := strings.Split(v, "/")
	if len(parts) != 4 || parts[2] != "_history" {
		return "", "", 0, false
	}
	n, err := strconv.ParseInt(parts[3], 10, 64)
	if err != nil || n < 1 {
		return "", "", 0, false
	}
	return parts[0], parts[1], n, true
}

// Relevant returns the versions among refs whose types move journeys; the
// journey.changes job is needed only when there is one.
func Relevant(refs []string) []string {
	var out []string
	for _, v := range refs {
		if typ, _, _, ok := parseVersion(v); ok && watched[typ] {
			out = append(out, v)
		}
	}
	return out
}

// read returns the written versions, parsed, in the order they apply;
// deletions are left out (a deleted resource moves no journey: corrections
// come as entered-in-error).
func (s *Service) read(ctx context.Context, orgID string, versions []string) ([]*resource, error) {
	var out []*resource
	for _, v := range versions {
		typ, id, n, ok := parseVersion(v)
		if !ok || !watched[typ] {
			continue
		}
		st, err := s.fhir.VRead(ctx, orgID, typ, id, n)
		if isMissing(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("journey: read %s: %w", v, err)
		}
		out = append(out, parse(typ, id, n, st.LastUpdated.UTC(), st.JSON))
	}
	sort.SliceStable(out, func(i, k int) bool { return applyOrder[out[i].Type] < applyOrder[out[k].Type] })
	return out, nil
}

// Apply turns written FHIR versions of the organisation into journey
// events, in tx. A version already applied to a journey is not applied
// again, so applying the same versions twice changes nothing. It returns
// the notices to send once tx commits.
func (s *Service) Apply(ctx context.Context, sqlTx *sql.Tx, orgID string, versions []string) ([]Notice, error) {
	rs, err := s.read(ctx, orgID, versions)
	if err != nil {
		return nil, err
	}
	t, err := s.applyRead(ctx, sqlTx, orgID, rs)
	if err != nil || t == nil {
		return nil, err
	}
	return t.notices, nil
}

// applyRead applies parsed versions in sqlTx and returns the transaction's
// work (nil when there was nothing to apply), for Service.committed once
// sqlTx commits.
func (s *Service) applyRead(ctx context.Context, sqlTx *sql.Tx, orgID string, rs []*resource) (*tx, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	if err := s.lockPatients(ctx, sqlTx, orgID, rs); err != nil {
		return nil, err
	}
	t, err := s.begin(ctx, sqlTx, orgID)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if old := t.given[r.ref()]; old == nil || old.Version < r.Version {
			t.given[r.ref()] = r
		}
	}
	for _, r := range rs {
		if err := t.apply(r); err != nil {
			return nil, fmt.Errorf("journey: apply %s: %w", r.cause(), err)
		}
	}
	if err := t.finish(); err != nil {
		return nil, err
	}
	return t, nil
}

// lockPatients serialises, on PostgreSQL, the transactions that apply
// writes about the same patients: two jobs about one order (its report and
// its result, say) running at once would otherwise each open a journey
// the other cannot see yet. A job takes its patients' locks, sorted, and
// the organisation's lock shared; one with a resource that names no
// patient takes the organisation's lock alone. The locks end with tx.
// SQLite has a single writer and needs none.
func (s *Service) lockPatients(ctx context.Context, tx *sql.Tx, orgID string, rs []*resource) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	var patients []string
	wholeOrg := false
	for _, r := range rs {
		if r.Patient == "" {
			wholeOrg = true
		} else if !slices.Contains(patients, r.Patient) {
			patients = append(patients, r.Patient)
		}
	}
	lock := func(fn, key string) error {
		if _, err := tx.ExecContext(ctx, "SELECT "+fn+"(hashtextextended($1, 0))", key); err != nil {
			return fmt.Errorf("journey: lock %s: %w", key, err)
		}
		return nil
	}
	if wholeOrg {
		return lock("pg_advisory_xact_lock", "journey/"+orgID)
	}
	if err := lock("pg_advisory_xact_lock_shared", "journey/"+orgID); err != nil {
		return err
	}
	slices.Sort(patients)
	for _, p := range patients {
		if err := lock("pg_advisory_xact_lock", "journey/"+orgID+"/"+p); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) apply(r *resource) error {
	t.ensuring[r.ref()] = true
	switch r.Type {
	case "ServiceRequest":
		return t.order(r)
	case "DiagnosticReport":
		return t.report(r)
	case "Observation":
		return t.observation(r)
	case "Communication":
		return t.communication(r)
	}
	return t.step(r)
}

// ensure applies the current version of a resource that r names, when it
// was written but no journey knows it yet: its own job has not run (jobs
// run concurrently, in any order). Its job then finds it applied. A
// resource not stored is left alone.
func (t *tx) ensure(refs ...string) error {
	for _, ref := range refs {
		typ, id, ok := strings.Cut(ref, "/")
		if !ok || !watched[typ] || t.ensuring[ref] {
			continue
		}
		t.ensuring[ref] = true
		if p, err := t.anchored(ref); err != nil {
			return err
		} else if p != nil {
			continue
		}
		if links, err := t.linksOf(ref); err != nil {
			return err
		} else if len(links) > 0 {
			continue
		}
		st, err := t.s.fhir.ReadTx(t.ctx, t.tx, t.orgID, typ, id)
		if isMissing(err) {
			continue
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", ref, err)
		}
		if err := t.apply(parse(typ, id, st.VersionID, st.LastUpdated.UTC(), st.JSON)); err != nil {
			return fmt.Errorf("apply %s first: %w", ref, err)
		}
	}
	return nil
}

// fresh reports whether version r is newer than what the journey has of
// the resource, so that it applies.
func (t *tx) fresh(r *resource, journeyID string) (bool, error) {
	links, err := t.linksOf(r.ref())
	if err != nil {
		return false, err
	}
	for _, l := range links {
		if l.journeyID == journeyID && l.version >= r.Version {
			return false, nil
		}
	}
	return true, nil
}

// linked returns the journeys the resource ("Type/id") is linked to with
// one of the roles.
func (t *tx) linked(ref string, roles ...string) ([]*pending, error) {
	links, err := t.linksOf(ref)
	if err != nil {
		return nil, err
	}
	var out []*pending
	for _, l := range links {
		for _, role := range roles {
			if l.role == role {
				p, err := t.journey(l.journeyID)
				if err != nil {
					return nil, err
				}
				out = append(out, p)
				break
			}
		}
	}
	return out, nil
}

// linksOf returns the links of a resource ("Type/id") to journeys, read
// once per transaction and kept up to date by its own changes.
func (t *tx) linksOf(ref string) ([]link, error) {
	if ls, ok := t.links[ref]; ok {
		return ls, nil
	}
	ls, err := t.s.st.linksOf(t.ctx, t.tx, t.orgID, ref)
	if err != nil {
		return nil, err
	}
	t.links[ref] = ls
	return ls, nil
}

// putLink stores or replaces a link, and keeps what linksOf returns.
func (t *tx) putLink(l link) error {
	if err := t.s.st.putLink(t.ctx, t.tx, t.orgID, l); err != nil {
		return err
	}
	ls, ok := t.links[l.ref]
	if !ok {
		return nil
	}
	ls = slices.Clone(ls) // a caller may be ranging over the old slice
	if i := slices.IndexFunc(ls, func(o link) bool { return o.journeyID == l.journeyID }); i >= 0 {
		ls[i] = l
	} else {
		ls = append(ls, l)
	}
	t.links[l.ref] = ls
	return nil
}

func (t *tx) link(r *resource, p *pending, role string, level Flag, reason string) error {
	return t.putLink(link{ref: r.ref(), journeyID: p.j.ID, role: role, version: r.Version, level: level, reason: reason})
}

// open starts a journey following r.
func (t *tx) open(r *resource) *pending {
	j := &Journey{OrgID: t.orgID, ID: uuid.NewString(), Anchor: r.ref(), PatientID: r.Patient, OpenedAt: r.At, UpdatedAt: r.At}
	p := t.keep(j, true)
	p.source = r
	return p
}

// describe fills the journey's test and clinician from r where it has none
// (an order's own code wins over its report's).
func (p *pending) describe(r *resource, own bool) {
	j := p.j
	if j.PatientID == "" {
		j.PatientID = r.Patient
	}
	if (own || j.Code == "" && j.Display == "") && (r.Code != "" || r.Display != "") {
		j.System, j.Code, j.Display = r.System, r.Code, r.Display
	}
	if r.Clinician != "" && (own || j.Clinician == "") {
		j.Clinician = r.Clinician
	}
}

// order applies a ServiceRequest: its own journey, and the journeys whose
// result it follows up.
func (t *tx) order(r *resource) error {
	p, err := t.anchored(r.ref())
	if err != nil {
		return err
	}
	if p == nil {
		if r.Status == "draft" || r.Status == "" {
			return nil // not an order yet
		}
		p = t.open(r)
		p.j.OrderRef = r.ref()
	}
	ok, err := t.fresh(r, p.j.ID)
	if err != nil || !ok {
		return err
	}
	p.describe(r, true)
	if to, moves := orderStage(r.Status); moves {
		p.move(r.At, to, false, r.cause(), "", "")
	} else {
		p.move(r.At, p.j.Stage, false, r.cause(), "", "order "+r.Status)
	}
	if err := t.link(r, p, roleOrder, Unknown, ""); err != nil {
		return err
	}
	// A follow-up: an order whose reason is a result of another journey.
	if err := t.ensure(r.Reasons...); err != nil {
		return err
	}
	for _, reason := range r.Reasons {
		targets, err := t.resultJourneys(reason)
		if err != nil {
			return err
		}
		for _, q := range targets {
			if q.j.ID == p.j.ID {
				continue
			}
			if ok, err := t.fresh(r, q.j.ID); err != nil || !ok {
				if err != nil {
					return err
				}
				continue
			}
			switch r.Status {
			case "active", "completed", "on-hold":
				if q.j.FollowupAt == nil {
					q.j.FollowupAt = ptr(r.At)
				}
				q.move(r.At, FollowupRecommended, false, r.cause(), "", "follow-up ordered: "+r.Display)
			default:
				q.move(r.At, q.j.Stage, false, r.cause(), "", "follow-up order "+r.Status)
			}
			if err := t.link(r, q, roleFollowupOrder, Unknown, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// resultJourneys returns the journeys a result ("DiagnosticReport/id" or
// "Observation/id") belongs to.
func (t *tx) resultJourneys(ref string) ([]*pending, error) {
	if !strings.HasPrefix(ref, "DiagnosticReport/") && !strings.HasPrefix(ref, "Observation/") {
		return nil, nil
	}
	return t.linked(ref, roleReport, roleResult, roleDirectResult)
}

// report applies a DiagnosticReport to the journey of its order, or to its
// own journey when it names no order known here.
func (t *tx) report(r *resource) error {
	if err := t.ensure(r.basedOnOrders()...); err != nil {
		return err
	}
	var p *pending
	if ps, err := t.linked(r.ref(), roleReport); err != nil {
		return err
	} else if len(ps) > 0 {
		p = ps[0]
	}
	for _, o := range r.basedOnOrders() {
		if p != nil {
			break
		}
		var err error
		if p, err = t.anchored(o); err != nil {
			return err
		}
	}
	if p == nil {
		if p2, err := t.anchored(r.ref()); err != nil {
			return err
		} else if p2 != nil {
			p = p2
		} else {
			p = t.open(r)
		}
	}
	ok, err := t.fresh(r, p.j.ID)
	if err != nil || !ok {
		return err
	}
	own := p.j.Anchor == r.ref()
	p.describe(r, own)
	to, correction, moves := reportStage(r.Status)
	switch {
	case !moves:
		p.move(r.At, p.j.Stage, false, r.cause(), "", "report "+r.Status)
	case to == EnteredInError && !own:
		// The order still waits for a correct report.
		p.j.ReportRef, p.j.ResultAt, p.j.FinalAt = "", nil, nil
		from := p.j.Stage
		if !from.Terminal() {
			p.j.Stage = InProgress
			p.j.ReviewedAt, p.j.ReviewedBy, p.j.DueStep = nil, "", ""
		}
		p.record(r.At, KindCorrection, from, p.j.Stage, r.cause(), "", "report entered in error: the order waits for a new one")
		if err := t.unlinkResults(p); err != nil {
			return err
		}
	default:
		p.j.ReportRef = r.ref()
		if to == Preliminary || to == Final {
			t.resultArrived(p, r, to)
		}
		p.move(r.At, to, correction, r.cause(), "", "")
	}
	if err := t.link(r, p, roleReport, Unknown, ""); err != nil {
		return err
	}
	if to == EnteredInError && !own {
		return nil
	}
	for _, res := range r.Results {
		if !strings.HasPrefix(res, "Observation/") {
			continue
		}
		if err := t.reportResult(p, res, r); err != nil {
			return err
		}
	}
	p.reflag = true
	return nil
}

// resultArrived notes when the first result, and the final one, reached
// the journey (the release delay counts from the final), and whether it is
// history. A review of the preliminary result does not cover the final
// one: it is asked again.
func (t *tx) resultArrived(p *pending, r *resource, to Stage) {
	if p.j.ResultAt == nil {
		p.j.ResultAt = ptr(t.now)
	}
	if to == Final && p.j.FinalAt == nil {
		p.j.FinalAt = ptr(t.now)
		if p.j.ReviewedAt != nil {
			p.j.ReviewedAt, p.j.ReviewedBy, p.j.DueStep = nil, "", ""
			p.record(t.now, KindEvent, p.j.Stage, p.j.Stage, r.cause(), "", "final result: the preliminary one was reviewed; review again")
		}
	}
	if !r.ResultTime.IsZero() && r.ResultTime.Before(t.now.Add(-t.policy.HistoricalAfter)) && p.j.ReviewedAt == nil {
		p.history = true
	}
}

// reportResult links an Observation listed in a report to the report's
// journey, with its interpretation. A laboratory Observation that arrived
// before its report opened its own journey: that journey closes, its
// result now followed here.
func (t *tx) reportResult(p *pending, ref string, by *resource) error {
	obs := t.given[ref] // written with the report, most often
	if obs == nil {
		id := strings.TrimPrefix(ref, "Observation/")
		st, err := t.s.fhir.ReadTx(t.ctx, t.tx, t.orgID, "Observation", id)
		if isMissing(err) {
			// Not stored yet: linked at version 0, applied when it arrives.
			return t.putLink(link{ref: ref, journeyID: p.j.ID, role: roleResult, reason: "not received yet"})
		}
		if err != nil {
			return fmt.Errorf("read %s: %w", ref, err)
		}
		obs = parse("Observation", id, st.VersionID, st.LastUpdated.UTC(), st.JSON)
	}
	flag, reason := t.interpret(obs.JSON, p.j.PatientID, obs.ResultTime)
	if err := t.link(obs, p, roleResult, flag, reason); err != nil {
		return err
	}
	own, err := t.anchored(ref)
	if err != nil || own == nil || own.j.ID == p.j.ID {
		return err
	}
	if !own.j.Stage.Terminal() {
		own.move(by.At, Closed, false, by.cause(), "", "this result is followed in journey "+p.j.ID)
		own.j.ClosedAt, own.j.MergedInto = ptr(by.At), p.j.ID
	}
	if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM journey_links WHERE org_id = $1 AND ref = $2 AND journey_id = $3",
		t.orgID, ref, own.j.ID); err != nil {
		return fmt.Errorf("journey: unlink %s from %s: %w", ref, own.j.ID, err)
	}
	if ls, ok := t.links[ref]; ok {
		t.links[ref] = slices.DeleteFunc(slices.Clone(ls), func(l link) bool { return l.journeyID == own.j.ID })
	}
	return nil
}

// unlinkResults drops a journey's results after its report was entered in
// error.
func (t *tx) unlinkResults(p *pending) error {
	if _, err := t.tx.ExecContext(t.ctx, "DELETE FROM journey_links WHERE org_id = $1 AND journey_id = $2 AND role = $3",
		t.orgID, p.j.ID, roleResult); err != nil {
		return fmt.Errorf("journey: unlink the results of %s: %w", p.j.ID, err)
	}
	clear(t.links) // the links of several resources changed
	p.reflag = true
	return nil
}

// observation applies an Observation: to the journeys whose result it is,
// to its order's journey, or to its own journey when it is a laboratory
// result without order or report.
func (t *tx) observation(r *resource) error {
	if err := t.ensure(r.basedOnOrders()...); err != nil {
		return err
	}
	links, err := t.linksOf(r.ref())
	if err != nil {
		return err
	}
	var ps []*pending
	roleOf := map[string]string{}
	for _, l := range links {
		if l.role == roleResult || l.role == roleDirectResult {
			p, err := t.journey(l.journeyID)
			if err != nil {
				return err
			}
			roleOf[l.journeyID] = l.role
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		for _, o := range r.basedOnOrders() {
			p, err := t.anchored(o)
			if err != nil {
				return err
			}
			if p != nil {
				ps = append(ps, p)
				break
			}
		}
	}
	if len(ps) == 0 {
		if p, err := t.anchored(r.ref()); err != nil {
			return err
		} else if p != nil {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		if _, _, moves := reportStage(r.Status); !r.Lab || !moves || r.Status == "cancelled" || r.Status == "entered-in-error" {
			return nil // not a result that needs following
		}
		ps = append(ps, t.open(r))
	}
	for _, p := range ps {
		ok, err := t.fresh(r, p.j.ID)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		role := roleOf[p.j.ID]
		if role == "" {
			role = roleDirectResult
		}
		flag, reason := t.interpret(r.JSON, p.j.PatientID, r.ResultTime)
		if err := t.link(r, p, role, flag, reason); err != nil {
			return err
		}
		p.reflag = true
		if role == roleResult {
			// The report drives the stage; the result only its flag.
			p.record(r.At, KindEvent, p.j.Stage, p.j.Stage, r.cause(), "", "result "+r.Status)
			continue
		}
		p.describe(r, p.j.Anchor == r.ref())
		to, correction, moves := reportStage(r.Status)
		if !moves {
			p.move(r.At, p.j.Stage, false, r.cause(), "", "result "+r.Status)
			continue
		}
		if to == Preliminary || to == Final {
			t.resultArrived(p, r, to)
		}
		if (to == Cancelled || to == EnteredInError) && p.j.Anchor != r.ref() {
			p.move(r.At, p.j.Stage, false, r.cause(), "", "result "+r.Status)
			continue
		}
		p.move(r.At, to, correction, r.cause(), "", "")
	}
	return nil
}

// step applies a Specimen, Task, Appointment, Procedure or ImagingStudy of
// an order; an Appointment of a follow-up order also books (or completes)
// the follow-up of the journey that recommended it.
func (t *tx) step(r *resource) error {
	if err := t.ensure(r.basedOnOrders()...); err != nil {
		return err
	}
	for _, o := range r.basedOnOrders() {
		p, err := t.anchored(o)
		if err != nil {
			return err
		}
		if p != nil {
			if ok, err := t.fresh(r, p.j.ID); err != nil {
				return err
			} else if ok {
				if to, moves := stepStage(r.Type, r.Status, r.Collected); moves {
					p.move(r.At, to, false, r.cause(), "", strings.ToLower(r.Type)+" "+r.Status)
				} else {
					p.move(r.At, p.j.Stage, false, r.cause(), "", strings.ToLower(r.Type)+" "+r.Status)
				}
				if err := t.link(r, p, roleStep, Unknown, ""); err != nil {
					return err
				}
			}
		}
		if r.Type != "Appointment" {
			continue
		}
		origins, err := t.linked(o, roleFollowupOrder)
		if err != nil {
			return err
		}
		for _, q := range origins {
			if ok, err := t.fresh(r, q.j.ID); err != nil {
				return err
			} else if !ok {
				continue
			}
			switch r.Status {
			case "proposed", "pending", "booked", "arrived", "checked-in", "waitlist":
				if q.j.BookedAt == nil {
					q.j.BookedAt = ptr(r.At)
				}
				q.move(r.At, FollowupBooked, false, r.cause(), "", "follow-up appointment "+r.Status)
			case "fulfilled":
				if q.j.BookedAt == nil {
					q.j.BookedAt = ptr(r.At)
				}
				q.j.DoneAt = ptr(r.At)
				q.move(r.At, FollowupDone, false, r.cause(), "", "follow-up appointment fulfilled")
			default:
				q.move(r.At, q.j.Stage, false, r.cause(), "", "follow-up appointment "+r.Status)
			}
			if err := t.link(r, q, roleFollowupVisit, Unknown, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// communication applies a Communication about a result or an order: sent
// to the patient (or a related person), it marks the patient notified.
func (t *tx) communication(r *resource) error {
	if err := t.ensure(r.BasedOn...); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, ref := range r.BasedOn {
		ps, err := t.linked(ref, roleOrder, roleReport, roleResult, roleDirectResult)
		if err != nil {
			return err
		}
		for _, p := range ps {
			if seen[p.j.ID] {
				continue
			}
			seen[p.j.ID] = true
			if ok, err := t.fresh(r, p.j.ID); err != nil {
				return err
			} else if !ok {
				continue
			}
			if r.Status == "completed" && r.ToPatient && p.j.ReleasedAt != nil {
				if p.j.NotifiedAt == nil {
					p.j.NotifiedAt = ptr(r.At)
				}
				p.move(r.At, Notified, false, r.cause(), "", "patient notified")
			} else {
				note := "message " + r.Status
				if !r.ToPatient {
					note += " to the care team"
				}
				p.move(r.At, p.j.Stage, false, r.cause(), "", note)
			}
			if err := t.link(r, p, roleMessage, Unknown, ""); err != nil {
				return err
			}
		}
	}
	return nil
}
