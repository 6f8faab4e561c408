package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/careloop/careloop/internal/oauth"
	"github.com/careloop/careloop/internal/platform/config"
)

const clientUsage = `Usage:
  careloop client create --org SLUG --name NAME --jwks FILE --scopes SCOPES
  careloop client create --org SLUG --name NAME --jwks-url URL --scopes SCOPES
  careloop client list   --org SLUG
  careloop client revoke --org SLUG --id CLIENT_ID

A backend client is another system that calls the FHIR API at /fhir for one
organisation with OAuth 2.0 client credentials (SMART Backend Services): it
signs a JWT with its private key, trades it at POST /auth/token for an access
token that lives five minutes, and sends that as "Authorization: Bearer".
careloop keeps only the client's public keys: a JWK Set file, or the https
URL where the client publishes it. SCOPES are the SMART system scopes the
client may be granted, such as "system/Observation.rs system/Patient.r"
(letters c, r, u, d, s: create, read, update, delete, search; * for every
resource type).
`

func cmdClient(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 || (args[0] != "create" && args[0] != "list" && args[0] != "revoke") {
		fmt.Fprint(stderr, clientUsage)
		return &config.UsageError{Msg: "careloop client: say create, list or revoke"}
	}
	action := args[0]
	var org, name, jwksFile, jwksURL, scopes, id string
	cfg, err := config.ParseWith("client "+action, config.Store, args[1:], getenv, stdout, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "slug of the organisation (for the demo: riverside-family-clinic)")
		switch action {
		case "create":
			fs.StringVar(&name, "name", "", "what the client is, such as the calling system")
			fs.StringVar(&jwksFile, "jwks", "", "file holding the JWK Set of the client's public keys")
			fs.StringVar(&jwksURL, "jwks-url", "", "https URL where the client publishes its JWK Set (instead of --jwks)")
			fs.StringVar(&scopes, "scopes", "", `SMART system scopes the client may be granted, space separated ("system/Observation.rs system/Patient.r")`)
		case "revoke":
			fs.StringVar(&id, "id", "", "client_id of the client, from 'careloop client list'")
		}
	})
	if err != nil {
		return err
	}
	usage := func(msg string) error { return &config.UsageError{Msg: "careloop client " + action + ": " + msg} }
	switch {
	case org == "":
		return usage("--org is required")
	case action == "create" && name == "":
		return usage("--name is required")
	case action == "create" && (jwksFile == "") == (jwksURL == ""):
		return usage("give the client's public keys with either --jwks FILE or --jwks-url URL")
	case action == "create" && scopes == "":
		return usage(`--scopes is required, such as --scopes "system/Observation.rs"`)
	case action == "revoke" && id == "":
		return usage("--id is required")
	}
	var jwks []byte
	if jwksFile != "" {
		if jwks, err = os.ReadFile(jwksFile); err != nil {
			return fmt.Errorf("read --jwks: %w", err)
		}
	}
	a, o, err := openOrg(ctx, cfg, org, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	svc := oauth.New(a.DB, oauth.Config{Log: a.Log})
	switch action {
	case "create":
		c, err := svc.CreateClient(ctx, o.ID, oauth.NewClient{Name: name, JWKS: jwks, JWKSURL: jwksURL, Scopes: scopes})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Client %q for %s\n", c.Name, o.Name)
		fmt.Fprintf(stdout, "client_id: %s\n", c.ID)
		fmt.Fprintf(stdout, "scopes:    %s\n", oauth.FormatScopes(c.Scopes))
		fmt.Fprintf(stdout, "keys:      %s\n", keysText(c))
		fmt.Fprintf(stdout, "The client signs assertions with iss and sub %s and aud <careloop's public URL>%s\n", c.ID, oauth.TokenPath)
		fmt.Fprintln(stdout, "(GET /.well-known/smart-configuration names the token endpoint).")
	case "list":
		clients, err := svc.Clients(ctx, o.ID)
		if err != nil {
			return err
		}
		if len(clients) == 0 {
			fmt.Fprintf(stdout, "%s has no backend clients. Register one with: careloop client create --org %s --name NAME --jwks FILE --scopes SCOPES\n", o.Name, org)
			return nil
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "CLIENT_ID\tNAME\tSCOPES\tKEYS\tCREATED\tREVOKED")
		for _, c := range clients {
			revoked := "-"
			if c.RevokedAt != nil {
				revoked = c.RevokedAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Name, oauth.FormatScopes(c.Scopes), keysText(&c), c.CreatedAt.Format("2006-01-02 15:04"), revoked)
		}
		return tw.Flush()
	case "revoke":
		if err := svc.RevokeClient(ctx, o.ID, id); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Revoked client %s of %s: it gets no new tokens, and running servers refuse its tokens within %s.\n", id, o.Name, oauth.DefaultCacheTTL)
	}
	return nil
}

// keysText says where a client's keys are.
func keysText(c *oauth.Client) string {
	if c.JWKSURL != "" {
		return c.JWKSURL
	}
	if c.Keys == nil {
		return "-"
	}
	if len(c.Keys.Keys) == 1 {
		return "1 key (" + c.Keys.Keys[0].KeyID + ")"
	}
	return fmt.Sprintf("%d keys", len(c.Keys.Keys))
}
