// Package web is the foundation every careloop page package builds on: a
// renderer of html/template pages inside one shared layout, the security
// headers pages carry, flash messages that survive a redirect, form errors
// with an error summary, and an error page that browsers get for any error
// the HTTP platform answers.
//
// Pages are plain server-rendered HTML that works without JavaScript. A
// page package embeds its own templates and hands them to [NewRenderer]
// with the layout of this package; a page is then one template, one
// handler and one call to [Renderer.Page]:
//
//	r, err := web.NewRenderer(pagesFS, "templates/*.html")
//	mux.HandleFunc("GET /account", func(w http.ResponseWriter, req *http.Request) {
//		r.Page(w, req, http.StatusOK, "account", web.Data{Title: "Your account", Body: acct})
//	})
//
// Cross-site request forgery is refused for every unsafe method by
// [http.CrossOriginProtection] in the HTTP platform's chain; [Protect] adds
// the same check to handlers served outside it.
package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/i18n"
)

//go:embed layout.html error.html careloop.css locales/*.json
var layoutFS embed.FS

// Messages are the layout's own words (skip link, sign out, error
// summary, footer) in every language; a page package that localises its
// pages builds its i18n.Catalog with these and its own.
var Messages = i18n.Source{FS: layoutFS, Dir: "locales"}

// english speaks for pages that are not localised (Data.L nil).
var english = func() *i18n.Localizer {
	c, err := i18n.New(Messages)
	if err != nil {
		panic("web: layout messages: " + err.Error()) // cannot happen: embedded at build, tested
	}
	return c.For(i18n.Default)
}()

// CSP is the Content-Security-Policy of every page: scripts, styles and
// images only from careloop itself, no inline script or style, no framing,
// forms posting only back to careloop.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// SetHeaders sets the security headers of a page. The HTTP platform sets
// most of them already for every response; pages set them again so that
// they hold wherever the page is served, and tighten the CSP.
func SetHeaders(h http.Header) {
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

// Protect returns h behind http.CrossOriginProtection: unsafe requests
// (POST, PUT, DELETE…) sent by a browser from another origin are refused
// with 403. careloop's HTTP chain already does this for every route; use
// Protect for page handlers mounted elsewhere (tests, tools).
func Protect(h http.Handler) http.Handler {
	return http.NewCrossOriginProtection().Handler(h)
}

// Nav is one link of the layout's navigation.
type Nav struct {
	Href, Label string
	Current     bool
}

// Data is what the layout needs from every page, plus the page's own data
// in Body.
type Data struct {
	// Title names the page in the browser tab and in its h1.
	Title string
	// SignedIn shows the account navigation and the sign-out button.
	SignedIn bool
	// Nav is the navigation shown to signed-in people.
	Nav []Nav
	// Flash is a message carried over a redirect (see SetFlash).
	Flash *Flash
	// Errors are the problems with a submitted form, shown in an error
	// summary at the top of the page that links to each field.
	Errors *FormErrors
	// Scripts are paths of project scripts the page needs (passkeys).
	Scripts []string
	// Body is the page's own data.
	Body any

	// L speaks the reader's language; nil: English. Templates call
	// {{t $.L "key"}}.
	L *i18n.Localizer
	// Class is added to the html element: the reader's display choices
	// ("text-large contrast-high").
	Class string
	// Home is where the brand links; "" is /account.
	Home string
	// Description is the page's meta description, if any.
	Description string
	// Switch, when set, shows the language switcher.
	Switch *Switch
}

// MaxLocalPath bounds a path LocalPath accepts: longer ones are refused.
const MaxLocalPath = 2048

// LocalPath returns next when it is a path on this site that is safe to
// redirect to (after sign-in, after switching the language), and false
// otherwise. A safe path starts with "/", is not "//" (another host, for
// browsers), holds no backslash (which browsers read as a slash) and no
// control character or space (browsers drop tabs and newlines from URLs,
// which would turn "/\t/host" into "//host").
func LocalPath(next string) (string, bool) {
	if next == "" || len(next) > MaxLocalPath || next[0] != '/' || strings.HasPrefix(next, "//") {
		return "", false
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c == '\\' || c <= ' ' || c == 0x7f {
			return "", false
		}
	}
	return next, true
}

// PatientNav is the navigation of the pages for patients and caregivers
// (the portal's and their account's), in the reader's language, with the
// page at path current.
func PatientNav(l *i18n.Localizer, path string) []Nav {
	nav := []Nav{
		{Href: "/home", Label: l.T("nav.home")},
		{Href: "/results", Label: l.T("nav.results")},
		{Href: "/appointments", Label: l.T("nav.appointments")},
		{Href: "/account/messages", Label: l.T("nav.messages")},
		{Href: "/account", Label: l.T("nav.account")},
	}
	for i := range nav {
		nav[i].Current = nav[i].Href == path
	}
	return nav
}

// Switch is the language switcher: one button per other language, each
// named in its own language, posting to Action with the page to return to.
type Switch struct {
	Action string // e.g. "/lang"
	Next   string // the current page's path and query
	Others []i18n.Language
}

// NewSwitch returns the switcher of page r for a reader of l: the other
// languages of l's catalog, posting to action.
func NewSwitch(action string, r *http.Request, l *i18n.Localizer) *Switch {
	s := &Switch{Action: action, Next: r.URL.RequestURI()}
	for _, lang := range l.Catalog().Languages() {
		if lang.Tag != l.Tag {
			s.Others = append(s.Others, lang)
		}
	}
	return s
}

// Renderer renders pages: each is a template named after the page that
// defines "content", inside the shared layout. It is safe for concurrent use.
type Renderer struct {
	pages map[string]*template.Template
	log   *slog.Logger
}

// NewRenderer parses the page templates of fsys matching pattern, each
// with the layout and with the templates matching partials (shared pieces;
// none may match). A page is named after its file without ".html". log
// receives template execution errors; nil discards them.
func NewRenderer(fsys fs.FS, pattern, partials string, log *slog.Logger) (*Renderer, error) {
	return NewRendererFuncs(fsys, pattern, partials, log, nil)
}

// NewRendererFuncs is NewRenderer with extra template functions for the
// pages (they may not replace the layout's own: t, langOf, dirOf,
// fieldError).
func NewRendererFuncs(fsys fs.FS, pattern, partials string, log *slog.Logger, extra template.FuncMap) (*Renderer, error) {
	all := template.FuncMap{}
	for k, v := range extra {
		all[k] = v
	}
	for k, v := range funcs {
		all[k] = v
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	names, err := fs.Glob(fsys, pattern)
	if err != nil {
		return nil, fmt.Errorf("web: templates %q: %w", pattern, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("web: no templates match %q", pattern)
	}
	r := &Renderer{pages: map[string]*template.Template{}, log: log}
	errPage, err := template.New("layout.html").Funcs(all).ParseFS(layoutFS, "layout.html", "error.html")
	if err != nil {
		return nil, fmt.Errorf("web: layout: %w", err)
	}
	r.pages["error"] = errPage
	for _, name := range names {
		t, err := template.New("layout.html").Funcs(all).ParseFS(layoutFS, "layout.html")
		if err != nil {
			return nil, fmt.Errorf("web: layout: %w", err)
		}
		if shared, _ := fs.Glob(fsys, partials); partials != "" && len(shared) > 0 {
			if t, err = t.ParseFS(fsys, partials); err != nil {
				return nil, fmt.Errorf("web: partials %q: %w", partials, err)
			}
		}
		if t, err = t.ParseFS(fsys, name); err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		base := name[strings.LastIndex(name, "/")+1:]
		r.pages[strings.TrimSuffix(base, ".html")] = t
	}
	return r, nil
}

// Page writes the page name with status and data, with the security
// headers. The page is rendered into a buffer first, so a template error
// becomes a plain 500 rather than half a page.
func (r *Renderer) Page(w http.ResponseWriter, req *http.Request, status int, name string, data Data) {
	t, ok := r.pages[name]
	if !ok {
		r.log.Error("web: no such page template", "page", name)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		r.log.Error("web: render page", "page", name, "err", err)
		http.Error(w, "Internal error.", http.StatusInternalServerError)
		return
	}
	SetHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// Has reports whether the renderer has a page called name.
func (r *Renderer) Has(name string) bool { _, ok := r.pages[name]; return ok }

// StylePath is where RegisterStatic serves the shared style sheet.
const StylePath = "/static/careloop.css"

// RegisterStatic serves the shared style sheet at StylePath. It may be
// cached for an hour: it holds nothing private.
func RegisterStatic(mux *http.ServeMux) {
	css, err := layoutFS.ReadFile("careloop.css")
	if err != nil {
		panic("web: embedded style sheet missing: " + err.Error()) // cannot happen: embedded at build
	}
	mux.HandleFunc("GET "+StylePath, func(w http.ResponseWriter, r *http.Request) {
		ServeAsset(w, "text/css; charset=utf-8", css)
	})
}

// ServeAsset writes a static file of careloop's own (a style sheet, a
// script) with its type and an hour of caching.
func ServeAsset(w http.ResponseWriter, contentType string, body []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	_, _ = w.Write(body)
}

var funcs = template.FuncMap{
	// t returns a message in the reader's language (English when l is
	// nil): t $.L "key" "Name" value….
	"t": func(l *i18n.Localizer, key string, args ...any) string {
		if l == nil {
			l = english
		}
		return l.T(key, args...)
	},
	"langOf": func(l *i18n.Localizer) string {
		if l == nil {
			return i18n.Default
		}
		return l.Lang()
	},
	"dirOf": func(l *i18n.Localizer) string {
		if l == nil {
			return "ltr"
		}
		return l.Dir()
	},
	// field returns the error message of a form field, or "".
	"fieldError": func(e *FormErrors, field string) string {
		if e == nil {
			return ""
		}
		return e.Of(field)
	},
}
