package mectask

import (
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// The Cloud path of an awarded task's policy, OR(AND(requester, executor),
// AND(requester, Cloud)): the requester and the Cloud may expire the task
// after its deadline when the executor's peer cannot endorse (its org
// revoked or removed), and nothing else the executor's consent is needed
// for; the executor and the Cloud can do nothing in the requester's place.

// rcEndorsers is the requester's and the Cloud's peers, without the executor.
func rcEndorsers() txOpts { return txOpts{endorsers: []string{reqOrg, CloudMSPID}} }

func TestRequesterAndCloudExpireWithoutTheExecutorAndTheTaskIsReassigned(t *testing.T) {
	for _, caller := range []string{CloudMSPID, reqOrg} {
		t.Run(caller, func(t *testing.T) {
			h := newHarness(t)
			h.setup(stageAwarded)
			if h.edge(reqOrg).Balance != InitialGrant-awardPrice {
				t.Fatal("no escrow")
			}
			// Not before the deadline: both peers run the contract, which refuses.
			h.now = deadline
			_, err := h.expire(caller, taskID, rcEndorsers())
			wantErr(t, err, "task t-1 is not past its deadline 1750000600 at transaction time 1750000600")
			h.now = deadline + 1
			task, err := h.expire(caller, taskID, rcEndorsers())
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != StatusExpired || task.Escrow != 0 || task.ClosedAt != deadline+1 {
				t.Fatalf("task = %+v", task)
			}
			h.wantEvent(EventTaskExpired, StatusExpired, caller)
			if h.edge(reqOrg).Balance != InitialGrant {
				t.Fatal("escrow not returned")
			}
			exec := h.edge(execOrg)
			if exec.Balance != InitialGrant || exec.Reputation != InitialReputation-ReputationExpired || exec.ExpiredTasks != 1 {
				t.Fatalf("executor = %+v", exec)
			}
			if got := h.keyPolicy(taskID); got != "" {
				t.Fatalf("expired task key still has policy %s", got)
			}
			// Reassigned to another edge, which executes; the old executor
			// has no part in any of it.
			h.now += 10
			h.must(h.reassign(reqOrg, taskID, h.now+600))
			h.must(h.shortlist(CloudMSPID, taskID, `["Edge3MSP"]`))
			h.must(h.offer(candOrg, taskID, "true", "55", "10"))
			h.must(h.award(reqOrg, taskID, candOrg, withPayload(payload)))
			if got := h.keyPolicy(taskID); got != awardedPolicy(reqOrg, candOrg) {
				t.Fatalf("policy %s", got)
			}
			h.must(h.submit(candOrg, taskID, resultHex, withResult(result)))
			h.must(h.settle(reqOrg, taskID))
			if h.edge(reqOrg).Balance != InitialGrant-55 || h.edge(candOrg).Balance != InitialGrant+55 || h.edge(execOrg).Balance != InitialGrant {
				t.Fatal("balances after the reassigned task")
			}
			audit, err := h.contract.AuditCredits(h.as(CloudMSPID))
			if err != nil || !audit.Balanced || audit.Escrow != 0 || audit.Grants != 4*InitialGrant {
				t.Fatalf("audit %+v, %v", audit, err)
			}
		})
	}
}

// forge runs a modified chaincode on the endorsing peers that rewrites the
// task with the given status (what a colluding set of peers could sign).
func forge(h *harness, endorsers []string, status TaskStatus) error {
	_, err := run(h, endorsers[0], txOpts{endorsers: endorsers}, func(ctx contractapi.TransactionContextInterface) (bool, error) {
		before := h.task(taskID)
		forged := before.clone()
		forged.Status = status
		forged.Escrow = 0
		return true, saveTask(ctx, before, forged, EventTaskExpired, endorsers[0], nil)
	})
	return err
}

func TestRequesterAndCloudCannotActForTheExecutor(t *testing.T) {
	// AWARDED: the result and the payload go to the executor's implicit
	// collection, which only its peer may endorse.
	h := newHarness(t)
	h.setup(stageAwarded)
	_, err := h.submitWith(execOrg, rcEndorsers())
	wantPolicyFailure(t, err, execOrg)
	_, err = h.submitWith(reqOrg, rcEndorsers())
	wantErr(t, err, "org Edge1MSP is not the executor of task t-1")
	_, err = run(h, reqOrg, txOpts{endorsers: []string{reqOrg, CloudMSPID}, transient: withPayload(payload)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.SendPayload(ctx, taskID)
		})
	wantPolicyFailure(t, err, execOrg)
	// A transfer proposal without payload meets the key policy without the
	// executor (harmless: the escrow and the executor stay).
	if _, err := run(h, reqOrg, txOpts{endorsers: []string{reqOrg, CloudMSPID}}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.TransferOwnership(ctx, taskID, outOrg)
	}); err != nil {
		t.Fatal(err)
	}
	if task := h.task(taskID); task.Escrow != awardPrice || task.Executor != execOrg || task.Status != StatusAwarded {
		t.Fatalf("task = %+v", task)
	}

	// COMPLETED: the escrow is the executor's due; the policy is now
	// requester AND executor, so neither Settle, Dispute nor a forged write
	// passes with the Cloud in the executor's place.
	for _, when := range []int64{0, DisputeWindowSeconds} {
		h := newHarness(t)
		h.setup(stageCompleted)
		if got := h.keyPolicy(taskID); got != andOf(reqOrg, execOrg) {
			t.Fatalf("completed policy %s", got)
		}
		h.now += when
		_, err := run(h, reqOrg, rcEndorsers(), func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.Settle(ctx, taskID)
		})
		wantPolicyFailure(t, err, execOrg)
		if when == 0 {
			_, err = run(h, reqOrg, rcEndorsers(), func(ctx contractapi.TransactionContextInterface) (*Task, error) {
				return h.contract.Dispute(ctx, taskID, "no")
			})
			wantPolicyFailure(t, err, execOrg)
		} else {
			_, err = run(h, execOrg, rcEndorsers(), func(ctx contractapi.TransactionContextInterface) (*Task, error) {
				return h.contract.Settle(ctx, taskID)
			})
			wantPolicyFailure(t, err, execOrg)
		}
		for _, status := range []TaskStatus{StatusDisputed, StatusExpired} {
			wantPolicyFailure(t, forge(h, []string{reqOrg, CloudMSPID}, status), execOrg)
		}
		_, err = h.expire(CloudMSPID, taskID, rcEndorsers())
		wantErr(t, err, "task t-1 is in status COMPLETED, not one of REQUESTED, SHORTLISTED, AWARDED")
		if task := h.task(taskID); task.Status != StatusCompleted || task.Escrow != awardPrice {
			t.Fatalf("task = %+v", task)
		}
	}
}

func TestExecutorAndCloudCannotActForTheRequester(t *testing.T) {
	ec := txOpts{endorsers: []string{execOrg, CloudMSPID}}
	h := newHarness(t)
	h.setup(stageAwarded)
	_, err := h.submitWith(execOrg, ec)
	wantPolicyFailure(t, err, reqOrg)
	_, err = run(h, reqOrg, txOpts{endorsers: ec.endorsers, transient: withPayload(payload)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.SendPayload(ctx, taskID)
		})
	wantPolicyFailure(t, err, reqOrg)
	_, err = run(h, reqOrg, ec, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.TransferOwnership(ctx, taskID, outOrg)
	})
	wantPolicyFailure(t, err, reqOrg)
	wantPolicyFailure(t, forge(h, ec.endorsers, StatusCompleted), reqOrg)
	h.now = deadline + 1
	_, err = h.expire(CloudMSPID, taskID, ec)
	wantPolicyFailure(t, err, reqOrg)
	_, err = h.expire(CloudMSPID, taskID, txOpts{endorsers: []string{execOrg, CloudMSPID, outOrg, candOrg}})
	wantPolicyFailure(t, err, reqOrg)

	h = newHarness(t)
	h.setup(stageTransferProposed)
	_, err = run(h, outOrg, txOpts{endorsers: []string{outOrg, execOrg, CloudMSPID}}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.AcceptOwnership(ctx, taskID, fmt.Sprint(h.task(taskID).Escrow))
	})
	wantPolicyFailure(t, err, reqOrg)

	h = newHarness(t)
	h.setup(stageCompleted)
	for _, call := range []func(contractapi.TransactionContextInterface) (*Task, error){
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.Settle(ctx, taskID)
		},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.Dispute(ctx, taskID, "no")
		},
	} {
		_, err = run(h, reqOrg, ec, call)
		wantPolicyFailure(t, err, reqOrg)
	}
	h.now += DisputeWindowSeconds // the executor's own Settle still needs the requester's peer
	_, err = run(h, execOrg, ec, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.Settle(ctx, taskID)
	})
	wantPolicyFailure(t, err, reqOrg)

	// Reassign is the requester's (caller check; no key policy after expiry).
	h = newHarness(t)
	h.setup(stageExpired)
	_, err = run(h, execOrg, ec, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.Reassign(ctx, taskID, "1750000900")
	})
	wantErr(t, err, "org Edge2MSP is not the requester of task t-1")
}

// TestCloudPeerEndorsesOnlyExpiry: with the endorsing-peer org check on, the
// Cloud's peer endorses the expiry of a task it is not a party to, and no
// other party transaction.
func TestCloudPeerEndorsesOnlyExpiry(t *testing.T) {
	h := newHarness(t)
	h.setup(stageAwarded)
	c := NewTaskContract(h.peerClock(), WithEndorserMSPID(CloudMSPID))
	onCloudPeer := func(caller string) contractapi.TransactionContextInterface {
		ctx, stub := h.ctx(fakeIdentity{mspID: caller})
		stub.peerMSP = CloudMSPID
		return ctx
	}
	notParty := "endorsing peer org CloudMSP is not a party to task t-1"
	_, err := c.TransferOwnership(onCloudPeer(reqOrg), taskID, outOrg)
	wantErr(t, err, notParty)
	h.now = deadline + 1
	if _, err := c.Expire(onCloudPeer(reqOrg), taskID); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t)
	h2.setup(stageCompleted)
	c = NewTaskContract(h2.peerClock(), WithEndorserMSPID(CloudMSPID))
	for name, call := range map[string]func(contractapi.TransactionContextInterface) error{
		"settle": func(ctx contractapi.TransactionContextInterface) error { _, err := c.Settle(ctx, taskID); return err },
		"dispute": func(ctx contractapi.TransactionContextInterface) error {
			_, err := c.Dispute(ctx, taskID, "no")
			return err
		},
	} {
		ctx, stub := h2.ctx(fakeIdentity{mspID: reqOrg})
		stub.peerMSP = CloudMSPID
		if err := call(ctx); err == nil || err.Error() != notParty {
			t.Fatalf("%s on the Cloud's peer: %v", name, err)
		}
	}
}

func (h *harness) submitWith(caller string, o txOpts) (*Task, error) {
	o.transient = withResult(result)
	return run(h, caller, o, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.SubmitResult(ctx, taskID, resultHex)
	})
}
