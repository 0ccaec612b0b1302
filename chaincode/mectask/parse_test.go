package mectask

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
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
