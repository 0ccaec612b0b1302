package mectask

import (
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestParseQuantityBounds(t *testing.T) {
	for raw, want := range map[string]uint64{"1": 1, "007": 7, "9007199254740991": MaxQuantity} {
		got, err := ParseQuantity("n", raw)
		if err != nil || got != want {
			t.Errorf("ParseQuantity(%q) = %d, %v; want %d", raw, got, err, want)
		}
	}
}

func TestQuoteTruncatesLongValues(t *testing.T) {
	_, err := ParseQuantity("cpuCycles", strings.Repeat("9", 500))
	want := `invalid cpuCycles "` + strings.Repeat("9", maxQuotedLen) + `"...: must be a positive integer`
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v", err)
	}
	// A cut never splits a UTF-8 sequence.
	q := quote(strings.Repeat("é", 100))
	if s, err := strconv.Unquote(strings.TrimSuffix(q, "...")); err != nil || !utf8.ValidString(s) {
		t.Fatalf("quote produced %s", q)
	}
}

func TestParseHashLowercases(t *testing.T) {
	got, err := ParseHash("payloadHash", strings.ToUpper(goodHash))
	if err != nil || got != goodHash {
		t.Fatalf("ParseHash = %q, %v", got, err)
	}
}

var errorShape = regexp.MustCompile(`^invalid (taskID|cpuCycles|inputBytes|deadlineUnixSeconds|maxPrice|payloadHash) "`)

// FuzzParseTaskRequest checks that RequestTask's argument parsing never
// panics, accepts only values meeting every rule, and rejects with an error
// naming the argument.
func FuzzParseTaskRequest(f *testing.F) {
	f.Add("t-17", "2000000000", "1048576", "1750000060", "120", goodHash, int64(t0))
	f.Add("", "0", "-1", "1e9", "1.5", "xyz", int64(0))
	f.Add("a.b_c-d", "9007199254740992", "18446744073709551616", "1750000000", "+1", strings.ToUpper(goodHash), int64(t0))
	f.Add("é", " 1", "1 ", "00001750000001", "0x10", goodHash+"0", int64(-1))
	f.Fuzz(func(t *testing.T, id, cycles, in, deadline, price, hash string, now int64) {
		r, err := ParseTaskRequest(id, cycles, in, deadline, price, hash, now)
		if err != nil {
			if !errorShape.MatchString(err.Error()) {
				t.Fatalf("error %q does not name its argument", err)
			}
			if r != (TaskRequest{}) {
				t.Fatalf("error with a non-zero result %+v", r)
			}
			return
		}
		if r.TaskID != id || !idPattern.MatchString(r.TaskID) {
			t.Fatalf("accepted task id %q", id)
		}
		for name, v := range map[string]uint64{"cpuCycles": r.CPUCycles, "inputBytes": r.InputBytes, "maxPrice": r.MaxPrice} {
			if v == 0 || v > MaxQuantity {
				t.Fatalf("accepted %s %d", name, v)
			}
		}
		if r.CPUCycles != mustParseUint(t, cycles) || r.InputBytes != mustParseUint(t, in) || r.MaxPrice != mustParseUint(t, price) {
			t.Fatalf("numbers changed in parsing: %+v", r)
		}
		if r.Deadline <= now || uint64(r.Deadline) != mustParseUint(t, deadline) {
			t.Fatalf("accepted deadline %d at time %d", r.Deadline, now)
		}
		if uint64(r.Deadline)-uint64(now) > uint64(MaxHorizonSeconds) { // exact: Deadline > now
			t.Fatalf("accepted deadline %d beyond the horizon at time %d", r.Deadline, now)
		}
		if len(r.PayloadHash) != 64 || r.PayloadHash != strings.ToLower(hash) || strings.Trim(r.PayloadHash, "0123456789abcdef") != "" {
			t.Fatalf("accepted hash %q", hash)
		}
	})
}

func mustParseUint(t *testing.T, s string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("accepted %q that strconv rejects: %v", s, err)
	}
	return v
}

func TestParseDeadlineHorizonNearInt64Limits(t *testing.T) {
	// The horizon check must not overflow for extreme transaction times.
	if _, err := ParseDeadline("d", "9007199254740991", -9223372036854775808); err == nil {
		t.Fatal("accepted a deadline 2^63 seconds away")
	}
	if _, err := ParseDeadline("d", "1", -MaxHorizonSeconds+1); err != nil {
		t.Fatal(err)
	}
}

// FuzzParseCandidates: Shortlist's JSON list never panics, errors name the
// argument, and an accepted list meets every rule and survives a round trip.
func FuzzParseCandidates(f *testing.F) {
	for _, seed := range []string{`["Edge2MSP","Edge3MSP"]`, `[]`, `null`, `{"a":1}`, `["CloudMSP"]`, `["a","a"]`, `["x"] 1`,
		` [ "A" ] `, `["\u0045dge2MSP"]`, `[1,2]`, `["a/b"]`, `[` + strings.Repeat(`"e",`, 20) + `"e"]`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ids, err := ParseCandidates("candidates", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid candidates \"") || ids != nil {
				t.Fatalf("error %q, ids %v", err, ids)
			}
			return
		}
		if len(ids) == 0 || len(ids) > MaxShortlist || len(raw) > MaxJSONArgBytes {
			t.Fatalf("accepted %d ids from %d bytes", len(ids), len(raw))
		}
		for i, id := range ids {
			if !idPattern.MatchString(id) || id == CloudMSPID || slices.Contains(ids[:i], id) {
				t.Fatalf("accepted id %q in %q", id, raw)
			}
		}
		again, err := ParseCandidates("candidates", mustMarshal(t, ids))
		if err != nil || !slices.Equal(again, ids) {
			t.Fatalf("round trip of %v: %v, %v", ids, again, err)
		}
	})
}

// FuzzParseOfferTerms: Offer's arguments.
func FuzzParseOfferTerms(f *testing.F) {
	f.Add("true", "40", "30")
	f.Add("false", "0", "0")
	f.Add("false", "5", "0")
	f.Add("TRUE", "1", "1")
	f.Add("true", "9007199254740992", "31536001")
	f.Fuzz(func(t *testing.T, willing, price, est string) {
		o, err := ParseOfferTerms(willing, price, est)
		if err != nil {
			if !regexp.MustCompile(`^invalid (willing|price|estimatedSeconds) "`).MatchString(err.Error()) || o != (OfferTerms{}) {
				t.Fatalf("error %q, terms %+v", err, o)
			}
			return
		}
		if willing != "true" && willing != "false" {
			t.Fatalf("accepted willing %q", willing)
		}
		if !o.Willing {
			if price != "0" || est != "0" || o != (OfferTerms{}) {
				t.Fatalf("accepted refusal %q %q -> %+v", price, est, o)
			}
			return
		}
		if o.Price == 0 || o.Price > MaxQuantity || o.Price != mustParseUint(t, price) {
			t.Fatalf("accepted price %q -> %d", price, o.Price)
		}
		if o.EstimatedSeconds == 0 || o.EstimatedSeconds > uint64(MaxHorizonSeconds) || o.EstimatedSeconds != mustParseUint(t, est) {
			t.Fatalf("accepted estimate %q -> %d", est, o.EstimatedSeconds)
		}
	})
}

// FuzzParseRequestOptions: RequestTaskWithOptions' JSON object.
func FuzzParseRequestOptions(f *testing.F) {
	for _, seed := range []string{`{}`, `{"delegateAward":true}`, `{"delegateAward":false}`, `null`, `[]`, `{"x":1}`,
		`{"delegateAward":"true"}`, `{} {}`, ` {"DelegateAward":true} `, `{"delegateAward":true,"delegateAward":false}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		o, err := ParseRequestOptions("options", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid options \"") || o != (RequestOptions{}) {
				t.Fatalf("error %q, options %+v", err, o)
			}
			return
		}
		var m map[string]json.RawMessage
		if len(raw) > MaxJSONArgBytes || json.Unmarshal([]byte(raw), &m) != nil || m == nil {
			t.Fatalf("accepted %q", raw)
		}
	})
}

// FuzzParseReason: Dispute's public reason.
func FuzzParseReason(f *testing.F) {
	for _, seed := range []string{"wrong output", "", "a\nb", "\xff", strings.Repeat("x", 300), "é✓"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ParseReason("reason", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "invalid reason \"") || got != "" {
				t.Fatalf("error %q, reason %q", err, got)
			}
			return
		}
		if got != raw || raw == "" || len(raw) > MaxReasonBytes || !utf8.ValidString(raw) || strings.ContainsFunc(raw, unicode.IsControl) {
			t.Fatalf("accepted reason %q", raw)
		}
	})
}

// FuzzParseTransient: the transient map checks.
func FuzzParseTransient(f *testing.F) {
	f.Add("payload", []byte("x"), "result", []byte{})
	f.Add("zz", []byte("x"), "payload", []byte("y"))
	f.Fuzz(func(t *testing.T, k1 string, v1 []byte, k2 string, v2 []byte) {
		allowed := map[string]int{TransientPayload: 8}
		m := map[string][]byte{k1: v1, k2: v2}
		err := ParseTransient(m, allowed)
		ok := true
		for k, v := range m {
			if limit, known := allowed[k]; !known || len(v) == 0 || len(v) > limit {
				ok = false
			}
		}
		if ok != (err == nil) {
			t.Fatalf("ParseTransient(%q) = %v", m, err)
		}
	})
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
