package notify

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/errs"
)

// storedEvent is an event read back for planning.
type storedEvent struct {
	Event
	id      string
	created time.Time
}

// message is a message being planned or recorded.
type message struct {
	id, orgID, eventID, recipient, patientID, kind, channel  string
	address, lang, subject, body, state, fallback, lastError string
	due                                                      *time.Time
	created                                                  time.Time
	note                                                     string // the first status row's detail

	// capped: the daily cap applies (an email or SMS to a patient that is
	// not urgent); capLoc and capMorning say when the day starts and when
	// a held message goes.
	capped     bool
	capLimit   int
	capLoc     *time.Location
	capMorning time.Time
}

// planOnce plans up to a batch of new events and returns how many.
func (s *Service) planOnce(ctx context.Context) (int, error) {
	evs, err := s.unplanned(ctx)
	if err != nil || len(evs) == 0 {
		return 0, err
	}
	now := s.clock()
	look := &lookups{s: s, contacts: map[string]contactOrErr{}, prefs: map[string]Preferences{}, orgs: map[string]string{}}
	var msgs []*message
	for _, e := range evs {
		m, err := s.plan(ctx, look, e, now)
		if err != nil {
			return 0, err
		}
		msgs = append(msgs, m...)
	}
	err = s.db.InTx(ctx, func(tx *sql.Tx) error {
		counts := map[string]int{}
		for _, m := range msgs {
			if m.capped {
				if err := s.applyCap(ctx, tx, m, counts); err != nil {
					return err
				}
			}
		}
		stored, err := s.insertMessages(ctx, tx, msgs)
		if err != nil {
			return err
		}
		var st statuses
		for _, m := range msgs {
			if stored[m.id] {
				st.add(m.orgID, m.id, m.created, m.state, m.note)
			}
		}
		if err := st.write(ctx, tx, s.db.Dialect); err != nil {
			return err
		}
		return s.markPlanned(ctx, tx, evs)
	})
	if err != nil {
		return 0, fmt.Errorf("notify: plan %d events: %w", len(evs), err)
	}
	s.stats.planned(msgs)
	signal(s.sendWake)
	return len(evs), nil
}

// applyCap holds m for the next morning's digest when the recipient had
// their day's share of messages.
func (s *Service) applyCap(ctx context.Context, tx *sql.Tx, m *message, counts map[string]int) error {
	key := m.orgID + "\x00" + m.recipient
	n, ok := counts[key]
	if !ok {
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM notify_messages WHERE org_id = $1 AND recipient = $2 AND created_at >= $3
AND channel IN ('email', 'sms') AND state IN ('queued', 'sending', 'sent', 'delivered', 'opened')`,
			m.orgID, m.recipient, ms(startOfDay(m.created, m.capLoc))).Scan(&n)
		if err != nil {
			return fmt.Errorf("count today's messages to %s: %w", m.recipient, err)
		}
	}
	if n >= m.capLimit {
		m.state, m.due = Held, &m.capMorning
		m.note = fmt.Sprintf("held for tomorrow's digest: %d messages sent today, the daily cap is %d", n, m.capLimit)
	} else if m.state == Queued {
		n++
	}
	counts[key] = n
	return nil
}

// plan decides the messages of one event: an in-app copy, and one message
// per external channel the person uses, the first queued and the others
// waiting as fallbacks.
func (s *Service) plan(ctx context.Context, look *lookups, e storedEvent, now time.Time) ([]*message, error) {
	info, _ := templates.Lookup(templates.Kind(e.Kind)) // checked at enqueue
	base := message{orgID: e.OrgID, eventID: e.id, recipient: e.Recipient, patientID: e.PatientID, kind: e.Kind, created: e.created}
	c, err := look.contact(ctx, e.OrgID, e.Recipient)
	if err != nil {
		if errs.CodeOf(err) != errs.NotFound {
			return nil, err
		}
		m := base
		m.id, m.channel, m.state, m.lastError = newID(), InApp, Failed, "the recipient is not known to careloop"
		m.note = m.lastError
		return []*message{&m}, nil
	}
	p, err := look.preferences(ctx, e.OrgID, e.Recipient)
	if err != nil {
		return nil, err
	}
	lang := cmp.Or(p.Lang, c.Lang, "en")
	if !slices.Contains(Languages, lang) {
		lang = "en"
	}
	loc := location(cmp.Or(p.TimeZone, c.TimeZone))
	org, err := look.orgName(ctx, e.OrgID)
	if err != nil {
		return nil, err
	}
	texts := s.texts(ctx, e.OrgID)
	data := templates.Data{Name: c.Name, Org: org, When: formatWhen(e.AboutAt, loc, lang)}
	if p.Details && !c.Staff {
		data.Detail = e.Detail
	}
	render := func(m *message) error {
		m.lang = lang
		data.Link = s.links.Open(m.id, now)
		data.Prefs = s.links.base + "/account/notifications"
		r, err := texts.Render(templates.Key{Kind: templates.Kind(e.Kind), Channel: m.channel, Lang: lang, Level: p.Level}, data)
		if err != nil {
			return fmt.Errorf("notify: render %s/%s/%s: %w", e.Kind, m.channel, lang, err)
		}
		m.subject, m.body = r.Subject, r.Body
		return nil
	}

	inapp := base
	inapp.id, inapp.channel, inapp.state, inapp.note = newID(), InApp, Delivered, "in the inbox"
	if err := render(&inapp); err != nil {
		return nil, err
	}
	out := []*message{&inapp}

	chans := p.Channels[info.Category]
	if len(chans) == 0 {
		chans = []string{Email, SMS}
	}
	var usable []string
	for _, ch := range chans {
		addr := c.Email
		if ch == SMS {
			addr = c.Phone
		}
		m := base
		m.id, m.channel, m.address = newID(), ch, addr
		switch {
		case slices.Contains(p.OptOut, ch):
			continue // the person wants nothing on this channel: not even a record
		case addr == "":
			continue
		case look.suppressed(ctx, e.OrgID, ch, addr):
			m.state, m.note = Suppressed, "the address asked for no more messages or bounced before"
			m.lang = lang
			out = append(out, &m)
			continue
		}
		if err := render(&m); err != nil {
			return nil, err
		}
		usable = append(usable, ch)
		out = append(out, &m)
	}
	// The first usable channel is sent now (or after quiet hours); the
	// others wait as its fallbacks, in order.
	first := true
	for _, m := range out[1:] {
		if m.state == Suppressed {
			continue
		}
		m.fallback = strings.Join(usable[slices.Index(usable, m.channel)+1:], ",")
		if !first {
			m.state, m.note = Standby, "fallback if "+usable[0]+" fails"
			continue
		}
		first = false
		m.state = Queued
		due := now
		urgent := info.Urgent && c.Staff
		if q := quietUntil(now, loc, p.QuietStart, p.QuietEnd); !q.IsZero() && !urgent {
			due = q.UTC()
			m.note = "quiet hours until " + q.Format("15:04 MST")
		} else {
			m.note = "to send now"
		}
		m.due = &due
		if !c.Staff && !urgent {
			m.capped, m.capLimit, m.capLoc = true, p.DailyCap, loc
			m.capMorning = nextMorning(now, loc, cmp.Or(p.QuietEnd, DefaultQuietEnd)).UTC()
		}
	}
	if len(usable) == 0 {
		// Only the inbox: say so, for the staff's failure queue when the
		// person has no address at all.
		if c.Email == "" && c.Phone == "" && len(p.OptOut) == 0 {
			inapp.note = "in the inbox; no email address or mobile number on record"
		}
	}
	return out, nil
}

// formatWhen says a time in the person's zone and language ("" for none).
func formatWhen(t time.Time, loc *time.Location, lang string) string {
	if t.IsZero() {
		return ""
	}
	l := t.In(loc)
	if lang == "es" {
		days := [...]string{"domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"}
		months := [...]string{"enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre", "noviembre", "diciembre"}
		return fmt.Sprintf("%s %d de %s a las %s", days[l.Weekday()], l.Day(), months[l.Month()-1], l.Format("15:04"))
	}
	return l.Format("Monday, January 2 at 3:04 PM")
}

// lookups caches, for one batch, what planning reads about people.
type lookups struct {
	s        *Service
	contacts map[string]contactOrErr
	prefs    map[string]Preferences
	orgs     map[string]string
	supp     map[string]bool
}

type contactOrErr struct {
	c   Contact
	err error
}

func (l *lookups) contact(ctx context.Context, orgID, recipient string) (Contact, error) {
	k := orgID + "\x00" + recipient
	if v, ok := l.contacts[k]; ok {
		return v.c, v.err
	}
	c, err := l.s.dir.Contact(ctx, orgID, recipient)
	if err != nil && errs.CodeOf(err) != errs.NotFound {
		return Contact{}, fmt.Errorf("notify: contact of %s: %w", recipient, err)
	}
	l.contacts[k] = contactOrErr{c, err}
	return c, err
}

func (l *lookups) preferences(ctx context.Context, orgID, recipient string) (Preferences, error) {
	k := orgID + "\x00" + recipient
	if p, ok := l.prefs[k]; ok {
		return p, nil
	}
	p, err := l.s.Preferences(ctx, orgID, recipient)
	if err != nil {
		return Preferences{}, err
	}
	p = p.withDefaults()
	l.prefs[k] = p
	return p, nil
}

func (l *lookups) orgName(ctx context.Context, orgID string) (string, error) {
	if n, ok := l.orgs[orgID]; ok {
		return n, nil
	}
	n, err := l.s.dir.OrgName(ctx, orgID)
	if err != nil {
		return "", fmt.Errorf("notify: name of organisation %s: %w", orgID, err)
	}
	l.orgs[orgID] = n
	return n, nil
}

func (l *lookups) suppressed(ctx context.Context, orgID, channel, address string) bool {
	k := orgID + "\x00" + channel + "\x00" + address
	if l.supp == nil {
		l.supp = map[string]bool{}
	}
	if v, ok := l.supp[k]; ok {
		return v
	}
	var one int
	err := l.s.db.Read.QueryRowContext(ctx, "SELECT 1 FROM notify_suppressions WHERE org_id = $1 AND channel = $2 AND address = $3",
		orgID, channel, address).Scan(&one)
	l.supp[k] = err == nil
	return err == nil
}
