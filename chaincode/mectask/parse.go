package mectask

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
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

// ParseAmount parses a credit amount that may be zero: "0", or a quantity
// (ParseQuantity).
func ParseAmount(name, raw string) (uint64, error) {
	if raw == "0" {
		return 0, nil
	}
	v, err := ParseQuantity(name, raw)
	if err != nil {
		return 0, invalid(name, raw, fmt.Sprintf("must be 0 or a positive integer of at most %d", MaxQuantity))
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
// the transaction timestamp txSeconds, and at most MaxHorizonSeconds after it.
func ParseDeadline(name, raw string, txSeconds int64) (int64, error) {
	v, err := ParseQuantity(name, raw)
	if err != nil {
		return 0, err
	}
	d := int64(v) // v <= MaxQuantity, so this cannot overflow
	if d <= txSeconds {
		return 0, invalid(name, raw, fmt.Sprintf("must be after the transaction time %d", txSeconds))
	}
	// d > txSeconds and d <= 2^53, so the true difference is below 2^64 and
	// the unsigned subtraction is exact even for a negative txSeconds.
	if uint64(d)-uint64(txSeconds) > uint64(MaxHorizonSeconds) {
		return 0, invalid(name, raw, fmt.Sprintf("must be at most %d seconds after the transaction time %d", MaxHorizonSeconds, txSeconds))
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

// ParseBool accepts exactly "true" or "false".
func ParseBool(name, raw string) (bool, error) {
	switch raw {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(name, raw, "must be true or false")
}

// ParseStatus checks a task status name (upper case, as stored).
func ParseStatus(name, raw string) (TaskStatus, error) {
	if !slices.Contains(Statuses, raw) {
		return "", invalid(name, raw, "must be one of "+strings.Join(Statuses, ", "))
	}
	return raw, nil
}

// firstByte returns the first non-whitespace byte of a JSON text, or 0.
func firstByte(raw string) byte {
	t := bytes.TrimLeft([]byte(raw), " \t\r\n")
	if len(t) == 0 {
		return 0
	}
	return t[0]
}

// decodeStrictJSON decodes one JSON value of the expected opening byte ('['
// or '{') into out, refusing unknown object fields and trailing data.
func decodeStrictJSON(raw string, open byte, out any) error {
	if firstByte(raw) != open {
		return errors.New("wrong JSON type")
	}
	dec := json.NewDecoder(strings.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data")
	}
	return nil
}

// ParseCandidates validates Shortlist's candidate list: a JSON array of 1 to
// MaxShortlist distinct MSP IDs, none of them the Cloud, at most
// MaxJSONArgBytes long. The order is kept (the Cloud's ranking).
func ParseCandidates(name, raw string) ([]string, error) {
	if len(raw) > MaxJSONArgBytes {
		return nil, invalid(name, raw, fmt.Sprintf("must be at most %d bytes", MaxJSONArgBytes))
	}
	var ids []string
	if err := decodeStrictJSON(raw, '[', &ids); err != nil {
		return nil, invalid(name, raw, "must be a JSON array of msp ids")
	}
	if len(ids) == 0 || len(ids) > MaxShortlist {
		return nil, invalid(name, raw, fmt.Sprintf("must list 1 to %d msp ids", MaxShortlist))
	}
	for i, id := range ids {
		if !idPattern.MatchString(id) {
			return nil, invalid(name, raw, fmt.Sprintf("msp id %s must match %s", quote(id), idPattern.String()))
		}
		if id == CloudMSPID {
			return nil, invalid(name, raw, id+" is the cloud and cannot be a candidate")
		}
		if slices.Contains(ids[:i], id) {
			return nil, invalid(name, raw, "lists "+id+" twice")
		}
	}
	return ids, nil
}

// RequestOptions are RequestTaskWithOptions' optional settings.
type RequestOptions struct {
	// DelegateAward lets the Cloud award the task on the requester's behalf.
	DelegateAward bool `json:"delegateAward"`
}

// ParseRequestOptions validates the options JSON object: only known fields,
// at most MaxJSONArgBytes long. "{}" means the defaults.
func ParseRequestOptions(name, raw string) (RequestOptions, error) {
	if len(raw) > MaxJSONArgBytes {
		return RequestOptions{}, invalid(name, raw, fmt.Sprintf("must be at most %d bytes", MaxJSONArgBytes))
	}
	var o RequestOptions
	if err := decodeStrictJSON(raw, '{', &o); err != nil {
		return RequestOptions{}, invalid(name, raw, `must be a JSON object with only the field "delegateAward" (true or false)`)
	}
	return o, nil
}

// OfferTerms is the validated argument list of Offer.
type OfferTerms struct {
	Willing          bool
	Price            uint64
	EstimatedSeconds uint64
}

// ParseOfferTerms validates Offer's arguments in their order. A willing
// offer has a positive price and a positive estimate of at most
// MaxHorizonSeconds; a refusal has both "0".
func ParseOfferTerms(willing, price, estimatedSeconds string) (OfferTerms, error) {
	var o OfferTerms
	var err error
	if o.Willing, err = ParseBool("willing", willing); err != nil {
		return OfferTerms{}, err
	}
	if !o.Willing {
		if price != "0" {
			return OfferTerms{}, invalid("price", price, "must be 0 when willing is false")
		}
		if estimatedSeconds != "0" {
			return OfferTerms{}, invalid("estimatedSeconds", estimatedSeconds, "must be 0 when willing is false")
		}
		return o, nil
	}
	if o.Price, err = ParseQuantity("price", price); err != nil {
		return OfferTerms{}, err
	}
	if o.EstimatedSeconds, err = ParseQuantity("estimatedSeconds", estimatedSeconds); err != nil {
		return OfferTerms{}, err
	}
	if o.EstimatedSeconds > uint64(MaxHorizonSeconds) {
		return OfferTerms{}, invalid("estimatedSeconds", estimatedSeconds, fmt.Sprintf("must be at most %d", MaxHorizonSeconds))
	}
	return o, nil
}

// ParseReason checks a dispute reason: 1 to MaxReasonBytes of valid UTF-8
// without control characters. It is public: it must not reveal the payload.
func ParseReason(name, raw string) (string, error) {
	if raw == "" || len(raw) > MaxReasonBytes {
		return "", invalid(name, raw, fmt.Sprintf("must be 1 to %d bytes", MaxReasonBytes))
	}
	if !utf8.ValidString(raw) || strings.ContainsFunc(raw, unicode.IsControl) {
		return "", invalid(name, raw, "must be valid utf-8 without control characters")
	}
	return raw, nil
}

// ParseTransient checks a transaction's transient map: every key must be in
// allowed (key -> size limit); a present value must hold 1 to limit bytes.
// Keys are checked in sorted order so that the reported one is stable.
func ParseTransient(m map[string][]byte, allowed map[string]int) error {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		limit, ok := allowed[k]
		if !ok {
			return fmt.Errorf("unexpected transient key %s", quote(k))
		}
		if n := len(m[k]); n == 0 || n > limit {
			return fmt.Errorf("invalid transient %s: %d bytes, must be 1 to %d", k, n, limit)
		}
	}
	return nil
}
