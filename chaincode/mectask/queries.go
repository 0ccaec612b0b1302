package mectask

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// GetBalance returns an edge's credit balance and reputation.
func (c *TaskContract) GetBalance(ctx contractapi.TransactionContextInterface, mspID string) (*Account, error) {
	if _, err := ParseID("mspID", mspID); err != nil {
		return nil, err
	}
	if err := noTransient(ctx); err != nil {
		return nil, err
	}
	edge, err := getEdge(ctx, mspID)
	if err != nil {
		return nil, err
	}
	return &Account{MSPID: edge.MSPID, Balance: edge.Balance, Reputation: edge.Reputation}, nil
}

// GetTaskHistory returns every committed version of a task, oldest first
// (Fabric returns newest first; this reverses it). Needs the peer's history
// database (core.ledger.history.enableHistoryDatabase, on by default).
func (c *TaskContract) GetTaskHistory(ctx contractapi.TransactionContextInterface, taskID string) ([]*HistoryEntry, error) {
	if _, err := openTaskQuery(ctx, taskID, nil); err != nil {
		return nil, err
	}
	key, err := taskKey(ctx, taskID)
	if err != nil {
		return nil, err
	}
	iter, err := ctx.GetStub().GetHistoryForKey(key)
	if err != nil {
		return nil, fmt.Errorf("cannot read the history of task %s: %w", taskID, err)
	}
	defer func() { _ = iter.Close() }()
	entries := []*HistoryEntry{}
	for iter.HasNext() {
		m, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("cannot read the history of task %s: %w", taskID, err)
		}
		entry := &HistoryEntry{TxID: m.GetTxId(), Timestamp: m.GetTimestamp().GetSeconds(), IsDelete: m.GetIsDelete()}
		if !m.GetIsDelete() {
			var t Task
			if err := json.Unmarshal(m.GetValue(), &t); err != nil {
				return nil, fmt.Errorf("stored task %s in transaction %s is corrupt: %w", taskID, m.GetTxId(), err)
			}
			normalizeTask(&t)
			entry.Value = &t
		}
		entries = append(entries, entry)
	}
	slices.Reverse(entries)
	return entries, nil
}

// ListTasksByStatus returns the tasks in a status, sorted by task ID.
func (c *TaskContract) ListTasksByStatus(ctx contractapi.TransactionContextInterface, status string) ([]*Task, error) {
	if _, err := ParseStatus("status", status); err != nil {
		return nil, err
	}
	if err := noTransient(ctx); err != nil {
		return nil, err
	}
	return tasksFromIndex(ctx, statusIndexType, status)
}

// ListTasksByOrg returns the tasks that name an org as requester, executor,
// candidate of the current round or pending owner, sorted by task ID.
func (c *TaskContract) ListTasksByOrg(ctx contractapi.TransactionContextInterface, mspID string) ([]*Task, error) {
	if _, err := ParseID("mspID", mspID); err != nil {
		return nil, err
	}
	if err := noTransient(ctx); err != nil {
		return nil, err
	}
	return tasksFromIndex(ctx, orgIndexType, mspID)
}

// tasksFromIndex reads the tasks listed under one attribute of an index.
func tasksFromIndex(ctx contractapi.TransactionContextInterface, indexType, attr string) ([]*Task, error) {
	iter, err := ctx.GetStub().GetStateByPartialCompositeKey(indexType, []string{attr})
	if err != nil {
		return nil, fmt.Errorf("cannot list tasks: %w", err)
	}
	defer func() { _ = iter.Close() }()
	tasks := []*Task{}
	for iter.HasNext() {
		kv, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("cannot list tasks: %w", err)
		}
		_, parts, err := ctx.GetStub().SplitCompositeKey(kv.GetKey())
		if err != nil || len(parts) != 2 {
			return nil, fmt.Errorf("index key %q is corrupt", kv.GetKey())
		}
		task, err := loadTask(ctx, parts[1])
		if err != nil {
			return nil, err
		}
		tasks = append(tasks, task)
	}
	slices.SortFunc(tasks, func(a, b *Task) int { return strings.Compare(a.TaskID, b.TaskID) })
	return tasks, nil
}

// ListOffers returns the offers of a task's current round, sorted by MSP ID.
func (c *TaskContract) ListOffers(ctx contractapi.TransactionContextInterface, taskID string) ([]*Offer, error) {
	tx, err := openTaskQuery(ctx, taskID, nil)
	if err != nil {
		return nil, err
	}
	iter, err := ctx.GetStub().GetStateByPartialCompositeKey(offerObjectType, []string{taskID, strconv.FormatUint(tx.task.Round, 10)})
	if err != nil {
		return nil, fmt.Errorf("cannot list the offers of task %s: %w", taskID, err)
	}
	defer func() { _ = iter.Close() }()
	offers := []*Offer{}
	for iter.HasNext() {
		kv, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("cannot list the offers of task %s: %w", taskID, err)
		}
		var o Offer
		if err := json.Unmarshal(kv.GetValue(), &o); err != nil {
			return nil, fmt.Errorf("stored offer under key %q is corrupt: %w", kv.GetKey(), err)
		}
		offers = append(offers, &o)
	}
	slices.SortFunc(offers, func(a, b *Offer) int { return strings.Compare(a.MSPID, b.MSPID) })
	return offers, nil
}

// ReadPayload returns the payload of a task from the caller's own org's
// implicit collection: the requester's and executor's orgs (and a new owner
// that was sent it) hold it, nobody else. Evaluate it on a peer of the
// caller's own org (the Gateway's default): other peers do not hold it.
func (c *TaskContract) ReadPayload(ctx contractapi.TransactionContextInterface, taskID string) (string, error) {
	return c.readPrivate(ctx, taskID, payloadObjectType, "payload")
}

// ReadResult returns the result of a task from the caller's own org's
// implicit collection (the requester and the executor hold it).
func (c *TaskContract) ReadResult(ctx contractapi.TransactionContextInterface, taskID string) (string, error) {
	return c.readPrivate(ctx, taskID, resultObjectType, "result")
}

func (c *TaskContract) readPrivate(ctx contractapi.TransactionContextInterface, taskID, objectType, what string) (string, error) {
	tx, err := openTaskQuery(ctx, taskID, callerMSPID)
	if err != nil {
		return "", err
	}
	caller := tx.caller
	key, err := privateKey(ctx, objectType, taskID)
	if err != nil {
		return "", err
	}
	// Only ever the caller's own collection: reading another org's would
	// hand its data to the caller wherever a peer holds it.
	value, err := ctx.GetStub().GetPrivateData(implicitCollection(caller), key)
	if err != nil {
		return "", fmt.Errorf("cannot read the private data of org %s (evaluate on a peer of that org): %w", caller, err)
	}
	if value == nil {
		return "", fmt.Errorf("org %s holds no %s of task %s", caller, what, taskID)
	}
	return string(value), nil
}

// VerifyPayload checks a candidate payload (transient "payload") against
// the task's public payloadHash, and reports whether the requester's and
// the executor's collections hold a payload with that hash. Anyone may call
// it; it reveals nothing beyond what the caller already holds.
func (c *TaskContract) VerifyPayload(ctx contractapi.TransactionContextInterface, taskID string) (*PrivateCheck, error) {
	return verifyPrivate(ctx, taskID, requiredPayload, payloadObjectType)
}

// VerifyResult is VerifyPayload for the result (transient "result") against
// the public resultHash of a COMPLETED, SETTLED or DISPUTED task.
func (c *TaskContract) VerifyResult(ctx contractapi.TransactionContextInterface, taskID string) (*PrivateCheck, error) {
	return verifyPrivate(ctx, taskID, requiredResult, resultObjectType)
}

func verifyPrivate(ctx contractapi.TransactionContextInterface, taskID string, rule transientRule, objectType string) (*PrivateCheck, error) {
	tx, err := openTaskQuery(ctx, taskID, callerMSPID, rule)
	if err != nil {
		return nil, err
	}
	task, value := tx.task, tx.transient[rule.key]
	hash := task.PayloadHash
	if objectType == resultObjectType {
		if task.ResultHash == "" {
			return nil, fmt.Errorf("task %s has no result yet", taskID)
		}
		hash = task.ResultHash
	}
	check := &PrivateCheck{TaskID: taskID, Hash: hash, Matches: sha256Hex(value) == hash}
	held, err := privateHashHex(ctx, task.Requester, objectType, taskID)
	if err != nil {
		return nil, err
	}
	check.HeldByRequester = held == hash
	held, err = privateHashHex(ctx, task.Executor, objectType, taskID)
	if err != nil {
		return nil, err
	}
	check.HeldByExecutor = held == hash
	return check, nil
}

// AuditCredits sums all balances, grants and escrow; Balanced reports the
// invariant sum(balance) + sum(escrow) == sum(grant).
func (c *TaskContract) AuditCredits(ctx contractapi.TransactionContextInterface) (*CreditAudit, error) {
	if err := noTransient(ctx); err != nil {
		return nil, err
	}
	edges, err := listEdges(ctx)
	if err != nil {
		return nil, err
	}
	audit := &CreditAudit{}
	for _, e := range edges {
		audit.Edges++
		audit.Grants += e.Grant
		audit.Balances += e.Balance
	}
	iter, err := ctx.GetStub().GetStateByPartialCompositeKey(taskObjectType, []string{})
	if err != nil {
		return nil, fmt.Errorf("cannot list tasks: %w", err)
	}
	defer func() { _ = iter.Close() }()
	for iter.HasNext() {
		kv, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("cannot list tasks: %w", err)
		}
		var t Task
		if err := json.Unmarshal(kv.GetValue(), &t); err != nil {
			return nil, fmt.Errorf("stored task under key %q is corrupt: %w", kv.GetKey(), err)
		}
		audit.Escrow += t.Escrow
	}
	audit.Balanced = audit.Balances+audit.Escrow == audit.Grants
	return audit, nil
}
