package mectask

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxQuantity is the largest accepted numeric argument: 2^53-1, so every
// stored number survives a round trip through any JSON client (JavaScript
// and float64-based parsers included).
const MaxQuantity uint64 = 1<<53 - 1

// maxQuotedLen bounds how much of an offending value is echoed in an error.
const maxQuotedLen = 80

var (
	idPattern   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	hashPattern = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// quote renders a raw argument for an error message: Go-quoted, and cut
// (on a rune boundary) when longer than maxQuotedLen bytes.
func quote(raw string) string {
	if len(raw) <= maxQuotedLen {
		return strconv.Quote(raw)
	}
	cut := maxQuotedLen
	for cut > 0 && !utf8.RuneStart(raw[cut]) {
		cut--
	}
	return strconv.Quote(raw[:cut]) + "..."
}

func invalid(name, raw, rule string) error {
	return fmt.Errorf("invalid %s %s: %s", name, quote(raw), rule)
}

// ParseQuantity parses a strictly positive decimal integer no greater than
// MaxQuantity: ASCII digits only, no sign, spaces, underscores or exponent.
func ParseQuantity(name, raw string) (uint64, error) {
	const rule = "must be a positive integer"
	if raw == "" || len(raw) > 20 || strings.TrimLeft(raw, "0123456789") != "" {
		return 0, invalid(name, raw, rule)
	}
	v, err := strconv.ParseUint(raw, 10, 64)
	if err != nil || v == 0 {
		return 0, invalid(name, raw, rule)
	}
	if v > MaxQuantity {
		return 0, invalid(name, raw, fmt.Sprintf("must be at most %d", MaxQuantity))
	}
	return v, nil
}

// ParseID checks an identifier (a task ID, or an MSP ID given as an
// argument) against ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$.
func ParseID(name, raw string) (string, error) {
	if !idPattern.MatchString(raw) {
		return "", invalid(name, raw, "must match "+idPattern.String())
	}
	return raw, nil
}

// ParseHash checks a SHA-256 digest written as 64 hex characters and returns
// it in lower case, so equal digests are stored identically.
func ParseHash(name, raw string) (string, error) {
	if !hashPattern.MatchString(raw) {
		return "", invalid(name, raw, "must be 64 hex characters")
	}
	return strings.ToLower(raw), nil
}

// ParseDeadline parses a Unix-seconds deadline that must lie strictly after
// the transaction timestamp txSeconds.
func ParseDeadline(name, raw string, txSeconds int64) (int64, error) {
	v, err := ParseQuantity(name, raw)
	if err != nil {
		return 0, err
	}
	d := int64(v) // v <= MaxQuantity, so this cannot overflow
	if d <= txSeconds {
		return 0, invalid(name, raw, fmt.Sprintf("must be after the transaction time %d", txSeconds))
	}
	return d, nil
}

// EdgeCapacity is the validated argument list of RegisterEdge.
type EdgeCapacity struct {
	CPUCyclesPerSec   uint64
	MemoryMB          uint64
	PricePerGigacycle uint64
}

// ParseEdgeCapacity validates RegisterEdge's arguments in their order.
func ParseEdgeCapacity(cpuCyclesPerSec, memoryMB, pricePerGigacycle string) (EdgeCapacity, error) {
	var c EdgeCapacity
	var err error
	if c.CPUCyclesPerSec, err = ParseQuantity("cpuCyclesPerSec", cpuCyclesPerSec); err != nil {
		return EdgeCapacity{}, err
	}
	if c.MemoryMB, err = ParseQuantity("memoryMB", memoryMB); err != nil {
		return EdgeCapacity{}, err
	}
	if c.PricePerGigacycle, err = ParseQuantity("pricePerGigacycle", pricePerGigacycle); err != nil {
		return EdgeCapacity{}, err
	}
	return c, nil
}

// TaskRequest is the validated argument list of RequestTask.
type TaskRequest struct {
	TaskID      string
	CPUCycles   uint64
	InputBytes  uint64
	Deadline    int64
	MaxPrice    uint64
	PayloadHash string
}

// ParseTaskRequest validates RequestTask's arguments in their order; the
// first invalid one is reported. txSeconds is the transaction timestamp.
func ParseTaskRequest(taskID, cpuCycles, inputBytes, deadlineUnixSeconds, maxPrice, payloadHash string, txSeconds int64) (TaskRequest, error) {
	var r TaskRequest
	var err error
	if r.TaskID, err = ParseID("taskID", taskID); err != nil {
		return TaskRequest{}, err
	}
	if r.CPUCycles, err = ParseQuantity("cpuCycles", cpuCycles); err != nil {
		return TaskRequest{}, err
	}
	if r.InputBytes, err = ParseQuantity("inputBytes", inputBytes); err != nil {
		return TaskRequest{}, err
	}
	if r.Deadline, err = ParseDeadline("deadlineUnixSeconds", deadlineUnixSeconds, txSeconds); err != nil {
		return TaskRequest{}, err
	}
	if r.MaxPrice, err = ParseQuantity("maxPrice", maxPrice); err != nil {
		return TaskRequest{}, err
	}
	if r.PayloadHash, err = ParseHash("payloadHash", payloadHash); err != nil {
		return TaskRequest{}, err
	}
	return r, nil
}
