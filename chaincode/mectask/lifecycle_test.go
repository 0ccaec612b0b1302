package mectask

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// keyPolicy renders the task key's state-based policy ("" when none).
func (h *harness) keyPolicy(id string) string {
	h.t.Helper()
	got, err := renderPolicy(h.ledger.vp[mustKey(h.t, taskObjectType, id)])
	if err != nil {
		h.t.Fatal(err)
	}
	return got
}

func TestRequestTaskStoresPayloadInRequesterCollectionOnly(t *testing.T) {
	h := newHarness(t)
	h.setup(stageRequested)
	if got := h.private(reqOrg, payloadObjectType, taskID); !bytes.Equal(got, payload) {
		t.Fatalf("requester collection holds %q", got)
	}
	for _, org := range []string{execOrg, candOrg, CloudMSPID} {
		if got := h.private(org, payloadObjectType, taskID); got != nil {
			t.Fatalf("%s collection holds %q", org, got)
		}
	}
	task := h.task(taskID)
	if task.PayloadHash != payloadHex || task.Status != StatusRequested || task.DelegateAward {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventTaskRequested, StatusRequested, reqOrg)
	// Without a payload, RequestTask stays what it was: public record only.
	if _, err := h.request(reqOrg, "t-2", "1", "1", fmt.Sprint(deadline), "1", goodHash); err != nil {
		t.Fatal(err)
	}
	if h.private(reqOrg, payloadObjectType, "t-2") != nil {
		t.Fatal("a request without payload wrote private data")
	}
}

func TestRequestTaskWithOptionsDelegates(t *testing.T) {
	h := newHarness(t)
	h.setup(stageRegistered)
	task, err := h.requestFull(reqOrg, taskID, deadline, 120, payload, `{"delegateAward":true}`)
	if err != nil {
		t.Fatal(err)
	}
	if !task.DelegateAward {
		t.Fatal("delegateAward not set")
	}
}

func TestShortlistOpensARound(t *testing.T) {
	h := newHarness(t)
	h.setup(stageShortlisted)
	task := h.task(taskID)
	if task.Status != StatusShortlisted || task.Round != 1 || joined(task.Candidates) != "Edge2MSP,Edge3MSP" {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventTaskShortlisted, StatusShortlisted, CloudMSPID)
	// Shortlisting again replaces the candidates and starts a new round, in
	// which the old round's offers no longer count.
	h.must(h.offer(execOrg, taskID, "true", "10", "5"))
	h.now += 5
	task, err := h.shortlist(CloudMSPID, taskID, `["Edge4MSP"]`)
	if err != nil {
		t.Fatal(err)
	}
	if task.Round != 2 || joined(task.Candidates) != "Edge4MSP" {
		t.Fatalf("task = %+v", task)
	}
	offers, err := h.contract.ListOffers(h.as(CloudMSPID), taskID)
	if err != nil || len(offers) != 0 {
		t.Fatalf("offers of round 2 = %v, %v", offers, err)
	}
	_, err = h.award(reqOrg, taskID, outOrg, withPayload(payload))
	wantErr(t, err, "edge Edge4MSP has made no offer for task t-1")
	// The org index follows the candidates.
	for org, want := range map[string]int{execOrg: 0, candOrg: 0, outOrg: 1, reqOrg: 1} {
		tasks, err := h.contract.ListTasksByOrg(h.as(CloudMSPID), org)
		if err != nil || len(tasks) != want {
			t.Fatalf("ListTasksByOrg(%s) = %d tasks, %v; want %d", org, len(tasks), err, want)
		}
	}
}

func TestOfferRecordsAndReplaces(t *testing.T) {
	h := newHarness(t)
	h.setup(stageShortlisted)
	o, err := h.offer(execOrg, taskID, "true", "50", "30")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"docType":"offer","taskId":"t-1","round":1,"mspId":"Edge2MSP","willing":true,"price":50,"estimatedSeconds":30,"offeredAt":1750000000,"txId":"` + h.last.txID + `"}`
	if got := mustJSON(t, o); got != want {
		t.Fatalf("offer\n got: %s\nwant: %s", got, want)
	}
	ev := h.wantEvent(EventTaskOffered, StatusShortlisted, execOrg)
	if mustJSON(t, ev.Offer) != want {
		t.Fatalf("event offer = %s", mustJSON(t, ev.Offer))
	}
	before := h.task(taskID)
	h.must(h.offer(execOrg, taskID, "true", "45", "25"))
	h.must(h.offer(candOrg, taskID, "false", "0", "0"))
	offers, err := h.contract.ListOffers(h.as(reqOrg), taskID)
	if err != nil {
		t.Fatal(err)
	}
	if len(offers) != 2 || offers[0].MSPID != execOrg || offers[0].Price != 45 || offers[1].MSPID != candOrg || offers[1].Willing {
		t.Fatalf("offers = %s", mustJSON(t, offers))
	}
	if mustJSON(t, h.task(taskID)) != mustJSON(t, before) {
		t.Fatal("an offer changed the task record")
	}
}

func TestAwardEscrowsDeliversPayloadAndLocksTheKey(t *testing.T) {
	h := newHarness(t)
	h.setup(stageOffered)
	h.now += 10
	task, err := h.award(reqOrg, taskID, execOrg, withPayload(payload))
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != StatusAwarded || task.Executor != execOrg || task.Price != awardPrice || task.Escrow != awardPrice ||
		task.EstimatedSeconds != 30 || task.AwardedAt != t0+10 || !task.PayloadDelivered {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventTaskAwarded, StatusAwarded, reqOrg)
	if got := h.edge(reqOrg).Balance; got != InitialGrant-awardPrice {
		t.Fatalf("requester balance = %d", got)
	}
	if got := h.private(execOrg, payloadObjectType, taskID); !bytes.Equal(got, payload) {
		t.Fatalf("executor collection holds %q", got)
	}
	if got := h.private(candOrg, payloadObjectType, taskID); got != nil {
		t.Fatal("the losing candidate received the payload")
	}
	if got := h.keyPolicy(taskID); got != "OR(AND(Edge1MSP,Edge2MSP),AND(CloudMSP,Edge1MSP))" {
		t.Fatalf("task key policy = %v", got)
	}
}

func TestDelegatedAwardByCloudThenSendPayload(t *testing.T) {
	h := newHarness(t)
	h.setup(stageRegistered)
	h.must(h.requestFull(reqOrg, taskID, deadline, 120, payload, `{"delegateAward":true}`))
	h.must(h.shortlist(CloudMSPID, taskID, `["Edge2MSP"]`))
	h.must(h.offer(execOrg, taskID, "true", "40", "30"))
	_, err := h.award(CloudMSPID, taskID, execOrg, withPayload(payload))
	wantErr(t, err, "org CloudMSP may not send the payload of task t-1")
	task, err := h.award(CloudMSPID, taskID, execOrg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if task.PayloadDelivered || h.private(execOrg, payloadObjectType, taskID) != nil {
		t.Fatal("a cloud award delivered a payload")
	}
	h.wantEvent(EventTaskAwarded, StatusAwarded, CloudMSPID)
	task, err = h.sendPayload(reqOrg, taskID, withPayload(payload))
	if err != nil {
		t.Fatal(err)
	}
	if !task.PayloadDelivered || !bytes.Equal(h.private(execOrg, payloadObjectType, taskID), payload) {
		t.Fatal("SendPayload did not deliver")
	}
	h.wantEvent(EventPayloadSent, StatusAwarded, reqOrg)
	if h.private(CloudMSPID, payloadObjectType, taskID) != nil {
		t.Fatal("the cloud holds the payload")
	}
}

func TestSubmitResultWritesBothCollections(t *testing.T) {
	h := newHarness(t)
	h.setup(stageAwarded)
	h.now = deadline // the deadline second itself is in time
	task, err := h.submit(execOrg, taskID, resultHex, withResult(result))
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != StatusCompleted || task.ResultHash != resultHex || task.CompletedAt != deadline || task.Escrow != awardPrice {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventTaskCompleted, StatusCompleted, execOrg)
	for _, org := range []string{reqOrg, execOrg} {
		if !bytes.Equal(h.private(org, resultObjectType, taskID), result) {
			t.Fatalf("%s does not hold the result", org)
		}
	}
	for _, org := range []string{candOrg, outOrg, CloudMSPID} {
		if h.private(org, resultObjectType, taskID) != nil {
			t.Fatalf("%s holds the result", org)
		}
	}
}

func TestSettlePaysTheExecutor(t *testing.T) {
	h := newHarness(t)
	h.setup(stageSettled)
	task := h.task(taskID)
	if task.Status != StatusSettled || task.Escrow != 0 || task.ClosedAt != h.now {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventTaskSettled, StatusSettled, reqOrg)
	exec, req := h.edge(execOrg), h.edge(reqOrg)
	if exec.Balance != InitialGrant+awardPrice || exec.Reputation != InitialReputation+ReputationSettled || exec.SettledTasks != 1 {
		t.Fatalf("executor = %+v", exec)
	}
	if req.Balance != InitialGrant-awardPrice || req.Reputation != InitialReputation {
		t.Fatalf("requester = %+v", req)
	}
	// The key stays locked to both parties after the end.
	if got := h.keyPolicy(taskID); got != "AND(Edge1MSP,Edge2MSP)" {
		t.Fatalf("task key policy = %v", got)
	}
}

func TestExecutorSettlesAfterTheDisputeWindow(t *testing.T) {
	h := newHarness(t)
	h.setup(stageCompleted)
	completed := h.task(taskID).CompletedAt
	h.now = completed + DisputeWindowSeconds - 1
	_, err := h.settle(execOrg, taskID)
	wantErr(t, err, fmt.Sprintf("org Edge2MSP may settle task t-1 only from time %d, when its dispute window closes", completed+DisputeWindowSeconds))
	_, err = h.dispute(reqOrg, taskID, "too late?") // still open: one second left
	if err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t)
	h2.setup(stageCompleted)
	h2.now = completed + DisputeWindowSeconds
	_, err = h2.dispute(reqOrg, taskID, "too late")
	wantErr(t, err, fmt.Sprintf("the dispute window of task t-1 closed at time %d", completed+DisputeWindowSeconds))
	if _, err := h2.settle(execOrg, taskID); err != nil {
		t.Fatal(err)
	}
	h2.wantEvent(EventTaskSettled, StatusSettled, execOrg)
	if h2.edge(execOrg).Balance != InitialGrant+awardPrice {
		t.Fatal("executor not paid")
	}
}

func TestDisputeSplitsTheEscrow(t *testing.T) {
	for _, price := range []uint64{40, 41, 1} {
		t.Run(fmt.Sprint(price), func(t *testing.T) {
			h := newHarness(t)
			h.setup(stageShortlisted)
			h.must(h.offer(execOrg, taskID, "true", fmt.Sprint(price), "30"))
			h.must(h.award(reqOrg, taskID, execOrg, withPayload(payload)))
			h.must(h.submit(execOrg, taskID, resultHex, withResult(result)))
			task, err := h.dispute(reqOrg, taskID, "result is wrong: checksum mismatch")
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != StatusDisputed || task.Escrow != 0 || task.DisputeReason != "result is wrong: checksum mismatch" {
				t.Fatalf("task = %+v", task)
			}
			h.wantEvent(EventTaskDisputed, StatusDisputed, reqOrg)
			exec, req := h.edge(execOrg), h.edge(reqOrg)
			if exec.Balance != InitialGrant+price/2 || exec.Reputation != InitialReputation-ReputationDisputedExecutor || exec.DisputedTasks != 1 {
				t.Fatalf("executor = %+v", exec)
			}
			if req.Balance != InitialGrant-price/2 || req.Reputation != InitialReputation-ReputationDisputedRequester {
				t.Fatalf("requester = %+v", req)
			}
		})
	}
}

func TestExpireAwardedRefundsAndPenalises(t *testing.T) {
	h := newHarness(t)
	h.setup(stageExpired)
	task := h.task(taskID)
	if task.Status != StatusExpired || task.Escrow != 0 || task.Executor != execOrg || task.ClosedAt != deadline+1 {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventTaskExpired, StatusExpired, CloudMSPID)
	if h.edge(reqOrg).Balance != InitialGrant {
		t.Fatal("escrow not returned")
	}
	exec := h.edge(execOrg)
	if exec.Reputation != InitialReputation-ReputationExpired || exec.ExpiredTasks != 1 || exec.Balance != InitialGrant {
		t.Fatalf("executor = %+v", exec)
	}
	if got := h.keyPolicy(taskID); got != "" {
		t.Fatalf("expired task key still has policy %v", got)
	}
}

func TestExpireBeforeAwardByRequesterOrCloud(t *testing.T) {
	for _, s := range []stage{stageRequested, stageShortlisted} {
		for _, caller := range []string{CloudMSPID, reqOrg} {
			h := newHarness(t)
			h.setup(s)
			h.now = deadline + 1
			task, err := h.expire(caller, taskID, txOpts{})
			if err != nil {
				t.Fatal(err)
			}
			if task.Status != StatusExpired || task.Escrow != 0 {
				t.Fatalf("task = %+v", task)
			}
			if h.edge(reqOrg).Balance != InitialGrant || h.edge(execOrg).Reputation != InitialReputation {
				t.Fatal("an unawarded expiry moved credits or reputation")
			}
		}
	}
}

func TestReassignReopensForANewShortlist(t *testing.T) {
	h := newHarness(t)
	h.setup(stageExpired)
	newDeadline := h.now + 900
	task, err := h.reassign(reqOrg, taskID, newDeadline)
	if err != nil {
		t.Fatal(err)
	}
	if task.Status != StatusRequested || task.Deadline != newDeadline || task.Executor != "" || len(task.Candidates) != 0 ||
		task.Price != 0 || task.PayloadDelivered || task.Round != 1 || task.ClosedAt != 0 {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventTaskReassigned, StatusRequested, reqOrg)
	// The Cloud shortlists again (round 2), a new executor is awarded.
	h.must(h.shortlist(CloudMSPID, taskID, `["Edge3MSP","Edge4MSP"]`))
	h.must(h.offer(candOrg, taskID, "true", "60", "10"))
	task, err = h.award(reqOrg, taskID, candOrg, withPayload(payload))
	if err != nil {
		t.Fatal(err)
	}
	if task.Round != 2 || task.Executor != candOrg || h.keyPolicy(taskID) != awardedPolicy(reqOrg, candOrg) {
		t.Fatalf("task = %+v, policy %v", task, h.keyPolicy(taskID))
	}
	h.must(h.submit(candOrg, taskID, resultHex, withResult(result)))
	h.must(h.settle(reqOrg, taskID))
	if h.edge(candOrg).Balance != InitialGrant+60 || h.edge(reqOrg).Balance != InitialGrant-60 {
		t.Fatal("second round not paid")
	}
}

func TestTransferOwnershipOfAnAwardedTask(t *testing.T) {
	h := newHarness(t)
	h.setup(stageAwarded)
	task, err := h.transfer(reqOrg, taskID, outOrg, withPayload(payload))
	if err != nil {
		t.Fatal(err)
	}
	if task.PendingOwner != outOrg || task.Requester != reqOrg {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventOwnershipProposed, StatusAwarded, reqOrg)
	if !bytes.Equal(h.private(outOrg, payloadObjectType, taskID), payload) {
		t.Fatal("the new owner did not receive the payload")
	}
	task, err = h.accept(outOrg, taskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Requester != outOrg || task.PendingOwner != "" || task.Escrow != awardPrice {
		t.Fatalf("task = %+v", task)
	}
	h.wantEvent(EventOwnershipTransferred, StatusAwarded, outOrg)
	// The new owner paid the old one the escrow: the old owner is whole.
	if h.edge(reqOrg).Balance != InitialGrant || h.edge(outOrg).Balance != InitialGrant-awardPrice {
		t.Fatalf("balances %d %d", h.edge(reqOrg).Balance, h.edge(outOrg).Balance)
	}
	if got := h.keyPolicy(taskID); got != "OR(AND(Edge2MSP,Edge4MSP),AND(CloudMSP,Edge4MSP))" {
		t.Fatalf("task key policy = %v", got)
	}
	// The result now goes to the new owner; the old one no longer may act.
	h.must(h.submit(execOrg, taskID, resultHex, withResult(result)))
	if !bytes.Equal(h.private(outOrg, resultObjectType, taskID), result) || h.private(reqOrg, resultObjectType, taskID) != nil {
		t.Fatal("result went to the wrong requester")
	}
	_, err = h.settle(reqOrg, taskID)
	wantErr(t, err, "org Edge1MSP is not the requester of task t-1")
	h.must(h.settle(outOrg, taskID))
	if h.edge(outOrg).Balance != InitialGrant-awardPrice || h.edge(execOrg).Balance != InitialGrant+awardPrice {
		t.Fatal("settlement after transfer")
	}
	for org, want := range map[string]int{reqOrg: 0, outOrg: 1, execOrg: 1} {
		tasks, err := h.contract.ListTasksByOrg(h.as(org), org)
		if err != nil || len(tasks) != want {
			t.Fatalf("ListTasksByOrg(%s) = %d, %v", org, len(tasks), err)
		}
	}
}

func TestTransferOwnershipBeforeAward(t *testing.T) {
	h := newHarness(t)
	h.setup(stageRequested)
	h.must(h.transfer(reqOrg, taskID, execOrg, nil))
	h.must(h.transfer(reqOrg, taskID, outOrg, nil)) // proposing again replaces
	_, err := h.accept(execOrg, taskID)
	wantErr(t, err, "org Edge2MSP is not the pending owner of task t-1")
	task, err := h.accept(outOrg, taskID)
	if err != nil {
		t.Fatal(err)
	}
	if task.Requester != outOrg || h.edge(outOrg).Balance != InitialGrant || h.keyPolicy(taskID) != "" {
		t.Fatalf("task = %+v", task)
	}
	if h.private(outOrg, payloadObjectType, taskID) != nil {
		t.Fatal("a payload was sent without being passed")
	}
}

func TestQueriesAndHistory(t *testing.T) {
	h := newHarness(t)
	h.setup(stageSettled)
	h.must(h.requestFull(candOrg, "t-2", deadline, 10, []byte("other"), "{}"))
	hist, err := h.contract.GetTaskHistory(h.as(CloudMSPID), taskID)
	if err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for i, e := range hist {
		statuses = append(statuses, e.Value.Status)
		if e.IsDelete || e.TxID == "" || e.Timestamp < t0 || (i > 0 && e.Timestamp < hist[i-1].Timestamp) {
			t.Fatalf("entry %d = %+v", i, e)
		}
	}
	if want := "REQUESTED,SHORTLISTED,AWARDED,COMPLETED,SETTLED"; joined(statuses) != want {
		t.Fatalf("history %s, want %s", joined(statuses), want)
	}
	for status, want := range map[string]string{StatusSettled: taskID, StatusRequested: "t-2", StatusAwarded: ""} {
		tasks, err := h.contract.ListTasksByStatus(h.as(outOrg), status)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, task := range tasks {
			ids = append(ids, task.TaskID)
		}
		if joined(ids) != want {
			t.Fatalf("ListTasksByStatus(%s) = %v, want %s", status, ids, want)
		}
	}
	tasks, err := h.contract.ListTasksByOrg(h.as(outOrg), candOrg)
	if err != nil || len(tasks) != 2 || tasks[0].TaskID != taskID || tasks[1].TaskID != "t-2" {
		t.Fatalf("ListTasksByOrg(candidate) = %s, %v", mustJSON(t, tasks), err)
	}
	acct, err := h.contract.GetBalance(h.as(CloudMSPID), execOrg)
	if err != nil || mustJSON(t, acct) != `{"mspId":"Edge2MSP","balance":1000040,"reputation":510}` {
		t.Fatalf("GetBalance = %s, %v", mustJSON(t, acct), err)
	}
	audit, err := h.contract.AuditCredits(h.as(CloudMSPID))
	if err != nil || !audit.Balanced || audit.Edges != 4 || audit.Grants != 4*InitialGrant {
		t.Fatalf("audit = %+v, %v", audit, err)
	}
	for _, q := range []func(contractapi.TransactionContextInterface) error{
		func(ctx contractapi.TransactionContextInterface) error {
			_, err := h.contract.GetTaskHistory(ctx, "t-404")
			return err
		},
		func(ctx contractapi.TransactionContextInterface) error {
			_, err := h.contract.ListOffers(ctx, "t-404")
			return err
		},
		func(ctx contractapi.TransactionContextInterface) error {
			_, err := h.contract.ReadPayload(ctx, "t-404")
			return err
		},
	} {
		wantErr(t, q(h.as(reqOrg)), "task t-404 does not exist")
	}
	_, err = h.contract.ListTasksByStatus(h.as(reqOrg), "done")
	wantErr(t, err, `invalid status "done": must be one of REQUESTED, SHORTLISTED, AWARDED, COMPLETED, SETTLED, DISPUTED, EXPIRED`)
	_, err = h.contract.GetBalance(h.as(reqOrg), unregOrg)
	wantErr(t, err, "edge Edge9MSP is not registered")
	_, err = h.contract.ListTasksByOrg(h.as(reqOrg), "a b")
	wantErr(t, err, `invalid mspID "a b": must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
}

func TestEveryTransitionEmitsExactlyOneEvent(t *testing.T) {
	// run() fails any successful transaction without exactly one event; this
	// walks every kind of transition through it and checks the names.
	h := newHarness(t)
	var names []string
	step := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.last.eventName)
	}
	h.mustRegister(reqOrg, execOrg, candOrg, outOrg)
	step(h.requestFull(reqOrg, taskID, deadline, 120, payload, `{"delegateAward":true}`))
	step(h.shortlist(CloudMSPID, taskID, `["Edge2MSP","Edge3MSP"]`))
	step(h.offer(execOrg, taskID, "true", "40", "30"))
	step(h.award(CloudMSPID, taskID, execOrg, nil))
	step(h.sendPayload(reqOrg, taskID, withPayload(payload)))
	step(h.transfer(reqOrg, taskID, outOrg, nil))
	step(h.accept(outOrg, taskID))
	h.now = deadline + 1
	step(h.expire(CloudMSPID, taskID, txOpts{endorsers: []string{outOrg, execOrg}}))
	step(h.reassign(outOrg, taskID, h.now+600))
	step(h.shortlist(CloudMSPID, taskID, `["Edge3MSP"]`))
	step(h.offer(candOrg, taskID, "true", "40", "30"))
	step(h.award(outOrg, taskID, candOrg, withPayload(payload)))
	step(h.submit(candOrg, taskID, resultHex, withResult(result)))
	step(h.dispute(outOrg, taskID, "late and wrong"))
	want := "TaskRequested,TaskShortlisted,TaskOffered,TaskAwarded,PayloadSent,OwnershipProposed,OwnershipTransferred," +
		"TaskExpired,TaskReassigned,TaskShortlisted,TaskOffered,TaskAwarded,TaskCompleted,TaskDisputed"
	if joined(names) != want {
		t.Fatalf("events\n got: %s\nwant: %s", joined(names), want)
	}
	// A settlement emits TaskSettled.
	h2 := newHarness(t)
	h2.setup(stageSettled)
	h2.wantEvent(EventTaskSettled, StatusSettled, reqOrg)
}

func TestRegisterEdgeAgainKeepsTheAccount(t *testing.T) {
	h := newHarness(t)
	h.setup(stageAwarded)
	h.mustRegister(reqOrg)
	if e := h.edge(reqOrg); e.Balance != InitialGrant-awardPrice || e.Grant != InitialGrant || e.Reputation != InitialReputation {
		t.Fatalf("re-registration changed the account: %+v", e)
	}
}

func TestLegacyRecordsAreMigrated(t *testing.T) {
	h := newHarness(t)
	// Records as chaincode 0.1 wrote them: no account, no lifecycle fields,
	// no index entries.
	h.ledger.state[mustKey(t, edgeObjectType, reqOrg)] = []byte(`{"docType":"edge","mspId":"Edge1MSP","cpuCyclesPerSec":1,"memoryMB":1,"pricePerGigacycle":1,"registeredAt":1,"updatedAt":1}`)
	h.ledger.state[mustKey(t, taskObjectType, "old")] = []byte(`{"docType":"task","taskId":"old","requester":"Edge1MSP","status":"REQUESTED","cpuCycles":1,"inputBytes":1,"deadline":1750000100,"maxPrice":9,"payloadHash":"` + goodHash + `","requestedAt":1,"requestTxId":"x"}`)
	task, err := h.contract.ReadTask(h.as(reqOrg), "old")
	if err != nil || task.Candidates == nil || mustJSON(t, task.Candidates) != "[]" {
		t.Fatalf("legacy task = %+v, %v", task, err)
	}
	h.mustRegister(reqOrg)
	if e := h.edge(reqOrg); e.Grant != InitialGrant || e.Balance != InitialGrant || e.Reputation != InitialReputation || e.RegisteredAt != 1 {
		t.Fatalf("legacy edge after RegisterEdge = %+v", e)
	}
	h.mustRegister(execOrg)
	h.must(h.shortlist(CloudMSPID, "old", `["Edge2MSP"]`)) // indexes it
	tasks, err := h.contract.ListTasksByOrg(h.as(reqOrg), reqOrg)
	if err != nil || len(tasks) != 1 {
		t.Fatalf("legacy task not indexed after a transition: %v %v", tasks, err)
	}
}
