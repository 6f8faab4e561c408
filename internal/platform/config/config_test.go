package config_test

import (
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/careloop/careloop/internal/platform/config"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParse(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	readonly := filepath.Join(dir, "readonly")
	if err := os.Mkdir(readonly, 0o555); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	all := config.Store | config.Server | config.Demo

	tests := []struct {
		name    string
		args    []string
		env     func(string) string
		wantErr string // substring of the usage error; empty for success
		check   func(t *testing.T, c *config.Config)
	}{
		{name: "defaults", args: []string{"--data-dir", data}, check: func(t *testing.T, c *config.Config) {
			if c.Addr != "127.0.0.1:8080" || c.SQLitePath() != filepath.Join(data, "careloop.db") || c.Postgres() {
				t.Errorf("%+v", c)
			}
			if c.BaseURL.String() != "http://127.0.0.1:8080" || c.LogLevel != slog.LevelInfo || c.DemoPatients != 200 {
				t.Errorf("base %s level %v patients %d", c.BaseURL, c.LogLevel, c.DemoPatients)
			}
		}},
		{name: "environment", env: env("CARELOOP_DATA_DIR", data, "CARELOOP_ADDR", "0.0.0.0:9000", "CARELOOP_LOG_LEVEL", "debug", "CARELOOP_JOB_POLL", "50ms"),
			check: func(t *testing.T, c *config.Config) {
				if c.DataDir != data || c.Addr != "0.0.0.0:9000" || c.LogLevel != slog.LevelDebug || c.JobPollInterval != 50*time.Millisecond {
					t.Errorf("%+v", c)
				}
				if c.BaseURL.String() != "http://localhost:9000" {
					t.Errorf("base %s", c.BaseURL)
				}
			}},
		{name: "flag beats environment", args: []string{"--addr", "127.0.0.1:7000"}, env: env("CARELOOP_DATA_DIR", data, "CARELOOP_ADDR", "127.0.0.1:9000"),
			check: func(t *testing.T, c *config.Config) {
				if c.Addr != "127.0.0.1:7000" {
					t.Errorf("addr %s", c.Addr)
				}
			}},
		{name: "postgres", args: []string{"--db", "postgres://u:secret@db.internal:5432/careloop", "--data-dir", data}, check: func(t *testing.T, c *config.Config) {
			if !c.Postgres() || c.SQLitePath() != "" || strings.Contains(c.RedactedDB(), "secret") {
				t.Errorf("postgres %v path %q redacted %q", c.Postgres(), c.SQLitePath(), c.RedactedDB())
			}
		}},
		{name: "sqlite elsewhere", args: []string{"--db", "sqlite:" + filepath.Join(dir, "other", "x.db"), "--data-dir", data}, check: func(t *testing.T, c *config.Config) {
			if c.SQLitePath() != filepath.Join(dir, "other", "x.db") {
				t.Errorf("path %s", c.SQLitePath())
			}
		}},
		{name: "unknown flag", args: []string{"--colour", "red"}, wantErr: "careloop serve: flag provided but not defined: -colour"},
		{name: "stray argument", args: []string{"--data-dir", data, "now"}, wantErr: `unexpected argument "now"`},
		{name: "bad db url", args: []string{"--db", "mysql://x/y", "--data-dir", data}, wantErr: "--db: \"mysql://x/y\" is neither a postgres:// URL"},
		{name: "postgres without database", args: []string{"--db", "postgres://u@host:5432", "--data-dir", data}, wantErr: "names no database"},
		{name: "postgres without host", args: []string{"--db", "postgres:///careloop", "--data-dir", data}, wantErr: "has no host"},
		{name: "data dir is a file", args: []string{"--data-dir", file}, wantErr: "--data-dir: cannot create folder"},
		{name: "data dir under a file", args: []string{"--data-dir", filepath.Join(file, "sub")}, wantErr: "--data-dir: cannot create folder"},
		{name: "data dir read-only", args: []string{"--data-dir", readonly}, wantErr: "is read-only"},
		{name: "bad addr", args: []string{"--data-dir", data, "--addr", "8080"}, wantErr: "--addr: \"8080\" is not host:port"},
		{name: "bad port", args: []string{"--data-dir", data, "--addr", ":99999"}, wantErr: "port \"99999\""},
		{name: "bad base url", args: []string{"--data-dir", data, "--base-url", "ftp://x"}, wantErr: "--base-url"},
		{name: "tls half", args: []string{"--data-dir", data, "--tls-cert", file}, wantErr: "give both or neither"},
		{name: "tls missing file", args: []string{"--data-dir", data, "--tls-cert", "/nonexistent.pem", "--tls-key", file}, wantErr: "--tls-cert: cannot read /nonexistent.pem"},
		{name: "bad level", args: []string{"--data-dir", data, "--log-level", "loud"}, wantErr: "--log-level"},
		{name: "bad env number", env: env("CARELOOP_DATA_DIR", data, "CARELOOP_JOB_WORKERS", "many"), wantErr: "CARELOOP_JOB_WORKERS=\"many\": not a valid number"},
		{name: "patients out of range", args: []string{"--data-dir", data, "--patients", "0"}, wantErr: "--patients"},
		{name: "body limit", args: []string{"--data-dir", data, "--max-body", "10"}, wantErr: "--max-body"},
		{name: "smtp", args: []string{"--data-dir", data, "--base-url", "https://care.example.org", "--smtp-url", "smtp://care:pa55word@mail.example.org:587"},
			check: func(t *testing.T, c *config.Config) {
				if c.SMTPURL != "smtp://care:pa55word@mail.example.org:587" || strings.Contains(c.RedactedSMTP(), "pa55word") {
					t.Errorf("smtp %q redacted %q", c.SMTPURL, c.RedactedSMTP())
				}
				if c.MailFrom != "careloop <no-reply@care.example.org>" {
					t.Errorf("default sender %q", c.MailFrom)
				}
			}},
		{name: "smtp from environment", env: env("CARELOOP_DATA_DIR", data, "CARELOOP_SMTP_URL", "smtps://mail.example.org", "CARELOOP_MAIL_FROM", "Clinic <desk@clinic.example.org>"),
			check: func(t *testing.T, c *config.Config) {
				if c.SMTPURL != "smtps://mail.example.org" || c.MailFrom != "Clinic <desk@clinic.example.org>" {
					t.Errorf("smtp %q from %q", c.SMTPURL, c.MailFrom)
				}
			}},
		{name: "no smtp", args: []string{"--data-dir", data}, check: func(t *testing.T, c *config.Config) {
			if c.SMTPURL != "" {
				t.Errorf("smtp %q", c.SMTPURL)
			}
		}},
		{name: "bad smtp scheme", args: []string{"--data-dir", data, "--smtp-url", "imap://mail.example.org"}, wantErr: "--smtp-url: scheme \"imap\" is not smtp or smtps"},
		{name: "bad smtp tls", args: []string{"--data-dir", data, "--smtp-url", "smtp://u:hunter22@mail.example.org?tls=sometimes"}, wantErr: "--smtp-url: tls="},
		{name: "bad mail from", args: []string{"--data-dir", data, "--mail-from", "nobody"}, wantErr: "--mail-from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			getenv := tc.env
			if getenv == nil {
				getenv = env()
			}
			c, err := config.Parse("serve", all, tc.args, getenv, io.Discard)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			var ue *config.UsageError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want a usage error", err)
			}
			if !strings.Contains(ue.Msg, tc.wantErr) {
				t.Fatalf("message %q does not contain %q", ue.Msg, tc.wantErr)
			}
			if strings.Contains(ue.Msg, "\n") {
				t.Errorf("message %q is more than one line", ue.Msg)
			}
		})
	}
}

func TestHelpListsEveryFlagWithItsVariable(t *testing.T) {
	var b strings.Builder
	_, err := config.Parse("demo", config.Store|config.Server|config.Demo, []string{"-h"}, env(), &b)
	if !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"--db", "CARELOOP_DB", "--data-dir", "CARELOOP_DATA_DIR", "--addr", "--tls-cert", "--seed", "CARELOOP_PATIENTS", "--smtp-url", "CARELOOP_SMTP_URL", "--mail-from"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %s:\n%s", want, b.String())
		}
	}
}

func TestMailSetForCommandsThatSendWithoutServing(t *testing.T) {
	data := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		wantErr string
		base    string
	}{
		{name: "default base URL", args: []string{"--data-dir", data}, base: "http://127.0.0.1:8080"},
		{name: "own base URL", args: []string{"--data-dir", data, "--base-url", "https://care.example.org/"}, base: "https://care.example.org"},
		{name: "bad base URL", args: []string{"--data-dir", data, "--base-url", "care.example.org"}, wantErr: "--base-url"},
		{name: "server flags refused", args: []string{"--data-dir", data, "--addr", "127.0.0.1:1"}, wantErr: "not defined: -addr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := config.Parse("user invite", config.Store|config.Mail, tc.args, env(), io.Discard)
			if tc.wantErr != "" {
				var ue *config.UsageError
				if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tc.wantErr) {
					t.Fatalf("got %v, want a usage error with %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.BaseURL.String() != tc.base || c.MailFrom == "" {
				t.Errorf("base %s from %q", c.BaseURL, c.MailFrom)
			}
		})
	}
	var b strings.Builder
	if _, err := config.Parse("user invite", config.Store|config.Mail, []string{"-h"}, env(), &b); !errors.Is(err, flag.ErrHelp) {
		t.Fatal(err)
	}
	for _, want := range []string{"--smtp-url", "CARELOOP_SMTP_URL", "--mail-from", "CARELOOP_MAIL_FROM", "--base-url", "--secret-key-file"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("help lacks %s", want)
		}
	}
}

// FuzzParse feeds arbitrary addresses, URLs and numbers: Parse must return
// a complete config or a one-line usage error, never panic. Flags that name
// files and folders are left out so the fuzzer never writes outside its
// temporary folder.
func FuzzParse(f *testing.F) {
	f.Add("127.0.0.1:8080", "", "1048576", "postgres://u@h/db", "20ms")
	f.Add(":0", "https://care.example.org/base/", "1024", "", "1s")
	f.Add("[::1]:80", "http://[::1]:80/x?y", "-1", "postgres://%zz", "0")
	f.Add("host:port", "javascript:alert(1)", "99999999999999999999", "postgresql://u:p@h:99999/db", "-5s")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, addr, baseURL, maxBody, dbURL, poll string) {
		if strings.HasPrefix(dbURL, "sqlite:") {
			return
		}
		args := []string{"--data-dir", dir, "--addr", addr, "--base-url", baseURL, "--max-body", maxBody}
		c, err := config.Parse("serve", config.Store|config.Server, args, env("CARELOOP_DB", dbURL, "CARELOOP_JOB_POLL", poll), io.Discard)
		if err == nil {
			if c.BaseURL == nil || c.BaseURL.Host == "" || c.MaxBodyBytes < 1024 || c.JobPollInterval < time.Millisecond {
				t.Fatalf("accepted an incomplete config %+v", c)
			}
			return
		}
		var ue *config.UsageError
		if !errors.As(err, &ue) {
			t.Fatalf("error %v is not a usage error", err)
		}
		if strings.Contains(ue.Msg, "\n") {
			t.Fatalf("message %q is more than one line", ue.Msg)
		}
	})
}
