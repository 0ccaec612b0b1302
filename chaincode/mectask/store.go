package mectask

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// indexValue is stored under index keys: an empty value would be a delete.
var indexValue = []byte{0x00}

// implicitCollection names the implicit private data collection of an org.
func implicitCollection(mspID string) string { return implicitCollectionPrefix + mspID }

// normalizeTask gives records written by chaincode 0.1 the shapes of today
// (an empty candidate list rather than null).
func normalizeTask(t *Task) {
	if t.Candidates == nil {
		t.Candidates = []string{}
	}
}

// noTransient rejects a transient map on a transaction that takes none.
func noTransient(ctx contractapi.TransactionContextInterface) error {
	_, err := transientValues(ctx, nil)
	return err
}

// transientValues returns the transaction's transient map after checking
// its keys and sizes against allowed (key -> size limit).
func transientValues(ctx contractapi.TransactionContextInterface, allowed map[string]int) (map[string][]byte, error) {
	m, err := ctx.GetStub().GetTransient()
	if err != nil {
		return nil, fmt.Errorf("cannot read the transient data: %w", err)
	}
	if err := ParseTransient(m, allowed); err != nil {
		return nil, err
	}
	return m, nil
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// matchHash checks that the SHA-256 of a transient value equals a public hash.
func matchHash(what string, value []byte, hashName, want string) error {
	if got := sha256Hex(value); got != want {
		return fmt.Errorf("transient %s has sha-256 %s, which does not match the %s %s", what, got, hashName, want)
	}
	return nil
}

// privateKey is the key of a task's payload or result in a private collection.
func privateKey(ctx contractapi.TransactionContextInterface, objectType, taskID string) (string, error) {
	key, err := ctx.GetStub().CreateCompositeKey(objectType, []string{taskID})
	if err != nil {
		return "", fmt.Errorf("cannot build the private key of task %s: %w", taskID, err)
	}
	return key, nil
}

// putPrivate blind-writes a payload or result into an org's implicit
// collection. The endorsing peer need not be a member: writing needs no
// read, and the org's own endorsement (required by Fabric for writes to its
// implicit collection) delivers the data to its peers.
func putPrivate(ctx contractapi.TransactionContextInterface, mspID, objectType, taskID string, value []byte) error {
	key, err := privateKey(ctx, objectType, taskID)
	if err != nil {
		return err
	}
	if err := ctx.GetStub().PutPrivateData(implicitCollection(mspID), key, value); err != nil {
		return fmt.Errorf("cannot write the private data of org %s: %w", mspID, err)
	}
	return nil
}

// privateHashHex returns the hex SHA-256 of a private value as recorded on
// the public ledger ("" when absent). Every peer holds these hashes, so this
// is the only safe way to inspect another org's collection.
func privateHashHex(ctx contractapi.TransactionContextInterface, mspID, objectType, taskID string) (string, error) {
	if mspID == "" {
		return "", nil
	}
	key, err := privateKey(ctx, objectType, taskID)
	if err != nil {
		return "", err
	}
	h, err := ctx.GetStub().GetPrivateDataHash(implicitCollection(mspID), key)
	if err != nil {
		return "", fmt.Errorf("cannot read the private data hash of org %s: %w", mspID, err)
	}
	if len(h) == 0 {
		return "", nil
	}
	return hex.EncodeToString(h), nil
}

// relatedOrgs lists the orgs a task names (requester, executor, candidates,
// pending owner), sorted and without duplicates: the org index entries.
func relatedOrgs(t *Task) []string {
	var orgs []string
	for _, o := range append([]string{t.Requester, t.Executor, t.PendingOwner}, t.Candidates...) {
		if o != "" {
			orgs = append(orgs, o)
		}
	}
	slices.Sort(orgs)
	return slices.Compact(orgs)
}

// saveTask writes a task, maintains the status and org indexes and emits the
// task event. before is the task as read (nil for a new task). Index entries
// of the new state are always written (idempotent; this also indexes tasks
// written by chaincode 0.1); entries the task no longer matches are deleted.
// It is the bare write, below the status transition guard: transactions call
// commitTask (tasktx.go), never saveTask (the tests call it to play a
// modified chaincode).
func saveTask(ctx contractapi.TransactionContextInterface, before, after *Task, event, actor string, offer *Offer) error {
	stub := ctx.GetStub()
	key, err := taskKey(ctx, after.TaskID)
	if err != nil {
		return err
	}
	value, err := json.Marshal(after)
	if err != nil {
		return fmt.Errorf("cannot encode task %s: %w", after.TaskID, err)
	}
	if err := stub.PutState(key, value); err != nil {
		return fmt.Errorf("cannot write the world state: %w", err)
	}
	if before != nil && before.Status != after.Status {
		if err := delIndex(ctx, statusIndexType, before.Status, after.TaskID); err != nil {
			return err
		}
	}
	if err := putIndex(ctx, statusIndexType, after.Status, after.TaskID); err != nil {
		return err
	}
	now := relatedOrgs(after)
	if before != nil {
		for _, o := range relatedOrgs(before) {
			if !slices.Contains(now, o) {
				if err := delIndex(ctx, orgIndexType, o, after.TaskID); err != nil {
					return err
				}
			}
		}
	}
	for _, o := range now {
		if err := putIndex(ctx, orgIndexType, o, after.TaskID); err != nil {
			return err
		}
	}
	payload, err := json.Marshal(&TaskEvent{Task: *after, Actor: actor, Offer: offer})
	if err != nil {
		return fmt.Errorf("cannot encode the event of task %s: %w", after.TaskID, err)
	}
	if err := stub.SetEvent(event, payload); err != nil {
		return fmt.Errorf("cannot emit event %s: %w", event, err)
	}
	return nil
}

func putIndex(ctx contractapi.TransactionContextInterface, indexType, attr, taskID string) error {
	key, err := ctx.GetStub().CreateCompositeKey(indexType, []string{attr, taskID})
	if err != nil {
		return fmt.Errorf("cannot build an index key of task %s: %w", taskID, err)
	}
	if err := ctx.GetStub().PutState(key, indexValue); err != nil {
		return fmt.Errorf("cannot write the world state: %w", err)
	}
	return nil
}

func delIndex(ctx contractapi.TransactionContextInterface, indexType, attr, taskID string) error {
	key, err := ctx.GetStub().CreateCompositeKey(indexType, []string{attr, taskID})
	if err != nil {
		return fmt.Errorf("cannot build an index key of task %s: %w", taskID, err)
	}
	if err := ctx.GetStub().DelState(key); err != nil {
		return fmt.Errorf("cannot write the world state: %w", err)
	}
	return nil
}

// saveEdge writes an edge record (no event: the task event of the
// transaction is its only event).
func saveEdge(ctx contractapi.TransactionContextInterface, edge *Edge) error {
	key, err := edgeKey(ctx, edge.MSPID)
	if err != nil {
		return err
	}
	value, err := json.Marshal(edge)
	if err != nil {
		return fmt.Errorf("cannot encode edge %s: %w", edge.MSPID, err)
	}
	if err := ctx.GetStub().PutState(key, value); err != nil {
		return fmt.Errorf("cannot write the world state: %w", err)
	}
	return nil
}

// offerKey keys an offer by task, round (decimal) and edge.
func offerKey(ctx contractapi.TransactionContextInterface, taskID string, round uint64, mspID string) (string, error) {
	key, err := ctx.GetStub().CreateCompositeKey(offerObjectType, []string{taskID, strconv.FormatUint(round, 10), mspID})
	if err != nil {
		return "", fmt.Errorf("cannot build the offer key of task %s: %w", taskID, err)
	}
	return key, nil
}

// The task key's state-based endorsement policies (README "State-based
// endorsement"). Principals are the peer role of each org, as
// statebased.AddOrgs(RoleTypePeer, …) makes them.

// setAwardedTaskPolicy sets the policy of an AWARDED task:
// OR(AND(requester, executor), AND(requester, Cloud)). The requester is in
// every branch; the executor or, in its place, the Cloud (the trusted
// monitor) is the second, so that the task can still be expired after its
// deadline when the executor's org is revoked or removed and its peer can no
// longer endorse.
func setAwardedTaskPolicy(ctx contractapi.TransactionContextInterface, taskID, requester, executor string) error {
	policy, err := anyOfAll([]string{requester, executor}, []string{requester, CloudMSPID})
	if err != nil {
		return fmt.Errorf("cannot build the endorsement policy of task %s: %w", taskID, err)
	}
	return setTaskValidation(ctx, taskID, policy)
}

// setCompletedTaskPolicy sets the policy of a task with a result (COMPLETED,
// then SETTLED or DISPUTED): AND(requester, executor). Once the executor has
// delivered on time the escrow is its due, so nothing may change the task
// (Settle, Dispute) without its peer: the Cloud is no longer an alternative.
func setCompletedTaskPolicy(ctx contractapi.TransactionContextInterface, taskID, requester, executor string) error {
	policy, err := anyOfAll([]string{requester, executor})
	if err != nil {
		return fmt.Errorf("cannot build the endorsement policy of task %s: %w", taskID, err)
	}
	return setTaskValidation(ctx, taskID, policy)
}

// anyOfAll encodes a SignaturePolicyEnvelope satisfied by a peer of every
// org of at least one of the alternatives: NOutOf(1, [NOutOf(len(a), a)…]),
// or just NOutOf(len(a), a) for a single alternative (byte for byte what
// statebased.NewStateEP + AddOrgs(RoleTypePeer, a…) produce). Identities are
// the sorted distinct MSP IDs; orgs within an alternative are sorted and
// alternatives keep their order, so equal inputs give equal bytes on every
// endorsing peer.
func anyOfAll(alternatives ...[]string) ([]byte, error) {
	var ids []string
	for _, alt := range alternatives {
		if len(alt) == 0 {
			return nil, errors.New("an empty alternative")
		}
		for _, id := range alt {
			if id == "" {
				return nil, errors.New("an empty msp id")
			}
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return nil, errors.New("no alternatives")
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	identities := make([]*msp.MSPPrincipal, len(ids))
	for i, id := range ids {
		role, err := proto.Marshal(&msp.MSPRole{Role: msp.MSPRole_PEER, MspIdentifier: id})
		if err != nil {
			return nil, err
		}
		identities[i] = &msp.MSPPrincipal{PrincipalClassification: msp.MSPPrincipal_ROLE, Principal: role}
	}
	rules := make([]*common.SignaturePolicy, len(alternatives))
	for i, alt := range alternatives {
		alt = slices.Compact(slices.Sorted(slices.Values(alt)))
		signed := make([]*common.SignaturePolicy, len(alt))
		for j, id := range alt {
			index, _ := slices.BinarySearch(ids, id)
			signed[j] = &common.SignaturePolicy{Type: &common.SignaturePolicy_SignedBy{SignedBy: int32(index)}}
		}
		rules[i] = nOutOf(len(signed), signed)
	}
	rule := rules[0]
	if len(rules) > 1 {
		rule = nOutOf(1, rules)
	}
	return proto.MarshalOptions{Deterministic: true}.Marshal(&common.SignaturePolicyEnvelope{Version: 0, Rule: rule, Identities: identities})
}

func nOutOf(n int, rules []*common.SignaturePolicy) *common.SignaturePolicy {
	return &common.SignaturePolicy{Type: &common.SignaturePolicy_NOutOf_{NOutOf: &common.SignaturePolicy_NOutOf{N: int32(n), Rules: rules}}}
}

// clearTaskEndorsers removes the task key's state-based endorsement policy:
// the chaincode's endorsement policy applies again.
func clearTaskEndorsers(ctx contractapi.TransactionContextInterface, taskID string) error {
	return setTaskValidation(ctx, taskID, nil)
}

func setTaskValidation(ctx contractapi.TransactionContextInterface, taskID string, policy []byte) error {
	key, err := taskKey(ctx, taskID)
	if err != nil {
		return err
	}
	if err := ctx.GetStub().SetStateValidationParameter(key, policy); err != nil {
		return fmt.Errorf("cannot set the endorsement policy of task %s: %w", taskID, err)
	}
	return nil
}

// requireStatus checks that a task is in one of the given statuses.
func requireStatus(t *Task, allowed ...TaskStatus) error {
	if slices.Contains(allowed, t.Status) {
		return nil
	}
	if len(allowed) == 1 {
		return fmt.Errorf("task %s is in status %s, not %s", t.TaskID, t.Status, allowed[0])
	}
	return fmt.Errorf("task %s is in status %s, not one of %s", t.TaskID, t.Status, strings.Join(allowed, ", "))
}

// requireBeforeDeadline checks that the transaction time is not past the
// task's deadline (the deadline second itself is still in time).
func requireBeforeDeadline(t *Task, now int64) error {
	if now > t.Deadline {
		return fmt.Errorf("task %s passed its deadline %d at transaction time %d", t.TaskID, t.Deadline, now)
	}
	return nil
}

func requireRequester(t *Task, caller string) error {
	if caller != t.Requester {
		return fmt.Errorf("org %s is not the requester of task %s", caller, t.TaskID)
	}
	return nil
}

func requireExecutor(t *Task, caller string) error {
	if t.Executor == "" || caller != t.Executor {
		return fmt.Errorf("org %s is not the executor of task %s", caller, t.TaskID)
	}
	return nil
}

// addReputation and subReputation keep reputation within [0, MaxReputation].
func addReputation(e *Edge, n uint64) {
	e.Reputation = min(e.Reputation+n, MaxReputation)
}

func subReputation(e *Edge, n uint64) {
	if e.Reputation < n {
		e.Reputation = 0
		return
	}
	e.Reputation -= n
}

// touch records the transaction on a task being written.
func touch(ctx contractapi.TransactionContextInterface, t *Task, now int64) {
	t.UpdatedAt = now
	t.LastTxID = ctx.GetStub().GetTxID()
}
