package app

import (
	"context"
	"net/http"
	"net/url"

	"github.com/careloop/careloop/internal/access"
	"github.com/careloop/careloop/internal/booking"
	"github.com/careloop/careloop/internal/fhir"
	"github.com/careloop/careloop/internal/portal"
)

// records reads the FHIR resources the portal shows: by id from the
// store, by search from the searcher.
type records struct {
	*fhir.Store
	search *fhir.Searcher
}

func (r records) Search(ctx context.Context, orgID, typ string, params url.Values, lenient bool) (*fhir.SearchResult, error) {
	return r.search.Search(ctx, orgID, typ, params, lenient)
}

func (r records) ReferringTo(ctx context.Context, orgID, typ, id string, limit int) ([]*fhir.Stored, error) {
	return r.search.ReferringTo(ctx, orgID, typ, id, limit)
}

// bookingService is the booking of follow-ups on a's FHIR store, audited
// like the FHIR API, confirming by message.
func (a *App) bookingService() *booking.Service {
	return booking.New(booking.Config{DB: a.DB, Store: a.Resources, Search: a.Search, Audit: FHIRAuditor(a),
		Notify: a.Notify, BaseURL: a.Config.BaseURL.String() + "/fhir", Log: a.Log.With("component", "booking")})
}

// registerPortal adds the patient portal's pages to mux.
func (a *App) registerPortal(mux *http.ServeMux, acc *access.API, book *booking.Service) error {
	pages, err := portal.New(portal.Config{Users: acc.Service(), Accounts: a.Accounts, Journeys: a.Journeys,
		JourneyAudit: journeyAudit{log: a.Audit}, Records: records{Store: a.Resources, search: a.Search},
		Audit: FHIRAuditor(a), Inbox: a.Notify, Inboxes: &directory{app: a}, Profiles: &directory{app: a}, Booking: book,
		Log: a.Log.With("component", "portal")})
	if err != nil {
		return err
	}
	pages.Register(mux)
	return nil
}

// UseDemoTimeZone sets the journey policy of the demo organisation to the
// clinic's time zone, when the organisation has not chosen one: its
// business days, and the times its pages show, are the clinic's. Call it
// after seeding, before the journeys run.
func (a *App) UseDemoTimeZone(ctx context.Context, orgID, zone string) error {
	pol, err := a.Journeys.Policy(ctx, orgID)
	if err != nil {
		return err
	}
	if pol.TimeZone != "" && pol.TimeZone != "UTC" || zone == "" {
		return nil
	}
	pol.TimeZone = zone
	return a.Journeys.SetPolicy(ctx, orgID, pol)
}
