package demo

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/tenant"
)

// DemoPassword is the password of every demo account. The demo organisation
// holds synthetic data only; never run demo against real patients' data.
const DemoPassword = "careloop-demo"

// OrgStore is what seeding needs of the organisations.
type OrgStore interface {
	BySlugTx(ctx context.Context, tx *sql.Tx, slug string) (*tenant.Organization, error)
	CreateTx(ctx context.Context, tx *sql.Tx, o *tenant.Organization) error
}

// ResourceStore is what seeding needs of the FHIR store.
type ResourceStore interface {
	PutTx(ctx context.Context, tx *sql.Tx, orgID string, rs []fhir.Resource) ([]fhir.Stored, error)
	Read(ctx context.Context, orgID, typ, id string) (*fhir.Stored, error)
	// Wrote is told how many resources a committed transaction stored,
	// so that the search planner's statistics keep up with the seeding.
	Wrote(ctx context.Context, n int)
}

// AccountStore is what seeding needs of the accounts.
type AccountStore interface {
	CreateTx(ctx context.Context, tx *sql.Tx, a *identity.Account, passwordHash string) error
	CreateAPIKeyWithTokenTx(ctx context.Context, tx *sql.Tx, orgID, name, token string) (*identity.APIKey, error)
	ByFHIRRef(ctx context.Context, orgID, ref string) (*identity.Account, error)
}

// Journeys is what seeding needs of the result journeys to play the care
// team's part for the showcase patient (see Seeder.Journeys);
// *journey.Service has these methods.
type Journeys interface {
	Apply(ctx context.Context, tx *sql.Tx, orgID string, versions []string) ([]journey.Notice, error)
	ByAnchor(ctx context.Context, orgID, anchor string) (*journey.Journey, []journey.Transition, error)
	Acknowledge(ctx context.Context, orgID, id string, by journey.Actor, note string, check journey.Check) error
}

// DemoAPIToken returns the bearer token of the demo's API key. It is
// derived from the seed so that every run can print it; it guards
// synthetic data only.
func DemoAPIToken(seed int64) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("careloop demo API key %d", seed)))
	return "clk_demo_" + hex.EncodeToString(sum[:20])
}

// Seeder writes the demo organisation into a database.
type Seeder struct {
	DB        *db.DB
	Orgs      OrgStore
	Resources ResourceStore
	Accounts  AccountStore
	// Progress, when set, is called after each stored chunk of patients.
	Progress func(done, total int)
	// ChunkSize is the number of patients stored per transaction (default 10).
	ChunkSize int
	// PasswordParams hash the demo passwords (default identity.DefaultPasswordParams).
	PasswordParams *identity.PasswordParams
	// Journeys, when set, plays the care team's part for the showcase
	// patient once the patients are stored, as the clinic's people would
	// have done it in careloop: the showcase patient's resources are
	// applied to their journeys (as the journey.changes jobs would, which
	// then find them applied), the general practitioner acknowledges the
	// critical result and reviews the abnormal and the normal one under
	// their own account, and then the telephone call about the critical
	// result is applied, which marks the patient notified. Without it the
	// journeys' workers apply everything once they run: the results are
	// released all the same, but nobody acknowledged the critical one,
	// which escalates, and the call, applied with its report, finds the
	// result not released yet and leaves the journey released.
	Journeys Journeys
}

// SeedResult tells what Seed found and did.
type SeedResult struct {
	Org      tenant.Organization
	Config   Config // as stored by the first run: a later run reuses it
	Patients int    // patients stored in all
	Seeded   int    // patients stored by this run
	Resumed  bool   // an interrupted seeding was completed
	Accounts []DemoAccount
	APIToken string // bearer token of the demo's API key for /fhir
	TimeZone string // the clinic's IANA time zone (Clinic.TimeZone), for its journey policy
}

// DemoAccount is a sign-in of the demo organisation.
type DemoAccount struct {
	Email string
	Name  string
	Role  identity.Role
}

// Seed makes sure the demo organisation exists with all its data. The first
// run stores the organisation, its clinic resources (appointment book
// included), accounts and the seeding plan (seed, patient count and anchor
// date) in one transaction, then the patients in transactions of ChunkSize
// patients, each recording its progress, then (with Journeys) the care
// team's part for the showcase patient, and only then marks the seeding
// complete. A run after an interruption, kill -9 included, continues from
// the last stored chunk with the stored plan, so the result is the same as
// an uninterrupted run (the care team's part does nothing twice); a run
// after completion changes nothing. cfg.Anchor defaults to now.
func (s *Seeder) Seed(ctx context.Context, cfg Config) (*SeedResult, error) {
	if cfg.Anchor.IsZero() {
		cfg.Anchor = time.Now().UTC().Truncate(time.Second)
	}
	g, err := NewGenerator(cfg)
	if err != nil {
		return nil, err
	}
	clinic := g.Clinic()
	res := &SeedResult{}

	var next int
	var completed, created bool
	err = s.DB.InTx(ctx, func(tx *sql.Tx) error {
		org, err := s.Orgs.BySlugTx(ctx, tx, clinic.Slug)
		switch {
		case errs.CodeOf(err) == errs.NotFound:
			org, err = s.create(ctx, tx, g, clinic)
			if err != nil {
				return err
			}
			created = true
			res.Org = *org
			res.Config = g.Config()
			return nil
		case err != nil:
			return err
		}
		res.Org = *org
		var stored Config
		var completedAt sql.NullTime
		err = tx.QueryRowContext(ctx, "SELECT seed, patients, anchor, next_patient, completed_at FROM demo_seeds WHERE org_id = $1", org.ID).
			Scan(&stored.Seed, &stored.Patients, &stored.Anchor, &next, &completedAt)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("demo: organisation %q exists but was not made by demo seeding; refusing to add demo data to it", clinic.Slug)
		}
		if err != nil {
			return fmt.Errorf("demo: read seeding progress: %w", err)
		}
		res.Config = stored
		completed = completedAt.Valid
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if created {
		s.Resources.Wrote(ctx, len(clinic.All()))
	}
	res.Accounts = public(demoAccounts(clinic, g))
	res.APIToken = DemoAPIToken(res.Config.Seed)
	res.TimeZone = clinic.TimeZone

	// Continue with the stored plan, whatever this run was asked for.
	res.Config.Anchor = res.Config.Anchor.UTC()
	if g, err = NewGenerator(res.Config); err != nil {
		return nil, err
	}
	res.Config = g.Config()
	total := g.Count()
	res.Patients = next
	if completed {
		return res, nil
	}
	res.Resumed = next > 0
	chunk := s.ChunkSize
	if chunk <= 0 {
		chunk = 10
	}
	if s.Progress != nil {
		s.Progress(next, total)
	}
	for next < total {
		end := min(next+chunk, total)
		var batch []fhir.Resource
		for i := next; i < end; i++ {
			for _, r := range g.Patient(i).Resources {
				batch = append(batch, fhir.Resource(r))
			}
		}
		from := next
		err := s.DB.InTx(ctx, func(tx *sql.Tx) error {
			if _, err := s.Resources.PutTx(ctx, tx, res.Org.ID, batch); err != nil {
				return err
			}
			r, err := tx.ExecContext(ctx, "UPDATE demo_seeds SET next_patient = $1 WHERE org_id = $2 AND next_patient = $3",
				end, res.Org.ID, from)
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n != 1 {
				return errors.New("another process is seeding the demo organisation at the same time")
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("demo: store patients %d to %d: %w", from, end-1, err)
		}
		s.Resources.Wrote(ctx, len(batch))
		res.Seeded += end - from
		next = end
		res.Patients = next
		if s.Progress != nil {
			s.Progress(next, total)
		}
	}
	if s.Journeys != nil {
		if err := s.careTeam(ctx, g, res.Org.ID); err != nil {
			return nil, fmt.Errorf("demo: the care team's part for the showcase patient: %w", err)
		}
	}
	if _, err := s.DB.Write.ExecContext(ctx, "UPDATE demo_seeds SET completed_at = $1 WHERE org_id = $2 AND completed_at IS NULL",
		time.Now().UTC(), res.Org.ID); err != nil {
		return nil, fmt.Errorf("demo: mark the seeding complete: %w", err)
	}
	return res, nil
}

// reviews are the care team's steps on the showcase patient's recent
// results: which order's journey, and the clinician's note (for the care
// team only).
func reviews(sc Showcase) []struct{ order, note string } {
	return []struct{ order, note string }{
		{sc.CriticalOrder, "Critical potassium acknowledged. Called the patient the same day."},
		{sc.AbnormalOrder, "A1c rising. Follow-up visit ordered."},
		{sc.NormalOrder, "Normal."},
	}
}

// careTeam applies the showcase patient's stored resources to their
// journeys, then has the general practitioner acknowledge the critical
// result and review the others, then applies the telephone call about the
// critical result: the order in which the clinic's people did these
// things. Every step is idempotent, so a run after an interruption
// repeats it safely.
func (s *Seeder) careTeam(ctx context.Context, g *Generator, orgID string) error {
	sc := g.Showcase()
	var results, call []string
	for _, r := range g.Patient(ShowcasePatient).Resources {
		st, err := s.Resources.Read(ctx, orgID, r.Type, r.ID)
		if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Gone {
			continue // deleted since it was stored: nothing to apply
		}
		if err != nil {
			return fmt.Errorf("read %s/%s: %w", r.Type, r.ID, err)
		}
		v := fmt.Sprintf("%s/%s/_history/%d", st.Type, st.ID, st.VersionID)
		if r.Type+"/"+r.ID == sc.PhoneCall {
			call = append(call, v)
		} else {
			results = append(results, v)
		}
	}
	apply := func(versions []string) error {
		return s.DB.InTx(ctx, func(tx *sql.Tx) error {
			_, err := s.Journeys.Apply(ctx, tx, orgID, versions)
			return err
		})
	}
	if err := apply(results); err != nil {
		return err
	}
	acct, err := s.Accounts.ByFHIRRef(ctx, orgID, sc.Clinician)
	if err != nil {
		return fmt.Errorf("the account of %s: %w", sc.Clinician, err)
	}
	for _, rv := range reviews(sc) {
		j, _, err := s.Journeys.ByAnchor(ctx, orgID, rv.order)
		if err != nil {
			return fmt.Errorf("the journey of %s: %w", rv.order, err)
		}
		if err := s.Journeys.Acknowledge(ctx, orgID, j.ID, "account/"+acct.ID, rv.note, nil); err != nil {
			return fmt.Errorf("review %s: %w", rv.order, err)
		}
	}
	return apply(call)
}

// create stores the organisation, its clinic resources, accounts and the
// seeding plan in tx.
func (s *Seeder) create(ctx context.Context, tx *sql.Tx, g *Generator, clinic Clinic) (*tenant.Organization, error) {
	org := &tenant.Organization{Slug: clinic.Slug, Name: clinic.Name}
	if err := s.Orgs.CreateTx(ctx, tx, org); err != nil {
		return nil, err
	}
	var rs []fhir.Resource
	for _, r := range clinic.All() {
		rs = append(rs, fhir.Resource(r))
	}
	if _, err := s.Resources.PutTx(ctx, tx, org.ID, rs); err != nil {
		return nil, err
	}
	params := identity.DefaultPasswordParams
	if s.PasswordParams != nil {
		params = *s.PasswordParams
	}
	for _, da := range demoAccounts(clinic, g) {
		hash, err := identity.HashPassword(DemoPassword, params)
		if err != nil {
			return nil, err
		}
		a := &identity.Account{OrgID: org.ID, Email: da.Email, DisplayName: da.Name, Role: da.Role, FHIRRef: da.ref}
		if err := s.Accounts.CreateTx(ctx, tx, a, hash); err != nil {
			return nil, fmt.Errorf("demo: account %s: %w", da.Email, err)
		}
	}
	cfg := g.Config()
	if _, err := s.Accounts.CreateAPIKeyWithTokenTx(ctx, tx, org.ID, "Demo integration", DemoAPIToken(cfg.Seed)); err != nil {
		return nil, fmt.Errorf("demo: API key: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO demo_seeds (org_id, seed, patients, anchor, next_patient) VALUES ($1, $2, $3, $4, 0)",
		org.ID, cfg.Seed, cfg.Patients, cfg.Anchor); err != nil {
		return nil, fmt.Errorf("demo: store seeding plan: %w", err)
	}
	return org, nil
}

type demoAccount struct {
	DemoAccount
	ref string
}

// demoAccounts lists the demo sign-ins: every practitioner, an
// administrator, a compliance officer and the showcase patient.
func demoAccounts(clinic Clinic, g *Generator) []demoAccount {
	var out []demoAccount
	for _, p := range clinic.Practitioners {
		out = append(out, demoAccount{DemoAccount{Email: p.Email, Name: p.Name, Role: staffRole(p.Role)}, "Practitioner/" + p.ID})
	}
	domain := "example.org"
	out = append(out,
		demoAccount{DemoAccount{Email: "admin@" + domain, Name: "Demo Administrator", Role: identity.RoleAdmin}, ""},
		demoAccount{DemoAccount{Email: "compliance@" + domain, Name: "Demo Compliance Officer", Role: identity.RoleCompliance}, ""},
	)
	p := g.Patient(ShowcasePatient)
	out = append(out, demoAccount{DemoAccount{Email: "patient@example.com", Name: p.Name, Role: identity.RolePatient}, "Patient/" + p.PatientID})
	return out
}

// staffRole maps a generated practitioner's role to an account role.
func staffRole(role string) identity.Role {
	switch role {
	case rolePhysician:
		return identity.RoleClinician
	case roleNurse:
		return identity.RoleNurse
	case roleCoordinator:
		return identity.RoleCoordinator
	default:
		return identity.RoleTechnician
	}
}

// public returns the accounts without their internal references.
func public(as []demoAccount) []DemoAccount {
	out := make([]DemoAccount, len(as))
	for i, a := range as {
		out[i] = a.DemoAccount
	}
	return out
}
