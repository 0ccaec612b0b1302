package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBinaryUnderThreeNames builds the static binary, installs it as
// bin/detect, bin/build and bin/release the way a builder image does, and
// runs the peer's sequence of calls against it.
func TestBinaryUnderThreeNames(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go not on PATH")
	}
	root := t.TempDir()
	bin := filepath.Join(root, "builder", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(root, "ccaas-builder")
	cmd := exec.Command(goBin, "build", "-o", exe, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, name := range []string{"detect", "build", "release"} {
		if err := os.Link(exe, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}

	src, md := filepath.Join(root, "src"), filepath.Join(root, "md")
	other := filepath.Join(root, "md-golang")
	for path, content := range map[string]string{
		filepath.Join(src, "connection.json"):                                     `{"address":"mectask.{{.peername}}:9999","dial_timeout":"10s"}`,
		filepath.Join(md, "metadata.json"):                                        `{"type":"ccaas","label":"mectask_1.0"}`,
		filepath.Join(other, "metadata.json"):                                     `{"type":"golang","label":"x"}`,
		filepath.Join(src, "META-INF", "statedb", "couchdb", "indexes", "i.json"): `{"index":{"fields":["status"]}}`,
	} {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bld, rel := filepath.Join(root, "bld"), filepath.Join(root, "rel")
	for _, d := range []string{bld, rel} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}

	runStep := func(env []string, name string, args ...string) (int, string) {
		t.Helper()
		var stderr bytes.Buffer
		c := exec.Command(filepath.Join(bin, name), args...)
		c.Env = env
		c.Stderr = &stderr
		err := c.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return 0, stderr.String()
		case errors.As(err, &exit):
			return exit.ExitCode(), stderr.String()
		default:
			t.Fatalf("%s: %v", name, err)
			return -1, ""
		}
	}
	peerEnv := []string{"CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG={\"peername\":\"edge1.mec\"}"}

	if code, stderr := runStep(nil, "detect", src, md); code != 0 || stderr != "" {
		t.Fatalf("detect ccaas = %d %q", code, stderr)
	}
	if code, stderr := runStep(nil, "detect", src, other); code != 1 || stderr != "" {
		t.Fatalf("detect golang = %d %q, want 1 and silence", code, stderr)
	}
	if code, stderr := runStep(nil, "build", src, md, bld); code != 1 ||
		!strings.HasPrefix(stderr, "ccaas-builder build: ") || !strings.Contains(stderr, `map has no entry for key "peername"`) ||
		strings.Count(stderr, "\n") != 1 {
		t.Fatalf("build without config = %d %q", code, stderr)
	}
	if code, stderr := runStep(peerEnv, "build", src, md, bld); code != 0 || stderr != "" {
		t.Fatalf("build = %d %q", code, stderr)
	}
	if code, stderr := runStep(nil, "release", bld, rel); code != 0 || stderr != "" {
		t.Fatalf("release = %d %q", code, stderr)
	}
	got, err := os.ReadFile(filepath.Join(rel, "chaincode", "server", "connection.json"))
	if err != nil || string(got) != `{"address":"mectask.edge1.mec:9999","dial_timeout":"10s"}` {
		t.Fatalf("released connection.json = %q, %v", got, err)
	}
	if _, err := os.Stat(filepath.Join(rel, "statedb", "couchdb", "indexes", "i.json")); err != nil {
		t.Fatalf("index not released: %v", err)
	}
	if code, stderr := runStep(nil, "release", bld); code != 1 ||
		stderr != "ccaas-builder release: expected 2 arguments, got 1: usage: release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR\n" {
		t.Fatalf("release with one arg = %d %q", code, stderr)
	}
}

func TestRunDispatch(t *testing.T) {
	var stderr bytes.Buffer
	if code := run([]string{"/x/ccaas-builder"}, os.Getenv, &stderr); code != 1 ||
		stderr.String() != "ccaas-builder: run as detect, build or release (got \"ccaas-builder\")\n" {
		t.Fatalf("no step = %d %q", code, stderr.String())
	}
	// "ccaas-builder detect SRC MD" is the same as bin/detect SRC MD.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "metadata.json"), []byte(`{"type":"ccaas"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	stderr.Reset()
	if code := run([]string{"ccaas-builder", "detect", dir, dir}, os.Getenv, &stderr); code != 0 {
		t.Fatalf("subcommand detect = %d %q", code, stderr.String())
	}
	stderr.Reset()
	if code := run([]string{"/opt/builder/bin/detect", dir, filepath.Join(dir, "missing")}, os.Getenv, &stderr); code != 1 ||
		!strings.HasPrefix(stderr.String(), "ccaas-builder detect: cannot read ") {
		t.Fatalf("detect without metadata = %d %q", code, stderr.String())
	}
}
