package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/app"
	"github.com/careloop/careloop/internal/journey"
	"github.com/careloop/careloop/internal/platform/config"
	"github.com/careloop/careloop/internal/platform/db"
	"github.com/careloop/careloop/internal/platform/db/dbtest"
	"github.com/careloop/careloop/internal/tenant"
)

// crashDeadline is the drill policy's acknowledgement deadlines: long
// enough for the test to see the escalation pending and kill the process
// before it fires, short enough to wait for.
const crashDeadline = 10 * time.Second

// TestEscalationsSurviveKill is the crash test of the journeys: the
// careloop binary serves an organisation whose (drill) policy asks for
// critical results to be acknowledged within 10 seconds, then 10 more for
// the covering clinician. A critical result is written through the FHIR
// API; the process is killed (SIGKILL) while the first escalation is
// pending and started again after its deadline: the covering clinician's
// escalation fires. It is killed again while the care coordinator's is
// pending and started again after that deadline: it fires too. Each
// escalation is in the journey's events exactly once, and no deadline job
// is left to fire again.
func TestEscalationsSurviveKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits for two deadlines")
	}
	bin := buildCareloop(t)
	for _, e := range dbtest.Engines() {
		t.Run(string(e), func(t *testing.T) {
			store := storeFlags(t, e)
			token, orgID := crashSetup(t, store)
			d := openStore(t, store)
			look := &crashLook{t: t, d: d, org: orgID}

			// First life: the critical result arrives, its escalation is
			// scheduled; the process dies before the deadline.
			srv := startServe(t, bin, store)
			srv.writeCritical(token)
			var j crashJourney
			look.until("the acknowledgement deadline is scheduled", func() bool {
				j = look.journey("ServiceRequest/crash-order")
				return j.dueStep == journey.StepAcknowledge && look.deadlineJobs("scheduled") == 1
			})
			srv.kill()
			if n := look.escalations(); n != 0 || j.escalation != 0 || time.Now().After(j.dueAt) {
				t.Fatalf("escalated before the kill (%d events, level %d, due %v): the machine took longer than %v", n, j.escalation, j.dueAt, crashDeadline)
			}

			// Second life, after the deadline: the covering clinician's
			// escalation fires; the process dies before the coordinator's.
			time.Sleep(time.Until(j.dueAt) + 500*time.Millisecond)
			srv = startServe(t, bin, store)
			look.until("the covering clinician's escalation", func() bool {
				j = look.journey("ServiceRequest/crash-order")
				return j.escalation == journey.EscalatedCovering && look.deadlineJobs("scheduled") == 1
			})
			srv.kill()
			if n := look.escalations(); n != 1 || time.Now().After(j.dueAt) {
				t.Fatalf("after the first restart: %d escalation events (want 1), next due %v", n, j.dueAt)
			}

			// Third life, after the second deadline: the coordinator's
			// escalation fires; this time the process stops gracefully.
			time.Sleep(time.Until(j.dueAt) + 500*time.Millisecond)
			srv = startServe(t, bin, store)
			look.until("the care coordinator's escalation", func() bool {
				j = look.journey("ServiceRequest/crash-order")
				return j.escalation == journey.EscalatedCoordinator
			})
			srv.stop()
			causes := look.escalationCauses()
			if strings.Join(causes, ",") != "deadline:acknowledge,deadline:covering-acknowledge" {
				t.Fatalf("escalation events %v, want each escalation once", causes)
			}
			if n := look.deadlineJobs("scheduled", "available", "running", "retryable", "pending"); n != 0 {
				t.Fatalf("%d deadline jobs could still fire", n)
			}
			if n := look.deadlineJobs("completed"); n != 2 {
				t.Fatalf("%d deadline jobs completed, want 2", n)
			}
		})
	}
}

// storeFlags names a new database of engine e for the test: a data folder
// of its own, and on PostgreSQL a database of its own.
func storeFlags(t *testing.T, e db.Dialect) []string {
	store := []string{"--data-dir", t.TempDir()}
	if e == db.Postgres {
		store = append(store, "--db", dbtest.PostgresURL(t))
	}
	return store
}

// openStore opens the database that the flags store name, until the test
// ends.
func openStore(t *testing.T, store []string) *db.DB {
	t.Helper()
	cfg, err := config.Parse("serve", config.Store, store, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	d, err := db.Open(context.Background(), db.Options{SQLitePath: cfg.SQLitePath(), PostgresURL: cfg.PostgresURL(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// crashSetup creates the database, an organisation with an API key and its
// drill policy, and returns the key and the organisation's id.
func crashSetup(t *testing.T, store []string) (token, orgID string) {
	t.Helper()
	ctx := context.Background()
	cfg, err := config.Parse("serve", config.Store, store, noEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	err = a.DB.InTx(ctx, func(tx *sql.Tx) error {
		o := &tenant.Organization{Slug: "crash-clinic", Name: "Crash Clinic"}
		if err := a.Orgs.CreateTx(ctx, tx, o); err != nil {
			return err
		}
		orgID = o.ID
		_, token, err = a.Accounts.CreateAPIKeyTx(ctx, tx, o.ID, "lab")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	pol := journey.DefaultPolicy()
	pol.Drill, pol.CriticalAck, pol.CoveringAck = true, crashDeadline, crashDeadline
	if err := a.Journeys.SetPolicy(ctx, orgID, pol); err != nil {
		t.Fatal(err)
	}
	if got, err := a.Journeys.Policy(ctx, orgID); err != nil || got.CriticalAck != crashDeadline || got.CoveringAck != crashDeadline || !got.Drill {
		t.Fatalf("the drill policy reads back as %+v (%v)", got, err)
	}
	return token, orgID
}

// serveProc is a running "careloop serve".
type serveProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	base   string
	stderr *syncBuffer
	waited chan error // the process's exit
}

func startServe(t *testing.T, bin string, store []string) *serveProc {
	t.Helper()
	addr := freeAddr(t)
	p := &serveProc{t: t, base: "http://" + addr, stderr: &syncBuffer{}}
	p.cmd = exec.Command(bin, append([]string{"serve", "--addr", addr, "--log-level", "warn"}, store...)...)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- p.cmd.Wait() }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
		if code, _ := get(t, p.base+"/readyz"); code == 200 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("careloop serve exited (%v): %s", err, p.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			p.cmd.Process.Kill()
			t.Fatalf("careloop serve not ready in a minute: %s", p.stderr.String())
		}
	}
	p.waited = exited
	return p
}

// kill ends the process with SIGKILL: no shutdown, no cleanup. Its audit
// worker sees its standard input end and exits; kill waits for that, so
// that nothing of the old process is left to touch the data folder.
func (p *serveProc) kill() {
	p.t.Helper()
	workers := childPIDs(p.cmd.Process.Pid)
	if err := p.cmd.Process.Kill(); err != nil {
		p.t.Fatal(err)
	}
	<-p.waited
	waitGone(p.t, workers, 10*time.Second)
}

// stop ends the process with SIGTERM and waits for its graceful shutdown.
func (p *serveProc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	if err := <-p.waited; err != nil {
		p.t.Fatalf("careloop serve after SIGTERM: %v: %s", err, p.stderr.String())
	}
}

// writeCritical writes a patient, an order and its final report with a
// critical potassium (7.1 mmol/L, flagged HH by the lab) in one FHIR
// transaction.
func (p *serveProc) writeCritical(token string) {
	p.t.Helper()
	now := time.Now().UTC().Format(time.RFC3339)
	entry := func(typ, id, body string) string {
		return fmt.Sprintf(`{"resource":%s,"request":{"method":"PUT","url":"%s/%s"}}`, body, typ, id)
	}
	lab := `"category":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/observation-category","code":"laboratory"}]}]`
	code := `"code":{"coding":[{"system":"http://loinc.org","code":"2823-3","display":"Potassium"}]}`
	bundle := `{"resourceType":"Bundle","type":"transaction","entry":[` + strings.Join([]string{
		entry("Patient", "crash-pat", `{"resourceType":"Patient","id":"crash-pat","gender":"female","birthDate":"1960-02-01"}`),
		entry("ServiceRequest", "crash-order", `{"resourceType":"ServiceRequest","id":"crash-order","status":"active","intent":"order","subject":{"reference":"Patient/crash-pat"},`+code+`}`),
		entry("Observation", "crash-k", `{"resourceType":"Observation","id":"crash-k","status":"final",`+lab+`,`+code+`,"subject":{"reference":"Patient/crash-pat"},"effectiveDateTime":"`+now+`","valueQuantity":{"value":7.1,"unit":"mmol/L","system":"http://unitsofmeasure.org","code":"mmol/L"},"interpretation":[{"coding":[{"system":"http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation","code":"HH"}]}]}`),
		entry("DiagnosticReport", "crash-report", `{"resourceType":"DiagnosticReport","id":"crash-report","status":"final","basedOn":[{"reference":"ServiceRequest/crash-order"}],"subject":{"reference":"Patient/crash-pat"},`+code+`,"issued":"`+now+`","result":[{"reference":"Observation/crash-k"}]}`),
	}, ",") + `]}`
	req, err := http.NewRequest("POST", p.base+"/fhir", bytes.NewReader([]byte(bundle)))
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Prefer", "return=minimal")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		p.t.Fatalf("the FHIR transaction: %d %s", resp.StatusCode, body)
	}
}

// crashLook reads the database the killed processes wrote.
type crashLook struct {
	t   *testing.T
	d   *db.DB
	org string
}

type crashJourney struct {
	dueStep    string
	dueAt      time.Time
	escalation int
}

func (l *crashLook) journey(anchor string) crashJourney {
	l.t.Helper()
	var j crashJourney
	var due sql.NullInt64
	err := l.d.Read.QueryRow("SELECT due_step, due_at, escalation FROM journeys WHERE org_id = $1 AND anchor = $2", l.org, anchor).
		Scan(&j.dueStep, &due, &j.escalation)
	if err == sql.ErrNoRows {
		return j
	}
	if err != nil {
		l.t.Fatal(err)
	}
	if due.Valid {
		j.dueAt = time.UnixMilli(due.Int64)
	}
	return j
}

// deadlineJobs counts the journey.deadline jobs in the states.
func (l *crashLook) deadlineJobs(states ...string) int {
	l.t.Helper()
	var n int
	err := l.d.Read.QueryRow("SELECT count(*) FROM river_job WHERE kind = 'journey.deadline' AND CAST(state AS TEXT) IN ('" +
		strings.Join(states, "', '") + "')").Scan(&n)
	if err != nil {
		l.t.Fatal(err)
	}
	return n
}

func (l *crashLook) escalationCauses() []string {
	l.t.Helper()
	rows, err := l.d.Read.Query(`SELECT e.cause FROM journey_events e JOIN journeys j ON j.org_id = e.org_id AND j.id = e.journey_id
		WHERE e.org_id = $1 AND j.anchor = 'ServiceRequest/crash-order' AND e.kind = $2 ORDER BY e.seq`, l.org, journey.KindEscalation)
	if err != nil {
		l.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			l.t.Fatal(err)
		}
		out = append(out, c)
	}
	return out
}

func (l *crashLook) escalations() int { return len(l.escalationCauses()) }

// until polls cond until it holds, failing after two minutes.
func (l *crashLook) until(what string, cond func() bool) {
	l.t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			l.t.Fatalf("no %s within two minutes", what)
		}
	}
}
