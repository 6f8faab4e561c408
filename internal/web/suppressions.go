package web

import (
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/errs"
	pweb "github.com/careloop/careloop/internal/platform/web"
)

// suppressionsPage is the data of /staff/notify/suppressions: the
// addresses careloop does not write to, because the person unsubscribed,
// replied STOP, or the address bounced.
type suppressionsPage struct {
	Rows []suppressionRow
	// CanLift: the person's role lets messages go to an address again.
	CanLift bool
}

type suppressionRow struct {
	Channel, ChannelWords, Address, Reason, At, ISO string
}

// suppressions lists the organisation's suppressed addresses, newest
// first.
func (p *Pages) suppressions(w http.ResponseWriter, r *http.Request, u *who) {
	p.showSuppressions(w, r, http.StatusOK, u, nil)
}

func (p *Pages) showSuppressions(w http.ResponseWriter, r *http.Request, status int, u *who, e *pweb.FormErrors) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	list, err := p.Notify.Suppressions(r.Context(), pr.OrgID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := suppressionsPage{CanLift: slices.Contains(suppressionLift, u.Account.Role)}
	for _, s := range list {
		v.Rows = append(v.Rows, suppressionRow{Channel: s.Channel, ChannelWords: channelWords(s.Channel), Address: s.Address, Reason: s.Reason,
			At: showTime(s.At), ISO: s.At.UTC().Format(time.RFC3339)})
	}
	data := p.staffMessagesData(w, r, "Addresses that get no messages", v)
	data.Errors = e
	p.r.Page(w, r, status, "suppressions", data)
}

// liftSuppression lets messages go to an address again, once the person
// asked for it (an administrator or a care coordinator does this).
func (p *Pages) liftSuppression(w http.ResponseWriter, r *http.Request, u *who) {
	pr, ok := p.principal(w, r)
	if !ok {
		return
	}
	channel, address := r.PostFormValue("channel"), strings.TrimSpace(r.PostFormValue("address"))
	err := p.Notify.Unsuppress(r.Context(), pr.OrgID, channel, address)
	switch {
	case errs.CodeOf(err) == errs.NotFound:
		pweb.SetFlash(w, "info", "That address was getting messages already.")
	case err != nil:
		p.fail(w, r, err)
		return
	default:
		pweb.SetFlash(w, "success", address+" gets "+strings.ToLower(channelWords(channel))+"s again.")
	}
	seeOther(w, r, "/staff/notify/suppressions")
}
