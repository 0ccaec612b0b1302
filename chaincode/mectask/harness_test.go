package mectask

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/cid"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

const (
	t0       int64 = 1_750_000_000
	goodHash       = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" // sha256("test")
)

// harness runs contract calls as successive fake transactions on one ledger.
// A call is simulated on every endorsing org's peer; the simulations must
// agree (same response, error, writes and event: what Fabric needs to
// assemble a transaction); a successful call is then validated against the
// endorsement policies the way a committing peer does (key-level policies on
// written keys, the owning org for writes to an implicit collection; the
// chaincode policy "any member peer" is met by any endorsement) and
// committed. At the end of every test the ledger's invariants are checked.
type harness struct {
	t        *testing.T
	ledger   *fakeLedger
	contract *TaskContract
	now      int64 // the next transaction's timestamp
	// peerNow, when set, is the endorsing peers' clock; otherwise it is now
	// (a client whose clock is right).
	peerNow *int64
	n       int
	last    *fakeStub
}

func newHarness(t *testing.T, opts ...Option) *harness {
	h := &harness{t: t, ledger: newFakeLedger(), now: t0}
	h.contract = NewTaskContract(append([]Option{h.peerClock()}, opts...)...)
	t.Cleanup(h.checkInvariants)
	return h
}

// peerClock sets a contract's clock to the harness's endorsing peers' clock.
func (h *harness) peerClock() Option {
	return WithClock(func() int64 {
		if h.peerNow != nil {
			return *h.peerNow
		}
		return h.now
	}, DefaultMaxSkewSeconds)
}

// ctx prepares a single-peer transaction whose peer is the caller's org.
func (h *harness) ctx(identity cid.ClientIdentity) (*contractapi.TransactionContext, *fakeStub) {
	h.n++
	stub := newFakeStub(h.ledger, fmt.Sprintf("tx%03d", h.n), h.now)
	if identity != nil {
		if id, ok := identity.(fakeIdentity); ok {
			stub.peerMSP = id.mspID
		}
	}
	ctx := &contractapi.TransactionContext{}
	ctx.SetStub(stub)
	ctx.SetClientIdentity(identity)
	h.last = stub
	return ctx, stub
}

func (h *harness) as(mspID string) *contractapi.TransactionContext {
	ctx, _ := h.ctx(fakeIdentity{mspID: mspID})
	return ctx
}

// commit applies the last single-peer transaction if it succeeded.
func (h *harness) commit(err error) {
	if err == nil {
		h.last.commit()
	} else if h.last.wrote() {
		h.t.Errorf("a transaction failing with %q wrote before failing", err)
	}
}

// policyError is the fake's ENDORSEMENT_POLICY_FAILURE. need names what
// would have been enough besides the endorsers: the minimal sets of further
// orgs, e.g. "Edge2MSP", "CloudMSP or Edge2MSP", "CloudMSP+Edge1MSP or
// Edge1MSP+Edge2MSP" (keyPolicy.completions).
type policyError struct{ what, need string }

func (e *policyError) Error() string {
	return fmt.Sprintf("endorsement policy failure: %s needs an endorsement from %s", e.what, e.need)
}

// txOpts is how a transaction is sent: the endorsing orgs (default: the
// caller's) and the transient map.
type txOpts struct {
	endorsers []string
	transient map[string][]byte
}

// run sends one transaction as caller. fn is the contract call.
func run[T any](h *harness, caller string, o txOpts, fn func(contractapi.TransactionContextInterface) (T, error)) (T, error) {
	h.t.Helper()
	var zero T
	endorsers := o.endorsers
	if len(endorsers) == 0 {
		endorsers = []string{caller}
	}
	h.n++
	txID := fmt.Sprintf("tx%03d", h.n)
	type outcome struct {
		res  string
		err  string
		stub *fakeStub
	}
	var outs []outcome
	var first T
	var firstErr error
	for i, org := range endorsers {
		stub := newFakeStub(h.ledger, txID, h.now)
		stub.peerMSP = org
		stub.transient = o.transient
		ctx := &contractapi.TransactionContext{}
		ctx.SetStub(stub)
		ctx.SetClientIdentity(fakeIdentity{mspID: caller})
		res, err := fn(ctx)
		b, _ := json.Marshal(res)
		out := outcome{res: string(b), stub: stub}
		if err != nil {
			out.err = err.Error()
		}
		outs = append(outs, out)
		if i == 0 {
			first, firstErr = res, err
		}
	}
	h.last = outs[0].stub
	for i := 1; i < len(outs); i++ {
		a, b := outs[0], outs[i]
		if a.err != b.err || a.res != b.res || !reflect.DeepEqual(a.stub.writes, b.stub.writes) ||
			!reflect.DeepEqual(a.stub.vpWrites, b.stub.vpWrites) || !reflect.DeepEqual(a.stub.privWrites, b.stub.privWrites) ||
			a.stub.eventName != b.stub.eventName || !bytes.Equal(a.stub.eventPayload, b.stub.eventPayload) {
			h.t.Fatalf("endorsers %s and %s disagree: %q/%q vs %q/%q", endorsers[0], endorsers[i], a.err, a.res, b.err, b.res)
		}
	}
	if firstErr != nil {
		for _, out := range outs {
			if out.stub.wrote() {
				h.t.Errorf("a transaction failing with %q wrote before failing", firstErr)
			}
		}
		return zero, firstErr
	}
	if n := outs[0].stub.eventCount; n != 1 {
		h.t.Errorf("a successful transaction emitted %d events, want 1", n)
	}
	if err := validateEndorsement(h.ledger, outs[0].stub, endorsers); err != nil {
		return zero, err
	}
	outs[0].stub.commit()
	return first, nil
}

// validateEndorsement checks a simulated transaction against the policies in
// force before it (as Fabric's validator does).
func validateEndorsement(l *fakeLedger, s *fakeStub, endorsers []string) error {
	keys := slices.Collect(maps.Keys(s.writes))
	keys = append(keys, slices.Collect(maps.Keys(s.vpWrites))...)
	slices.Sort(keys)
	for _, k := range slices.Compact(keys) {
		vp := l.vp[k]
		if len(vp) == 0 {
			continue // chaincode policy: any one member peer
		}
		policy, err := decodeKeyPolicy(vp)
		if err != nil {
			return err
		}
		ok, err := policy.satisfiedBy(endorsers)
		if err != nil {
			return err
		}
		if !ok {
			need, err := policy.completions(endorsers)
			if err != nil {
				return err
			}
			return &policyError{what: fmt.Sprintf("key %q", k), need: need}
		}
	}
	for _, c := range slices.Sorted(maps.Keys(s.privWrites)) {
		org, _ := collectionOrg(c)
		if !slices.Contains(endorsers, org) {
			return &policyError{what: "collection " + c, need: org}
		}
	}
	return nil
}

// checkInvariants: credits balance; indexes match the tasks; the task key
// carries OR(AND(requester, executor), AND(requester, Cloud)) while AWARDED,
// AND(requester, executor) from the result on (COMPLETED, SETTLED,
// DISPUTED), and no policy otherwise.
func (h *harness) checkInvariants() {
	t := h.t
	var grants, balances, escrow uint64
	statusIdx := map[string]bool{}
	orgIdx := map[string]bool{}
	for _, k := range slices.Sorted(maps.Keys(h.ledger.state)) {
		v := h.ledger.state[k]
		var stub fakeStub
		objectType, attrs, err := stub.SplitCompositeKey(k)
		if err != nil {
			continue
		}
		switch objectType {
		case edgeObjectType:
			var e Edge
			if err := json.Unmarshal(v, &e); err != nil {
				t.Errorf("invariant: edge %q: %v", k, err)
				continue
			}
			grants += e.Grant
			balances += e.Balance
			if e.Reputation > MaxReputation {
				t.Errorf("invariant: edge %s reputation %d", e.MSPID, e.Reputation)
			}
		case taskObjectType:
			var task Task
			if err := json.Unmarshal(v, &task); err != nil {
				t.Errorf("invariant: task %q: %v", k, err)
				continue
			}
			escrow += task.Escrow
			if holds := task.Status == StatusAwarded || task.Status == StatusCompleted; holds != (task.Escrow > 0) || (holds && task.Escrow != task.Price) {
				t.Errorf("invariant: task %s in status %s holds escrow %d", task.TaskID, task.Status, task.Escrow)
			}
			statusIdx[task.Status+"/"+task.TaskID] = true
			for _, o := range relatedOrgs(&task) {
				orgIdx[o+"/"+task.TaskID] = true
			}
			var want string
			switch task.Status {
			case StatusAwarded:
				want = awardedPolicy(task.Requester, task.Executor)
			case StatusCompleted, StatusSettled, StatusDisputed:
				want = andOf(task.Requester, task.Executor)
			}
			got, err := renderPolicy(h.ledger.vp[k])
			if err != nil {
				t.Errorf("invariant: task %s policy: %v", task.TaskID, err)
			}
			if got != want {
				t.Errorf("invariant: task %s in status %s has key policy %v, want %v", task.TaskID, task.Status, got, want)
			}
		case statusIndexType, orgIndexType:
			if !bytes.Equal(v, indexValue) || len(attrs) != 2 {
				t.Errorf("invariant: index entry %q = %x", k, v)
			}
		}
	}
	if balances+escrow != grants {
		t.Errorf("invariant: balances %d + escrow %d != grants %d", balances, escrow, grants)
	}
	present := map[string]map[string]bool{statusIndexType: {}, orgIndexType: {}}
	for _, k := range slices.Sorted(maps.Keys(h.ledger.state)) {
		var stub fakeStub
		objectType, attrs, err := stub.SplitCompositeKey(k)
		if err != nil || present[objectType] == nil {
			continue
		}
		present[objectType][attrs[0]+"/"+attrs[1]] = true
	}
	if got, want := slices.Sorted(maps.Keys(present[statusIndexType])), slices.Sorted(maps.Keys(statusIdx)); !slices.Equal(got, want) {
		t.Errorf("invariant: status index %v, want %v", got, want)
	}
	if got, want := slices.Sorted(maps.Keys(present[orgIndexType])), slices.Sorted(maps.Keys(orgIdx)); !slices.Equal(got, want) {
		t.Errorf("invariant: org index %v, want %v", got, want)
	}
}

// ---- single-caller helpers kept from the first milestone -------------------

func (h *harness) register(mspID, cpu, mem, price string) (*Edge, error) {
	edge, err := h.contract.RegisterEdge(h.as(mspID), cpu, mem, price)
	h.commit(err)
	return edge, err
}

func (h *harness) request(mspID, id, cycles, in, deadline, price, hash string) (*Task, error) {
	task, err := h.contract.RequestTask(h.as(mspID), id, cycles, in, deadline, price, hash)
	h.commit(err)
	return task, err
}

func (h *harness) mustRegister(mspIDs ...string) {
	h.t.Helper()
	for _, mspID := range mspIDs {
		if _, err := h.register(mspID, "3000000000", "8192", "5"); err != nil {
			h.t.Fatalf("register %s: %v", mspID, err)
		}
	}
}

func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %q", want)
	}
	if err.Error() != want {
		t.Fatalf("error\n got: %s\nwant: %s", err.Error(), want)
	}
}

// wantPolicyFailure expects an endorsement policy failure that further
// endorsements from need (as policyError renders it) would have avoided.
func wantPolicyFailure(t *testing.T, err error, need string) {
	t.Helper()
	var pe *policyError
	if !errors.As(err, &pe) || pe.need != need {
		t.Fatalf("got %v, want an endorsement policy failure needing %s", err, need)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ---- the lifecycle scenario ------------------------------------------------

// Roles of the standard scenario.
const (
	reqOrg   = "Edge1MSP" // the requester
	execOrg  = "Edge2MSP" // the candidate that wins the award
	candOrg  = "Edge3MSP" // a candidate that is not awarded
	outOrg   = "Edge4MSP" // a registered edge with no part in the task
	unregOrg = "Edge9MSP" // an org that never registered
	taskID   = "t-1"
	deadline = t0 + 600
)

var (
	payload    = []byte("convolve image 42 with kernel k")
	payloadHex = sha256Hex(payload)
	result     = []byte("result: 3.14159")
	resultHex  = sha256Hex(result)
)

func withPayload(p []byte) map[string][]byte { return map[string][]byte{TransientPayload: p} }
func withResult(r []byte) map[string][]byte  { return map[string][]byte{TransientResult: r} }

// parties is the endorsement the lifecycle transactions after award need.
func parties() txOpts { return txOpts{endorsers: []string{reqOrg, execOrg}} }

// stage names how far setup takes the task.
type stage int

const (
	stageRegistered stage = iota // edges registered, no task
	stageRequested
	stageShortlisted
	stageOffered // execOrg offered willingly (price 40, 30 s), candOrg declined
	stageAwarded
	stageCompleted
	stageSettled
	stageDisputed
	stageExpired // awarded, then expired after the deadline
	stageTransferProposed
)

const awardPrice = 40

// setup builds the standard scenario up to a stage.
func (h *harness) setup(s stage) {
	h.t.Helper()
	h.mustRegister(reqOrg, execOrg, candOrg, outOrg)
	if s == stageRegistered {
		return
	}
	h.must(h.requestFull(reqOrg, taskID, deadline, 120, payload, "{}"))
	if s == stageRequested {
		return
	}
	h.must(h.shortlist(CloudMSPID, taskID, `["Edge2MSP","Edge3MSP"]`))
	if s == stageShortlisted {
		return
	}
	h.must(h.offer(execOrg, taskID, "true", fmt.Sprint(awardPrice), "30"))
	h.must(h.offer(candOrg, taskID, "false", "0", "0"))
	if s == stageOffered {
		return
	}
	h.must(h.award(reqOrg, taskID, execOrg, withPayload(payload)))
	switch s {
	case stageAwarded:
		return
	case stageTransferProposed:
		h.must(h.transfer(reqOrg, taskID, outOrg, nil))
		return
	case stageExpired:
		h.now = deadline + 1
		h.must(h.expire(CloudMSPID, taskID, parties()))
		return
	}
	h.now += 60
	h.must(h.submit(execOrg, taskID, resultHex, withResult(result)))
	switch s {
	case stageSettled:
		h.must(h.settle(reqOrg, taskID))
	case stageDisputed:
		h.must(h.dispute(reqOrg, taskID, "wrong output"))
	}
}

func (h *harness) must(_ any, err error) {
	h.t.Helper()
	if err != nil {
		h.t.Fatalf("setup: %v", err)
	}
}

func (h *harness) requestFull(caller, id string, dl int64, maxPrice uint64, p []byte, options string) (*Task, error) {
	o := txOpts{}
	if p != nil {
		o.transient = withPayload(p)
	}
	return run(h, caller, o, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.RequestTaskWithOptions(ctx, id, "2000000000", "1024", fmt.Sprint(dl), fmt.Sprint(maxPrice), sha256Hex(p), options)
	})
}

func (h *harness) shortlist(caller, id, candidates string) (*Task, error) {
	return run(h, caller, txOpts{}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.Shortlist(ctx, id, candidates)
	})
}

func (h *harness) offer(caller, id, willing, price, est string) (*Offer, error) {
	return run(h, caller, txOpts{}, func(ctx contractapi.TransactionContextInterface) (*Offer, error) {
		return h.contract.Offer(ctx, id, willing, price, est)
	})
}

// award accepts the executor's current offer (its price as committed, or 1
// when it made none), as a requester that has just read the offers does.
func (h *harness) award(caller, id, executor string, transient map[string][]byte) (*Task, error) {
	return h.awardAt(caller, id, executor, h.offerPrice(id, executor), transient)
}

func (h *harness) awardAt(caller, id, executor string, price uint64, transient map[string][]byte) (*Task, error) {
	return run(h, caller, txOpts{endorsers: []string{h.requesterOf(id), executor}, transient: transient},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.Award(ctx, id, executor, fmt.Sprint(price))
		})
}

// offerPrice is the price of org's committed offer for task id in its
// current round (1 when there is none, or it declined).
func (h *harness) offerPrice(id, org string) uint64 {
	if t := h.task(id); t != nil {
		key, _ := shimKey(offerObjectType, id, fmt.Sprint(t.Round), org)
		var offer Offer
		if v := h.ledger.state[key]; v != nil && json.Unmarshal(v, &offer) == nil && offer.Price > 0 {
			return offer.Price
		}
	}
	return 1
}

func (h *harness) sendPayload(caller, id string, transient map[string][]byte) (*Task, error) {
	return run(h, caller, txOpts{endorsers: h.partiesOf(id), transient: transient},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.SendPayload(ctx, id)
		})
}

func (h *harness) submit(caller, id, hash string, transient map[string][]byte) (*Task, error) {
	return run(h, caller, txOpts{endorsers: h.partiesOf(id), transient: transient},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.SubmitResult(ctx, id, hash)
		})
}

func (h *harness) settle(caller, id string) (*Task, error) {
	return run(h, caller, txOpts{endorsers: h.partiesOf(id)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) { return h.contract.Settle(ctx, id) })
}

func (h *harness) dispute(caller, id, reason string) (*Task, error) {
	return run(h, caller, txOpts{endorsers: h.partiesOf(id)},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.Dispute(ctx, id, reason)
		})
}

func (h *harness) expire(caller, id string, o txOpts) (*Task, error) {
	return run(h, caller, o, func(ctx contractapi.TransactionContextInterface) (*Task, error) { return h.contract.Expire(ctx, id) })
}

func (h *harness) reassign(caller, id string, dl int64) (*Task, error) {
	return run(h, caller, txOpts{}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
		return h.contract.Reassign(ctx, id, fmt.Sprint(dl))
	})
}

func (h *harness) transfer(caller, id, newOwner string, transient map[string][]byte) (*Task, error) {
	endorsers := h.partiesOf(id)
	if !slices.Contains(endorsers, caller) {
		endorsers = append(endorsers, caller)
	}
	if transient != nil {
		endorsers = append(endorsers, newOwner)
	}
	return run(h, caller, txOpts{endorsers: endorsers, transient: transient},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.TransferOwnership(ctx, id, newOwner)
		})
}

// accept agrees to pay the task's escrow as committed, as a pending owner
// that has just read the task does.
func (h *harness) accept(caller, id string) (*Task, error) {
	escrow := uint64(0)
	if t := h.task(id); t != nil {
		escrow = t.Escrow
	}
	return h.acceptUpTo(caller, id, escrow)
}

func (h *harness) acceptUpTo(caller, id string, maxEscrow uint64) (*Task, error) {
	endorsers := h.partiesOf(id)
	if !slices.Contains(endorsers, caller) {
		endorsers = append(endorsers, caller)
	}
	return run(h, caller, txOpts{endorsers: endorsers},
		func(ctx contractapi.TransactionContextInterface) (*Task, error) {
			return h.contract.AcceptOwnership(ctx, id, fmt.Sprint(maxEscrow))
		})
}

// task reads a committed task straight from the fake ledger.
func (h *harness) task(id string) *Task {
	h.t.Helper()
	key, _ := shimKey(taskObjectType, id)
	v, ok := h.ledger.state[key]
	if !ok {
		return nil
	}
	var t Task
	if err := json.Unmarshal(v, &t); err != nil {
		h.t.Fatal(err)
	}
	return &t
}

func (h *harness) edge(mspID string) *Edge {
	h.t.Helper()
	key, _ := shimKey(edgeObjectType, mspID)
	var e Edge
	if err := json.Unmarshal(h.ledger.state[key], &e); err != nil {
		h.t.Fatalf("edge %s: %v", mspID, err)
	}
	return &e
}

func (h *harness) requesterOf(id string) string {
	if t := h.task(id); t != nil {
		return t.Requester
	}
	return reqOrg
}

// partiesOf is the requester and (when set) the executor of a task.
func (h *harness) partiesOf(id string) []string {
	t := h.task(id)
	if t == nil {
		return []string{reqOrg, execOrg}
	}
	if t.Executor == "" {
		return []string{t.Requester}
	}
	return []string{t.Requester, t.Executor}
}

// private returns what an org's implicit collection holds for a task.
func (h *harness) private(org, objectType, id string) []byte {
	key, _ := shimKey(objectType, id)
	return h.ledger.private[implicitCollection(org)][key]
}

// taskEvent decodes the last transaction's event.
func (h *harness) taskEvent() (string, TaskEvent) {
	h.t.Helper()
	var ev TaskEvent
	if err := json.Unmarshal(h.last.eventPayload, &ev); err != nil {
		h.t.Fatalf("event %q payload %q: %v", h.last.eventName, h.last.eventPayload, err)
	}
	if h.last.eventCount != 1 {
		h.t.Fatalf("%d events in one transaction", h.last.eventCount)
	}
	return h.last.eventName, ev
}

func (h *harness) wantEvent(name, status, actor string) TaskEvent {
	h.t.Helper()
	got, ev := h.taskEvent()
	if got != name || ev.Status != status || ev.Actor != actor || ev.TaskID == "" {
		h.t.Fatalf("event %s {taskId %s status %s actor %s}, want %s {status %s actor %s}", got, ev.TaskID, ev.Status, ev.Actor, name, status, actor)
	}
	return ev
}

func joined(ss []string) string { return strings.Join(ss, ",") }
