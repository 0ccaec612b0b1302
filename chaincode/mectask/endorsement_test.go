package mectask

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// These tests exercise what the fake validator enforces like a committing
// peer: the task key's state-based policy after award, and the owning org's
// endorsement for writes to its implicit collection.

func TestExecutorAloneCannotChangeAnAwardedTask(t *testing.T) {
	h := newHarness(t)
	h.setup(stageAwarded)
	before := h.ledger.snapshot()
	_, err := run(h, execOrg, txOpts{endorsers: []string{execOrg}, transient: withResult(result)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.SubmitResult(ctx, taskID, resultHex)
		})
	wantPolicyFailure(t, err, reqOrg)
	// A modified chaincode on the executor's peer writing the task directly
	// is refused too.
	_, err = run(h, execOrg, txOpts{endorsers: []string{execOrg}}, func(ctx contractapi.TransactionContextInterface) (bool, error) {
		forged := h.task(taskID)
		forged.Status = StatusSettled
		return true, saveTask(ctx, h.task(taskID), forged, EventTaskSettled, execOrg, nil)
	})
	wantPolicyFailure(t, err, reqOrg)
	if h.ledger.snapshot() != before {
		t.Fatal("a transaction failing validation changed the ledger")
	}
}

func TestRequesterAloneCannotSettleOrExpire(t *testing.T) {
	h := newHarness(t)
	h.setup(stageCompleted)
	_, err := run(h, reqOrg, txOpts{endorsers: []string{reqOrg}}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.Settle(ctx, taskID)
	})
	wantPolicyFailure(t, err, execOrg)

	// An awarded task past its deadline: the requester and one of executor
	// or Cloud.
	h2 := newHarness(t)
	h2.setup(stageAwarded)
	h2.now = deadline + 1
	for _, c := range []struct {
		endorsers []string
		missing   string
	}{
		{[]string{reqOrg}, "CloudMSP or Edge2MSP"},
		{[]string{outOrg}, "CloudMSP+Edge1MSP or Edge1MSP+Edge2MSP"},
		{[]string{execOrg}, "Edge1MSP"},
		{[]string{CloudMSPID}, "Edge1MSP"},
		{[]string{CloudMSPID, execOrg}, "Edge1MSP"},
	} {
		_, err = h2.expire(CloudMSPID, taskID, txOpts{endorsers: c.endorsers})
		wantPolicyFailure(t, err, c.missing)
	}
	if _, err := h2.expire(CloudMSPID, taskID, parties()); err != nil {
		t.Fatal(err)
	}
}

func TestPrivateWritesNeedTheOwningOrg(t *testing.T) {
	h := newHarness(t)
	h.setup(stageOffered)
	// Award blind-writes the payload to the executor's collection: the
	// executor's peer must endorse.
	_, err := run(h, reqOrg, txOpts{endorsers: []string{reqOrg}, transient: withPayload(payload)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.Award(ctx, taskID, execOrg, fmt.Sprint(h.offerPrice(taskID, execOrg)))
		})
	wantPolicyFailure(t, err, execOrg)
	// The requester's own collection needs the requester's peer.
	_, err = run(h, reqOrg, txOpts{endorsers: []string{outOrg}, transient: withPayload(payload)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.RequestTask(ctx, "t-2", "1", "1", "1750000100", "1", payloadHex)
		})
	wantPolicyFailure(t, err, reqOrg)
	// TransferOwnership with a payload needs the new owner's peer.
	h.must(h.award(reqOrg, taskID, execOrg, withPayload(payload)))
	_, err = run(h, reqOrg, txOpts{endorsers: []string{reqOrg, execOrg}, transient: withPayload(payload)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.TransferOwnership(ctx, taskID, outOrg)
		})
	wantPolicyFailure(t, err, outOrg)
}

// TestAcceptOwnershipNeedsOldOwnerAndExecutorOrCloud: the old owner's peer
// must endorse the handover; the executor's or the Cloud's peer is the
// second (the awarded policy; the escrow stays in the task either way).
func TestAcceptOwnershipNeedsOldOwnerAndExecutorOrCloud(t *testing.T) {
	h := newHarness(t)
	h.setup(stageTransferProposed)
	accept := func(endorsers ...string) error {
		_, err := run(h, outOrg, txOpts{endorsers: endorsers}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.AcceptOwnership(ctx, taskID, fmt.Sprint(h.task(taskID).Escrow))
		})
		return err
	}
	wantPolicyFailure(t, accept(outOrg), "CloudMSP+Edge1MSP or Edge1MSP+Edge2MSP")
	wantPolicyFailure(t, accept(outOrg, reqOrg), "CloudMSP or Edge2MSP")
	wantPolicyFailure(t, accept(outOrg, execOrg, CloudMSPID), "Edge1MSP")
	if _, err := h.accept(outOrg, taskID); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t)
	h2.setup(stageTransferProposed)
	if _, err := run(h2, outOrg, txOpts{endorsers: []string{outOrg, reqOrg, CloudMSPID}}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h2.contract.AcceptOwnership(ctx, taskID, fmt.Sprint(h2.task(taskID).Escrow))
	}); err != nil {
		t.Fatal(err)
	}
	if got := h2.keyPolicy(taskID); got != awardedPolicy(outOrg, execOrg) {
		t.Fatalf("policy after the handover %s", got)
	}
}

func TestBeforeAwardAnyOnePeerSuffices(t *testing.T) {
	h := newHarness(t)
	h.setup(stageRequested)
	// Shortlist and offers need no requester endorsement: chaincode policy.
	if _, err := run(h, CloudMSPID, txOpts{endorsers: []string{CloudMSPID}}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.Shortlist(ctx, taskID, `["Edge2MSP"]`)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.offer(execOrg, taskID, "true", "1", "1"); err != nil {
		t.Fatal(err)
	}
}

// TestWhoCanReadThePayloadAndResult: ReadPayload and ReadResult read only
// the caller's own org's collection, so only the parties get anything, and
// the answer does not depend on which peer evaluates (a peer never reveals
// another org's collection through this contract).
func TestWhoCanReadThePayloadAndResult(t *testing.T) {
	h := newHarness(t)
	h.setup(stageCompleted)
	read := func(caller, peer string, fn func(*TaskContract, contractapi.TransactionContextInterface, string) (string, error)) (string, error) {
		ctx, stub := h.ctx(fakeIdentity{mspID: caller})
		stub.peerMSP = peer
		return fn(h.contract, ctx, taskID)
	}
	readers := map[string]func(*TaskContract, contractapi.TransactionContextInterface, string) (string, error){
		"payload": (*TaskContract).ReadPayload,
		"result":  (*TaskContract).ReadResult,
	}
	want := map[string]string{"payload": string(payload), "result": string(result)}
	for what, fn := range readers {
		for _, org := range []string{reqOrg, execOrg} {
			got, err := read(org, org, fn)
			if err != nil || got != want[what] {
				t.Fatalf("%s reads %s: %q, %v", org, what, got, err)
			}
		}
		for _, org := range []string{candOrg, outOrg, unregOrg, CloudMSPID} {
			for _, peer := range []string{org, reqOrg, execOrg} {
				got, err := read(org, peer, fn)
				wantErr(t, err, "org "+org+" holds no "+what+" of task t-1")
				if got != "" {
					t.Fatalf("%s got %q", org, got)
				}
			}
		}
		// A party asking another org's peer gets Fabric's refusal, never
		// that peer's own copy.
		_, err := read(reqOrg, execOrg, fn)
		if err == nil || !strings.HasPrefix(err.Error(), "cannot read the private data of org Edge1MSP (evaluate on a peer of that org): private data matching public hash version is not available") {
			t.Fatalf("requester on the executor's peer: %v", err)
		}
	}
}

func TestVerifyPayloadAndResult(t *testing.T) {
	h := newHarness(t)
	h.setup(stageAwarded)
	verify := func(caller string, fn func(*TaskContract, contractapi.TransactionContextInterface, string) (*PrivateCheck, error), tr map[string][]byte) (*PrivateCheck, error) {
		ctx, stub := h.ctx(fakeIdentity{mspID: caller})
		stub.transient = tr
		return fn(h.contract, ctx, taskID)
	}
	for _, caller := range []string{reqOrg, execOrg, CloudMSPID, outOrg} {
		c, err := verify(caller, (*TaskContract).VerifyPayload, withPayload(payload))
		if err != nil || !c.Matches || !c.HeldByRequester || !c.HeldByExecutor || c.Hash != payloadHex {
			t.Fatalf("VerifyPayload by %s = %+v, %v", caller, c, err)
		}
	}
	c, err := verify(CloudMSPID, (*TaskContract).VerifyPayload, withPayload([]byte("guess")))
	if err != nil || c.Matches {
		t.Fatalf("a wrong payload matched: %+v, %v", c, err)
	}
	_, err = verify(CloudMSPID, (*TaskContract).VerifyPayload, nil)
	wantErr(t, err, "transient payload is required")
	_, err = verify(CloudMSPID, (*TaskContract).VerifyResult, withResult(result))
	wantErr(t, err, "task t-1 has no result yet")
	_, err = verify(CloudMSPID, (*TaskContract).VerifyResult, withPayload(payload))
	wantErr(t, err, `unexpected transient key "payload"`)
	h.must(h.submit(execOrg, taskID, resultHex, withResult(result)))
	c, err = verify(outOrg, (*TaskContract).VerifyResult, withResult(result))
	if err != nil || !c.Matches || !c.HeldByRequester || !c.HeldByExecutor || c.Hash != resultHex {
		t.Fatalf("VerifyResult = %+v, %v", c, err)
	}
	// Before award only the requester holds the payload.
	h2 := newHarness(t)
	h2.setup(stageShortlisted)
	ctx, stub := h2.ctx(fakeIdentity{mspID: CloudMSPID})
	stub.transient = withPayload(payload)
	c, err = h2.contract.VerifyPayload(ctx, taskID)
	if err != nil || !c.Matches || !c.HeldByRequester || c.HeldByExecutor {
		t.Fatalf("VerifyPayload before award = %+v, %v", c, err)
	}
}

func TestEndorsingPeerOrgEnforcementForParties(t *testing.T) {
	h := newHarness(t)
	h.setup(stageOffered)
	for peer, want := range map[string]string{
		reqOrg:     "",
		execOrg:    "",
		candOrg:    "endorsing peer org Edge3MSP is not a party to task t-1",
		CloudMSPID: "endorsing peer org CloudMSP is not a party to task t-1",
	} {
		c := NewTaskContract(h.peerClock(), WithEndorserMSPID(peer))
		ctx, stub := h.ctx(fakeIdentity{mspID: reqOrg})
		stub.peerMSP = peer
		stub.transient = withPayload(payload)
		_, err := c.Award(ctx, taskID, execOrg, fmt.Sprint(h.offerPrice(taskID, execOrg)))
		if want == "" && err != nil {
			t.Fatalf("peer %s: %v", peer, err)
		}
		if want != "" {
			wantErr(t, err, want)
		}
	}
	// Single-org transactions keep the first milestone's check.
	c := NewTaskContract(h.peerClock(), WithEndorserMSPID(reqOrg))
	_, err := c.Offer(h.as(candOrg), taskID, "true", "1", "1")
	wantErr(t, err, "client org Edge3MSP does not match endorsing peer org Edge1MSP")
}
