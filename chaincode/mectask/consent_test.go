package mectask

import (
	"fmt"
	"testing"
)

// Contract v2's checked time and explicit consent (docs/security.md): a
// client may not move "now", a requester pays only the price it named, a
// new owner pays only the escrow it agreed to, and only the parties or the
// Cloud may expire a task.

func TestAWriteStampedOffThePeersClockIsRefused(t *testing.T) {
	for _, skew := range []int64{DefaultMaxSkewSeconds + 1, -DefaultMaxSkewSeconds - 1, 14 * 60, -14 * 60} {
		t.Run(fmt.Sprint(skew), func(t *testing.T) {
			h := newHarness(t)
			h.setup(stageOffered)
			peer := h.now
			h.peerNow = &peer
			h.now = peer + skew
			before := h.ledger.snapshot()
			_, err := h.award(reqOrg, taskID, execOrg, withPayload(payload))
			wantErr(t, err, fmt.Sprintf("transaction time %d is %+d s from this peer's clock %d, more than the %d s allowed (MECTASK_MAX_SKEW_SECONDS): check the client's clock", peer+skew, skew, peer, DefaultMaxSkewSeconds))
			if h.ledger.snapshot() != before {
				t.Fatal("a refused award changed the ledger")
			}
		})
	}
}

func TestAWriteWithinTheSkewCommitsAtItsOwnTimestamp(t *testing.T) {
	for _, skew := range []int64{DefaultMaxSkewSeconds, -DefaultMaxSkewSeconds} {
		h := newHarness(t)
		h.setup(stageRegistered)
		peer := h.now + 3600 // the task's last update is well before both
		h.peerNow = &peer
		h.now = peer + skew
		task, err := h.requestFull(reqOrg, taskID, h.now+600, 120, payload, "{}")
		if err != nil {
			t.Fatal(err)
		}
		if task.RequestedAt != peer+skew || task.UpdatedAt != peer+skew {
			t.Fatalf("task written at %d/%d, want the transaction time %d", task.RequestedAt, task.UpdatedAt, peer+skew)
		}
	}
}

func TestAWriteStampedBeforeTheTasksLastUpdateIsRefused(t *testing.T) {
	h := newHarness(t)
	h.setup(stageAwarded)
	peer := h.now
	h.peerNow = &peer
	last := h.task(taskID).UpdatedAt
	h.now = last - 1 // within the skew, but before the award
	before := h.ledger.snapshot()
	_, err := h.submit(execOrg, taskID, resultHex, withResult(result))
	wantErr(t, err, fmt.Sprintf("transaction time %d is before the last update of task t-1 at %d: check the client's clock", last-1, last))
	if h.ledger.snapshot() != before {
		t.Fatal("a refused result changed the ledger")
	}
	h.now = last // the same second is not earlier
	h.must(h.submit(execOrg, taskID, resultHex, withResult(result)))
}

func TestAwardPaysOnlyThePriceTheRequesterNamed(t *testing.T) {
	h := newHarness(t)
	h.setup(stageOffered)
	// The executor raises its offer to maxPrice after the requester chose it at awardPrice.
	h.must(h.offer(execOrg, taskID, "true", "120", "30"))
	before := h.ledger.snapshot()
	_, err := h.awardAt(reqOrg, taskID, execOrg, awardPrice, withPayload(payload))
	wantErr(t, err, fmt.Sprintf("the offer of Edge2MSP for task t-1 is now 120, not the accepted price %d: award again at the current offer if it suits", awardPrice))
	if h.ledger.snapshot() != before {
		t.Fatal("a refused award changed the ledger")
	}
	_, err = h.awardAt(reqOrg, taskID, execOrg, 0, withPayload(payload))
	wantErr(t, err, `invalid price "0": must be a positive integer`)
	task, err := h.awardAt(reqOrg, taskID, execOrg, 120, withPayload(payload))
	if err != nil {
		t.Fatal(err)
	}
	if task.Price != 120 || h.edge(reqOrg).Balance != InitialGrant-120 {
		t.Fatalf("awarded at %d, requester balance %d", task.Price, h.edge(reqOrg).Balance)
	}
}

func TestAcceptOwnershipPaysAtMostTheEscrowAgreed(t *testing.T) {
	h := newHarness(t)
	h.setup(stageTransferProposed)
	before := h.ledger.snapshot()
	_, err := h.acceptUpTo(outOrg, taskID, awardPrice-1)
	wantErr(t, err, fmt.Sprintf("task t-1 holds escrow %d, more than the %d org Edge4MSP agreed to pay", awardPrice, awardPrice-1))
	if h.ledger.snapshot() != before {
		t.Fatal("a refused acceptance changed the ledger")
	}
	h.must(h.acceptUpTo(outOrg, taskID, awardPrice))
	if h.edge(outOrg).Balance != InitialGrant-awardPrice || h.edge(reqOrg).Balance != InitialGrant {
		t.Fatalf("balances after the transfer: new owner %d, old owner %d", h.edge(outOrg).Balance, h.edge(reqOrg).Balance)
	}
}

func TestATransferClearsTheOldOwnersDelegation(t *testing.T) {
	h := newHarness(t)
	h.mustRegister(reqOrg, execOrg, candOrg, outOrg)
	h.must(h.requestFull(reqOrg, taskID, deadline, 120, payload, `{"delegateAward":true}`))
	h.must(h.transfer(reqOrg, taskID, outOrg, nil))
	task, err := h.accept(outOrg, taskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.DelegateAward {
		t.Fatal("the new owner inherited the old owner's delegation of the award")
	}
	h.must(h.shortlist(CloudMSPID, taskID, `["Edge2MSP"]`))
	h.must(h.offer(execOrg, taskID, "true", "120", "30"))
	_, err = h.award(CloudMSPID, taskID, execOrg, nil)
	wantErr(t, err, "org CloudMSP may not award task t-1: the requester did not delegate the award")
}

func TestAnExpiryLapsesAPendingTransfer(t *testing.T) {
	h := newHarness(t)
	h.setup(stageTransferProposed)
	h.now = deadline + 1
	task, err := h.expire(reqOrg, taskID, parties())
	if err != nil {
		t.Fatal(err)
	}
	if task.PendingOwner != "" {
		t.Fatalf("pending owner %s survived the expiry", task.PendingOwner)
	}
	_, err = h.accept(outOrg, taskID)
	wantErr(t, err, "task t-1 has no pending ownership transfer")
}

func TestOnlyThePartiesOrTheCloudExpire(t *testing.T) {
	for _, s := range []stage{stageRequested, stageShortlisted, stageAwarded} {
		for _, caller := range []string{candOrg, outOrg, unregOrg} {
			h := newHarness(t)
			h.setup(s)
			h.now = deadline + 1
			before := h.ledger.snapshot()
			_, err := h.expire(caller, taskID, parties())
			wantErr(t, err, fmt.Sprintf("org %s may not expire task t-1: only its requester, its executor or the Cloud may", caller))
			if h.ledger.snapshot() != before {
				t.Fatal("a refused expiry changed the ledger")
			}
		}
	}
}
