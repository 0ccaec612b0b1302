package mectask

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Every transaction below follows the same order, so that the reported error
// is predictable: (1) arguments, in order, then the transient map; (2) the
// caller's identity; (3) the task exists; (4) the caller's role; (5) the
// task's status; (6) the deadline; (7) the remaining business rules. All reads
// and checks happen before the first write, so a failing transaction writes
// nothing (Fabric would discard the writes anyway; the tests check it).
// Steps (1) to (3) are the preamble in tasktx.go: beginTaskTx, the
// transaction's own arguments after taskID, then taskTx.load (or openTaskTx
// when taskID is the only argument). Step (5) of a transaction that changes
// the status is requireTransition (CanTransition to its target status), and
// every task is written by taskTx.save, first of the transaction's writes,
// which checks the written status against CanTransition once more (the guard
// in tasktx.go).

// clone copies a task so that the read version stays intact for the
// transition guard (taskTx.save) and the index maintenance of saveTask.
func (t *Task) clone() *Task {
	c := *t
	c.Candidates = slices.Clone(t.Candidates)
	return &c
}

// Shortlist is called by the Cloud: it names up to MaxShortlist registered
// edges (never the requester) as candidates for a REQUESTED or SHORTLISTED
// task, which (re)opens offers in a new round. candidates is a JSON array of
// MSP IDs, e.g. ["Edge2MSP","Edge3MSP"]. Emits TaskShortlisted.
func (c *TaskContract) Shortlist(ctx contractapi.TransactionContextInterface, taskID, candidates string) (*Task, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	ids, err := ParseCandidates("candidates", candidates)
	if err != nil {
		return nil, err
	}
	if err := tx.load(ctx, c.writerMSPID); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if caller != CloudMSPID {
		return nil, fmt.Errorf("org %s is not the cloud and cannot shortlist tasks", caller)
	}
	if err := requireTransition(task, StatusShortlisted); err != nil {
		return nil, err
	}
	if err := requireBeforeDeadline(task, now); err != nil {
		return nil, err
	}
	if slices.Contains(ids, task.Requester) {
		return nil, invalid("candidates", candidates, "the requester "+task.Requester+" cannot be a candidate")
	}
	if task.PendingOwner != "" && slices.Contains(ids, task.PendingOwner) {
		return nil, invalid("candidates", candidates, "the pending owner "+task.PendingOwner+" cannot be a candidate")
	}
	for _, id := range ids {
		if _, err := getEdge(ctx, id); err != nil {
			return nil, err
		}
	}
	after := task.clone()
	after.Status = StatusShortlisted
	after.Candidates = ids
	after.Round++
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventTaskShortlisted); err != nil {
		return nil, err
	}
	return after, nil
}

// Offer is a shortlisted edge's answer for the current round: willing
// ("true"/"false"), its price (at most the task's maxPrice) and estimated
// completion time in seconds; a refusal passes "0" for both. A later Offer in
// the same round replaces the earlier one. The task itself is not written
// (offers are separate keys). Emits TaskOffered with the offer.
func (c *TaskContract) Offer(ctx contractapi.TransactionContextInterface, taskID, willing, price, estimatedSeconds string) (*Offer, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	terms, err := ParseOfferTerms(willing, price, estimatedSeconds)
	if err != nil {
		return nil, err
	}
	if err := tx.load(ctx, c.writerMSPID); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if !slices.Contains(task.Candidates, caller) {
		return nil, fmt.Errorf("org %s is not shortlisted for task %s", caller, taskID)
	}
	if err := requireStatus(task, StatusShortlisted); err != nil {
		return nil, err
	}
	if err := requireBeforeDeadline(task, now); err != nil {
		return nil, err
	}
	if terms.Price > task.MaxPrice {
		return nil, invalid("price", price, fmt.Sprintf("must be at most the maxPrice %d of task %s", task.MaxPrice, taskID))
	}
	offer := &Offer{
		DocType:          DocTypeOffer,
		TaskID:           taskID,
		Round:            task.Round,
		MSPID:            caller,
		Willing:          terms.Willing,
		Price:            terms.Price,
		EstimatedSeconds: terms.EstimatedSeconds,
		OfferedAt:        now,
		TxID:             ctx.GetStub().GetTxID(),
	}
	key, err := offerKey(ctx, taskID, task.Round, caller)
	if err != nil {
		return nil, err
	}
	value, err := json.Marshal(offer)
	if err != nil {
		return nil, fmt.Errorf("cannot encode the offer of %s: %w", caller, err)
	}
	if err := ctx.GetStub().PutState(key, value); err != nil {
		return nil, fmt.Errorf("cannot write the world state: %w", err)
	}
	event, err := json.Marshal(&TaskEvent{Task: *task, Actor: caller, Offer: offer})
	if err != nil {
		return nil, fmt.Errorf("cannot encode the event of task %s: %w", taskID, err)
	}
	if err := ctx.GetStub().SetEvent(EventTaskOffered, event); err != nil {
		return nil, fmt.Errorf("cannot emit event %s: %w", EventTaskOffered, err)
	}
	return offer, nil
}

// Award makes the contract between the requester and a candidate that
// offered willingly in the current round, at that offer's price, which the
// caller names (price): if the committed offer is another, the award is
// refused, so an offer raised after the choice is never paid. Called by
// the requester, who passes the payload as transient "payload" (it is
// blind-written to the executor's implicit collection); or by the Cloud when
// the task was requested with delegateAward, without payload (the requester
// then calls SendPayload). The price moves from the requester's balance to
// the task's escrow, and from now on the task key requires endorsements of
// the requester's peer and of the executor's or (for an expiry after the
// deadline) the Cloud's peer (setAwardedTaskPolicy). Emits TaskAwarded.
func (c *TaskContract) Award(ctx contractapi.TransactionContextInterface, taskID, executorMSPID, price string) (*Task, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if _, err := ParseID("executorMSPID", executorMSPID); err != nil {
		return nil, err
	}
	accepted, err := ParseQuantity("price", price)
	if err != nil {
		return nil, err
	}
	if err := tx.load(ctx, callerMSPID, optionalPayload); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if caller != task.Requester {
		if caller != CloudMSPID {
			return nil, requireRequester(task, caller)
		}
		if !task.DelegateAward {
			return nil, fmt.Errorf("org %s may not award task %s: the requester did not delegate the award", caller, taskID)
		}
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, executorMSPID); err != nil {
		return nil, err
	}
	if err := requireTransition(task, StatusAwarded); err != nil {
		return nil, err
	}
	if err := requireBeforeDeadline(task, now); err != nil {
		return nil, err
	}
	if !slices.Contains(task.Candidates, executorMSPID) {
		return nil, fmt.Errorf("org %s is not shortlisted for task %s", executorMSPID, taskID)
	}
	key, err := offerKey(ctx, taskID, task.Round, executorMSPID)
	if err != nil {
		return nil, err
	}
	var offer Offer
	found, err := readJSON(ctx, key, "offer of "+executorMSPID, &offer)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("edge %s has made no offer for task %s", executorMSPID, taskID)
	}
	if !offer.Willing {
		return nil, fmt.Errorf("edge %s declined task %s", executorMSPID, taskID)
	}
	if offer.Price != accepted {
		return nil, fmt.Errorf("the offer of %s for task %s is now %d, not the accepted price %d: award again at the current offer if it suits", executorMSPID, taskID, offer.Price, accepted)
	}
	if offer.Price > task.MaxPrice { // cannot happen: Offer checks it
		return nil, fmt.Errorf("the offer price %d of %s exceeds the maxPrice %d of task %s", offer.Price, executorMSPID, task.MaxPrice, taskID)
	}
	payload, hasPayload := tx.transient[TransientPayload]
	if caller == task.Requester {
		if !hasPayload {
			return nil, fmt.Errorf("transient %s is required", TransientPayload)
		}
		if err := matchHash(TransientPayload, payload, "payloadHash", task.PayloadHash); err != nil {
			return nil, err
		}
	} else if hasPayload {
		return nil, fmt.Errorf("org %s may not send the payload of task %s", caller, taskID)
	}
	requester, err := getEdge(ctx, task.Requester)
	if err != nil {
		return nil, err
	}
	if _, err := getEdge(ctx, executorMSPID); err != nil {
		return nil, err
	}
	if requester.Balance < offer.Price {
		return nil, fmt.Errorf("edge %s has balance %d, less than the price %d of task %s", requester.MSPID, requester.Balance, offer.Price, taskID)
	}

	requester.Balance -= offer.Price
	after := task.clone()
	after.Status = StatusAwarded
	after.Executor = executorMSPID
	after.Price = offer.Price
	after.EstimatedSeconds = offer.EstimatedSeconds
	after.Escrow = offer.Price
	after.AwardedAt = now
	after.PayloadDelivered = hasPayload
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventTaskAwarded); err != nil {
		return nil, err
	}
	if err := saveEdge(ctx, requester); err != nil {
		return nil, err
	}
	if hasPayload {
		if err := putPrivate(ctx, executorMSPID, payloadObjectType, taskID, payload); err != nil {
			return nil, err
		}
	}
	if err := setAwardedTaskPolicy(ctx, taskID, task.Requester, executorMSPID); err != nil {
		return nil, err
	}
	return after, nil
}

// SendPayload is called by the requester of an AWARDED task to (re)deliver
// the payload (transient "payload") into the executor's implicit collection,
// e.g. after the Cloud awarded it. Emits PayloadSent.
func (c *TaskContract) SendPayload(ctx contractapi.TransactionContextInterface, taskID string) (*Task, error) {
	tx, err := c.openTaskTx(ctx, taskID, callerMSPID, requiredPayload)
	if err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	payload := tx.transient[TransientPayload]
	if err := requireRequester(task, caller); err != nil {
		return nil, err
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, task.Executor); err != nil {
		return nil, err
	}
	if err := requireStatus(task, StatusAwarded); err != nil {
		return nil, err
	}
	if err := matchHash(TransientPayload, payload, "payloadHash", task.PayloadHash); err != nil {
		return nil, err
	}
	after := task.clone()
	after.PayloadDelivered = true
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventPayloadSent); err != nil {
		return nil, err
	}
	if err := putPrivate(ctx, task.Executor, payloadObjectType, taskID, payload); err != nil {
		return nil, err
	}
	return after, nil
}

// SubmitResult is called by the executor of an AWARDED task, no later than
// its deadline: resultHash (SHA-256, hex) goes on the public state, the
// result itself (transient "result") into the requester's and the executor's
// implicit collections. The task key's policy narrows to requester AND
// executor. Emits TaskCompleted.
func (c *TaskContract) SubmitResult(ctx contractapi.TransactionContextInterface, taskID, resultHash string) (*Task, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	hash, err := ParseHash("resultHash", resultHash)
	if err != nil {
		return nil, err
	}
	if err := tx.load(ctx, callerMSPID, requiredResult.matching("resultHash", hash)); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	result := tx.transient[TransientResult]
	if err := requireExecutor(task, caller); err != nil {
		return nil, err
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, task.Executor); err != nil {
		return nil, err
	}
	if err := requireTransition(task, StatusCompleted); err != nil {
		return nil, err
	}
	if err := requireBeforeDeadline(task, now); err != nil {
		return nil, err
	}
	after := task.clone()
	after.Status = StatusCompleted
	after.ResultHash = hash
	after.CompletedAt = now
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventTaskCompleted); err != nil {
		return nil, err
	}
	for _, org := range []string{task.Requester, task.Executor} {
		if err := putPrivate(ctx, org, resultObjectType, taskID, result); err != nil {
			return nil, err
		}
	}
	// The result is in: from now on only requester AND executor may change
	// the task (Settle, Dispute), never requester and Cloud.
	if err := setCompletedTaskPolicy(ctx, taskID, task.Requester, task.Executor); err != nil {
		return nil, err
	}
	return after, nil
}

// Settle accepts the result of a COMPLETED task: the escrow goes to the
// executor, whose reputation rises by ReputationSettled. Called by the
// requester at any time, or by the executor once the dispute window
// (DisputeWindowSeconds after the result) has closed. Emits TaskSettled.
func (c *TaskContract) Settle(ctx contractapi.TransactionContextInterface, taskID string) (*Task, error) {
	tx, err := c.openTaskTx(ctx, taskID, callerMSPID)
	if err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	byExecutor := task.Executor != "" && caller == task.Executor
	if !byExecutor {
		if err := requireRequester(task, caller); err != nil {
			return nil, err
		}
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, task.Executor); err != nil {
		return nil, err
	}
	if err := requireTransition(task, StatusSettled); err != nil {
		return nil, err
	}
	if closes := task.CompletedAt + DisputeWindowSeconds; byExecutor && now < closes {
		return nil, fmt.Errorf("org %s may settle task %s only from time %d, when its dispute window closes", caller, taskID, closes)
	}
	executor, err := getEdge(ctx, task.Executor)
	if err != nil {
		return nil, err
	}
	executor.Balance += task.Escrow
	addReputation(executor, ReputationSettled)
	executor.SettledTasks++
	after := task.clone()
	after.Status = StatusSettled
	after.Escrow = 0
	after.ClosedAt = now
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventTaskSettled); err != nil {
		return nil, err
	}
	if err := saveEdge(ctx, executor); err != nil {
		return nil, err
	}
	return after, nil
}

// Dispute rejects the result of a COMPLETED task, by its requester, within
// the dispute window. The outcome is final and fixed (no arbiter can see the
// private result): the executor receives floor(escrow/2), the requester gets
// the rest back; the executor loses ReputationDisputedExecutor and the
// requester ReputationDisputedRequester. reason (1..MaxReasonBytes, public)
// is recorded. Emits TaskDisputed.
func (c *TaskContract) Dispute(ctx contractapi.TransactionContextInterface, taskID, reason string) (*Task, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if _, err := ParseReason("reason", reason); err != nil {
		return nil, err
	}
	if err := tx.load(ctx, callerMSPID); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if err := requireRequester(task, caller); err != nil {
		return nil, err
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, task.Executor); err != nil {
		return nil, err
	}
	if err := requireTransition(task, StatusDisputed); err != nil {
		return nil, err
	}
	if closes := task.CompletedAt + DisputeWindowSeconds; now >= closes {
		return nil, fmt.Errorf("the dispute window of task %s closed at time %d", taskID, closes)
	}
	executor, err := getEdge(ctx, task.Executor)
	if err != nil {
		return nil, err
	}
	requester, err := getEdge(ctx, task.Requester)
	if err != nil {
		return nil, err
	}
	toExecutor := task.Escrow / 2
	executor.Balance += toExecutor
	subReputation(executor, ReputationDisputedExecutor)
	executor.DisputedTasks++
	requester.Balance += task.Escrow - toExecutor
	subReputation(requester, ReputationDisputedRequester)
	after := task.clone()
	after.Status = StatusDisputed
	after.Escrow = 0
	after.DisputeReason = reason
	after.ClosedAt = now
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventTaskDisputed); err != nil {
		return nil, err
	}
	for _, e := range []*Edge{executor, requester} {
		if err := saveEdge(ctx, e); err != nil {
			return nil, err
		}
	}
	return after, nil
}

// Expire closes a REQUESTED, SHORTLISTED or AWARDED task whose deadline has
// passed (transaction time > deadline) without a result. Its requester, its
// executor or the Cloud may call it; a pending ownership transfer lapses.
// For an AWARDED task the escrow returns to the requester, the executor
// loses ReputationExpired, and the task key's state-based endorsement policy
// is removed so that Reassign needs only the requester. An AWARDED task is
// endorsed by the requester's peer and the executor's or the Cloud's peer:
// the latter when the executor's org was revoked or removed. Emits
// TaskExpired.
func (c *TaskContract) Expire(ctx contractapi.TransactionContextInterface, taskID string) (*Task, error) {
	tx, err := c.openTaskTx(ctx, taskID, callerMSPID)
	if err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if caller != task.Requester && caller != CloudMSPID && (task.Executor == "" || caller != task.Executor) {
		return nil, fmt.Errorf("org %s may not expire task %s: only its requester, its executor or the Cloud may", caller, taskID)
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, task.Executor, CloudMSPID); err != nil {
		return nil, err
	}
	if err := requireTransition(task, StatusExpired); err != nil {
		return nil, err
	}
	if now <= task.Deadline {
		return nil, fmt.Errorf("task %s is not past its deadline %d at transaction time %d", taskID, task.Deadline, now)
	}
	var edges []*Edge
	if task.Status == StatusAwarded {
		requester, err := getEdge(ctx, task.Requester)
		if err != nil {
			return nil, err
		}
		executor, err := getEdge(ctx, task.Executor)
		if err != nil {
			return nil, err
		}
		requester.Balance += task.Escrow
		subReputation(executor, ReputationExpired)
		executor.ExpiredTasks++
		edges = []*Edge{requester, executor}
	}
	after := task.clone()
	after.Status = StatusExpired
	after.Escrow = 0
	after.PendingOwner = "" // a transfer proposed for an open task lapses with it
	after.ClosedAt = now
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventTaskExpired); err != nil {
		return nil, err
	}
	for _, e := range edges {
		if err := saveEdge(ctx, e); err != nil {
			return nil, err
		}
	}
	if task.Status == StatusAwarded {
		if err := clearTaskEndorsers(ctx, taskID); err != nil {
			return nil, err
		}
	}
	return after, nil
}

// Reassign reopens an EXPIRED task with a new deadline, by its requester:
// back to REQUESTED with no candidates and no executor, ready for the Cloud
// to shortlist again (a new round). Emits TaskReassigned.
func (c *TaskContract) Reassign(ctx contractapi.TransactionContextInterface, taskID, deadlineUnixSeconds string) (*Task, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	deadline, err := ParseDeadline("deadlineUnixSeconds", deadlineUnixSeconds, tx.now)
	if err != nil {
		return nil, err
	}
	if err := tx.load(ctx, c.writerMSPID); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if err := requireRequester(task, caller); err != nil {
		return nil, err
	}
	if err := requireTransition(task, StatusRequested); err != nil {
		return nil, err
	}
	after := task.clone()
	after.Status = StatusRequested
	after.Deadline = deadline
	after.Candidates = []string{}
	after.Executor = ""
	after.Price = 0
	after.EstimatedSeconds = 0
	after.AwardedAt = 0
	after.PayloadDelivered = false
	after.ClosedAt = 0
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventTaskReassigned); err != nil {
		return nil, err
	}
	return after, nil
}

// TransferOwnership is step one of handing the requester role of an open
// (REQUESTED, SHORTLISTED or AWARDED) task to another registered edge: the
// current requester names the new owner, who must then call
// AcceptOwnership. The optional transient "payload" is blind-written to the
// new owner's implicit collection. Proposing again replaces the pending
// owner. Emits OwnershipProposed.
func (c *TaskContract) TransferOwnership(ctx contractapi.TransactionContextInterface, taskID, newOwnerMSPID string) (*Task, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if _, err := ParseID("newOwnerMSPID", newOwnerMSPID); err != nil {
		return nil, err
	}
	if err := tx.load(ctx, callerMSPID, optionalPayload); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if err := requireRequester(task, caller); err != nil {
		return nil, err
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, task.Executor, newOwnerMSPID); err != nil {
		return nil, err
	}
	if err := requireStatus(task, openStatuses...); err != nil {
		return nil, err
	}
	if err := checkNewOwner(ctx, task, newOwnerMSPID); err != nil {
		return nil, err
	}
	payload, hasPayload := tx.transient[TransientPayload]
	if hasPayload {
		if err := matchHash(TransientPayload, payload, "payloadHash", task.PayloadHash); err != nil {
			return nil, err
		}
	}
	after := task.clone()
	after.PendingOwner = newOwnerMSPID
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventOwnershipProposed); err != nil {
		return nil, err
	}
	if hasPayload {
		if err := putPrivate(ctx, newOwnerMSPID, payloadObjectType, taskID, payload); err != nil {
			return nil, err
		}
	}
	return after, nil
}

// AcceptOwnership is step two: the pending owner takes the requester role of
// the still-open task. If the task holds escrow, the new owner pays the old
// owner that amount (the obligation and the refund right move together), and
// an AWARDED task's endorsement policy becomes OR(AND(new owner, executor),
// AND(new owner, Cloud)). maxEscrow is the most the new owner agrees to pay:
// a task holding more is refused. The old owner's delegation of the award
// is cleared. Emits OwnershipTransferred.
func (c *TaskContract) AcceptOwnership(ctx contractapi.TransactionContextInterface, taskID, maxEscrow string) (*Task, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	most, err := ParseAmount("maxEscrow", maxEscrow)
	if err != nil {
		return nil, err
	}
	if err := tx.load(ctx, callerMSPID); err != nil {
		return nil, err
	}
	task, caller, now := tx.task, tx.caller, tx.now
	if task.PendingOwner == "" {
		return nil, fmt.Errorf("task %s has no pending ownership transfer", taskID)
	}
	if caller != task.PendingOwner {
		return nil, fmt.Errorf("org %s is not the pending owner of task %s", caller, taskID)
	}
	if err := c.checkPartyEndorser(caller, taskID, task.Requester, task.Executor); err != nil {
		return nil, err
	}
	if err := requireStatus(task, openStatuses...); err != nil {
		return nil, err
	}
	if err := checkNewOwner(ctx, task, caller); err != nil {
		return nil, err
	}
	if task.Escrow > most {
		return nil, fmt.Errorf("task %s holds escrow %d, more than the %d org %s agreed to pay", taskID, task.Escrow, most, caller)
	}
	var edges []*Edge
	if task.Escrow > 0 {
		newOwner, err := getEdge(ctx, caller)
		if err != nil {
			return nil, err
		}
		oldOwner, err := getEdge(ctx, task.Requester)
		if err != nil {
			return nil, err
		}
		if newOwner.Balance < task.Escrow {
			return nil, fmt.Errorf("edge %s has balance %d, less than the escrow %d of task %s", caller, newOwner.Balance, task.Escrow, taskID)
		}
		newOwner.Balance -= task.Escrow
		oldOwner.Balance += task.Escrow
		edges = []*Edge{newOwner, oldOwner}
	}
	after := task.clone()
	after.Requester = caller
	after.PendingOwner = ""
	after.DelegateAward = false // the old owner's delegation is not the new owner's consent
	touch(ctx, after, now)
	if err := tx.save(ctx, after, EventOwnershipTransferred); err != nil {
		return nil, err
	}
	for _, e := range edges {
		if err := saveEdge(ctx, e); err != nil {
			return nil, err
		}
	}
	if task.Status == StatusAwarded {
		if err := setAwardedTaskPolicy(ctx, taskID, caller, task.Executor); err != nil {
			return nil, err
		}
	}
	return after, nil
}

// checkNewOwner checks that an org may become the requester of a task.
func checkNewOwner(ctx contractapi.TransactionContextInterface, task *Task, mspID string) error {
	switch {
	case mspID == task.Requester:
		return fmt.Errorf("org %s already owns task %s", mspID, task.TaskID)
	case mspID == CloudMSPID:
		return fmt.Errorf("org %s is the cloud and cannot own tasks", mspID)
	case mspID == task.Executor:
		return fmt.Errorf("org %s is the executor of task %s and cannot own it", mspID, task.TaskID)
	case slices.Contains(task.Candidates, mspID):
		return fmt.Errorf("org %s is shortlisted for task %s and cannot own it", mspID, task.TaskID)
	}
	_, err := getEdge(ctx, mspID)
	return err
}
