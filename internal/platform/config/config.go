// Package config reads careloop's settings from command-line flags and
// CARELOOP_* environment variables and validates them before anything starts.
//
// Every setting has a flag (--db) and an environment variable (CARELOOP_DB); a
// flag given on the command line wins over the environment. Parse returns a
// *UsageError for anything a person typed wrong, so that main can print one
// clear line and exit with status 2.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	netmail "net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/careloop/careloop/internal/platform/mail"
)

// Config is the validated configuration of one careloop process.
type Config struct {
	// DB is the database location: empty for the embedded SQLite file in
	// DataDir, a postgres:// or postgresql:// URL for PostgreSQL, or a
	// sqlite: path (sqlite:/var/lib/careloop/careloop.db) for a SQLite file
	// elsewhere.
	DB string
	// DataDir holds the SQLite database and other local state.
	DataDir string
	// Addr is the host:port the HTTP server listens on.
	Addr string
	// BaseURL is the public URL of this careloop, used in links and as a
	// trusted origin.
	BaseURL *url.URL
	// TLSCert and TLSKey are PEM files; both or neither.
	TLSCert, TLSKey string
	// LogLevel and LogFormat select what is logged and how.
	LogLevel  slog.Level
	LogFormat string
	// MaxBodyBytes bounds every request body.
	MaxBodyBytes int64
	// JobWorkers is the number of jobs run at once by this process.
	JobWorkers int
	// JobPollInterval is how often workers look for new jobs where the
	// database cannot notify them (SQLite).
	JobPollInterval time.Duration
	// NotifyLease is how long a message being handed to a provider
	// belongs to its sender: after a crash, messages whose outcome was
	// not recorded are sent again (under the same id) once it ends.
	NotifyLease time.Duration
	// ShutdownTimeout bounds graceful shutdown of HTTP and jobs.
	ShutdownTimeout time.Duration
	// SecretKeyFile holds careloop's secret key (see internal/platform/keys);
	// empty means secret.key in DataDir.
	SecretKeyFile string
	// SMTPURL is the SMTP server careloop's emails go through
	// (smtp://user:password@host:port, STARTTLS required unless ?tls= says
	// otherwise; smtps:// for implicit TLS); empty: emails are written to
	// the log, not sent. It holds a password: log RedactedSMTP instead.
	SMTPURL string
	// MailFrom is the sender of careloop's emails; empty means
	// no-reply@ the host of BaseURL.
	MailFrom string
	// AuditPublishDir and AuditPublishURL, when set, receive every signed
	// checkpoint of the audit log: a folder (one file per checkpoint and
	// "latest") and an HTTP endpoint (POST of the note), outside the
	// database so that its operator cannot rewrite history unseen.
	AuditPublishDir, AuditPublishURL string
	// AuditCheckpointEvery is how often a checkpoint is signed when the
	// audit log grew.
	AuditCheckpointEvery time.Duration
	// AuditSequenceEvery is how often new audit entries are given their
	// place in the log's tree (see audit.Config.SequenceInterval).
	AuditSequenceEvery time.Duration
	// DemoSeed and DemoPatients shape the demo organisation.
	DemoSeed     int64
	DemoPatients int
	// Args are the arguments after the flags, for subcommands that take them.
	Args []string
}

// KeyFile returns the secret key file: SecretKeyFile, or secret.key in
// DataDir.
func (c *Config) KeyFile() string {
	if c.SecretKeyFile != "" {
		return c.SecretKeyFile
	}
	return filepath.Join(c.DataDir, "secret.key")
}

// Postgres reports whether the configuration selects PostgreSQL.
func (c *Config) Postgres() bool {
	return strings.HasPrefix(c.DB, "postgres://") || strings.HasPrefix(c.DB, "postgresql://")
}

// PostgresURL returns the PostgreSQL URL of DB, or "" when the
// configuration selects SQLite.
func (c *Config) PostgresURL() string {
	if c.Postgres() {
		return c.DB
	}
	return ""
}

// SQLitePath returns the SQLite database file: DataDir/careloop.db unless DB
// names another file. It is empty when the configuration selects PostgreSQL.
func (c *Config) SQLitePath() string {
	if c.Postgres() {
		return ""
	}
	if p, ok := strings.CutPrefix(c.DB, "sqlite:"); ok {
		return p
	}
	return filepath.Join(c.DataDir, "careloop.db")
}

// UsageError is a mistake in the command line or environment. Its message is
// one line meant for the person who typed the command.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Set selects which groups of flags a subcommand accepts.
type Set uint8

const (
	// Store is the database flags (--db, --data-dir): every subcommand that
	// opens the database.
	Store Set = 1 << iota
	// Server is the HTTP and job flags: serve and demo.
	Server
	// Demo is the demo data flags: demo.
	Demo
	// Args lets a subcommand take arguments after its flags (Config.Args).
	Args
	// Mail is the email flags (--smtp-url, --mail-from) with the
	// --base-url and --secret-key-file that links and tokens need, for
	// commands that send email without serving (Server includes them).
	Mail
)

// Parse reads the flags of subcommand name from args, falling back to the
// CARELOOP_* variables found by getenv for flags not given, and validates
// the result. The error is a *UsageError for bad input, flag.ErrHelp when
// help was asked for (the usage text has then been written to out).
func Parse(name string, set Set, args []string, getenv func(string) string, out io.Writer) (*Config, error) {
	return ParseWith(name, set, args, getenv, out, nil)
}

// ParseWith is Parse for a subcommand with flags of its own, which extra
// defines on the flag set; they too fall back to CARELOOP_* variables.
func ParseWith(name string, set Set, args []string, getenv func(string) string, out io.Writer, extra func(fs *flag.FlagSet)) (*Config, error) {
	c := &Config{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if extra != nil {
		extra(fs)
	}
	fs.SetOutput(io.Discard)
	var (
		logLevel, baseURL string
		maxBody           = int64(16 << 20) // a transaction Bundle of a patient's history can pass 1 MiB
	)
	fs.StringVar(&c.DB, "db", "", "database: empty for SQLite in --data-dir, postgres://user@host/db for PostgreSQL, or sqlite:/path/file.db")
	fs.StringVar(&c.DataDir, "data-dir", "careloop-data", "folder for the embedded database and local state")
	fs.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	if set&Server != 0 {
		fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "host:port to listen on (0.0.0.0:8080 for every interface)")
		fs.StringVar(&baseURL, "base-url", "", "public URL of this careloop, used in links (default http(s)://--addr)")
		fs.StringVar(&c.TLSCert, "tls-cert", "", "PEM certificate file; serves HTTPS when given with --tls-key")
		fs.StringVar(&c.TLSKey, "tls-key", "", "PEM private key file for --tls-cert")
		fs.Int64Var(&maxBody, "max-body", maxBody, "largest request body in bytes")
		fs.IntVar(&c.JobWorkers, "job-workers", 20, "jobs run at once by this process")
		fs.DurationVar(&c.JobPollInterval, "job-poll", 20*time.Millisecond, "how often workers look for new jobs on SQLite")
		fs.DurationVar(&c.NotifyLease, "notify-lease", time.Minute, "how long a message being sent belongs to its sender; after a crash, messages in doubt are sent again when it ends (at least 2s)")
		fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", 30*time.Second, "time given to requests and jobs to finish on shutdown")
		fs.StringVar(&c.AuditPublishDir, "audit-publish-dir", "", "folder, outside the database, that receives every signed checkpoint of the audit log")
		fs.StringVar(&c.AuditPublishURL, "audit-publish-url", "", "HTTP endpoint that receives every signed checkpoint of the audit log (POST)")
		fs.DurationVar(&c.AuditCheckpointEvery, "audit-checkpoint-every", time.Minute, "how often a checkpoint of the audit log is signed, when the log grew")
		fs.DurationVar(&c.AuditSequenceEvery, "audit-sequence-every", 25*time.Millisecond, "how often new audit entries get their place in the log's tree; small steps disturb requests least")
	}
	if set&(Server|Mail) != 0 {
		if set&Server == 0 {
			fs.StringVar(&baseURL, "base-url", "http://127.0.0.1:8080", "public URL of careloop, used in the links emails carry")
		}
		fs.StringVar(&c.SecretKeyFile, "secret-key-file", "", "file of careloop's secret key, made on first start (default secret.key in --data-dir); every node of one database needs the same")
		fs.StringVar(&c.SMTPURL, "smtp-url", "", "SMTP server for emails: smtp://user:password@host:587 (STARTTLS required; ?tls=opportunistic or ?tls=none to relax) or smtps://host:465; empty writes emails to the log, unsent")
		fs.StringVar(&c.MailFrom, "mail-from", "", "sender of emails, such as 'Riverside Clinic <no-reply@clinic.example.org>' (default no-reply@ the host of --base-url)")
	}
	if set&Demo != 0 {
		fs.Int64Var(&c.DemoSeed, "seed", 1, "seed of the demo data; the same seed gives the same data")
		fs.IntVar(&c.DemoPatients, "patients", 200, "number of demo patients")
	}
	fs.Usage = func() {}

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			PrintFlags(out, fs)
			return nil, flag.ErrHelp
		}
		return nil, usagef("careloop %s: %s (see 'careloop %s -h')", name, friendlier(err.Error()), name)
	}
	if set&Args != 0 {
		c.Args = fs.Args()
	} else if fs.NArg() > 0 {
		return nil, usagef("careloop %s: unexpected argument %q (see 'careloop %s -h')", name, fs.Arg(0), name)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if given[f.Name] || envErr != nil {
			return
		}
		key := EnvName(f.Name)
		if v := getenv(key); v != "" {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = usagef("careloop %s: %s=%q: %v", name, key, v, unwrapFlagErr(err))
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := c.validate(name, set, logLevel, baseURL, maxBody); err != nil {
		return nil, err
	}
	return c, nil
}

// EnvName returns the environment variable that stands for a flag:
// "data-dir" becomes CARELOOP_DATA_DIR.
func EnvName(flagName string) string {
	return "CARELOOP_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// PrintFlags writes the flags of fs with their environment variables and
// defaults.
func PrintFlags(out io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(out, "Usage: careloop %s [flags]\n\nFlags (each also read from its environment variable):\n", fs.Name())
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" {
			def = " (default " + f.DefValue + ")"
		}
		fmt.Fprintf(out, "  --%-18s %s%s\n  %-20s   $%s\n", f.Name, f.Usage, def, "", EnvName(f.Name))
	})
}

// unwrapFlagErr turns the flag package's terse errors into words.
func unwrapFlagErr(err error) error {
	return errors.New(friendlier(err.Error()))
}

func friendlier(msg string) string {
	msg = strings.ReplaceAll(msg, ": parse error", ": not a valid number")
	msg = strings.ReplaceAll(msg, ": value out of range", ": number out of range")
	if msg == "parse error" {
		return "not a valid number"
	}
	if msg == "value out of range" {
		return "number out of range"
	}
	return msg
}

func (c *Config) validate(name string, set Set, logLevel, baseURL string, maxBody int64) error {
	bad := func(flagName, format string, args ...any) error {
		return usagef("careloop %s: --%s: %s", name, flagName, fmt.Sprintf(format, args...))
	}
	switch strings.ToLower(logLevel) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		return bad("log-level", "%q is not one of debug, info, warn, error", logLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return bad("log-format", "%q is not text or json", c.LogFormat)
	}
	if err := c.validateDB(); err != nil {
		return bad("db", "%v", err)
	}
	switch {
	case c.DB == "":
		if err := checkWritableDir(c.DataDir); err != nil {
			return bad("data-dir", "%v", err)
		}
	case !c.Postgres():
		if err := checkWritableDir(filepath.Dir(c.SQLitePath())); err != nil {
			return bad("db", "%v", err)
		}
	}
	if set&Demo != 0 && (c.DemoPatients < 1 || c.DemoPatients > 100000) {
		return bad("patients", "%d is outside 1 to 100000", c.DemoPatients)
	}
	if set&Mail != 0 && set&Server == 0 {
		u, err := parseBaseURL(baseURL)
		if err != nil {
			return bad("base-url", "%v", err)
		}
		c.BaseURL = u
		return c.validateMail(bad)
	}
	if set&Server == 0 {
		return nil
	}
	host, port, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return bad("addr", "%q is not host:port (for example 127.0.0.1:8080)", c.Addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return bad("addr", "port %q is not a number from 0 to 65535", port)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return bad("tls-cert", "--tls-cert and --tls-key go together; give both or neither")
	}
	for flagName, f := range map[string]string{"tls-cert": c.TLSCert, "tls-key": c.TLSKey} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return bad(flagName, "cannot read %s: %v", f, errors.Unwrap(err))
		}
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	if baseURL == "" {
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "localhost"
		}
		baseURL = scheme + "://" + net.JoinHostPort(host, port)
	}
	u, err := parseBaseURL(baseURL)
	if err != nil {
		return bad("base-url", "%v", err)
	}
	c.BaseURL = u
	if err := c.validateMail(bad); err != nil {
		return err
	}
	if maxBody < 1024 || maxBody > 1<<30 {
		return bad("max-body", "%d is outside 1024 to 1073741824 bytes", maxBody)
	}
	c.MaxBodyBytes = maxBody
	if c.JobWorkers < 1 || c.JobWorkers > 10000 {
		return bad("job-workers", "%d is outside 1 to 10000", c.JobWorkers)
	}
	if c.JobPollInterval < time.Millisecond || c.JobPollInterval > time.Minute {
		return bad("job-poll", "%s is outside 1ms to 1m", c.JobPollInterval)
	}
	if c.NotifyLease < 2*time.Second || c.NotifyLease > time.Hour {
		return bad("notify-lease", "%s is outside 2s to 1h", c.NotifyLease)
	}
	if c.ShutdownTimeout < time.Second || c.ShutdownTimeout > time.Hour {
		return bad("shutdown-timeout", "%s is outside 1s to 1h", c.ShutdownTimeout)
	}
	if flagName, problem := AuditIntervalsProblem(c.AuditSequenceEvery, c.AuditCheckpointEvery); problem != "" {
		return bad(flagName, "%s", problem)
	}
	return nil
}

// AuditIntervalsProblem checks the audit log's intervals (--audit-sequence-every
// and --audit-checkpoint-every) and names the flag and the problem of the
// first that is out of bounds; problem is "" when both are fine.
func AuditIntervalsProblem(sequence, checkpoint time.Duration) (flagName, problem string) {
	if sequence < time.Millisecond || sequence > time.Minute {
		return "audit-sequence-every", fmt.Sprintf("%s is outside 1ms to 1m", sequence)
	}
	if checkpoint < time.Second || checkpoint > 24*time.Hour {
		return "audit-checkpoint-every", fmt.Sprintf("%s is outside 1s to 24h", checkpoint)
	}
	return "", ""
}

func parseBaseURL(baseURL string) (*url.URL, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("%q is not an absolute http(s) URL without query (for example https://careloop.example.org)", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	return u, nil
}

// validateMail checks SMTPURL and MailFrom and fills in MailFrom's
// default. It runs after BaseURL is set.
func (c *Config) validateMail(bad func(flagName, format string, args ...any) error) error {
	if c.SMTPURL != "" {
		if _, _, _, _, _, err := mail.ParseURL(c.SMTPURL); err != nil {
			return bad("smtp-url", "%v", err)
		}
	}
	if c.MailFrom == "" {
		c.MailFrom = "careloop <no-reply@" + c.BaseURL.Hostname() + ">"
	}
	if a, err := netmail.ParseAddress(c.MailFrom); err != nil || strings.ContainsAny(c.MailFrom, "\r\n") {
		return bad("mail-from", "%q is not an email address (for example 'Riverside Clinic <no-reply@clinic.example.org>')", c.MailFrom)
	} else if !strings.Contains(a.Address, "@") {
		return bad("mail-from", "%q has no domain", c.MailFrom)
	}
	return nil
}

// RedactedSMTP returns SMTPURL with any password replaced, safe to log.
func (c *Config) RedactedSMTP() string {
	u, err := url.Parse(c.SMTPURL)
	if err != nil {
		return "smtp://(unparseable)"
	}
	return u.Redacted()
}

func (c *Config) validateDB() error {
	switch {
	case c.DB == "":
		return nil
	case c.Postgres():
		u, err := url.Parse(c.DB)
		if err != nil {
			return fmt.Errorf("not a valid PostgreSQL URL: %v", errors.Unwrap(err))
		}
		if u.Host == "" {
			return fmt.Errorf("PostgreSQL URL %q has no host (for example postgres://careloop@127.0.0.1:5432/careloop)", redact(u))
		}
		if strings.Trim(u.Path, "/") == "" {
			return fmt.Errorf("PostgreSQL URL %q names no database (add /dbname)", redact(u))
		}
		return nil
	case strings.HasPrefix(c.DB, "sqlite:"):
		if strings.TrimPrefix(c.DB, "sqlite:") == "" {
			return errors.New("sqlite: needs a file path (sqlite:/var/lib/careloop/careloop.db)")
		}
		return nil
	default:
		return fmt.Errorf("%q is neither a postgres:// URL nor sqlite:/path/to/file.db", c.DB)
	}
}

// redact hides the password of a database URL for messages and logs.
func redact(u *url.URL) string {
	return u.Redacted()
}

// RedactedDB returns DB with any password replaced, safe to log.
func (c *Config) RedactedDB() string {
	if !c.Postgres() {
		return "sqlite:" + c.SQLitePath()
	}
	u, err := url.Parse(c.DB)
	if err != nil {
		return "postgres://(unparseable)"
	}
	return u.Redacted()
}

// checkWritableDir makes dir if needed and proves it can be written. The
// permission bits are checked as well as a trial write, because a process
// running as root may write where the bits say no one should.
func checkWritableDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("cannot create folder %s: %v", dir, errors.Unwrap(err))
	}
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("cannot use folder %s: %v", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("%s is not a folder", dir)
	}
	if st.Mode().Perm()&0o222 == 0 {
		return fmt.Errorf("folder %s is read-only", dir)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("folder %s is not writable: %v", dir, errors.Unwrap(err))
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}
