package web

import (
	"net/http"
	"strings"

	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// emergencyReviewPage is the data of /staff/emergency-access/review: the
// emergency accesses no compliance officer has reviewed yet.
type emergencyReviewPage struct {
	Unreviewed []breakGlassRow
	// Note is the note typed for the access Failed, shown again with its
	// error.
	Failed, Note string
}

func (p *Pages) emergencyReview(w http.ResponseWriter, r *http.Request, u *who) {
	p.showEmergencyReview(w, r, http.StatusOK, u, emergencyReviewPage{}, nil)
}

func (p *Pages) showEmergencyReview(w http.ResponseWriter, r *http.Request, status int, u *who, f emergencyReviewPage, e *pweb.FormErrors) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	list, err := p.Access.BreakGlassLog(r.Context(), pr, true)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if f.Unreviewed, err = p.breakGlassRows(r.Context(), u.Account.OrgID, list); err != nil {
		p.fail(w, r, err)
		return
	}
	d := p.data(w, r, "Review emergency access", f)
	d.Errors = e
	p.r.Page(w, r, status, "emergency-review", d)
}

// reviewEmergency marks an emergency access reviewed, with a note.
func (p *Pages) reviewEmergency(w http.ResponseWriter, r *http.Request, u *who) {
	id := r.PathValue("id")
	note := strings.TrimSpace(r.PostFormValue("note"))
	field := "note-" + id
	if note == "" {
		e := &pweb.FormErrors{}
		e.Add(field, "Write what the review found, for example who confirmed the emergency.")
		p.showEmergencyReview(w, r, http.StatusBadRequest, u, emergencyReviewPage{Failed: id}, e)
		return
	}
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	if err := p.Access.ReviewBreakGlass(r.Context(), pr, id, note); err != nil {
		switch {
		case errs.CodeOf(err) == errs.NotFound:
			pweb.SetFlash(w, "info", "That emergency access was reviewed already.")
			seeOther(w, r, "/staff/emergency-access/review")
		case expected(err):
			e := &pweb.FormErrors{}
			e.Add(field, errs.MessageOf(err))
			p.showEmergencyReview(w, r, statusOf(err), u, emergencyReviewPage{Failed: id, Note: note}, e)
		default:
			p.fail(w, r, err)
		}
		return
	}
	pweb.SetFlash(w, "success", "The emergency access is marked reviewed.")
	seeOther(w, r, "/staff/emergency-access/review")
}
