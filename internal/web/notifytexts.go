package web

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/careloop/careloop/internal/notify"
	"github.com/careloop/careloop/internal/notify/templates"
	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// notifyTextsPage is the data of /staff/notify/templates: the texts in
// force, by kind of message.
type notifyTextsPage struct {
	Groups []textGroup
}

// textGroup is one kind of message and its texts.
type textGroup struct {
	Kind, Description, Audience string
	Rows                        []textRow
}

// textRow is one text: its channel, language and reading level.
type textRow struct {
	Channel, Lang, Level, Subject, Href string
	// Own: the organisation's text, over careloop's.
	Own bool
}

var langNames = map[string]string{templates.English: "English", templates.Spanish: "Spanish"}

var levelNames = map[string]string{templates.Simple: "Simple", templates.Standard: "Standard"}

// notifyTexts lists the texts in force for the organisation, by kind,
// channel, language and reading level, its own marked.
func (p *Pages) notifyTexts(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	list, err := p.Notify.Templates(r.Context(), pr.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := notifyTextsPage{}
	for _, info := range templates.Kinds() {
		g := textGroup{Kind: string(info.Kind), Description: info.Description, Audience: "Patients"}
		if info.Audience == templates.Staff {
			g.Audience = "Care team"
		}
		for _, t := range list {
			if t.Kind != info.Kind {
				continue
			}
			g.Rows = append(g.Rows, textRow{Channel: channelWords(t.Channel), Lang: langNames[t.Lang], Level: levelNames[t.Level],
				Subject: t.Subject, Href: textEditLink(t.Key), Own: t.Own})
		}
		if len(g.Rows) > 0 {
			v.Groups = append(v.Groups, g)
		}
	}
	p.r.Page(w, r, http.StatusOK, "notify-texts", p.staffMessagesData(w, r, "Texts of messages", v))
}

// textEditLink is the page that edits the text of k.
func textEditLink(k templates.Key) string {
	return "/staff/notify/templates/edit?" + url.Values{"kind": {string(k.Kind)}, "channel": {k.Channel}, "lang": {k.Lang}, "level": {k.Level}}.Encode()
}

// notifyTextPage is the data of the page that edits one text.
type notifyTextPage struct {
	Kind, Description, Channel, Lang, Level string
	// Action is this page's address, where its forms post.
	Action string
	Own    bool
	// SMS texts have no subject.
	HasSubject    bool
	Subject, Body string
	Detail        bool
	// Preview is the text filled in with example data; nil when it
	// cannot be (the error says why).
	Preview *textPreview
}

// textPreview is a rendered text as the page shows it.
type textPreview struct {
	Subject    string
	Paragraphs [][]wrapText
	Detail     bool
}

// textOf returns the text in force for the key of the request's query, or
// a not-found error.
func (p *Pages) textOf(r *http.Request, orgID string) (notify.TemplateView, error) {
	q := r.URL.Query()
	k := templates.Key{Kind: templates.Kind(q.Get("kind")), Channel: q.Get("channel"), Lang: q.Get("lang"), Level: q.Get("level")}
	list, err := p.Notify.Templates(r.Context(), orgID)
	if err != nil {
		return notify.TemplateView{}, err
	}
	for _, t := range list {
		if t.Key == k {
			return t, nil
		}
	}
	return notify.TemplateView{}, errs.NotFoundf("There is no text %s.", k)
}

// notifyText shows one text with its preview on example data.
func (p *Pages) notifyText(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	t, err := p.textOf(r, pr.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := textPageOf(t)
	rd, err := p.Notify.Preview(r.Context(), pr.OrgID, t.Key, nil, false)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v.Preview = previewOf(rd, false)
	p.r.Page(w, r, http.StatusOK, "notify-text", p.staffMessagesData(w, r, "Text of a message", v))
}

func textPageOf(t notify.TemplateView) notifyTextPage {
	v := notifyTextPage{Kind: string(t.Kind), Channel: channelWords(t.Channel), Lang: langNames[t.Lang], Level: levelNames[t.Level],
		Action: textEditLink(t.Key), Own: t.Own, HasSubject: t.Channel != templates.SMS, Subject: t.Subject, Body: t.Body}
	if info, ok := templates.Lookup(t.Kind); ok {
		v.Description = info.Description
	}
	return v
}

func previewOf(rd templates.Rendered, detail bool) *textPreview {
	return &textPreview{Subject: rd.Subject, Paragraphs: paragraphs(rd.Body), Detail: detail}
}

// editNotifyText previews a draft text, saves it as the organisation's
// own, or resets the text to careloop's, as the button pressed says. A
// text the service refuses is shown again with its reason on the text's
// field, and nothing is saved.
func (p *Pages) editNotifyText(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	ctx := r.Context()
	t, err := p.textOf(r, pr.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := textPageOf(t)
	v.Body = strings.ReplaceAll(r.PostFormValue("body"), "\r\n", "\n")
	v.Subject = strings.TrimSpace(r.PostFormValue("subject"))
	v.Detail = r.PostFormValue("detail") != ""
	draft := &templates.Template{Key: t.Key, Subject: v.Subject, Body: v.Body}
	if !v.HasSubject {
		draft.Subject = ""
	}
	show := func(field, msg string) {
		data := p.staffMessagesData(w, r, "Text of a message", v)
		data.Errors = &pweb.FormErrors{}
		data.Errors.Add(field, msg)
		p.r.Page(w, r, http.StatusBadRequest, "notify-text", data)
	}
	// The service names the part of the text at fault first ("subject:
	// is required for email").
	refused := func(err error) {
		msg := strings.TrimSuffix(errs.MessageOf(err), ".")
		if rest, ok := strings.CutPrefix(msg, "subject: "); ok {
			show("subject", "The subject "+rest+".")
			return
		}
		show("body", "The text "+strings.TrimPrefix(msg, "body: ")+".")
	}
	switch r.PostFormValue("action") {
	case "preview":
		rd, err := p.Notify.Preview(ctx, pr.OrgID, t.Key, draft, v.Detail)
		if err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				p.fail(w, r, err)
				return
			}
			refused(err)
			return
		}
		v.Preview = previewOf(rd, v.Detail)
		p.r.Page(w, r, http.StatusOK, "notify-text", p.staffMessagesData(w, r, "Text of a message", v))
	case "save":
		if err := p.Notify.SetTemplate(ctx, pr.OrgID, *draft, pr.Subject); err != nil {
			if errs.CodeOf(err) != errs.Invalid {
				p.fail(w, r, err)
				return
			}
			refused(err)
			return
		}
		pweb.SetFlash(w, "success", "Saved. New messages of this kind use your text.")
		seeOther(w, r, textEditLink(t.Key))
	case "reset":
		err := p.Notify.DeleteTemplate(ctx, pr.OrgID, t.Key)
		switch {
		case errs.CodeOf(err) == errs.NotFound:
			pweb.SetFlash(w, "info", "This text was careloop's already.")
		case err != nil:
			p.fail(w, r, err)
			return
		default:
			pweb.SetFlash(w, "success", "Reset. New messages of this kind use careloop's text again.")
		}
		seeOther(w, r, textEditLink(t.Key))
	default:
		show("", "Press Preview, Save or Reset.")
	}
}
