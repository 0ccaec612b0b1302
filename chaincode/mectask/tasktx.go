package mectask

import (
	"fmt"
	"slices"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// taskTx holds what a transaction on an existing task has once its preamble
// has passed: steps (1) to (3) of the validation order in lifecycle.go. The
// preamble runs in this order:
//
//  1. the transaction time (write transactions only: queries do not read it);
//  2. the taskID argument, the first argument of every task transaction;
//  3. the transaction's other arguments, in order, parsed by the transaction
//     itself between beginTaskTx and load;
//  4. the transient map, against the rules the transaction accepts;
//  5. the caller's identity;
//  6. the task, which must exist.
type taskTx struct {
	now       int64             // transaction time in Unix seconds (0 in queries)
	taskID    string            // the validated taskID argument
	transient map[string][]byte // the transient map, checked against the accepted rules
	caller    string            // the caller's MSP ID ("" when not identified)
	task      *Task             // the task as read
	write     bool              // a write: its time may not precede the task's last update
}

// identifyFunc returns the caller's MSP ID: callerMSPID, or c.writerMSPID for
// a write that only the caller's own org endorses.
type identifyFunc func(contractapi.TransactionContextInterface) (string, error)

// beginTaskTx starts a write transaction on an existing task: it reads the
// transaction time and validates taskID. The transaction then parses its
// remaining arguments, in order, and calls load.
func (c *TaskContract) beginTaskTx(ctx contractapi.TransactionContextInterface, taskID string) (*taskTx, error) {
	now, err := c.txSeconds(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := ParseID("taskID", taskID); err != nil {
		return nil, err
	}
	return &taskTx{now: now, taskID: taskID, write: true}, nil
}

// openTaskTx is beginTaskTx followed by load, for a write transaction whose
// only argument is taskID.
func (c *TaskContract) openTaskTx(ctx contractapi.TransactionContextInterface, taskID string, identify identifyFunc, accepted ...transientRule) (*taskTx, error) {
	tx, err := c.beginTaskTx(ctx, taskID)
	if err != nil {
		return nil, err
	}
	if err := tx.load(ctx, identify, accepted...); err != nil {
		return nil, err
	}
	return tx, nil
}

// openTaskQuery is openTaskTx for a query: it does not read the transaction
// time. identify may be nil when the query does not identify the caller.
func openTaskQuery(ctx contractapi.TransactionContextInterface, taskID string, identify identifyFunc, accepted ...transientRule) (*taskTx, error) {
	if _, err := ParseID("taskID", taskID); err != nil {
		return nil, err
	}
	tx := &taskTx{taskID: taskID}
	if err := tx.load(ctx, identify, accepted...); err != nil {
		return nil, err
	}
	return tx, nil
}

// load ends the preamble once every argument is valid: it checks the
// transient map against accepted (none: no transient key at all), identifies
// the caller with identify (skipped when nil) and reads the task.
func (tx *taskTx) load(ctx contractapi.TransactionContextInterface, identify identifyFunc, accepted ...transientRule) error {
	var err error
	if tx.transient, err = readTransient(ctx, accepted...); err != nil {
		return err
	}
	if identify != nil {
		if tx.caller, err = identify(ctx); err != nil {
			return err
		}
	}
	if tx.task, err = loadTask(ctx, tx.taskID); err != nil {
		return err
	}
	if tx.write && tx.now < tx.task.UpdatedAt {
		return fmt.Errorf("transaction time %d is before the last update of task %s at %d: check the client's clock", tx.now, tx.taskID, tx.task.UpdatedAt)
	}
	return nil
}

// transientRule is a transient key that a transaction accepts.
type transientRule struct {
	key      string
	limit    int  // the value's size limit in bytes
	required bool // the key must be present
	// hashName, when set, names the argument hash that the SHA-256 of a
	// present value must equal.
	hashName, hash string
}

var (
	optionalPayload = transientRule{key: TransientPayload, limit: MaxPayloadBytes}
	requiredPayload = transientRule{key: TransientPayload, limit: MaxPayloadBytes, required: true}
	requiredResult  = transientRule{key: TransientResult, limit: MaxResultBytes, required: true}
)

// matching returns r requiring a present value to have the SHA-256 hash,
// given as the argument hashName.
func (r transientRule) matching(hashName, hash string) transientRule {
	r.hashName, r.hash = hashName, hash
	return r
}

// readTransient returns the transaction's transient map after checking it
// against rules: only their keys, within their limits (ParseTransient); then,
// rule by rule, a required key is present and a value matches its hash.
func readTransient(ctx contractapi.TransactionContextInterface, rules ...transientRule) (map[string][]byte, error) {
	allowed := make(map[string]int, len(rules))
	for _, r := range rules {
		allowed[r.key] = r.limit
	}
	m, err := transientValues(ctx, allowed)
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		v, ok := m[r.key]
		if !ok {
			if r.required {
				return nil, fmt.Errorf("transient %s is required", r.key)
			}
			continue
		}
		if r.hashName != "" {
			if err := matchHash(r.key, v, r.hashName, r.hash); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// The status transition guard. CanTransition (model.go) is the state
// machine, checked twice:
//
//   - before anything is written, requireTransition (step (5) of the
//     validation order of a transaction that changes the status) refuses a
//     task whose status CanTransition does not let the transaction's target
//     status follow, with the user-facing text of requireStatus;
//   - when any task is written, commitTask compares the task as read with
//     the task as written (checkTransition) and refuses any write the state
//     machine does not allow, whatever the transaction computed.
//
// saveTask (store.go) is the bare write below the guard: no transaction
// calls it directly (TestOnlyCommitTaskCallsSaveTask).

// transitionSources lists, in lifecycle order, the statuses from which
// CanTransition allows a task to move to the status to.
func transitionSources(to TaskStatus) []TaskStatus {
	var from []TaskStatus
	for _, s := range Statuses {
		if CanTransition(s, to) {
			from = append(from, s)
		}
	}
	return from
}

// requireTransition checks that a task may move to the status to: its status
// is one of transitionSources(to). The error is requireStatus's, e.g. "task
// t-1 is in status SETTLED, not one of REQUESTED, SHORTLISTED, AWARDED".
func requireTransition(t *Task, to TaskStatus) error {
	return requireStatus(t, transitionSources(to)...)
}

// isFinal reports whether no transition leaves a status (SETTLED, DISPUTED).
func isFinal(s TaskStatus) bool {
	return !slices.ContainsFunc(Statuses, func(to TaskStatus) bool { return CanTransition(s, to) })
}

// checkTransition is the state machine applied to a write: a new task
// (before is nil) starts REQUESTED; a status change is one CanTransition
// allows; a write that keeps the status (SendPayload, an ownership transfer)
// does not touch a task in a final status. Correct transactions never fail
// it: their requireTransition or requireStatus has refused the task first.
func checkTransition(before, after *Task) error {
	switch {
	case before == nil:
		if after.Status != StatusRequested {
			return fmt.Errorf("task %s cannot be created in status %s", after.TaskID, after.Status)
		}
	case before.TaskID != after.TaskID:
		return fmt.Errorf("task %s cannot be written as task %s", before.TaskID, after.TaskID)
	case before.Status != after.Status:
		if !CanTransition(before.Status, after.Status) {
			return fmt.Errorf("task %s cannot move from status %s to %s", after.TaskID, before.Status, after.Status)
		}
	case isFinal(before.Status):
		return fmt.Errorf("task %s is in the final status %s and cannot change", after.TaskID, before.Status)
	}
	return nil
}

// commitTask is the only way a transaction writes a task: checkTransition,
// then saveTask. before is the task as read (nil for a new task).
func commitTask(ctx contractapi.TransactionContextInterface, before, after *Task, event, actor string) error {
	if err := checkTransition(before, after); err != nil {
		return err
	}
	return saveTask(ctx, before, after, event, actor, nil)
}

// save writes the task as changed by the transaction, as its caller, through
// commitTask: the task read by load is the before of the guard. Transactions
// call it before their other writes (edges, private data, the key policy),
// so that a write the guard refuses leaves nothing written.
func (tx *taskTx) save(ctx contractapi.TransactionContextInterface, after *Task, event string) error {
	return commitTask(ctx, tx.task, after, event, tx.caller)
}
