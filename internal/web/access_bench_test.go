package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/careloop/careloop/internal/audit"
	"github.com/careloop/careloop/internal/identity"
)

// BenchmarkRecordAccessPage measures GET /account/record-access for a
// patient whose record has 200 entries in the audit log: the session and
// the policy's view of the person, the log search, the names, the entry
// recording the look (a commit), and the page.
func BenchmarkRecordAccessPage(b *testing.B) {
	s := startSite(b)
	s.record(b, "Patient", "ada", adaPatient)
	s.linked(b, "ada@example.org", "Ada Okafor", identity.RolePatient, "Patient/ada")
	s.person(b, "doc@example.org", "Dr Dee Doc", identity.RoleClinician)
	ctx := context.Background()
	entries := make([]audit.Entry, 200)
	for i := range entries {
		entries[i] = audit.Entry{OrgID: s.org.ID, Type: audit.TypeRest, Subtype: []audit.Coding{audit.Interaction("read")},
			Action: audit.Read, Outcome: audit.Success, Agent: audit.Agent{Subject: "account/someone", Role: "clinician", PurposeOfUse: "TREAT"},
			Patients: []string{"Patient/ada"}, Entities: []audit.Entity{{What: "Patient/ada"}}}
	}
	if err := s.app.Audit.Record(ctx, entries...); err != nil {
		b.Fatal(err)
	}
	s.settleAudit(b)

	cookies := s.signInCookies(b, "ada@example.org")
	for b.Loop() {
		w := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/account/record-access", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		s.app.Handler.ServeHTTP(w, req)
		if w.Code != http.StatusOK || strings.Count(w.Body.String(), `data-testid="record-access"`) != 200 {
			b.Fatalf("status %d, rows %d", w.Code, strings.Count(w.Body.String(), `data-testid="record-access"`))
		}
	}
}
