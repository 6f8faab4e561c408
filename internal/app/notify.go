package app

import (
	"cmp"
	"context"
	"database/sql"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/identity"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/notify/sms"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
	"github.com/careloop/careloop/internal/platform/keys"
	"github.com/careloop/careloop/internal/platform/mail"
)

// openNotify builds the notification service: links signed with a key
// drawn from careloop's own, providers' secrets sealed with another, and
// email through --smtp-url for organisations without a provider of their
// own (the log without it; SMS then goes to the log too, so that a demo
// shows every message).
func (a *App) openNotify(key *keys.Key) error {
	log := a.Log.With("component", "notify")
	base := ""
	if a.Config.BaseURL != nil {
		base = a.Config.BaseURL.String()
	}
	defaults := notify.ProviderDefaults{Email: notify.LogSender{Log: log}, EmailKind: "log"}
	if a.Config.SMTPURL != "" {
		smtp, err := mail.NewSMTP(a.Config.SMTPURL, a.Config.MailFrom)
		if err != nil {
			return err
		}
		defaults.Email, defaults.EmailKind = notify.EmailSender{SMTP: smtp}, "smtp"
	} else {
		defaults.SMS, defaults.SMSKind = notify.LogSender{Log: log}, "log-sms"
	}
	a.NotifyProviders = notify.NewProviders(a.DB, key.Derive("notify provider secrets", 32), defaults, log)
	a.Notify = notify.New(notify.Config{DB: a.DB, Directory: &directory{app: a},
		Links:     notify.NewLinks(key.Derive("notify links", 32), base, 0),
		Providers: a.NotifyProviders, ReceiptsURL: base, Metrics: notify.NewMetrics(a.Registry),
		Poll: a.Config.JobPollInterval, Lease: a.Config.NotifyLease, Log: log})
	return nil
}

// notifyAPI returns the notifications' JSON API: people by their session,
// systems by their bearer token, as on the FHIR API.
func (a *App) notifyAPI() *notify.API {
	return &notify.API{Service: a.Notify, Providers: a.NotifyProviders, Users: a.Policy, Inboxes: &directory{app: a},
		Audit: notifyAudit{log: a.Audit}, PublicURL: a.Config.BaseURL.String()}
}

// journeyNotifier stores the journeys' notices as notification events in
// the journey's transaction.
type journeyNotifier struct {
	app *App
}

func (n journeyNotifier) NotifyTx(ctx context.Context, tx *sql.Tx, no journey.Notice) error {
	if !notify.ValidRecipient(no.Who) {
		// The policy names nobody for this role (no covering clinician
		// set): the inbox's queues show the journey, nobody is written to.
		n.app.Log.DebugContext(ctx, "journey notice without a recipient", "journey", no.JourneyID, "to", no.To, "who", no.Who)
		return nil
	}
	// The link leads to the journey: the care team's page, or the
	// patient's result in the portal.
	target := "/staff/results/" + no.JourneyID
	if no.To == "patient" {
		target = "/results/" + no.JourneyID
	}
	return n.app.Notify.EnqueueTx(ctx, tx, notify.Event{OrgID: no.OrgID, Key: no.Key, Kind: no.Kind, Recipient: no.Who,
		PatientID: no.PatientID, Target: target, Detail: no.Detail})
}

// directory finds people's contacts in the FHIR store (Patient and
// Practitioner telecom and preferred language; for a patient whose record
// has no email, the email of their account) and accounts, and their
// inboxes from their sign-in.
type directory struct{ app *App }

func (d *directory) Contact(ctx context.Context, orgID, recipient string) (notify.Contact, error) {
	var c notify.Contact
	tz := "UTC"
	if p, err := d.app.Journeys.Policy(ctx, orgID); err == nil {
		tz = p.TimeZone
	}
	c.TimeZone = tz
	if id, ok := strings.CutPrefix(recipient, "account:"); ok {
		acct, err := d.app.Accounts.ByID(ctx, orgID, id)
		if err != nil {
			return c, err
		}
		c.Email, c.Name = acct.Email, firstWord(acct.DisplayName)
		c.Staff = acct.Role != identity.RolePatient && acct.Role != identity.RoleCaregiver
		return c, nil
	}
	typ, id, _ := strings.Cut(recipient, "/")
	st, err := d.app.Resources.Read(ctx, orgID, typ, id)
	if err != nil {
		if errs.CodeOf(err) == errs.Gone {
			return c, errs.NotFoundf("%s was deleted.", recipient)
		}
		return c, err
	}
	c.Staff = typ == "Practitioner"
	contactOf(st.JSON, &c)
	if c.Email == "" && typ == "Patient" {
		// The record has no email: the one the patient signs in with.
		acct, err := d.app.Accounts.ByFHIRRef(ctx, orgID, recipient)
		switch {
		case err == nil:
			c.Email = acct.Email
		case errs.CodeOf(err) != errs.NotFound:
			return c, err
		}
	}
	return c, nil
}

// contactOf reads a Patient's or Practitioner's first given name, email,
// mobile number (else any phone) and preferred language.
func contactOf(raw []byte, c *notify.Contact) {
	r := gjson.ParseBytes(raw)
	c.Name = r.Get("name.0.given.0").String()
	var phone, mobile string
	r.Get("telecom").ForEach(func(_, t gjson.Result) bool {
		v := strings.TrimSpace(t.Get("value").String())
		if t.Get("period.end").Exists() || v == "" {
			return true // ended
		}
		switch t.Get("system").String() {
		case "email":
			if c.Email == "" {
				c.Email = v
			}
		case "sms":
			mobile = v
		case "phone":
			if t.Get("use").String() == "mobile" && mobile == "" {
				mobile = v
			} else if phone == "" {
				phone = v
			}
		}
		return true
	})
	c.Phone = cmp.Or(mobile, phone)
	if n, err := sms.NormalizePhone(c.Phone); err == nil {
		c.Phone = n
	} else {
		c.Phone = ""
	}
	var lang string
	r.Get("communication").ForEach(func(_, cm gjson.Result) bool {
		code := cm.Get("language.coding.0.code").String()
		if lang == "" || cm.Get("preferred").Bool() {
			lang = code
		}
		return !cm.Get("preferred").Bool()
	})
	if len(lang) >= 2 {
		c.Lang = strings.ToLower(lang[:2])
	}
}

func firstWord(s string) string {
	f, _, _ := strings.Cut(strings.TrimSpace(s), " ")
	return f
}

func (d *directory) OrgName(ctx context.Context, orgID string) (string, error) {
	o, err := d.app.Orgs.ByID(ctx, orgID)
	if err != nil {
		return "", err
	}
	return o.Name, nil
}

// Inboxes implements notify.Inboxes: a patient's or caregiver's records,
// a staff member's account and Practitioner.
func (d *directory) Inboxes(ctx context.Context, p *fhir.Principal) ([]string, error) {
	if own := access.OwnRecords(p); len(own) > 0 {
		return own, nil
	}
	id, ok := strings.CutPrefix(p.Subject, "account/")
	if !ok {
		return nil, nil
	}
	acct, err := d.app.Accounts.ByID(ctx, p.OrgID, id)
	if err != nil {
		return nil, err
	}
	if acct.Role == identity.RolePatient || acct.Role == identity.RoleCaregiver {
		return nil, nil // no record linked yet
	}
	out := []string{"account:" + acct.ID}
	if acct.FHIRRef != "" {
		out = append(out, acct.FHIRRef)
	}
	return out, nil
}

// notifyAudit writes the notifications API's reads and changes of
// patients' messages to the audit log.
type notifyAudit struct{ log *audit.Log }

func (n notifyAudit) Record(ctx context.Context, p *fhir.Principal, acc notify.Access) error {
	e := audit.Entry{OrgID: p.OrgID, Type: audit.TypeRest, Subtype: []audit.Coding{audit.Subtype("notify-" + acc.What)},
		Action: audit.Read, Outcome: audit.Success, RequestID: httpx.RequestID(ctx)}
	if acc.Action == "update" {
		e.Action = audit.Update
	}
	for _, id := range acc.Messages {
		e.Entities = append(e.Entities, audit.Entity{What: "message/" + id})
	}
	for _, id := range acc.Patients {
		e.Patients = append(e.Patients, "Patient/"+id)
	}
	e.Agent = audit.Agent{Subject: p.Subject, Role: p.Role, PurposeOfUse: access.PurposeOfUse(p, acc.Patients),
		Address: httpx.ClientAddress(ctx)}
	return n.log.Record(ctx, e)
}

// Language is the language of a patient's profile: the one they chose for
// their messages, else their record's preferred language ("" when
// neither says).
func (d *directory) Language(ctx context.Context, orgID, patientID string) (string, error) {
	prefs, err := d.app.Notify.Preferences(ctx, orgID, "Patient/"+patientID)
	if err != nil || prefs.Lang != "" {
		return prefs.Lang, err
	}
	st, err := d.app.Resources.Read(ctx, orgID, "Patient", patientID)
	if c := errs.CodeOf(err); c == errs.NotFound || c == errs.Gone {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	var c notify.Contact
	contactOf(st.JSON, &c)
	return c.Lang, nil
}
