// Package builder implements a Hyperledger Fabric external builder for
// chaincode-as-a-service (ccaas) packages: the peer runs bin/detect,
// bin/build and bin/release from the builder directory, and then dials the
// chaincode server named in the released connection.json. There is no
// bin/run: the chaincode runs on its own as a service.
//
// Every step is a function of paths and an environment getter, so it can be
// tested without starting a process.
package builder

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"
)

const (
	// PackageType is the metadata.json "type" this builder claims.
	PackageType = "ccaas"
	// ConfigEnv holds a JSON object whose keys the connection.json template
	// may use, e.g. {"peername":"edge1.mec"}. The peer passes it to the
	// builder only if core.yaml lists it under propagateEnvironment.
	ConfigEnv = "CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG"
	// ConnectionFile is the file name in the package, build and release dirs.
	ConnectionFile = "connection.json"
)

// Where files go, relative to the build and release output directories; the
// peer reads the release paths.
var (
	metaInfDir        = "META-INF"
	couchIndexesDir   = filepath.Join("statedb", "couchdb", "indexes")
	releaseServerPath = filepath.Join("chaincode", "server", ConnectionFile)
)

// Detect reports whether the package whose metadata.json is in metadataDir
// is a ccaas package (its "type" equals "ccaas", ignoring case). Another
// type gives false and no error; an unreadable metadata.json is an error.
func Detect(sourceDir, metadataDir string) (bool, error) {
	path := filepath.Join(metadataDir, "metadata.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", path, unwrapPathError(err))
	}
	var md struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(raw, &md); err != nil {
		return false, fmt.Errorf("invalid %s: %w", path, err)
	}
	return strings.EqualFold(strings.TrimSpace(md.Type), PackageType), nil
}

// Build renders sourceDir/connection.json as a text/template over the JSON
// object in $CHAINCODE_AS_A_SERVICE_BUILDER_CONFIG (missing keys are errors),
// validates the result and writes it to outputDir/connection.json. A META-INF
// directory in sourceDir (CouchDB index definitions) is copied to outputDir.
func Build(sourceDir, metadataDir, outputDir string, getenv func(string) string) error {
	srcPath := filepath.Join(sourceDir, ConnectionFile)
	raw, err := os.ReadFile(srcPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s not found in the chaincode source dir %s: the package's code.tar.gz must contain it", ConnectionFile, sourceDir)
	}
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", srcPath, unwrapPathError(err))
	}
	config, err := builderConfig(getenv)
	if err != nil {
		return err
	}
	rendered, err := render(raw, config)
	if err != nil {
		return err
	}
	if err := ValidateConnection(rendered); err != nil {
		return err
	}
	if err := os.MkdirAll(outputDir, 0o755); err != nil {
		return fmt.Errorf("cannot create the build output dir: %w", err)
	}
	if err := os.WriteFile(filepath.Join(outputDir, ConnectionFile), rendered, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", ConnectionFile, unwrapPathError(err))
	}
	metaInf := filepath.Join(sourceDir, metaInfDir)
	if isDir, err := dirExists(metaInf); err != nil {
		return err
	} else if isDir {
		if err := copyTree(metaInf, filepath.Join(outputDir, metaInfDir)); err != nil {
			return fmt.Errorf("cannot copy %s: %w", metaInfDir, err)
		}
	}
	return nil
}

// Release copies buildDir/connection.json to
// releaseDir/chaincode/server/connection.json, where the peer looks for the
// chaincode server's address, and buildDir/META-INF/statedb/couchdb/indexes
// (if any) to releaseDir/statedb/couchdb/indexes.
func Release(buildDir, releaseDir string) error {
	srcPath := filepath.Join(buildDir, ConnectionFile)
	raw, err := os.ReadFile(srcPath)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s not found in the build output dir %s: run build first", ConnectionFile, buildDir)
	}
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", srcPath, unwrapPathError(err))
	}
	dst := filepath.Join(releaseDir, releaseServerPath)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", filepath.Dir(dst), unwrapPathError(err))
	}
	if err := os.WriteFile(dst, raw, 0o644); err != nil {
		return fmt.Errorf("cannot write %s: %w", dst, unwrapPathError(err))
	}
	indexes := filepath.Join(buildDir, metaInfDir, couchIndexesDir)
	if isDir, err := dirExists(indexes); err != nil {
		return err
	} else if isDir {
		if err := copyTree(indexes, filepath.Join(releaseDir, couchIndexesDir)); err != nil {
			return fmt.Errorf("cannot copy the CouchDB indexes: %w", err)
		}
	}
	return nil
}

// builderConfig reads the template data: a JSON object, or an empty map
// when the variable is unset or blank.
func builderConfig(getenv func(string) string) (map[string]any, error) {
	config := map[string]any{}
	raw := strings.TrimSpace(getenv(ConfigEnv))
	if raw == "" {
		return config, nil
	}
	if err := json.Unmarshal([]byte(raw), &config); err != nil || config == nil {
		if err == nil {
			err = errors.New("null is not an object")
		}
		return nil, fmt.Errorf("invalid %s: must be a JSON object such as {\"peername\":\"edge1.mec\"}: %v", ConfigEnv, err)
	}
	return config, nil
}

// missingKey finds the key named in text/template's missingkey=error message.
var missingKey = regexp.MustCompile(`map has no entry for key ("(?:[^"\\]|\\.)*")`)

// render executes connection.json as a text/template; a key the template
// uses but the config lacks is an error.
func render(raw []byte, config map[string]any) ([]byte, error) {
	tmpl, err := template.New(ConnectionFile).Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("invalid template in %s: %v", ConnectionFile, err)
	}
	var out bytes.Buffer
	if err := tmpl.Execute(&out, config); err != nil {
		if m := missingKey.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s uses key %s, which %s does not set (%v)", ConnectionFile, m[1], ConfigEnv, err)
		}
		return nil, fmt.Errorf("cannot render %s: %v", ConnectionFile, err)
	}
	return out.Bytes(), nil
}

// connection is the part of connection.json the peer acts on (see Fabric's
// core/container/externalbuilder ChaincodeServerUserData).
type connection struct {
	Address            string          `json:"address"`
	Domain             string          `json:"domain"`
	DialTimeout        json.RawMessage `json:"dial_timeout"`
	TLSRequired        bool            `json:"tls_required"`
	ClientAuthRequired bool            `json:"client_auth_required"`
	ClientKey          string          `json:"client_key"`
	ClientCert         string          `json:"client_cert"`
	RootCert           string          `json:"root_cert"`
}

// ValidateConnection checks a rendered connection.json the way the peer will
// use it: a host:port address, a parseable dial_timeout if given, and the
// TLS material that tls_required (and client_auth_required) call for.
func ValidateConnection(raw []byte) error {
	var c connection
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("invalid %s: %v", ConnectionFile, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("invalid %s: unexpected data after the JSON object", ConnectionFile)
	}
	if err := validateAddress(c.Address); err != nil {
		return err
	}
	if err := validateDialTimeout(c.DialTimeout); err != nil {
		return err
	}
	if !c.TLSRequired {
		return nil
	}
	if err := requirePEM("root_cert", c.RootCert); err != nil {
		return err
	}
	if c.ClientAuthRequired {
		if err := requirePEM("client_cert", c.ClientCert); err != nil {
			return err
		}
		if err := requirePEM("client_key", c.ClientKey); err != nil {
			return err
		}
	}
	return nil
}

func validateAddress(address string) error {
	if address == "" {
		return fmt.Errorf("invalid %s: \"address\" is missing or empty: it must be host:port", ConnectionFile)
	}
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("invalid %s: address %q is not host:port", ConnectionFile, address)
	}
	if host == "" {
		return fmt.Errorf("invalid %s: address %q has no host", ConnectionFile, address)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("invalid %s: address %q has an invalid port %q", ConnectionFile, address, port)
	}
	return nil
}

// validateDialTimeout accepts what the peer accepts: a Go duration string
// ("10s") or a number of nanoseconds; neither may be negative.
func validateDialTimeout(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return fmt.Errorf("invalid %s: dial_timeout: %v", ConnectionFile, err)
	}
	switch t := v.(type) {
	case string:
		d, err := time.ParseDuration(t)
		if err != nil || d < 0 {
			return fmt.Errorf("invalid %s: dial_timeout %q is not a Go duration such as \"10s\"", ConnectionFile, t)
		}
	case float64:
		if t < 0 || t != float64(int64(t)) {
			return fmt.Errorf("invalid %s: dial_timeout %s is not a whole, non-negative number of nanoseconds", ConnectionFile, raw)
		}
	default:
		return fmt.Errorf("invalid %s: dial_timeout %s is not a Go duration such as \"10s\"", ConnectionFile, raw)
	}
	return nil
}

func requirePEM(field, value string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("invalid %s: tls_required is true but %s is missing", ConnectionFile, field)
	}
	if block, _ := pem.Decode([]byte(value)); block == nil {
		return fmt.Errorf("invalid %s: %s is not PEM encoded", ConnectionFile, field)
	}
	return nil
}

func dirExists(path string) (bool, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", path, unwrapPathError(err))
	}
	if !info.IsDir() {
		return false, fmt.Errorf("%s is not a directory", path)
	}
	return true, nil
}

// copyTree copies the directories and regular files under src to dst;
// anything else (a symlink, a device) is refused so that a package cannot
// make the builder read outside its source dir.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type().IsRegular():
			return copyFile(path, target)
		default:
			return fmt.Errorf("%s is not a regular file or directory", path)
		}
	})
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}

// unwrapPathError drops the "open <path>:" prefix when the message already
// names the path.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
