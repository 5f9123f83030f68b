package deploy_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// compose is the part of the Compose specification this deployment uses. Decoding with
// KnownFields rejects any other key, so a typo fails here as `docker compose config` would.
type compose struct {
	Name     string             `yaml:"name"`
	XMongo   any                `yaml:"x-mongo"`
	XAPI     any                `yaml:"x-api"`
	Services map[string]service `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]any `yaml:"volumes"`
}

type service struct {
	Image       string                   `yaml:"image"`
	Build       struct{ Context string } `yaml:"build"`
	Entrypoint  []string                 `yaml:"entrypoint"`
	Command     []string                 `yaml:"command"`
	Environment map[string]string        `yaml:"environment"`
	Secrets     []string                 `yaml:"secrets"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck *struct {
		Test     []string `yaml:"test"`
		Interval string   `yaml:"interval"`
		Retries  int      `yaml:"retries"`
	} `yaml:"healthcheck"`
	Restart  string   `yaml:"restart"`
	ReadOnly bool     `yaml:"read_only"`
	Tmpfs    []string `yaml:"tmpfs"`
	Volumes  []string `yaml:"volumes"`
	Ports    []string `yaml:"ports"`
}

func loadCompose(t *testing.T) compose {
	t.Helper()
	raw, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	var c compose
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

// argValue is the value following flag in a command line ("" when absent).
func argValue(args []string, flag string) string {
	if i := slices.Index(args, flag); i >= 0 && i+1 < len(args) {
		return args[i+1]
	}
	return ""
}

// TestComposeFile checks the essentials of deploy/compose.yaml: a three-member replica set with
// keyfile authentication between members, a root user from a secret, TLS required on every
// connection; the API connecting with its own user over TLS; secrets declared and never in the
// environment; health checks gating start-up; only the proxy publishing a port.
func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	want := []string{"api1", "api2", "mongo-init", "mongo1", "mongo2", "mongo3", "proxy"}
	var got []string
	for name := range c.Services {
		got = append(got, name)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("services: got %v, want %v", got, want)
	}

	for _, name := range []string{"mongo1", "mongo2", "mongo3"} {
		m := c.Services[name]
		for flag, value := range map[string]string{"--replSet": "rs0", "--clusterAuthMode": "keyFile", "--tlsMode": "requireTLS",
			"--tlsCAFile": "/run/secrets/mongo-ca.pem", "--keyFile": "/etc/mongo-secrets/keyfile",
			"--tlsCertificateKeyFile": "/etc/mongo-secrets/member.pem"} {
			if got := argValue(m.Command, flag); got != value {
				t.Errorf("%s: %s is %q, want %q", name, flag, got, value)
			}
		}
		script := strings.Join(m.Entrypoint, "\n")
		for _, copied := range []string{"/run/secrets/mongo-keyfile /etc/mongo-secrets/keyfile",
			"/run/secrets/$${MEMBER}.pem /etc/mongo-secrets/member.pem", "/run/secrets/mongo-root-password /etc/mongo-secrets/root-password"} {
			if !strings.Contains(script, copied) {
				t.Errorf("%s: the entrypoint does not install %s", name, copied)
			}
		}
		if m.Environment["MEMBER"] != name || m.Environment["MONGO_INITDB_ROOT_USERNAME"] == "" ||
			m.Environment["MONGO_INITDB_ROOT_PASSWORD_FILE"] != "/etc/mongo-secrets/root-password" {
			t.Errorf("%s: environment %v", name, m.Environment)
		}
		for _, s := range []string{"mongo-keyfile", "mongo-root-password", "mongo-ca.pem", name + ".pem"} {
			if !slices.Contains(m.Secrets, s) {
				t.Errorf("%s: secret %s not mounted", name, s)
			}
		}
		if m.Healthcheck == nil || !slices.Contains(m.Healthcheck.Test, "--tls") {
			t.Errorf("%s: no health check over TLS", name)
		}
		if len(m.Volumes) != 1 || !strings.HasSuffix(m.Volumes[0], ":/data/db") {
			t.Errorf("%s: volumes %v", name, m.Volumes)
		}
	}

	init := c.Services["mongo-init"]
	initScript := strings.Join(init.Entrypoint, "\n")
	for _, s := range []string{"tls=true", "tlsCAFile=/run/secrets/mongo-ca.pem", "rs.initiate", `createUser({user: "custodia"`, `{role: "readWrite", db: "custodia"}`} {
		if !strings.Contains(initScript, s) {
			t.Errorf("mongo-init does not contain %q", s)
		}
	}
	for _, m := range []string{"mongo1", "mongo2", "mongo3"} {
		if init.DependsOn[m].Condition != "service_healthy" {
			t.Errorf("mongo-init must wait for %s to be healthy", m)
		}
	}

	uri := regexp.MustCompile(`^mongodb://custodia:\$\{CUSTODIA_DB_PASSWORD:\?[^}]*\}@mongo1:27017,mongo2:27017,mongo3:27017/custodia\?(.*)$`)
	for _, name := range []string{"api1", "api2"} {
		a := c.Services[name]
		m := uri.FindStringSubmatch(a.Environment["MONGODB_URI"])
		if m == nil {
			t.Fatalf("%s: MONGODB_URI %q is not the custodia user on the three members", name, a.Environment["MONGODB_URI"])
		}
		params := strings.Split(m[1], "&")
		for _, p := range []string{"replicaSet=rs0", "authSource=admin", "tls=true", "tlsCAFile=/run/secrets/mongo-ca.pem", "w=majority", "readConcernLevel=majority"} {
			if !slices.Contains(params, p) {
				t.Errorf("%s: MONGODB_URI lacks %s", name, p)
			}
		}
		if a.Environment["CUSTODIA_MODE"] != "production" || !a.ReadOnly || len(a.Ports) > 0 {
			t.Errorf("%s: want production mode, a read-only root and no published port", name)
		}
		if !slices.Contains(a.Secrets, "mongo-ca.pem") || !slices.Contains(a.Secrets, "idp-public.pem") {
			t.Errorf("%s: secrets %v", name, a.Secrets)
		}
		if a.DependsOn["mongo-init"].Condition != "service_completed_successfully" {
			t.Errorf("%s must start after mongo-init completed", name)
		}
		if _, err := os.Stat(filepath.Join(a.Build.Context, "Dockerfile")); err != nil {
			t.Errorf("%s: build context %q has no Dockerfile: %v", name, a.Build.Context, err)
		}
		if c.Services["proxy"].DependsOn[name].Condition != "service_healthy" {
			t.Errorf("the proxy must wait for %s to be healthy (the image's HEALTHCHECK)", name)
		}
	}

	for name, s := range c.Services {
		for _, secret := range s.Secrets {
			if _, ok := c.Secrets[secret]; !ok {
				t.Errorf("%s uses the undeclared secret %s", name, secret)
			}
		}
		for dep := range s.DependsOn {
			if _, ok := c.Services[dep]; !ok {
				t.Errorf("%s depends on the unknown service %s", name, dep)
			}
		}
		for _, v := range s.Volumes {
			if src := strings.SplitN(v, ":", 2)[0]; !strings.HasPrefix(src, ".") {
				if _, ok := c.Volumes[src]; !ok {
					t.Errorf("%s uses the undeclared volume %s", name, src)
				}
			}
		}
		for k, v := range s.Environment {
			if strings.Contains(strings.ToUpper(k), "PASSWORD") && !strings.HasSuffix(k, "_FILE") && !strings.HasPrefix(v, "${") {
				t.Errorf("%s: %s holds a literal password", name, k)
			}
		}
		if name != "proxy" && len(s.Ports) > 0 {
			t.Errorf("%s publishes ports %v; only the proxy may", name, s.Ports)
		}
	}
	for name, s := range c.Secrets {
		if !strings.HasPrefix(s.File, "./secrets/") {
			t.Errorf("secret %s is read from %s, outside deploy/secrets/ (which git and the image build ignore)", name, s.File)
		}
	}
}

// TestImageAndBuildContext: the image checks its own health with the binary (distroless has no
// curl), and the build context never holds local data, secrets or node_modules.
func TestImageAndBuildContext(t *testing.T) {
	dockerfile, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^HEALTHCHECK .*CMD \["/custodia", "healthcheck"\]$`).Match(dockerfile) || bytes.Contains(dockerfile, []byte("HEALTHCHECK NONE")) {
		t.Error(`the Dockerfile needs HEALTHCHECK … CMD ["/custodia", "healthcheck"]`)
	}
	if !regexp.MustCompile(`(?m)^USER nonroot`).Match(dockerfile) {
		t.Error("the image must run as a non-root user")
	}
	ignore, err := os.ReadFile("../.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(ignore), "\n")
	for _, must := range []string{"data/", "**/data/", "deploy/secrets/", "deploy/.env", "**/*.pem", "**/*.key", "**/node_modules/", ".git/"} {
		if !slices.Contains(lines, must) {
			t.Errorf(".dockerignore lacks %s", must)
		}
	}
	for _, line := range lines {
		if strings.HasPrefix(line, "web/graphiql/dist") || line == "web/" || line == "**/dist/" {
			t.Errorf(".dockerignore must not exclude the committed GraphiQL assets: %s", line)
		}
	}
	gitignore, _ := os.ReadFile("../.gitignore")
	for _, must := range []string{"/deploy/secrets/", "/deploy/.env", "/data/"} {
		if !slices.Contains(strings.Split(string(gitignore), "\n"), must) {
			t.Errorf(".gitignore lacks %s", must)
		}
	}
}

// TestGenSecrets runs gen-secrets.sh and checks what it makes: every file compose.yaml reads
// (but the identity provider's key), member certificates signed by the CA for their names with
// server and client use (members authenticate each other's TLS), a keyfile MongoDB accepts,
// private files readable by the owner only.
func TestGenSecrets(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("gen-secrets.sh needs openssl")
		}
		t.Skip("gen-secrets.sh needs openssl")
	}
	dir := t.TempDir()
	if out, err := exec.Command("./gen-secrets.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen-secrets.sh: %v\n%s", err, out)
	}
	for name, s := range loadCompose(t).Secrets {
		if name == "idp-public.pem" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, s.File)); err != nil {
			t.Errorf("secret %s: %v", name, err)
		}
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "secrets", "ca.pem"))
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		t.Fatal("ca.pem holds no certificate")
	}
	for _, m := range []string{"mongo1", "mongo2", "mongo3"} {
		raw, _ := os.ReadFile(filepath.Join(dir, "secrets", m+".pem"))
		block, rest := pem.Decode(raw)
		if block == nil || block.Type != "CERTIFICATE" || !bytes.Contains(rest, []byte("PRIVATE KEY")) {
			t.Fatalf("%s.pem: want the certificate followed by its key", m)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, use := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{DNSName: m, Roots: roots, KeyUsages: []x509.ExtKeyUsage{use}}); err != nil {
				t.Errorf("%s: %v", m, err)
			}
		}
		if err := cert.VerifyHostname("localhost"); err != nil {
			t.Errorf("%s: the health check connects to localhost: %v", m, err)
		}
		if info, _ := os.Stat(filepath.Join(dir, "secrets", m+".pem")); info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s.pem is readable by others: %v", m, info.Mode())
		}
	}
	key, _ := os.ReadFile(filepath.Join(dir, "secrets", "mongo-keyfile"))
	compact := strings.Join(strings.Fields(string(key)), "")
	if len(compact) < 6 || len(compact) > 1024 || !regexp.MustCompile(`^[A-Za-z0-9+/=]+$`).MatchString(compact) {
		t.Errorf("the keyfile must be 6–1024 base64 characters, got %d", len(compact))
	}
	env, _ := os.ReadFile(filepath.Join(dir, ".env"))
	if !regexp.MustCompile(`^CUSTODIA_DB_PASSWORD=[A-Za-z0-9]{30,}\n$`).Match(env) {
		t.Errorf(".env: want CUSTODIA_DB_PASSWORD with a long random password")
	}
}
