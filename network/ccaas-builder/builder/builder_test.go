package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testPEM = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUZmFrZQ==\n-----END CERTIFICATE-----\n"

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantErrContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

// pkg lays out an unpacked package: src (code.tar.gz content) and md
// (metadata.json), and returns the two dirs.
func pkg(t *testing.T, metadata, connection string) (src, md string) {
	t.Helper()
	root := t.TempDir()
	src, md = filepath.Join(root, "src"), filepath.Join(root, "md")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(md, "metadata.json"), metadata)
	if connection != "" {
		write(t, filepath.Join(src, ConnectionFile), connection)
	}
	return src, md
}

func TestDetect(t *testing.T) {
	cases := map[string]bool{
		`{"type":"ccaas","label":"mectask_1.0"}`: true,
		`{"type":"CCaaS","label":"x"}`:           true,
		`{"type":"golang","label":"x"}`:          false,
		`{"type":"external","label":"x"}`:        false,
		`{"label":"x"}`:                          false,
	}
	for metadata, want := range cases {
		src, md := pkg(t, metadata, "")
		got, err := Detect(src, md)
		if err != nil || got != want {
			t.Errorf("Detect(%s) = %v, %v; want %v", metadata, got, err, want)
		}
	}
}

func TestDetectErrors(t *testing.T) {
	src, md := pkg(t, `{"type":`, "")
	_, err := Detect(src, md)
	wantErrContains(t, err, "invalid ", "metadata.json")
	_, err = Detect(src, t.TempDir())
	wantErrContains(t, err, "cannot read ", "metadata.json", "no such file or directory")
}

func TestBuildRendersPerPeerAddress(t *testing.T) {
	src, md := pkg(t, `{"type":"ccaas"}`, `{
  "address": "mectask.{{.peername}}:9999",
  "dial_timeout": "10s",
  "tls_required": false
}`)
	out := filepath.Join(t.TempDir(), "bld")
	err := Build(src, md, out, env(map[string]string{ConfigEnv: `{"peername":"edge1.mec"}`}))
	if err != nil {
		t.Fatal(err)
	}
	got := read(t, filepath.Join(out, ConnectionFile))
	if !strings.Contains(got, `"address": "mectask.edge1.mec:9999"`) {
		t.Fatalf("rendered connection.json:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(out, metaInfDir)); !os.IsNotExist(err) {
		t.Fatalf("META-INF created without one in the package: %v", err)
	}
}

func TestBuildWithoutConfigAndWithoutTemplate(t *testing.T) {
	conn := `{"address":"mectask:9999","dial_timeout":3000000000}`
	src, md := pkg(t, `{"type":"ccaas"}`, conn)
	out := t.TempDir()
	if err := Build(src, md, out, env(nil)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(out, ConnectionFile)); got != conn {
		t.Fatalf("connection.json changed: %s", got)
	}
}

func TestBuildCopiesMetaInf(t *testing.T) {
	src, md := pkg(t, `{"type":"ccaas"}`, `{"address":"cc:9999"}`)
	index := `{"index":{"fields":["docType","status"]},"ddoc":"statusDoc","name":"statusIndex","type":"json"}`
	write(t, filepath.Join(src, "META-INF", "statedb", "couchdb", "indexes", "status.json"), index)
	build, release := t.TempDir(), t.TempDir()
	if err := Build(src, md, build, env(nil)); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(build, "META-INF", "statedb", "couchdb", "indexes", "status.json")); got != index {
		t.Fatalf("index not copied: %s", got)
	}
	if err := Release(build, release); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(release, "statedb", "couchdb", "indexes", "status.json")); got != index {
		t.Fatalf("index not released: %s", got)
	}
	if got := read(t, filepath.Join(release, "chaincode", "server", ConnectionFile)); got != `{"address":"cc:9999"}` {
		t.Fatalf("released connection.json: %s", got)
	}
}

func TestBuildRefusesSymlinkInMetaInf(t *testing.T) {
	src, md := pkg(t, `{"type":"ccaas"}`, `{"address":"cc:9999"}`)
	if err := os.MkdirAll(filepath.Join(src, "META-INF"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(src, "META-INF", "x.json")); err != nil {
		t.Skip("cannot create symlinks here:", err)
	}
	err := Build(src, md, t.TempDir(), env(nil))
	wantErrContains(t, err, "cannot copy META-INF", "x.json is not a regular file or directory")
}

func TestBuildErrors(t *testing.T) {
	pem := strings.ReplaceAll(testPEM, "\n", `\n`)
	cases := []struct {
		name, connection, config string
		want                     []string
	}{
		{"missing connection.json", "", "", []string{"connection.json not found in the chaincode source dir", "code.tar.gz must contain it"}},
		{"bad JSON", `{"address": "cc:9999",}`, "", []string{"invalid connection.json: invalid character '}'"}},
		{"not an object", `["cc:9999"]`, "", []string{"invalid connection.json: json: cannot unmarshal array"}},
		{"trailing data", `{"address":"cc:9999"} {}`, "", []string{"invalid connection.json: unexpected data after the JSON object"}},
		{"missing template key", `{"address":"mectask.{{.peername}}:9999"}`, `{"other":"x"}`, []string{`connection.json uses key "peername", which ` + ConfigEnv + ` does not set`}},
		{"missing template key, no config", `{"address":"mectask.{{.peername}}:9999"}`, "", []string{`map has no entry for key "peername"`}},
		{"bad template", `{"address":"{{.peername"}`, "", []string{"invalid template in connection.json"}},
		{"bad config", `{"address":"cc:9999"}`, `{"peername":`, []string{"invalid " + ConfigEnv, "must be a JSON object"}},
		{"config not an object", `{"address":"cc:9999"}`, `["x"]`, []string{"invalid " + ConfigEnv}},
		{"config null", `{"address":"cc:9999"}`, `null`, []string{"invalid " + ConfigEnv}},
		{"no address", `{"dial_timeout":"10s"}`, "", []string{`"address" is missing or empty`}},
		{"address without port", `{"address":"mectask"}`, "", []string{`address "mectask" is not host:port`}},
		{"address without host", `{"address":":9999"}`, "", []string{`address ":9999" has no host`}},
		{"address with bad port", `{"address":"cc:http"}`, "", []string{`address "cc:http" has an invalid port "http"`}},
		{"address with port 0", `{"address":"cc:0"}`, "", []string{`has an invalid port "0"`}},
		{"bad dial_timeout", `{"address":"cc:9999","dial_timeout":"10 seconds"}`, "", []string{`dial_timeout "10 seconds" is not a Go duration`}},
		{"negative dial_timeout", `{"address":"cc:9999","dial_timeout":"-1s"}`, "", []string{`dial_timeout "-1s" is not a Go duration`}},
		{"dial_timeout of wrong type", `{"address":"cc:9999","dial_timeout":true}`, "", []string{`dial_timeout true is not a Go duration`}},
		{"tls_required without root_cert", `{"address":"cc:9999","tls_required":true}`, "", []string{"tls_required is true but root_cert is missing"}},
		{"root_cert not PEM", `{"address":"cc:9999","tls_required":true,"root_cert":"abc"}`, "", []string{"root_cert is not PEM encoded"}},
		{"client auth without key", `{"address":"cc:9999","tls_required":true,"client_auth_required":true,"root_cert":"` + pem + `","client_cert":"` + pem + `"}`, "", []string{"client_key is missing"}},
		{"tls_required not a bool", `{"address":"cc:9999","tls_required":"yes"}`, "", []string{"invalid connection.json", "tls_required"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, md := pkg(t, `{"type":"ccaas"}`, tc.connection)
			out := filepath.Join(t.TempDir(), "bld")
			err := Build(src, md, out, env(map[string]string{ConfigEnv: tc.config}))
			wantErrContains(t, err, tc.want...)
			if _, statErr := os.Stat(filepath.Join(out, ConnectionFile)); !os.IsNotExist(statErr) {
				t.Fatalf("a failed build wrote connection.json")
			}
		})
	}
}

func TestBuildAcceptsTLS(t *testing.T) {
	pem := strings.ReplaceAll(testPEM, "\n", `\n`)
	conn := `{"address":"cc.{{.org}}:9999","domain":"cc","tls_required":true,"client_auth_required":true,` +
		`"root_cert":"` + pem + `","client_cert":"` + pem + `","client_key":"` + pem + `"}`
	src, md := pkg(t, `{"type":"ccaas"}`, conn)
	if err := Build(src, md, t.TempDir(), env(map[string]string{ConfigEnv: ` {"org":"edge2"} `})); err != nil {
		t.Fatal(err)
	}
}

func TestReleaseErrors(t *testing.T) {
	err := Release(t.TempDir(), t.TempDir())
	wantErrContains(t, err, "connection.json not found in the build output dir", "run build first")

	build := t.TempDir()
	write(t, filepath.Join(build, ConnectionFile), `{"address":"cc:9999"}`)
	write(t, filepath.Join(build, "META-INF", "statedb", "couchdb", "indexes"), "not a dir")
	err = Release(build, t.TempDir())
	wantErrContains(t, err, "indexes is not a directory")
}

func TestReleaseWithoutIndexes(t *testing.T) {
	build, release := t.TempDir(), t.TempDir()
	write(t, filepath.Join(build, ConnectionFile), `{"address":"cc:9999"}`)
	write(t, filepath.Join(build, "META-INF", "other.txt"), "x")
	if err := Release(build, release); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(release, "statedb")); !os.IsNotExist(err) {
		t.Fatalf("statedb released without indexes: %v", err)
	}
}
