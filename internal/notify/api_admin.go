package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/notify/sms"
	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/errs"
	"github.com/careloop/careloop/internal/platform/httpx"
)

// TemplateView is a text as administrators see it: careloop's or the
// organisation's own.
type TemplateView struct {
	templates.Template
	Own bool `json:"own"`
}

// Templates returns every text in force for the organisation.
func (s *Service) Templates(ctx context.Context, orgID string) ([]TemplateView, error) {
	own, err := s.OrgTemplates(ctx, orgID)
	if err != nil {
		return nil, err
	}
	mine := map[templates.Key]templates.Template{}
	for _, t := range own {
		mine[t.Key] = t
	}
	var out []TemplateView
	for _, t := range s.catalog.Templates() {
		if o, ok := mine[t.Key]; ok {
			out = append(out, TemplateView{Template: o, Own: true})
			delete(mine, t.Key)
			continue
		}
		out = append(out, TemplateView{Template: t})
	}
	for _, t := range own {
		if _, ok := mine[t.Key]; ok {
			out = append(out, TemplateView{Template: t, Own: true})
		}
	}
	return out, nil
}

// SetTemplate checks and stores one of the organisation's own texts.
func (s *Service) SetTemplate(ctx context.Context, orgID string, t templates.Template, by string) error {
	if err := templates.Check(t); err != nil {
		return errs.Invalidf("template", "%v", err)
	}
	if _, err := s.catalog.With([]templates.Template{t}); err != nil {
		return errs.Invalidf("template", "%v", err)
	}
	_, err := s.db.Write.ExecContext(ctx, `INSERT INTO notify_templates (org_id, kind, channel, lang, level, subject, body, updated_at, updated_by)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (org_id, kind, channel, lang, level) DO UPDATE SET subject = excluded.subject, body = excluded.body, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
		orgID, string(t.Kind), t.Channel, t.Lang, t.Level, t.Subject, t.Body, ms(s.clock()), by)
	if err != nil {
		return fmt.Errorf("notify: store text: %w", err)
	}
	s.textCache.Delete(orgID)
	return nil
}

// DeleteTemplate removes one of the organisation's own texts: careloop's
// applies again.
func (s *Service) DeleteTemplate(ctx context.Context, orgID string, k templates.Key) error {
	res, err := s.db.Write.ExecContext(ctx, "DELETE FROM notify_templates WHERE org_id = $1 AND kind = $2 AND channel = $3 AND lang = $4 AND level = $5",
		orgID, string(k.Kind), k.Channel, k.Lang, k.Level)
	if err != nil {
		return fmt.Errorf("notify: remove text: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errs.NotFoundf("The organisation has no text of its own for %s/%s/%s/%s.", k.Kind, k.Channel, k.Lang, k.Level)
	}
	s.textCache.Delete(orgID)
	return nil
}

// Preview renders a text with example data: the organisation's texts in
// force, with draft (when its body is set) over them.
func (s *Service) Preview(ctx context.Context, orgID string, k templates.Key, draft *templates.Template, withDetail bool) (templates.Rendered, error) {
	c := s.texts(ctx, orgID)
	if draft != nil {
		draft.Key = k
		if err := templates.Check(*draft); err != nil {
			return templates.Rendered{}, errs.Invalidf("template", "%v", err)
		}
		var err error
		if c, err = c.With([]templates.Template{*draft}); err != nil {
			return templates.Rendered{}, errs.Invalidf("template", "%v", err)
		}
	}
	org, err := s.dir.OrgName(ctx, orgID)
	if err != nil {
		return templates.Rendered{}, err
	}
	d := templates.Data{Name: "Alex", Org: org, Link: s.links.base + "/n/EXAMPLE-LINK-0123456789abcdefghijklmnopq",
		Prefs: s.links.base + "/account/notifications", When: formatWhen(time.Date(2026, 3, 3, 9, 30, 0, 0, time.UTC), time.UTC, k.Lang),
		Count: 3, Items: []string{"New test result", "Book your follow-up", "Appointment confirmed"}}
	if withDetail {
		d.Detail = "cholesterol test"
	}
	r, err := c.Render(k, d)
	if err != nil {
		return r, errs.Invalidf("template", "%v", err)
	}
	return r, nil
}

func (a *API) templates(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "read the organisation's texts"); err != nil {
		return err
	}
	list, err := a.Service.Templates(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"templates": list, "kinds": templates.Kinds()})
}

func (a *API) setTemplate(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "change the organisation's texts"); err != nil {
		return err
	}
	var t templates.Template
	if err := httpx.DecodeJSON(w, r, &t); err != nil {
		return err
	}
	if err := a.Service.SetTemplate(r.Context(), p.OrgID, t, p.Subject); err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, TemplateView{Template: t, Own: true})
}

func (a *API) deleteTemplate(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "change the organisation's texts"); err != nil {
		return err
	}
	k := templates.Key{Kind: templates.Kind(r.PathValue("kind")), Channel: r.PathValue("channel"), Lang: r.PathValue("lang"), Level: r.PathValue("level")}
	if err := a.Service.DeleteTemplate(r.Context(), p.OrgID, k); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type previewBody struct {
	templates.Key
	Subject string `json:"subject"`
	Body    string `json:"body"`
	Detail  bool   `json:"detail"`
}

func (a *API) preview(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "preview the organisation's texts"); err != nil {
		return err
	}
	var b previewBody
	if err := httpx.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	var draft *templates.Template
	if b.Body != "" {
		draft = &templates.Template{Key: b.Key, Subject: b.Subject, Body: b.Body}
	}
	out, err := a.Service.Preview(r.Context(), p.OrgID, b.Key, draft, b.Detail)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, out)
}

func (a *API) providers(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "read the organisation's providers"); err != nil {
		return err
	}
	list, err := a.Providers.Get(r.Context(), p.OrgID)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"providers": list})
}

func (a *API) setProvider(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "change the organisation's providers"); err != nil {
		return err
	}
	var ps ProviderSettings
	if err := httpx.DecodeJSON(w, r, &ps); err != nil {
		return err
	}
	ps.Channel = r.PathValue("channel")
	if err := a.Providers.Set(r.Context(), p.OrgID, ps, p.Subject, a.Service.clock()); err != nil {
		return err
	}
	return a.providers(w, r, p)
}

func (a *API) removeProvider(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "change the organisation's providers"); err != nil {
		return err
	}
	if err := a.Providers.Remove(r.Context(), p.OrgID, r.PathValue("channel")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// testProvider sends the provider-test message to the given address at
// once, outside the queue, and says what the provider answered.
func (a *API) testProvider(w http.ResponseWriter, r *http.Request, p *fhir.Principal) error {
	if err := need(p, admins, "test the organisation's providers"); err != nil {
		return err
	}
	var b struct {
		To   string `json:"to"`
		Lang string `json:"lang"`
	}
	if err := httpx.DecodeJSON(w, r, &b); err != nil {
		return err
	}
	channel := r.PathValue("channel")
	ref, err := a.Service.SendTest(r.Context(), p.OrgID, channel, b.To, b.Lang)
	if err != nil {
		return err
	}
	return httpx.WriteJSON(w, http.StatusOK, map[string]any{"sent": true, "provider_ref": ref})
}

// SendTest sends the provider-test message on channel to an address now,
// outside the queue, and returns the provider's id for it.
func (s *Service) SendTest(ctx context.Context, orgID, channel, to, lang string) (string, error) {
	switch channel {
	case Email:
		if to == "" {
			return "", errs.Invalidf("to", "Give the email address to send the test to.")
		}
	case SMS:
		n, err := sms.NormalizePhone(to)
		if err != nil {
			return "", errs.Invalidf("to", "Give the mobile number to send the test to, with its country code (+1 555 123 4567).")
		}
		to = n
	default:
		return "", errs.Invalidf("channel", "%q is not a channel with providers (email or sms).", channel)
	}
	if lang == "" {
		lang = "en"
	}
	s.prov.forget(orgID, channel)
	snd, _, err := s.prov.Sender(ctx, orgID, channel)
	if err != nil {
		return "", errs.Wrap(err, errs.Unprocessable, "The provider cannot be used: "+errs.MessageOf(err))
	}
	org, err := s.dir.OrgName(ctx, orgID)
	if err != nil {
		return "", err
	}
	id := newID()
	rd, err := s.texts(ctx, orgID).Render(templates.Key{Kind: templates.ProviderTest, Channel: channel, Lang: lang, Level: "standard"},
		templates.Data{Org: org, Link: s.links.base, Prefs: s.links.base + "/account/notifications"})
	if err != nil {
		return "", fmt.Errorf("notify: test message: %w", err)
	}
	ref, err := snd.Send(ctx, Outgoing{ID: id, OrgID: orgID, Kind: string(templates.ProviderTest), To: to, Subject: rd.Subject, Body: rd.Body})
	if err != nil {
		return "", errs.Wrap(err, errs.Unavailable, "The provider did not accept the test message: "+errText(err))
	}
	return ref, nil
}

// receipt takes a provider's delivery report, signed with the secret of
// the organisation's provider of that kind.
func (a *API) receipt(w http.ResponseWriter, r *http.Request) {
	err := a.fromProvider(w, r, func(ctx context.Context, orgID, kind, secret, url string) error {
		var rc sms.Receipt
		var err error
		switch kind {
		case "twilio":
			rc, err = sms.ParseTwilioReceipt(r, secret, url)
		case "webhook":
			rc, err = sms.ParseWebhookReceipt(r, secret, time.Now())
		}
		if err != nil {
			return errs.Wrap(err, errs.Forbidden, "The receipt is not signed by the organisation's provider.")
		}
		if rc.MessageID == "" {
			rc.MessageID = r.URL.Query().Get("m")
		}
		return a.Service.ApplyReceipt(ctx, orgID, kind, rc)
	})
	if err != nil {
		httpx.WriteError(w, r, err)
	}
}

// inbound takes a text message a person sent to the organisation's
// number (STOP, START).
func (a *API) inbound(w http.ResponseWriter, r *http.Request) {
	err := a.fromProvider(w, r, func(ctx context.Context, orgID, kind, secret, url string) error {
		var in sms.Inbound
		var err error
		switch kind {
		case "twilio":
			in, err = sms.ParseTwilioInbound(r, secret, url)
		case "webhook":
			in, err = sms.ParseWebhookInbound(r, secret, time.Now())
		}
		if err != nil {
			return errs.Wrap(err, errs.Forbidden, "The message is not signed by the organisation's provider.")
		}
		return a.Service.Inbound(ctx, orgID, in)
	})
	if err != nil {
		httpx.WriteError(w, r, err)
	}
}

// fromProvider finds the secret of the organisation's SMS provider of the
// path's kind, runs fn, and answers what the provider expects.
func (a *API) fromProvider(w http.ResponseWriter, r *http.Request, fn func(ctx context.Context, orgID, kind, secret, url string) error) error {
	kind, orgID := r.PathValue("provider"), r.PathValue("org")
	if kind != "twilio" && kind != "webhook" {
		return errs.NotFoundf("There is no provider kind %q.", kind)
	}
	secret, err := a.Providers.secret(r.Context(), orgID, SMS, kind)
	if err != nil {
		if errs.CodeOf(err) == errs.NotFound || errors.Is(err, sql.ErrNoRows) {
			return errs.NotFoundf("The organisation has no %s provider.", kind)
		}
		return err
	}
	if err := fn(r.Context(), orgID, kind, secret, a.PublicURL+r.URL.RequestURI()); err != nil {
		return err
	}
	if kind == "twilio" {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?><Response></Response>`))
		return nil
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
