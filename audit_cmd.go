package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"

	"custodia/app"
	"custodia/audit"
)

// auditCommand runs `custodia audit keygen|key|export|verify`.
func auditCommand(args []string, out io.Writer, log *slog.Logger) error {
	if len(args) == 0 {
		return errors.New("audit: want a subcommand: keygen, key, export or verify")
	}
	switch args[0] {
	case "keygen":
		return auditKeygen(args[1:], out)
	case "key":
		return auditKey(out)
	case "export":
		return auditExport(args[1:], out, log)
	case "verify":
		return auditVerify(args[1:], out)
	}
	return fmt.Errorf("audit: unknown subcommand %q (keygen, key, export, verify)", args[0])
}

// auditKeygen prints a new signing key: the private key on standard output (to be kept in the
// file AUDIT_SIGNING_KEY_FILE names), the public key on standard error.
func auditKeygen(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("audit keygen", flag.ContinueOnError)
	name := fs.String("name", audit.DefaultKeyName, "the log's name (origin line of its checkpoints)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	skey, err := audit.GenerateKey(*name)
	if err != nil {
		return err
	}
	key, err := audit.ParseKey(skey)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, skey)
	fmt.Fprintln(os.Stderr, "public key:", key.VerifierKey)
	return nil
}

// auditKey prints the configured key's public half.
func auditKey(out io.Writer) error {
	cfg, err := app.FromEnv()
	if err != nil {
		return err
	}
	file := cfg.AuditSigningKeyFile
	if file == "" {
		file = cfg.DataDir + "/audit-signing.key"
	}
	key, err := audit.LoadKey(file)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, key.VerifierKey)
	return nil
}

// auditExport signs a checkpoint of the log as it is and writes the export (JSON lines).
func auditExport(args []string, out io.Writer, log *slog.Logger) error {
	fs := flag.NewFlagSet("audit export", flag.ContinueOnError)
	file := fs.String("o", "", "write the export to this file (default: standard output)")
	url := fs.String("url", "", "a running server's GraphQL endpoint (e.g. http://localhost:8080/query); default: open the database directly")
	token := fs.String("token", os.Getenv("TOKEN"), "with -url: an AUDITOR token")
	if err := fs.Parse(args); err != nil {
		return err
	}
	w := out
	if *file != "" {
		f, err := os.Create(*file)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	if *url != "" {
		return exportOverHTTP(*url, *token, w)
	}
	cfg, err := app.FromEnv()
	if err != nil {
		return err
	}
	ctx := context.Background()
	srv, err := app.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	if _, err := srv.Trail.Checkpoint(ctx); err != nil {
		return err
	}
	return srv.Trail.Export(ctx, w)
}

// exportPageSize is how many positions one auditExport page asks for.
var exportPageSize = 5000

// exportOverHTTP pages through the auditExport query of a running server (each page is an
// audited AUDITOR operation).
func exportOverHTTP(url, token string, w io.Writer) error {
	const q = `query Export($after: Int!, $first: Int!) { auditExport(afterSequence: $after, first: $first) { lines lastSequence hasMore } }`
	bw := bufio.NewWriter(w)
	after := 0
	for {
		body, _ := json.Marshal(map[string]any{"query": q, "operationName": "Export", "variables": map[string]any{"after": after, "first": exportPageSize}})
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		var r struct {
			Data *struct {
				AuditExport struct {
					Lines        []string
					LastSequence int
					HasMore      bool
				}
			}
			Errors []struct{ Message string }
		}
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("export page after %d: HTTP %d: %w", after, resp.StatusCode, err)
		}
		if len(r.Errors) > 0 || r.Data == nil {
			return fmt.Errorf("export page after %d: HTTP %d: %v", after, resp.StatusCode, r.Errors)
		}
		for _, l := range r.Data.AuditExport.Lines {
			if _, err := bw.WriteString(l + "\n"); err != nil {
				return err
			}
		}
		if !r.Data.AuditExport.HasMore {
			return bw.Flush()
		}
		after = r.Data.AuditExport.LastSequence
	}
}

// auditVerify checks an export offline: it trusts only the public key and the checkpoints
// the auditor kept. It exits non-zero when the log does not verify.
func auditVerify(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	keyArg := fs.String("key", "", "the log's public key (name+hash+base64), or a file holding it")
	export := fs.String("export", "", "the export to verify (from `custodia audit export`)")
	minRetention := fs.Duration("min-retention", audit.DefaultRetention, "the least retention a retention record may claim")
	var kept multiFlag
	fs.Var(&kept, "checkpoint", "a checkpoint file the auditor kept (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *keyArg == "" || *export == "" {
		return errors.New("audit verify: -key and -export are required")
	}
	vkey := *keyArg
	if b, err := os.ReadFile(vkey); err == nil {
		vkey = string(b)
	}
	key, err := audit.ParseVerifierKey(vkey)
	if err != nil {
		return fmt.Errorf("-key: %w", err)
	}
	var checkpoints [][]byte
	for _, f := range kept {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		checkpoints = append(checkpoints, b)
	}
	f, err := os.Open(*export)
	if err != nil {
		return err
	}
	defer f.Close()
	report, err := audit.VerifyExport(f, key, checkpoints, *minRetention)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "entries checked: %d\ntree size: %d\ncheckpoints checked: %d\nwitnessed up to: %d\nremoved by retention: %d\n",
		report.EntriesChecked, report.TreeSize, report.CheckpointsChecked, report.WitnessedSize, report.RemovedByRetention)
	if !report.Valid {
		seq := "-"
		if report.FirstBrokenSequence != nil {
			seq = fmt.Sprint(*report.FirstBrokenSequence)
		}
		return fmt.Errorf("the audit log does NOT verify (first broken entry %s): %s", seq, *report.Problem)
	}
	fmt.Fprintln(out, "the audit log verifies")
	return nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }
