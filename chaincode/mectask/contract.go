package mectask

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-contract-api-go/v2/metadata"
)

// ContractName is the default contract name: callers may invoke
// "RegisterEdge" or, equivalently, "mectask:RegisterEdge".
const ContractName = "mectask"

// Version is reported in the contract metadata (org.hyperledger.fabric:GetMetadata).
const Version = "0.4.0"

// TaskContract is the mec-fabric task-sharing contract. Every exported method
// except GetEvaluateTransactions is a chaincode transaction; helpers are
// unexported on purpose.
type TaskContract struct {
	contractapi.Contract

	// endorserMSPID, when set, is the MSP ID of the peer this chaincode
	// server endorses for; writes are then accepted only from clients of
	// that same org (see WithEndorserMSPID).
	endorserMSPID string

	// clock is this peer's clock in Unix seconds, maxSkew the most a write
	// transaction's timestamp may differ from it (see WithClock).
	clock   func() int64
	maxSkew int64
}

// DefaultMaxSkewSeconds is how far, by default, a write transaction's
// timestamp may be from the endorsing peer's clock (MECTASK_MAX_SKEW_SECONDS).
// Fabric's own check (peer.authentication.timewindow) allows 15 minutes.
const DefaultMaxSkewSeconds = 30

// WithClock sets the endorsing peer's clock (Unix seconds) and the most a
// write transaction's timestamp may differ from it, in seconds. A proposal
// outside that bound is refused at endorsement; only the refusal depends on
// the local clock, never what is written (that uses the transaction
// timestamp, identical at every endorser). maxSkewSeconds must be positive.
func WithClock(now func() int64, maxSkewSeconds int64) Option {
	return func(c *TaskContract) { c.clock, c.maxSkew = now, maxSkewSeconds }
}

// Option configures a TaskContract.
type Option func(*TaskContract)

// WithEndorserMSPID makes every write transaction fail unless the client's
// MSP ID equals mspID, the MSP ID of the endorsing peer. It only suits an
// endorsement policy where each org endorses its own writes (e.g. a client
// sends its proposals to its own org's peer); with a policy needing peers of
// several orgs the other orgs' peers would refuse. Empty means no check.
func WithEndorserMSPID(mspID string) Option {
	return func(c *TaskContract) { c.endorserMSPID = mspID }
}

// NewTaskContract builds the contract with its name and metadata set.
func NewTaskContract(opts ...Option) *TaskContract {
	c := &TaskContract{clock: func() int64 { return time.Now().Unix() }, maxSkew: DefaultMaxSkewSeconds}
	c.Name = ContractName
	c.Info = metadata.InfoMetadata{
		Title:       "MEC task sharing",
		Description: "Task sharing between MEC edge servers: requests, shortlists, offers, awards, private payloads and results, credits and reputation",
		Version:     Version,
	}
	for _, opt := range opts {
		opt(c)
	}
	return c
}

// GetEvaluateTransactions marks the read-only transactions in the metadata.
func (c *TaskContract) GetEvaluateTransactions() []string {
	return []string{
		"GetEdge", "ListEdges", "ReadTask", "TaskExists", "GetBalance", "GetTaskHistory",
		"ListTasksByStatus", "ListTasksByOrg", "ListOffers", "ReadPayload", "ReadResult",
		"VerifyPayload", "VerifyResult", "AuditCredits",
	}
}

// RegisterEdge registers (or, called again, updates) the capacity of the
// caller's org as an edge. The edge's key is the caller's MSP ID, taken from
// the client identity. The first registration grants InitialGrant credits
// and InitialReputation; later ones keep the account. Emits EdgeRegistered
// with the edge JSON.
func (c *TaskContract) RegisterEdge(ctx contractapi.TransactionContextInterface, cpuCyclesPerSec, memoryMB, pricePerGigacycle string) (*Edge, error) {
	capacity, err := ParseEdgeCapacity(cpuCyclesPerSec, memoryMB, pricePerGigacycle)
	if err != nil {
		return nil, err
	}
	if err := noTransient(ctx); err != nil {
		return nil, err
	}
	mspID, err := c.writerMSPID(ctx)
	if err != nil {
		return nil, err
	}
	if mspID == CloudMSPID {
		return nil, fmt.Errorf("org %s is the cloud and cannot register as an edge", mspID)
	}
	now, err := c.txSeconds(ctx)
	if err != nil {
		return nil, err
	}
	key, err := edgeKey(ctx, mspID)
	if err != nil {
		return nil, err
	}
	var previous Edge
	found, err := readJSON(ctx, key, "edge "+mspID, &previous)
	if err != nil {
		return nil, err
	}
	edge := &previous
	if !found {
		edge = &Edge{RegisteredAt: now}
	}
	edge.DocType = DocTypeEdge
	edge.MSPID = mspID
	edge.CPUCyclesPerSec = capacity.CPUCyclesPerSec
	edge.MemoryMB = capacity.MemoryMB
	edge.PricePerGigacycle = capacity.PricePerGigacycle
	edge.UpdatedAt = now
	if edge.Grant == 0 {
		// First registration (or an edge registered by chaincode 0.1,
		// which had no accounts): grant the credits once.
		edge.Grant = InitialGrant
		edge.Balance += InitialGrant
		edge.Reputation = InitialReputation
	}
	if err := writeJSON(ctx, key, edge, EventEdgeRegistered); err != nil {
		return nil, err
	}
	return edge, nil
}

// GetEdge returns the registered edge of the given MSP ID.
func (c *TaskContract) GetEdge(ctx contractapi.TransactionContextInterface, mspID string) (*Edge, error) {
	if _, err := ParseID("mspID", mspID); err != nil {
		return nil, err
	}
	if err := noTransient(ctx); err != nil {
		return nil, err
	}
	return getEdge(ctx, mspID)
}

// ListEdges returns every registered edge, sorted by MSP ID ([] when none).
func (c *TaskContract) ListEdges(ctx contractapi.TransactionContextInterface) ([]*Edge, error) {
	if err := noTransient(ctx); err != nil {
		return nil, err
	}
	return listEdges(ctx)
}

func listEdges(ctx contractapi.TransactionContextInterface) ([]*Edge, error) {
	iter, err := ctx.GetStub().GetStateByPartialCompositeKey(edgeObjectType, []string{})
	if err != nil {
		return nil, fmt.Errorf("cannot list edges: %w", err)
	}
	defer func() { _ = iter.Close() }()
	edges := []*Edge{}
	for iter.HasNext() {
		kv, err := iter.Next()
		if err != nil {
			return nil, fmt.Errorf("cannot list edges: %w", err)
		}
		var edge Edge
		if err := json.Unmarshal(kv.GetValue(), &edge); err != nil {
			return nil, fmt.Errorf("stored edge under key %q is corrupt: %w", kv.GetKey(), err)
		}
		edges = append(edges, &edge)
	}
	// The key range is already in MSP ID order; sorting again keeps the
	// contract independent of how a state database orders keys.
	slices.SortFunc(edges, func(a, b *Edge) int { return strings.Compare(a.MSPID, b.MSPID) })
	return edges, nil
}

// RequestTask publishes a task requested by the caller's org, which must be a
// registered edge. Every argument is validated before the ledger is read. The
// optional transient "payload" (whose SHA-256 must equal payloadHash) is
// stored in the requester's implicit private collection. Emits TaskRequested.
func (c *TaskContract) RequestTask(ctx contractapi.TransactionContextInterface, taskID, cpuCycles, inputBytes, deadlineUnixSeconds, maxPrice, payloadHash string) (*Task, error) {
	return c.requestTask(ctx, taskID, cpuCycles, inputBytes, deadlineUnixSeconds, maxPrice, payloadHash, "{}")
}

// RequestTaskWithOptions is RequestTask with a JSON options object, e.g.
// {"delegateAward":true} to let the Cloud award the task.
func (c *TaskContract) RequestTaskWithOptions(ctx contractapi.TransactionContextInterface, taskID, cpuCycles, inputBytes, deadlineUnixSeconds, maxPrice, payloadHash, options string) (*Task, error) {
	return c.requestTask(ctx, taskID, cpuCycles, inputBytes, deadlineUnixSeconds, maxPrice, payloadHash, options)
}

func (c *TaskContract) requestTask(ctx contractapi.TransactionContextInterface, taskID, cpuCycles, inputBytes, deadlineUnixSeconds, maxPrice, payloadHash, options string) (*Task, error) {
	now, err := c.txSeconds(ctx)
	if err != nil {
		return nil, err
	}
	req, err := ParseTaskRequest(taskID, cpuCycles, inputBytes, deadlineUnixSeconds, maxPrice, payloadHash, now)
	if err != nil {
		return nil, err
	}
	opts, err := ParseRequestOptions("options", options)
	if err != nil {
		return nil, err
	}
	payload, err := readTransient(ctx, optionalPayload.matching("payloadHash", req.PayloadHash))
	if err != nil {
		return nil, err
	}
	mspID, err := c.writerMSPID(ctx)
	if err != nil {
		return nil, err
	}
	if mspID == CloudMSPID {
		return nil, fmt.Errorf("org %s is the cloud and cannot request tasks", mspID)
	}
	if _, err := getEdge(ctx, mspID); err != nil {
		return nil, err
	}
	key, err := taskKey(ctx, req.TaskID)
	if err != nil {
		return nil, err
	}
	exists, err := keyExists(ctx, key)
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, fmt.Errorf("task %s already exists", req.TaskID)
	}
	txID := ctx.GetStub().GetTxID()
	task := &Task{
		DocType:       DocTypeTask,
		TaskID:        req.TaskID,
		Requester:     mspID,
		Status:        StatusRequested,
		CPUCycles:     req.CPUCycles,
		InputBytes:    req.InputBytes,
		Deadline:      req.Deadline,
		MaxPrice:      req.MaxPrice,
		PayloadHash:   req.PayloadHash,
		RequestedAt:   now,
		RequestTxID:   txID,
		DelegateAward: opts.DelegateAward,
		Candidates:    []string{},
		UpdatedAt:     now,
		LastTxID:      txID,
	}
	if err := commitTask(ctx, nil, task, EventTaskRequested, mspID); err != nil {
		return nil, err
	}
	if p, ok := payload[TransientPayload]; ok {
		if err := putPrivate(ctx, mspID, payloadObjectType, task.TaskID, p); err != nil {
			return nil, err
		}
	}
	return task, nil
}

// ReadTask returns the task with the given ID.
func (c *TaskContract) ReadTask(ctx contractapi.TransactionContextInterface, taskID string) (*Task, error) {
	tx, err := openTaskQuery(ctx, taskID, nil)
	if err != nil {
		return nil, err
	}
	return tx.task, nil
}

// loadTask reads a task that must exist.
func loadTask(ctx contractapi.TransactionContextInterface, taskID string) (*Task, error) {
	key, err := taskKey(ctx, taskID)
	if err != nil {
		return nil, err
	}
	var task Task
	found, err := readJSON(ctx, key, "task "+taskID, &task)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("task %s does not exist", taskID)
	}
	normalizeTask(&task)
	return &task, nil
}

// TaskExists reports whether a task with the given ID exists.
func (c *TaskContract) TaskExists(ctx contractapi.TransactionContextInterface, taskID string) (bool, error) {
	if _, err := ParseID("taskID", taskID); err != nil {
		return false, err
	}
	if err := noTransient(ctx); err != nil {
		return false, err
	}
	key, err := taskKey(ctx, taskID)
	if err != nil {
		return false, err
	}
	return keyExists(ctx, key)
}

// writerMSPID returns the caller's MSP ID for a write transaction that only
// the caller's own org endorses, enforcing the optional endorsing-peer org
// check.
func (c *TaskContract) writerMSPID(ctx contractapi.TransactionContextInterface) (string, error) {
	mspID, err := callerMSPID(ctx)
	if err != nil {
		return "", err
	}
	if c.endorserMSPID != "" && mspID != c.endorserMSPID {
		return "", fmt.Errorf("client org %s does not match endorsing peer org %s", mspID, c.endorserMSPID)
	}
	return mspID, nil
}

// checkPartyEndorser enforces the optional endorsing-peer org check for a
// transaction that the parties of a task endorse: the endorsing peer's org
// must be the caller's or one of parties.
func (c *TaskContract) checkPartyEndorser(caller, taskID string, parties ...string) error {
	if c.endorserMSPID == "" || c.endorserMSPID == caller || slices.Contains(parties, c.endorserMSPID) {
		return nil
	}
	return fmt.Errorf("endorsing peer org %s is not a party to task %s", c.endorserMSPID, taskID)
}

// callerMSPID returns the MSP ID of the identity that signed the proposal.
func callerMSPID(ctx contractapi.TransactionContextInterface) (string, error) {
	ci := ctx.GetClientIdentity()
	// contractapi stores a nil *cid.ClientID when the creator cannot be parsed.
	if p, ok := ci.(*cid.ClientID); ci == nil || (ok && p == nil) {
		return "", errors.New("cannot determine the caller's msp id: no client identity")
	}
	mspID, err := ci.GetMSPID()
	if err != nil {
		return "", fmt.Errorf("cannot determine the caller's msp id: %w", err)
	}
	if mspID == "" {
		return "", errors.New("cannot determine the caller's msp id: it is empty")
	}
	return mspID, nil
}

// txSeconds returns the transaction timestamp of a write (set by the client
// and the same on every endorsing peer) in Unix seconds, refusing one that
// differs from this peer's clock by more than maxSkew: a client may not move
// "now" for deadlines, windows and expiries.
func (c *TaskContract) txSeconds(ctx contractapi.TransactionContextInterface) (int64, error) {
	ts, err := ctx.GetStub().GetTxTimestamp()
	if err != nil {
		return 0, fmt.Errorf("cannot read the transaction timestamp: %w", err)
	}
	if err := ts.CheckValid(); err != nil {
		return 0, fmt.Errorf("invalid transaction timestamp: %w", err)
	}
	stamped := ts.GetSeconds()
	if peer := c.clock(); stamped > peer+c.maxSkew || stamped < peer-c.maxSkew {
		return 0, fmt.Errorf("transaction time %d is %+d s from this peer's clock %d, more than the %d s allowed (MECTASK_MAX_SKEW_SECONDS): check the client's clock", stamped, stamped-peer, peer, c.maxSkew)
	}
	return stamped, nil
}

func edgeKey(ctx contractapi.TransactionContextInterface, mspID string) (string, error) {
	key, err := ctx.GetStub().CreateCompositeKey(edgeObjectType, []string{mspID})
	if err != nil {
		return "", fmt.Errorf("cannot build the key of edge %s: %w", mspID, err)
	}
	return key, nil
}

func taskKey(ctx contractapi.TransactionContextInterface, taskID string) (string, error) {
	key, err := ctx.GetStub().CreateCompositeKey(taskObjectType, []string{taskID})
	if err != nil {
		return "", fmt.Errorf("cannot build the key of task %s: %w", taskID, err)
	}
	return key, nil
}

func getEdge(ctx contractapi.TransactionContextInterface, mspID string) (*Edge, error) {
	key, err := edgeKey(ctx, mspID)
	if err != nil {
		return nil, err
	}
	var edge Edge
	found, err := readJSON(ctx, key, "edge "+mspID, &edge)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("edge %s is not registered", mspID)
	}
	return &edge, nil
}

func keyExists(ctx contractapi.TransactionContextInterface, key string) (bool, error) {
	value, err := ctx.GetStub().GetState(key)
	if err != nil {
		return false, fmt.Errorf("cannot read the world state: %w", err)
	}
	return value != nil, nil
}

// readJSON loads the JSON document under key into out; found is false when
// the key is absent. what names the record in errors ("task t-1").
func readJSON(ctx contractapi.TransactionContextInterface, key, what string, out any) (found bool, err error) {
	value, err := ctx.GetStub().GetState(key)
	if err != nil {
		return false, fmt.Errorf("cannot read %s: %w", what, err)
	}
	if value == nil {
		return false, nil
	}
	if err := json.Unmarshal(value, out); err != nil {
		return false, fmt.Errorf("stored %s is corrupt: %w", what, err)
	}
	return true, nil
}

// writeJSON stores v under key and emits event with the same bytes. Struct
// fields marshal in declaration order, so the bytes are deterministic.
func writeJSON(ctx contractapi.TransactionContextInterface, key string, v any, event string) error {
	value, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("cannot encode the record under key %q: %w", key, err)
	}
	if err := ctx.GetStub().PutState(key, value); err != nil {
		return fmt.Errorf("cannot write the world state: %w", err)
	}
	if err := ctx.GetStub().SetEvent(event, value); err != nil {
		return fmt.Errorf("cannot emit event %s: %w", event, err)
	}
	return nil
}
