package mectask

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
)

func TestRegisterEdgeStoresEdgeAndEmitsEvent(t *testing.T) {
	h := newHarness(t)
	edge, err := h.register("Edge1MSP", "3000000000", "8192", "5")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"docType":"edge","mspId":"Edge1MSP","cpuCyclesPerSec":3000000000,"memoryMB":8192,"pricePerGigacycle":5,"registeredAt":1750000000,"updatedAt":1750000000,` +
		`"grant":1000000,"balance":1000000,"reputation":500,"settledTasks":0,"expiredTasks":0,"disputedTasks":0}`
	if got := mustJSON(t, edge); got != want {
		t.Fatalf("edge JSON\n got: %s\nwant: %s", got, want)
	}
	key, _ := h.last.CreateCompositeKey(edgeObjectType, []string{"Edge1MSP"})
	if got := string(h.ledger.state[key]); got != want {
		t.Fatalf("stored JSON\n got: %s\nwant: %s", got, want)
	}
	if h.last.eventName != EventEdgeRegistered || string(h.last.eventPayload) != want || h.last.eventCount != 1 {
		t.Fatalf("event = %q %s (%d events), want %q %s", h.last.eventName, h.last.eventPayload, h.last.eventCount, EventEdgeRegistered, want)
	}
}

func TestRegisterEdgeAgainUpdatesCapacity(t *testing.T) {
	h := newHarness(t)
	h.mustRegister("Edge1MSP")
	h.now += 60
	edge, err := h.register("Edge1MSP", "4000000000", "16384", "7")
	if err != nil {
		t.Fatal(err)
	}
	if edge.CPUCyclesPerSec != 4000000000 || edge.MemoryMB != 16384 || edge.PricePerGigacycle != 7 {
		t.Fatalf("capacity not updated: %+v", edge)
	}
	if edge.RegisteredAt != t0 || edge.UpdatedAt != t0+60 {
		t.Fatalf("registeredAt/updatedAt = %d/%d, want %d/%d", edge.RegisteredAt, edge.UpdatedAt, t0, t0+60)
	}
	got, err := h.contract.GetEdge(h.as("Edge2MSP"), "Edge1MSP")
	if err != nil {
		t.Fatal(err)
	}
	if *got != *edge {
		t.Fatalf("GetEdge = %+v, want %+v", got, edge)
	}
	if h.last.eventCount != 0 {
		t.Fatal("a read emitted an event")
	}
}

func TestRegisterEdgeRejectsCloud(t *testing.T) {
	h := newHarness(t)
	_, err := h.register(CloudMSPID, "1", "1", "1")
	wantErr(t, err, "org CloudMSP is the cloud and cannot register as an edge")
	if len(h.ledger.state) != 0 {
		t.Fatal("a failed registration wrote state")
	}
}

func TestRegisterEdgeValidation(t *testing.T) {
	cases := []struct {
		cpu, mem, price, want string
	}{
		{"abc", "1", "1", `invalid cpuCyclesPerSec "abc": must be a positive integer`},
		{"0", "1", "1", `invalid cpuCyclesPerSec "0": must be a positive integer`},
		{"-5", "1", "1", `invalid cpuCyclesPerSec "-5": must be a positive integer`},
		{"+5", "1", "1", `invalid cpuCyclesPerSec "+5": must be a positive integer`},
		{"", "1", "1", `invalid cpuCyclesPerSec "": must be a positive integer`},
		{" 5", "1", "1", `invalid cpuCyclesPerSec " 5": must be a positive integer`},
		{"1.5", "1", "1", `invalid cpuCyclesPerSec "1.5": must be a positive integer`},
		{"1e9", "1", "1", `invalid cpuCyclesPerSec "1e9": must be a positive integer`},
		{"1_000", "1", "1", `invalid cpuCyclesPerSec "1_000": must be a positive integer`},
		{"9007199254740992", "1", "1", `invalid cpuCyclesPerSec "9007199254740992": must be at most 9007199254740991`},
		{"18446744073709551616", "1", "1", `invalid cpuCyclesPerSec "18446744073709551616": must be a positive integer`},
		{"1", "x", "1", `invalid memoryMB "x": must be a positive integer`},
		{"1", "0", "1", `invalid memoryMB "0": must be a positive integer`},
		{"1", "1", "0", `invalid pricePerGigacycle "0": must be a positive integer`},
		{"1", "1", "2.5", `invalid pricePerGigacycle "2.5": must be a positive integer`},
	}
	for _, tc := range cases {
		h := newHarness(t)
		// The Cloud caller shows that arguments are checked before the role.
		_, err := h.register(CloudMSPID, tc.cpu, tc.mem, tc.price)
		wantErr(t, err, tc.want)
	}
}

func TestCallerIdentityRequired(t *testing.T) {
	h := newHarness(t)
	ctx, _ := h.ctx(nil)
	_, err := h.contract.RegisterEdge(ctx, "1", "1", "1")
	wantErr(t, err, "cannot determine the caller's msp id: no client identity")

	var nilClient *cid.ClientID // what contractapi stores when the creator is unreadable
	ctx, _ = h.ctx(nilClient)
	_, err = h.contract.RegisterEdge(ctx, "1", "1", "1")
	wantErr(t, err, "cannot determine the caller's msp id: no client identity")

	ctx, _ = h.ctx(fakeIdentity{err: errors.New("boom")})
	_, err = h.contract.RequestTask(ctx, "t-1", "1", "1", fmt.Sprint(t0+1), "1", goodHash)
	wantErr(t, err, "cannot determine the caller's msp id: boom")

	ctx, _ = h.ctx(fakeIdentity{})
	_, err = h.contract.RegisterEdge(ctx, "1", "1", "1")
	wantErr(t, err, "cannot determine the caller's msp id: it is empty")
}

func TestEndorserOrgCheck(t *testing.T) {
	h := newHarness(t, WithEndorserMSPID("Edge1MSP"))
	_, err := h.register("Edge2MSP", "1", "1", "1")
	wantErr(t, err, "client org Edge2MSP does not match endorsing peer org Edge1MSP")
	h.mustRegister("Edge1MSP")
	_, err = h.request("Edge2MSP", "t-1", "1", "1", fmt.Sprint(t0+10), "1", goodHash)
	wantErr(t, err, "client org Edge2MSP does not match endorsing peer org Edge1MSP")
	if _, err := h.request("Edge1MSP", "t-1", "1", "1", fmt.Sprint(t0+10), "1", goodHash); err != nil {
		t.Fatal(err)
	}
	// Reads are open to every org.
	if _, err := h.contract.ReadTask(h.as("Edge2MSP"), "t-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.contract.GetEdge(h.as(CloudMSPID), "Edge1MSP"); err != nil {
		t.Fatal(err)
	}
}

func TestGetEdgeErrors(t *testing.T) {
	h := newHarness(t)
	_, err := h.contract.GetEdge(h.as("Edge1MSP"), "Edge9MSP")
	wantErr(t, err, "edge Edge9MSP is not registered")
	_, err = h.contract.GetEdge(h.as("Edge1MSP"), "")
	wantErr(t, err, `invalid mspID "": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	_, err = h.contract.GetEdge(h.as("Edge1MSP"), "a\x00b")
	wantErr(t, err, `invalid mspID "a\x00b": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
}

func TestListEdgesSortedByMSPID(t *testing.T) {
	h := newHarness(t)
	edges, err := h.contract.ListEdges(h.as(CloudMSPID))
	if err != nil {
		t.Fatal(err)
	}
	if edges == nil || mustJSON(t, edges) != "[]" {
		t.Fatalf("empty ListEdges = %#v, want an empty non-nil slice", edges)
	}
	for _, msp := range []string{"Edge2MSP", "Edge10MSP", "Edge1MSP", "AlphaMSP"} {
		h.mustRegister(msp)
	}
	// A task record must not show up in the edge range.
	if _, err := h.request("Edge1MSP", "t-1", "1", "1", fmt.Sprint(t0+10), "1", goodHash); err != nil {
		t.Fatal(err)
	}
	edges, err = h.contract.ListEdges(h.as(CloudMSPID))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range edges {
		got = append(got, e.MSPID)
	}
	if want := "AlphaMSP Edge10MSP Edge1MSP Edge2MSP"; strings.Join(got, " ") != want {
		t.Fatalf("ListEdges order = %v, want %s", got, want)
	}
}

func TestRequestTaskStoresTaskAndEmitsEvent(t *testing.T) {
	h := newHarness(t)
	h.mustRegister("Edge1MSP")
	h.now += 5
	upper := strings.ToUpper(goodHash)
	task, err := h.request("Edge1MSP", "t-17", "2000000000", "1048576", fmt.Sprint(t0+65), "120", upper)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"docType":"task","taskId":"t-17","requester":"Edge1MSP","status":"REQUESTED","cpuCycles":2000000000,"inputBytes":1048576,"deadline":1750000065,"maxPrice":120,"payloadHash":"` + goodHash + `","requestedAt":1750000005,"requestTxId":"tx002",` +
		`"delegateAward":false,"round":0,"candidates":[],"executor":"","price":0,"estimatedSeconds":0,"escrow":0,"awardedAt":0,"payloadDelivered":false,` +
		`"resultHash":"","completedAt":0,"closedAt":0,"disputeReason":"","pendingOwner":"","updatedAt":1750000005,"lastTxId":"tx002"}`
	if got := mustJSON(t, task); got != want {
		t.Fatalf("task JSON\n got: %s\nwant: %s", got, want)
	}
	// The event is the task JSON as written plus the actor.
	if h.last.eventName != EventTaskRequested || string(h.last.eventPayload) != strings.TrimSuffix(want, "}")+`,"actor":"Edge1MSP"}` || h.last.eventCount != 1 {
		t.Fatalf("event = %q %s (%d events)", h.last.eventName, h.last.eventPayload, h.last.eventCount)
	}
	read, err := h.contract.ReadTask(h.as("Edge2MSP"), "t-17")
	if err != nil {
		t.Fatal(err)
	}
	if got := mustJSON(t, read); got != want {
		t.Fatalf("ReadTask\n got: %s\nwant: %s", got, want)
	}
	for id, want := range map[string]bool{"t-17": true, "t-18": false} {
		got, err := h.contract.TaskExists(h.as(CloudMSPID), id)
		if err != nil || got != want {
			t.Fatalf("TaskExists(%s) = %v, %v; want %v", id, got, err, want)
		}
	}
}

func TestRequestTaskValidation(t *testing.T) {
	deadline := fmt.Sprint(t0 + 60)
	long := strings.Repeat("a", 65)
	cases := []struct {
		id, cycles, in, deadline, price, hash, want string
	}{
		{"", "1", "1", deadline, "1", goodHash, `invalid taskID "": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`},
		{"-t", "1", "1", deadline, "1", goodHash, `invalid taskID "-t": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`},
		{"t 1", "1", "1", deadline, "1", goodHash, `invalid taskID "t 1": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`},
		{"t/1", "1", "1", deadline, "1", goodHash, `invalid taskID "t/1": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`},
		{long, "1", "1", deadline, "1", goodHash, `invalid taskID "` + long + `": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`},
		{"t-1", "abc", "1", deadline, "1", goodHash, `invalid cpuCycles "abc": must be a positive integer`},
		{"t-1", "0", "1", deadline, "1", goodHash, `invalid cpuCycles "0": must be a positive integer`},
		{"t-1", "1", "-1", deadline, "1", goodHash, `invalid inputBytes "-1": must be a positive integer`},
		{"t-1", "1", "1", "soon", "1", goodHash, `invalid deadlineUnixSeconds "soon": must be a positive integer`},
		{"t-1", "1", "1", fmt.Sprint(t0), "1", goodHash, `invalid deadlineUnixSeconds "1750000000": must be after the transaction time 1750000000`},
		{"t-1", "1", "1", fmt.Sprint(t0 - 1), "1", goodHash, `invalid deadlineUnixSeconds "1749999999": must be after the transaction time 1750000000`},
		{"t-1", "1", "1", deadline, "0", goodHash, `invalid maxPrice "0": must be a positive integer`},
		{"t-1", "1", "1", deadline, "1", goodHash[:63], `invalid payloadHash "` + goodHash[:63] + `": must be 64 hex characters`},
		{"t-1", "1", "1", deadline, "1", goodHash + "0", `invalid payloadHash "` + goodHash + `0": must be 64 hex characters`},
		{"t-1", "1", "1", deadline, "1", "g" + goodHash[1:], `invalid payloadHash "g` + goodHash[1:] + `": must be 64 hex characters`},
		{"t-1", "1", "1", deadline, "1", "", `invalid payloadHash "": must be 64 hex characters`},
		// Several bad arguments: the first in argument order is reported.
		{"t-1", "x", "y", "z", "0", "", `invalid cpuCycles "x": must be a positive integer`},
	}
	for _, tc := range cases {
		h := newHarness(t)
		h.mustRegister("Edge1MSP")
		_, err := h.request("Edge1MSP", tc.id, tc.cycles, tc.in, tc.deadline, tc.price, tc.hash)
		wantErr(t, err, tc.want)
		// Inputs are validated before roles and registration.
		_, err = h.request("Edge9MSP", tc.id, tc.cycles, tc.in, tc.deadline, tc.price, tc.hash)
		wantErr(t, err, tc.want)
		if exists, _ := h.contract.TaskExists(h.as("Edge1MSP"), "t-1"); exists {
			t.Fatal("an invalid request stored a task")
		}
	}
}

func TestRequestTaskRoles(t *testing.T) {
	h := newHarness(t)
	deadline := fmt.Sprint(t0 + 60)
	_, err := h.request("Edge9MSP", "t-1", "1", "1", deadline, "1", goodHash)
	wantErr(t, err, "edge Edge9MSP is not registered")
	_, err = h.request(CloudMSPID, "t-1", "1", "1", deadline, "1", goodHash)
	wantErr(t, err, "org CloudMSP is the cloud and cannot request tasks")
	if len(h.ledger.state) != 0 {
		t.Fatal("a rejected request wrote state")
	}
}

func TestRequestTaskDuplicateID(t *testing.T) {
	h := newHarness(t)
	h.mustRegister("Edge1MSP")
	h.mustRegister("Edge2MSP")
	deadline := fmt.Sprint(t0 + 60)
	first, err := h.request("Edge1MSP", "t-17", "1", "1", deadline, "1", goodHash)
	if err != nil {
		t.Fatal(err)
	}
	for _, msp := range []string{"Edge1MSP", "Edge2MSP"} {
		_, err = h.request(msp, "t-17", "9", "9", deadline, "9", goodHash)
		wantErr(t, err, "task t-17 already exists")
	}
	got, err := h.contract.ReadTask(h.as("Edge2MSP"), "t-17")
	if err != nil {
		t.Fatal(err)
	}
	if mustJSON(t, got) != mustJSON(t, first) {
		t.Fatalf("duplicate request changed the task: %+v", got)
	}
}

func TestReadTaskErrors(t *testing.T) {
	h := newHarness(t)
	_, err := h.contract.ReadTask(h.as("Edge1MSP"), "t-404")
	wantErr(t, err, "task t-404 does not exist")
	_, err = h.contract.ReadTask(h.as("Edge1MSP"), "bad id")
	wantErr(t, err, `invalid taskID "bad id": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	_, err = h.contract.TaskExists(h.as("Edge1MSP"), "")
	wantErr(t, err, `invalid taskID "": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
}

func TestCorruptStateIsReported(t *testing.T) {
	h := newHarness(t)
	key, _ := shimKey(taskObjectType, "t-1")
	h.ledger.state[key] = []byte("{not json")
	defer delete(h.ledger.state, key) // keep the end-of-test invariant check meaningful
	_, err := h.contract.ReadTask(h.as("Edge1MSP"), "t-1")
	if err == nil || !strings.HasPrefix(err.Error(), "stored task t-1 is corrupt: ") {
		t.Fatalf("error = %v", err)
	}
}

func TestSameInputsSameBytes(t *testing.T) {
	run := func() ([]byte, []byte) {
		h := newHarness(t)
		h.mustRegister("Edge1MSP")
		if _, err := h.request("Edge1MSP", "t-1", "5", "6", fmt.Sprint(t0+7), "8", goodHash); err != nil {
			t.Fatal(err)
		}
		ek, _ := shimKey(edgeObjectType, "Edge1MSP")
		tk, _ := shimKey(taskObjectType, "t-1")
		return h.ledger.state[ek], h.ledger.state[tk]
	}
	e1, t1 := run()
	e2, t2 := run()
	if !bytes.Equal(e1, e2) || !bytes.Equal(t1, t2) {
		t.Fatal("identical transactions wrote different bytes")
	}
}

func TestCanTransition(t *testing.T) {
	allowed := map[[2]TaskStatus]bool{
		{StatusRequested, StatusShortlisted}:   true,
		{StatusRequested, StatusExpired}:       true,
		{StatusShortlisted, StatusShortlisted}: true,
		{StatusShortlisted, StatusAwarded}:     true,
		{StatusShortlisted, StatusExpired}:     true,
		{StatusAwarded, StatusCompleted}:       true,
		{StatusAwarded, StatusExpired}:         true,
		{StatusCompleted, StatusSettled}:       true,
		{StatusCompleted, StatusDisputed}:      true,
		{StatusExpired, StatusRequested}:       true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			if got := CanTransition(from, to); got != allowed[[2]TaskStatus{from, to}] {
				t.Errorf("CanTransition(%s, %s) = %v", from, to, got)
			}
		}
	}
}
