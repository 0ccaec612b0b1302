// Command ccaas-builder is a Fabric external builder for chaincode-as-a-service
// packages. One static binary is installed under three names in the builder's
// bin/ directory (detect, build, release) and picks its step from the name it
// was run as; "ccaas-builder STEP ARGS..." works too, for manual use.
//
//	bin/detect  CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR
//	bin/build   CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR BUILD_OUTPUT_DIR
//	bin/release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR
//
// Exit status 0 is success; 1 is failure, with one line on stderr (detect
// exits 1 silently for a package of another type). There is no run step.
package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"mecfabric/ccaasbuilder/builder"
)

func main() {
	os.Exit(run(os.Args, os.Getenv, os.Stderr))
}

var usage = map[string]string{
	"detect":  "detect CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR",
	"build":   "build CHAINCODE_SOURCE_DIR CHAINCODE_METADATA_DIR BUILD_OUTPUT_DIR",
	"release": "release BUILD_OUTPUT_DIR RELEASE_OUTPUT_DIR",
}

var argCount = map[string]int{"detect": 2, "build": 3, "release": 2}

// run executes one builder step and returns the process exit status.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	step, rest := "", []string(nil)
	if len(args) > 0 {
		step, rest = filepath.Base(args[0]), args[1:]
	}
	if _, ok := argCount[step]; !ok && len(rest) > 0 {
		step, rest = rest[0], rest[1:]
	}
	fail := func(err error) int {
		// One line, whatever the error text holds.
		msg := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(err.Error())
		fmt.Fprintf(stderr, "ccaas-builder %s: %s\n", step, msg)
		return 1
	}
	want, ok := argCount[step]
	if !ok {
		fmt.Fprintf(stderr, "ccaas-builder: run as detect, build or release (got %q)\n", step)
		return 1
	}
	if len(rest) != want {
		return fail(fmt.Errorf("expected %d arguments, got %d: usage: %s", want, len(rest), usage[step]))
	}
	switch step {
	case "detect":
		ours, err := builder.Detect(rest[0], rest[1])
		if err != nil {
			return fail(err)
		}
		if !ours {
			return 1
		}
	case "build":
		if err := builder.Build(rest[0], rest[1], rest[2], getenv); err != nil {
			return fail(err)
		}
	case "release":
		if err := builder.Release(rest[0], rest[1]); err != nil {
			return fail(err)
		}
	}
	return 0
}
