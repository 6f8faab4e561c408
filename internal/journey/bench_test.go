package journey_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/platform/jobs"
	"github.com/careloop/careloop/internal/tenant"
)

// seedOpenJourneys stores n open journeys of 5,000 patients straight into
// the journeys table, shaped as the inbox sees them: a result waiting for
// review on almost all, 1 % critical and 15 % abnormal with a deadline in
// the next days, some released and unviewed. (Building them through FHIR
// writes would take minutes and measure the writes, not the inbox.)
func seedOpenJourneys(tb testing.TB, d *db.DB, orgID string, n int) {
	tb.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now().UnixMilli()
	cols := []string{"org_id", "id", "anchor", "patient_id", "order_ref", "report_ref", "code_system", "code", "display", "stage",
		"flag", "flag_reason", "urgency", "clinician", "opened_at", "updated_at", "result_at", "final_at", "due_at", "due_step",
		"due_sort", "clock", "clock_job", "escalation", "reviewed_at", "reviewed_by", "released_at", "hold_reason", "hold_until",
		"hold_by", "notified_at", "viewed_at", "acknowledged_at", "followup_at", "booked_at", "followup_done_at", "closed_at",
		"events", "merged_into"}
	const perInsert = 20
	for from := 0; from < n; from += 1000 {
		err := d.InTx(ctx, func(tx *sql.Tx) error {
			for k := from; k < min(from+1000, n); k += perInsert {
				var groups []string
				var args []any
				for i := k; i < min(k+perInsert, n); i++ {
					flag, urgency, reason, step := "normal", 2, "", ""
					var due any
					dueSort := int64(math.MaxInt64)
					switch r := rng.IntN(100); {
					case r < 1:
						flag, urgency, reason, step = "critical", 0, "Potassium 7.2 mmol/L is above the critical limit", "acknowledge"
						d := now + rng.Int64N(30*60_000)
						due, dueSort = d, d
					case r < 16:
						flag, urgency, reason, step = "abnormal", 1, "Sodium 131 mmol/L is below the reference range", "review"
						d := now + rng.Int64N(3*86_400_000)
						due, dueSort = d, d
					}
					var released any
					if rng.IntN(10) == 0 {
						released = now - 3_600_000
					}
					opened := now - rng.Int64N(30*86_400_000)
					id := fmt.Sprintf("j%07d", i)
					args = append(args, orgID, id, "ServiceRequest/sr"+id, fmt.Sprintf("p%d", rng.IntN(5000)), "ServiceRequest/sr"+id,
						"DiagnosticReport/dr"+id, "http://loinc.org", "2951-2", "Sodium", "final", flag, reason, urgency, "Practitioner/doc",
						opened, opened, opened+3_600_000, opened+3_600_000, due, step, dueSort, 1, nil, 0, nil, "", released, "", nil,
						"", nil, nil, nil, nil, nil, nil, nil, 3, "")
					ph := make([]string, len(cols))
					for c := range ph {
						ph[c] = fmt.Sprintf("$%d", len(args)-len(cols)+c+1)
					}
					groups = append(groups, "("+strings.Join(ph, ", ")+")")
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO journeys ("+strings.Join(cols, ", ")+") VALUES "+strings.Join(groups, ", "), args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
	if d.Dialect == db.SQLite {
		if _, err := d.Write.ExecContext(ctx, "ANALYZE journeys"); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkInbox measures the care team's inbox with 100,000 open
// journeys (the figure: the first page in at most 50 ms): the
// first page of 50 for someone who works every patient (a care
// coordinator), and for a clinician whose 200 patients' journeys are
// among them. It reports the median and the 99th percentile.
// CARELOOP_BENCH_ENGINE=postgres runs it on PostgreSQL.
func BenchmarkInbox(b *testing.B) {
	engine := db.SQLite
	if os.Getenv("CARELOOP_BENCH_ENGINE") == "postgres" {
		engine = db.Postgres
	}
	d := dbtest.Open(b, engine)
	ctx := context.Background()
	o := &tenant.Organization{Slug: "clinic-a", Name: "Clinic A"}
	if err := d.InTx(ctx, func(tx *sql.Tx) error { return tenant.NewStore(d).CreateTx(ctx, tx, o) }); err != nil {
		b.Fatal(err)
	}
	q, err := jobs.New(d, jobs.Config{})
	if err != nil {
		b.Fatal(err)
	}
	s := journey.New(journey.Config{DB: d, Jobs: journey.RiverJobs{Queue: q}})
	seedOpenJourneys(b, d, o.ID, 100_000)
	var mine []string
	for i := range 200 {
		mine = append(mine, fmt.Sprintf("p%d", i*25))
	}
	for _, bc := range []struct {
		name  string
		query journey.InboxQuery
	}{
		{"coordinator-review", journey.InboxQuery{Queue: journey.QueueReview}},
		{"coordinator-unviewed", journey.InboxQuery{Queue: journey.QueueUnviewed}},
		{"clinician-200-patients", journey.InboxQuery{Queue: journey.QueueReview, Patients: mine, Limited: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var times []time.Duration
			for b.Loop() {
				start := time.Now()
				page, _, err := s.Inbox(ctx, o.ID, bc.query)
				times = append(times, time.Since(start))
				if err != nil || len(page) == 0 {
					b.Fatalf("%d journeys, %v", len(page), err)
				}
			}
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
