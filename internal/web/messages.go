package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// inboxPage is the data of /account/messages: the person's in-app
// messages, newest first, one page at a time.
type inboxPage struct {
	Rows []inboxRow
	// NoInbox: a patient whose account has no record yet has no messages.
	NoInbox bool
	Unread  int
	// Several: the person reads messages for more than one record (a
	// caregiver), so rows say whose.
	Several bool
	// Next and First are the links to older messages and back to the
	// newest; empty when there is none.
	Next, First string
}

// inboxRow is one message of the inbox.
type inboxRow struct {
	ID, Title, At, ISO, For string
	Unread                  bool
}

// inbox lists the person's in-app messages (those of their own record and
// of the records they hold access to; for staff, their account's and
// their practitioner record's), newest first, unread ones marked in
// words. Messages about patients are patients' data: the view is in the
// audit log before the page is sent.
func (p *Pages) inbox(w http.ResponseWriter, r *http.Request, u *who) {
	pr, boxes, ok := p.inboxOf(w, r)
	if !ok {
		return
	}
	v := inboxPage{NoInbox: len(boxes) == 0}
	if v.NoInbox {
		p.r.Page(w, r, http.StatusOK, "messages", p.inboxData(w, r, u, u.l.T("messages.title"), v))
		return
	}
	ctx := r.Context()
	cursor := r.URL.Query().Get("cursor")
	count, err := pageSize(r.URL.Query().Get("count"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	msgs, next, err := p.Notify.Messages(ctx, pr.OrgID, notify.Filter{Recipients: boxes, Channel: notify.InApp, Cursor: cursor, Count: count})
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if v.Unread, err = p.Notify.Unread(ctx, pr.OrgID, boxes); err != nil {
		p.fail(w, r, err)
		return
	}
	v.Several = len(boxes) > 1 && !isStaff(u.Account.Role)
	var names map[string]string
	if v.Several {
		ids := make([]string, 0, len(boxes))
		for _, b := range boxes {
			ids = append(ids, strings.TrimPrefix(b, "Patient/"))
		}
		if names, err = p.Access.PatientNames(ctx, pr.OrgID, ids); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	if err := p.NotifyAudit.Record(ctx, pr, messageAccess("read", "inbox", msgs)); err != nil {
		p.fail(w, r, err)
		return
	}
	for _, m := range msgs {
		row := inboxRow{ID: m.ID, Title: inboxTitle(&m), At: when(u.l, m.CreatedAt), ISO: m.CreatedAt.UTC().Format(time.RFC3339), Unread: m.ReadAt == nil}
		if v.Several {
			id := strings.TrimPrefix(m.Recipient, "Patient/")
			row.For = names[id]
			if row.For == "" {
				row.For = m.Recipient
			}
		}
		v.Rows = append(v.Rows, row)
	}
	link := url.Values{}
	if count != 0 {
		link.Set("count", strconv.Itoa(count))
	}
	if cursor != "" {
		v.First = withQuery("/account/messages", link)
	}
	if next != "" {
		link.Set("cursor", next)
		v.Next = withQuery("/account/messages", link)
	}
	p.r.Page(w, r, http.StatusOK, "messages", p.inboxData(w, r, u, u.l.T("messages.title"), v))
}

// inboxTitle is a message's title: its subject, or the start of its text.
func inboxTitle(m *notify.Message) string {
	if t := strings.TrimSpace(m.Subject); t != "" {
		return t
	}
	first, _, _ := strings.Cut(strings.TrimSpace(m.Body), "\n")
	if len(first) > 80 {
		first = first[:77] + "…"
	}
	if first == "" {
		return messageKindWords(m.Kind)
	}
	return first
}

// pageSize reads the count of a list's page: empty for the default, else
// 1 to 200.
func pageSize(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 200 {
		return 0, errs.Invalidf("count", "The page size must be a number from 1 to 200.") // a hand-made address: English
	}
	return n, nil
}

// withQuery is path with q, or path alone when q is empty.
func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// inboxMessagePage is the data of /account/messages/{id}.
type inboxMessagePage struct {
	Title, At, ISO string
	Paragraphs     [][]wrapText
	// Target is where the message leads (a result, an appointment);
	// empty when it is the message alone.
	Target string
}

// inboxMessage shows one of the person's messages and marks it read. The
// link of an email or text message leads here with the id of its copy in
// the inbox; given the id of the email or text itself, the page shows that
// copy too. A message of anyone else, or unknown, is the same 404 page.
func (p *Pages) inboxMessage(w http.ResponseWriter, r *http.Request, u *who) {
	pr, boxes, ok := p.inboxOf(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	id := r.PathValue("id")
	m, err := p.Notify.Message(ctx, pr.OrgID, id)
	if err == nil && !slices.Contains(boxes, m.Recipient) {
		err = errs.NotFoundf("There is no message %s in your inbox.", id)
	}
	if err == nil && m.Channel != notify.InApp {
		m, err = p.inboxCopy(ctx, pr.OrgID, m)
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.NotifyAudit.Record(ctx, pr, messageAccess("read", "inbox-message", []notify.Message{m})); err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.Notify.MarkRead(ctx, pr.OrgID, m.ID, boxes); err != nil {
		p.fail(w, r, err)
		return
	}
	v := inboxMessagePage{Title: inboxTitle(&m), At: when(u.l, m.CreatedAt), ISO: m.CreatedAt.UTC().Format(time.RFC3339), Paragraphs: paragraphs(m.Body)}
	if m.Target != "" {
		v.Target, _ = pweb.LocalPath(m.Target)
	}
	p.r.Page(w, r, http.StatusOK, "message", p.inboxData(w, r, u, v.Title, v))
}

// inboxCopy returns the in-app message of the event of m (an email or a
// text message): every event puts one in its recipient's inbox, made at
// the same time. Pages of the recipient's inbox are read from the newest
// until past that time.
func (p *Pages) inboxCopy(ctx context.Context, orgID string, m notify.Message) (notify.Message, error) {
	f := notify.Filter{Recipients: []string{m.Recipient}, Channel: notify.InApp, Count: 200}
	for {
		page, next, err := p.Notify.Messages(ctx, orgID, f)
		if err != nil {
			return m, err
		}
		for _, c := range page {
			if c.EventID == m.EventID {
				return p.Notify.Message(ctx, orgID, c.ID)
			}
		}
		if next == "" || len(page) == 0 || page[len(page)-1].CreatedAt.Before(m.CreatedAt) {
			return m, errs.NotFoundf("There is no message %s in your inbox.", m.ID)
		}
		f.Cursor = next
	}
}
