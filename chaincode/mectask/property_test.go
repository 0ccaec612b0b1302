package mectask

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// The lifecycle property test: random sequences of transactions, called by
// random roles at random transaction times (also skewed: around deadlines and
// dispute windows, far in the past and the future), sent with the natural or
// a random set of endorsing orgs through the harness (every endorser
// simulates; the fake validator applies the key-level policies; only what
// passes commits). After every step propRun.step checks every invariant:
//
//   - a failed transaction changed nothing, and never failed at the
//     transition guard (its own status check refused it first);
//   - a committed transaction wrote at most the task it names, moved its
//     status only as CanTransition allows and only to its own target status
//     (or kept it: Offer, SendPayload, the ownership transfer), and created a
//     task only with RequestTask, in REQUESTED;
//   - the harness invariants: credits conserved (sum(balance) + sum(escrow)
//     == sum(grant)), escrow held exactly while AWARDED or COMPLETED, the
//     indexes match the tasks, the task key's validation parameter is the one
//     of README "State-based endorsement" for its status; and no other key
//     carries one;
//   - no balance is negative (below zero a uint64 wraps past the grants);
//   - the roles of a task stay apart (requester a registered edge, never the
//     Cloud, a candidate, the executor or the pending owner), an executor is
//     one of the candidates, a result exists exactly from COMPLETED on and was
//     submitted by the deadline, an expiry came after it;
//   - GetTaskHistory lists exactly the committed versions of each task, each
//     stamped with its transaction, starting REQUESTED and moving only as
//     CanTransition allows, the last one the current task.
//
// TestLifecycleProperty runs propSequences seeded sequences of propSteps
// steps; FuzzLifecycle drives the same steps from the fuzzer's bytes. A
// failure logs the sequence up to the step that broke an invariant.

const (
	propSequences    = 100
	propSteps        = 100
	propMaxFuzzSteps = 200
)

var (
	// propEdges: Edge1-5 may register at the start, Edge6 only later.
	propEdges = []string{"Edge1MSP", "Edge2MSP", "Edge3MSP", "Edge4MSP", "Edge5MSP", "Edge6MSP"}
	propOrgs  = append(slices.Clone(propEdges), CloudMSPID, unregOrg)
	propTasks = []string{"t-1", "t-2", "t-3", "t-4"}
	// propRoles are the roles of a fully random call.
	propRoles = []string{"requester", "executor", "loser", "outsider", "cloud", "pending", "unregistered"}
	propKinds = []string{
		"RegisterEdge", "RequestTask", "Shortlist", "Offer", "Award", "SendPayload", "SubmitResult",
		"Settle", "Dispute", "Expire", "Reassign", "TransferOwnership", "AcceptOwnership",
	}
	// propTarget is the status a transaction moves its task to; the other
	// task transactions keep the status.
	propTarget = map[string]TaskStatus{
		"RequestTask": StatusRequested, "Shortlist": StatusShortlisted, "Award": StatusAwarded,
		"SubmitResult": StatusCompleted, "Settle": StatusSettled, "Dispute": StatusDisputed,
		"Expire": StatusExpired, "Reassign": StatusRequested,
	}
	// guardErrors are texts only checkTransition produces.
	guardErrors = []string{"cannot move from status", "cannot be created in status", "in the final status", "cannot be written as task"}
)

func propPayload(id string) []byte { return []byte("payload of " + id) }
func propResult(id string) []byte  { return []byte("result of " + id) }

// chooser makes every decision of a sequence.
type chooser interface {
	intn(n int) int // a number in [0, n), n > 0
	more() bool     // whether the sequence takes another step
}

// seededChooser: math/rand with a fixed seed and a fixed number of steps.
type seededChooser struct {
	r     *rand.Rand
	steps int
}

func (c *seededChooser) intn(n int) int { return c.r.IntN(n) }
func (c *seededChooser) more() bool     { c.steps--; return c.steps >= 0 }

// bytesChooser: the fuzzer's bytes, one per decision; the sequence ends
// with them (decisions past the end are 0).
type bytesChooser struct {
	data  []byte
	steps int
}

func (c *bytesChooser) intn(n int) int {
	if len(c.data) == 0 {
		return 0
	}
	b := c.data[0]
	c.data = c.data[1:]
	return int(b) % n
}

func (c *bytesChooser) more() bool { c.steps--; return len(c.data) > 0 && c.steps >= 0 }

func pick[T any](c chooser, xs []T) T { return xs[c.intn(len(xs))] }

// propCall is one generated transaction.
type propCall struct {
	kind, taskID, role, caller string
	args                       []string
	note                       string // the transient map, described
	opts                       txOpts
	fn                         func(contractapi.TransactionContextInterface) (any, error)
}

type propRun struct {
	t   *testing.T
	h   *harness
	c   chooser
	log []string
	// versions lists, per task, the tx IDs of its committed versions.
	versions map[string][]string
	clock    int64 // the time of the transactions that are not skewed
	// raw and tasks are the committed task records after the last step.
	raw   map[string][]byte
	tasks map[string]*Task
}

func TestLifecycleProperty(t *testing.T) {
	n := propSequences
	if testing.Short() {
		n /= 10
	}
	for seed := range uint64(n) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runProperty(t, &seededChooser{r: rand.New(rand.NewPCG(seed, 17)), steps: propSteps}, fmt.Sprintf("seed %d", seed))
		})
	}
}

func FuzzLifecycle(f *testing.F) {
	for seed := range uint64(4) {
		r := rand.New(rand.NewPCG(seed, 17))
		data := make([]byte, 500)
		for i := range data {
			data[i] = byte(r.Uint32())
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		runProperty(t, &bytesChooser{data: data, steps: propMaxFuzzSteps}, fmt.Sprintf("fuzz input of %d bytes", len(data)))
	})
}

func runProperty(t *testing.T, c chooser, name string) {
	p := &propRun{t: t, c: c, clock: t0, versions: map[string][]string{}, raw: map[string][]byte{}, tasks: map[string]*Task{}}
	// Registered before the harness's own check, so it runs after it.
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: the sequence up to the step that broke an invariant:\n%s", name, strings.Join(p.log, "\n"))
		}
	})
	p.h = newHarness(t)
	p.h.peerNow = &p.clock // the peers' clock; a skewed step's timestamp is off it
	for i, e := range propEdges[:5] {
		if i < 3 || c.intn(4) != 0 {
			p.step(p.build("RegisterEdge", "", nil, e))
		}
	}
	for c.more() {
		p.moveClock()
		p.step(p.next())
	}
	p.checkHistory(propTasks...)
}

// moveClock sets the next transaction's time. The clock mostly stays or
// moves on a little, sometimes on to around a task's deadline or the end of
// its dispute window (never back); one transaction in 16 is skewed instead
// (far in the past or the future, back to the start, an hour off) and the
// clock then goes on from where it was.
func (p *propRun) moveClock() {
	h, c := p.h, p.c
	switch n := c.intn(64); {
	case n < 30:
	case n < 46:
		p.clock++
	case n < 54:
		p.clock += 30
	case n < 56:
		p.clock += 600
	case n < 58:
		if tk := p.tasks[pick(c, propTasks)]; tk != nil {
			p.clock = max(p.clock, tk.Deadline+int64(c.intn(3))-1)
		}
	case n < 60:
		if tk := p.tasks[pick(c, propTasks)]; tk != nil && tk.CompletedAt > 0 {
			p.clock = max(p.clock, tk.CompletedAt+DisputeWindowSeconds+int64(c.intn(3))-1)
		}
	default:
		h.now = pick(c, []int64{t0 - 10*MaxHorizonSeconds, t0 + 10*MaxHorizonSeconds, t0, p.clock - 3600, p.clock + 3600})
		return
	}
	h.now = p.clock
}

// move is a transaction, the role meant to call it and its weight.
type move struct {
	kind, role string
	weight     int
}

// next generates a transaction: one time in five any transaction by any
// role; otherwise one that the task's status admits, mostly by the role that
// may call it (so that sequences get past the first steps).
func (p *propRun) next() propCall {
	c := p.c
	id := pick(c, propTasks)
	task := p.tasks[id]
	if c.intn(5) == 0 {
		return p.build(pick(c, propKinds), id, task, p.org(pick(c, propRoles), task))
	}
	var moves []move
	status := ""
	if task != nil {
		status = task.Status
	}
	switch status {
	case "":
		moves = []move{{"RequestTask", "edge", 4}, {"RegisterEdge", "registrant", 1}}
	case StatusRequested:
		moves = []move{{"Shortlist", "cloud", 6}, {"Expire", "any", 1}, {"TransferOwnership", "requester", 1}}
	case StatusShortlisted:
		award := 1
		if len(p.willing(task)) > 0 {
			award = 6
		}
		moves = []move{{"Offer", "candidate", 6}, {"Award", "awarder", award}, {"Shortlist", "cloud", 1}, {"Expire", "any", 1}, {"TransferOwnership", "requester", 1}}
	case StatusAwarded:
		moves = []move{{"SubmitResult", "executor", 6}, {"SendPayload", "requester", 1}, {"Expire", "any", 1}, {"TransferOwnership", "requester", 2}}
	case StatusCompleted:
		moves = []move{{"Settle", "requester", 2}, {"Settle", "executor", 1}, {"Dispute", "requester", 2}}
	case StatusExpired:
		moves = []move{{"Reassign", "requester", 4}, {"TransferOwnership", "requester", 1}}
	default: // final: every call is refused
		moves = []move{{"RequestTask", "edge", 1}, {"Settle", "requester", 1}, {"Dispute", "requester", 1}, {"TransferOwnership", "requester", 1}}
	}
	if task != nil && task.PendingOwner != "" {
		moves = append(moves, move{"AcceptOwnership", "pending", 3})
	}
	if task != nil && slices.Contains(openStatuses, task.Status) && p.h.now > task.Deadline {
		moves = append(moves, move{"Expire", "any", 12})
	}
	total := 0
	for _, m := range moves {
		total += m.weight
	}
	n := c.intn(total)
	m := moves[0]
	for _, m = range moves {
		if n < m.weight {
			break
		}
		n -= m.weight
	}
	role := m.role
	if c.intn(6) == 0 {
		role = pick(c, propRoles)
	}
	return p.build(m.kind, id, task, p.org(role, task))
}

// org resolves a role for a task to an org; a role the task does not have
// falls back to a random edge.
func (p *propRun) org(role string, task *Task) string {
	c := p.c
	var cands []string
	if task != nil {
		cands = task.Candidates
	}
	switch role {
	case "requester":
		if task != nil {
			return task.Requester
		}
	case "executor":
		if task != nil && task.Executor != "" {
			return task.Executor
		}
		if len(cands) > 0 {
			return pick(c, cands)
		}
	case "candidate":
		if len(cands) > 0 {
			return pick(c, cands)
		}
	case "loser":
		var losers []string
		for _, o := range cands {
			if o != task.Executor {
				losers = append(losers, o)
			}
		}
		if len(losers) > 0 {
			return pick(c, losers)
		}
	case "outsider":
		var out []string
		for _, o := range propEdges {
			if task == nil || !slices.Contains(relatedOrgs(task), o) {
				out = append(out, o)
			}
		}
		if len(out) > 0 {
			return pick(c, out)
		}
	case "pending":
		if task != nil && task.PendingOwner != "" {
			return task.PendingOwner
		}
	case "awarder":
		if task != nil && task.DelegateAward && c.intn(2) == 0 {
			return CloudMSPID
		}
		if task != nil {
			return task.Requester
		}
	case "cloud":
		return CloudMSPID
	case "unregistered":
		return unregOrg
	case "edge":
		if r := p.registered(); len(r) > 0 && c.intn(8) != 0 {
			return pick(c, r)
		}
	case "any":
		return pick(c, propOrgs)
	case "registrant":
		return pick(c, append(slices.Clone(propEdges), CloudMSPID))
	}
	return pick(c, propEdges)
}

// roleOf names the caller's role in the task, for the log.
func roleOf(caller string, task *Task) string {
	switch {
	case caller == CloudMSPID:
		return "cloud"
	case task == nil:
		return "edge"
	case caller == task.Requester:
		return "requester"
	case caller == task.Executor:
		return "executor"
	case slices.Contains(task.Candidates, caller):
		return "candidate"
	case caller == task.PendingOwner:
		return "pending"
	}
	return "outsider"
}

// taskParties is the requester and, once set, the executor of a task.
func taskParties(task *Task) []string {
	if task == nil {
		return nil
	}
	return slices.DeleteFunc([]string{task.Requester, task.Executor}, func(s string) bool { return s == "" })
}

// endorsers is what a client would pass (natural), or one time in four a
// set that may fall short of the key policy or the collection owners.
func (p *propRun) endorsers(natural []string, task *Task, caller string) []string {
	c := p.c
	parties := taskParties(task)
	var e []string
	switch c.intn(16) {
	case 0:
		e = []string{caller}
	case 1: // the requester and the Cloud
		e = append(slices.Clone(parties[:min(1, len(parties))]), CloudMSPID)
	case 2: // the executor and the Cloud
		e = append(slices.Clone(parties[min(1, len(parties)):]), CloudMSPID)
	case 3:
		e = []string{pick(c, propOrgs)}
	default:
		e = append(slices.Clone(natural), caller)
	}
	var out []string
	for _, o := range e {
		if o != "" && !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out
}

// transient is a correct value (likely when the call needs one), none, or a
// forged one.
func (p *propRun) transient(key string, value []byte, needed bool) (map[string][]byte, string) {
	n := p.c.intn(8)
	switch {
	case n == 0:
		return map[string][]byte{key: []byte("forged")}, key + "(forged)"
	case (needed && n < 7) || (!needed && n == 1):
		return map[string][]byte{key: value}, key
	}
	return nil, ""
}

// deadlineArg is a deadline argument, mostly valid (after now, within the
// horizon).
func (p *propRun) deadlineArg() string {
	off := pick(p.c, []int64{-1, 0, 600, 3600, 3600, 3600, 86400, 86400, 86400, MaxHorizonSeconds, MaxHorizonSeconds + 1})
	return fmt.Sprint(p.h.now + off)
}

// registered lists the registered edges.
func (p *propRun) registered() []string {
	var out []string
	for _, o := range propEdges {
		if key, _ := shimKey(edgeObjectType, o); p.h.ledger.state[key] != nil {
			out = append(out, o)
		}
	}
	return out
}

// willing lists the candidates that offered to execute the task in its
// current round.
func (p *propRun) willing(task *Task) []string {
	var out []string
	for _, o := range task.Candidates {
		key, _ := shimKey(offerObjectType, task.TaskID, fmt.Sprint(task.Round), o)
		var offer Offer
		if v := p.h.ledger.state[key]; v != nil && json.Unmarshal(v, &offer) == nil && offer.Willing {
			out = append(out, o)
		}
	}
	return out
}

// candidatesArg is a Shortlist argument: mostly registered edges other than
// the requester and the pending owner, sometimes the Cloud, an unregistered
// org, a duplicate or none.
func (p *propRun) candidatesArg(task *Task) string {
	c := p.c
	if c.intn(16) == 0 {
		return "[]"
	}
	registered := p.registered()
	var ids []string
	for range 1 + c.intn(3) {
		o := pick(c, propEdges)
		if len(registered) > 0 && c.intn(4) != 0 {
			o = pick(c, registered)
		}
		if c.intn(10) == 0 {
			o = pick(c, []string{CloudMSPID, unregOrg})
		}
		ids = append(ids, o)
	}
	if c.intn(8) != 0 {
		slices.Sort(ids)
		ids = slices.Compact(ids)
		if task != nil && c.intn(4) != 0 {
			ids = slices.DeleteFunc(ids, func(o string) bool { return o == task.Requester || o == task.PendingOwner })
			if len(ids) == 0 {
				ids = slices.DeleteFunc(registered, func(o string) bool { return o == task.Requester || o == task.PendingOwner })
			}
		}
	}
	b, _ := json.Marshal(ids)
	return string(b)
}

// build makes the call of kind on task id by caller, with arguments that are
// mostly valid.
func (p *propRun) build(kind, id string, task *Task, caller string) propCall {
	c, h := p.c, p.h
	call := propCall{kind: kind, taskID: id, role: roleOf(caller, task), caller: caller}
	natural := taskParties(task)
	var maxPrice uint64 = 1
	if task != nil {
		maxPrice = task.MaxPrice
	}
	switch kind {
	case "RegisterEdge":
		call.taskID, call.role = "", roleOf(caller, nil)
		natural = nil
		call.args = pick(c, [][]string{{"3000000000", "8192", "5"}, {"3000000000", "8192", "5"}, {"1", "1", "1"}, {"0", "1", "1"}})
		a := call.args
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.RegisterEdge(ctx, a[0], a[1], a[2])
		}
	case "RequestTask":
		natural = nil
		hash := sha256Hex(propPayload(id))
		if c.intn(16) == 0 {
			hash = "xyz"
		}
		call.args = []string{id, "2000000000", "1024", p.deadlineArg(), pick(c, []string{"1", "40", "120", "120", "9007199254740991"}), hash,
			pick(c, []string{"{}", "{}", "{}", "{}", `{"delegateAward":true}`, `{"delegateAward":true}`, `{"delegateAward":false}`, `{"x":1}`})}
		call.opts.transient, call.note = p.transient(TransientPayload, propPayload(id), c.intn(2) == 0)
		a := call.args
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.RequestTaskWithOptions(ctx, a[0], a[1], a[2], a[3], a[4], a[5], a[6])
		}
	case "Shortlist":
		natural = nil
		call.args = []string{id, p.candidatesArg(task)}
		a := call.args
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.Shortlist(ctx, a[0], a[1])
		}
	case "Offer":
		natural = nil
		switch pick(c, []string{"true", "true", "true", "true", "true", "false", "false", "maybe"}) {
		case "true":
			call.args = []string{id, "true", pick(c, []string{"1", "40", "40", fmt.Sprint(maxPrice), fmt.Sprint(maxPrice + 1), "0"}), pick(c, []string{"30", "30", "3600", "0"})}
		case "false":
			call.args = []string{id, "false", pick(c, []string{"0", "0", "0", "5"}), "0"}
		default:
			call.args = []string{id, "maybe", "1", "30"}
		}
		a := call.args
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.Offer(ctx, a[0], a[1], a[2], a[3])
		}
	case "Award":
		executor := pick(c, propOrgs)
		if task != nil && len(task.Candidates) > 0 && c.intn(4) != 0 {
			executor = pick(c, task.Candidates)
			if w := p.willing(task); len(w) > 0 && c.intn(4) != 0 {
				executor = pick(c, w)
			}
		}
		// Mostly the executor's current offer; sometimes another price (the
		// offer changed after the requester chose, or it never existed).
		price := fmt.Sprint(p.h.offerPrice(id, executor))
		if c.intn(6) == 0 {
			price = pick(c, []string{"1", "7", "40", "0", "-1", fmt.Sprint(MaxQuantity)})
		}
		call.args = []string{id, executor, price}
		call.opts.transient, call.note = p.transient(TransientPayload, propPayload(id), task == nil || caller == task.Requester)
		if task != nil {
			natural = []string{task.Requester, executor}
		}
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.Award(ctx, id, executor, price)
		}
	case "SendPayload":
		call.args = []string{id}
		call.opts.transient, call.note = p.transient(TransientPayload, propPayload(id), true)
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) { return h.contract.SendPayload(ctx, id) }
	case "SubmitResult":
		hash := sha256Hex(propResult(id))
		call.args = []string{id, hash}
		call.opts.transient, call.note = p.transient(TransientResult, propResult(id), true)
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.SubmitResult(ctx, id, hash)
		}
	case "Settle":
		call.args = []string{id}
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) { return h.contract.Settle(ctx, id) }
	case "Dispute":
		reason := pick(c, []string{"wrong output", "wrong output", "wrong output", "wrong output", "wrong output", ""})
		call.args = []string{id, reason}
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.Dispute(ctx, id, reason)
		}
	case "Expire":
		call.args = []string{id}
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) { return h.contract.Expire(ctx, id) }
	case "Reassign":
		natural = nil
		call.args = []string{id, p.deadlineArg()}
		dl := call.args[1]
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.Reassign(ctx, id, dl)
		}
	case "TransferOwnership":
		newOwner := p.org(pick(c, []string{"outsider", "outsider", "outsider", "candidate", "executor", "requester", "cloud", "unregistered"}), task)
		call.args = []string{id, newOwner}
		call.opts.transient, call.note = p.transient(TransientPayload, propPayload(id), false)
		if call.opts.transient != nil {
			natural = append(natural, newOwner)
		}
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.TransferOwnership(ctx, id, newOwner)
		}
	case "AcceptOwnership":
		// Mostly the escrow as committed; sometimes less (a trap the pending
		// owner must not fall into) or more.
		most := "0"
		if task != nil {
			most = fmt.Sprint(task.Escrow)
			if c.intn(4) == 0 {
				most = pick(c, []string{"0", fmt.Sprint(task.Escrow + 1), fmt.Sprint(max(task.Escrow, 1) - 1), "x"})
			}
		}
		call.args = []string{id, most}
		call.fn = func(ctx contractapi.TransactionContextInterface) (any, error) {
			return h.contract.AcceptOwnership(ctx, id, most)
		}
	default:
		p.t.Fatalf("unknown transaction %s", kind)
	}
	call.opts.endorsers = p.endorsers(natural, task, caller)
	return call
}

// refresh reads the committed task records (decoding only those that
// changed).
func (p *propRun) refresh() {
	raw, tasks := p.raw, p.tasks
	p.raw, p.tasks = map[string][]byte{}, map[string]*Task{}
	for _, id := range propTasks {
		key, _ := shimKey(taskObjectType, id)
		if v, ok := p.h.ledger.state[key]; ok {
			if bytes.Equal(v, raw[id]) {
				p.raw[id], p.tasks[id] = v, tasks[id]
				continue
			}
			var tk Task
			if err := json.Unmarshal(v, &tk); err != nil {
				p.t.Fatalf("task %s: %v", id, err)
			}
			p.raw[id], p.tasks[id] = v, &tk
		}
	}
}

// ledgerMark changes with every commit: each committed public write adds a
// history entry (cheaper to compare after every step than
// fakeLedger.snapshot).
type ledgerMark struct{ history, vpBytes, privateBytes int }

func (p *propRun) mark() ledgerMark {
	var m ledgerMark
	l := p.h.ledger
	for _, h := range l.history {
		m.history += len(h)
	}
	for _, v := range l.vp {
		m.vpBytes += 1 + len(v)
	}
	for _, kvs := range l.private {
		for _, v := range kvs {
			m.privateBytes += 1 + len(v)
		}
	}
	return m
}

// step sends one call and checks every invariant after it.
func (p *propRun) step(call propCall) {
	t, h := p.t, p.h
	ledgerBefore := p.mark()
	tasksBefore := p.raw
	_, err := run(h, call.caller, call.opts, call.fn)
	p.refresh()
	p.log = append(p.log, p.describe(call, err))
	if t.Failed() {
		t.FailNow()
	}
	if err != nil {
		if p.mark() != ledgerBefore {
			t.Errorf("a failed %s changed the ledger", call.kind)
		}
		for _, g := range guardErrors {
			if strings.Contains(err.Error(), g) {
				t.Errorf("%s reached the transition guard: %v", call.kind, err)
			}
		}
		p.checkHistory()
	} else {
		if skew := h.now - p.clock; skew > DefaultMaxSkewSeconds || skew < -DefaultMaxSkewSeconds {
			t.Errorf("a %s stamped %+d s off the peers' clock committed", call.kind, skew)
		}
		p.checkWrites(call, tasksBefore)
		p.checkHistory(call.taskID)
	}
	h.checkInvariants()
	p.checkState()
	if t.Failed() {
		t.FailNow()
	}
}

func (p *propRun) describe(call propCall, err error) string {
	var args []string
	for _, a := range call.args {
		args = append(args, fmt.Sprintf("%q", a))
	}
	tr := ""
	if call.note != "" {
		tr = " transient=" + call.note
	}
	out := "ok"
	if err != nil {
		out = "error: " + err.Error()
	}
	var states []string
	for _, id := range propTasks {
		s := "-"
		if tk := p.tasks[id]; tk != nil {
			s = tk.Status
		}
		states = append(states, id+"="+s)
	}
	return fmt.Sprintf("#%03d t0%+d %s(%s) by %s (%s) endorsed by %s%s -> %s [%s]",
		len(p.log)+1, p.h.now-t0, call.kind, strings.Join(args, ", "), call.caller, call.role,
		strings.Join(call.opts.endorsers, "+"), tr, out, strings.Join(states, " "))
}

// checkWrites: a committed call wrote at most its own task, as its
// transition and CanTransition allow.
func (p *propRun) checkWrites(call propCall, before map[string][]byte) {
	t := p.t
	after := p.raw
	_, moves := propTarget[call.kind]
	writes := call.kind != "RegisterEdge" && call.kind != "Offer"
	for _, id := range propTasks {
		b, a := before[id], after[id]
		if bytes.Equal(a, b) {
			if writes && id == call.taskID {
				t.Errorf("a committed %s did not write task %s", call.kind, id)
			}
			continue
		}
		if id != call.taskID || !writes {
			t.Errorf("a committed %s of task %q wrote task %s", call.kind, call.taskID, id)
			continue
		}
		if a == nil {
			t.Errorf("%s deleted task %s", call.kind, id)
			continue
		}
		var from, to Task
		if err := json.Unmarshal(a, &to); err != nil {
			t.Fatal(err)
		}
		if b == nil {
			if call.kind != "RequestTask" || to.Status != StatusRequested {
				t.Errorf("%s created task %s in status %s", call.kind, id, to.Status)
			}
		} else {
			if err := json.Unmarshal(b, &from); err != nil {
				t.Fatal(err)
			}
			if to.UpdatedAt < from.UpdatedAt {
				t.Errorf("%s moved the last update of task %s back from %d to %d", call.kind, id, from.UpdatedAt, to.UpdatedAt)
			}
			if from.Status != to.Status && !CanTransition(from.Status, to.Status) {
				t.Errorf("%s moved task %s from %s to %s, which CanTransition forbids", call.kind, id, from.Status, to.Status)
			}
			if want := propTarget[call.kind]; (moves && to.Status != want) || (!moves && to.Status != from.Status) {
				t.Errorf("%s moved task %s from %s to %s", call.kind, id, from.Status, to.Status)
			}
		}
		p.versions[id] = append(p.versions[id], to.LastTxID)
	}
}

// checkState: balances, roles, results and deadlines of every task; key
// policies only on task keys.
func (p *propRun) checkState() {
	t, l := p.t, p.h.ledger
	var grants uint64
	edges := map[string]*Edge{}
	for _, o := range propOrgs {
		key, _ := shimKey(edgeObjectType, o)
		if v, ok := l.state[key]; ok {
			var e Edge
			if err := json.Unmarshal(v, &e); err != nil {
				t.Fatal(err)
			}
			edges[o] = &e
			grants += e.Grant
		}
	}
	for _, o := range slices.Sorted(maps.Keys(edges)) {
		if e := edges[o]; e.Balance > grants {
			t.Errorf("edge %s has balance %d, more than all grants %d: negative", o, e.Balance, grants)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(l.vp)) {
		var s fakeStub
		if objectType, _, err := s.SplitCompositeKey(k); err != nil || objectType != taskObjectType {
			t.Errorf("key %q carries a validation parameter", k)
		}
	}
	for _, id := range propTasks {
		tk := p.tasks[id]
		if tk == nil {
			continue
		}
		bad := func(format string, args ...any) {
			t.Errorf("task %s (%s): %s", id, tk.Status, fmt.Sprintf(format, args...))
		}
		if edges[tk.Requester] == nil {
			bad("requester %s is not a registered edge", tk.Requester)
		}
		if tk.Executor != "" && tk.Executor == tk.Requester {
			bad("requester %s is the executor", tk.Requester)
		}
		if slices.Contains(tk.Candidates, tk.Requester) {
			bad("requester %s is a candidate", tk.Requester)
		}
		if o := tk.PendingOwner; o != "" && (o == tk.Requester || o == tk.Executor || o == CloudMSPID || slices.Contains(tk.Candidates, o)) {
			bad("pending owner %s is the requester, executor, Cloud or a candidate", o)
		}
		hasExecutor := tk.Status == StatusAwarded || tk.Status == StatusCompleted || tk.Status == StatusSettled || tk.Status == StatusDisputed
		if hasExecutor && !slices.Contains(tk.Candidates, tk.Executor) {
			bad("executor %q is not a candidate %v", tk.Executor, tk.Candidates)
		}
		hasResult := tk.Status == StatusCompleted || tk.Status == StatusSettled || tk.Status == StatusDisputed
		if hasResult != (tk.ResultHash != "") || (hasResult && (tk.CompletedAt == 0 || tk.CompletedAt > tk.Deadline)) {
			bad("result %q completed at %d, deadline %d", tk.ResultHash, tk.CompletedAt, tk.Deadline)
		}
		if tk.Status == StatusExpired && tk.ClosedAt <= tk.Deadline {
			bad("expired at %d, not after its deadline %d", tk.ClosedAt, tk.Deadline)
		}
	}
}

// checkHistory: every task's history has one entry per committed version;
// GetTaskHistory of the tasks ids lists exactly those versions (step checks
// the task a committed transaction names, runProperty every task at the
// end).
func (p *propRun) checkHistory(ids ...string) {
	t, h := p.t, p.h
	for _, id := range propTasks {
		key, _ := shimKey(taskObjectType, id)
		if n := len(h.ledger.history[key]); n != len(p.versions[id]) {
			t.Errorf("task %s has %d history entries, %d versions were committed", id, n, len(p.versions[id]))
		}
	}
	for _, id := range ids {
		if id == "" {
			continue
		}
		ctx := &contractapi.TransactionContext{}
		ctx.SetStub(newFakeStub(h.ledger, "history", h.now))
		entries, err := h.contract.GetTaskHistory(ctx, id)
		want := p.versions[id]
		if len(want) == 0 {
			if err == nil {
				t.Errorf("history of task %s exists, none was committed", id)
			}
			continue
		}
		if err != nil {
			t.Errorf("history of task %s: %v", id, err)
			continue
		}
		var got []string
		for _, e := range entries {
			got = append(got, e.TxID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("history of task %s lists transactions %v, committed %v", id, got, want)
			continue
		}
		for i, e := range entries {
			v := e.Value
			switch {
			case e.IsDelete || v == nil:
				t.Errorf("history of task %s: entry %d is a delete", id, i)
			case v.LastTxID != e.TxID || v.UpdatedAt != e.Timestamp:
				t.Errorf("history of task %s: entry %d of %s at %d is stamped %s at %d", id, i, e.TxID, e.Timestamp, v.LastTxID, v.UpdatedAt)
			case i == 0 && (v.Status != StatusRequested || v.RequestTxID != e.TxID):
				t.Errorf("history of task %s starts %s by %s", id, v.Status, v.RequestTxID)
			case i > 0 && v.Status != entries[i-1].Value.Status && !CanTransition(entries[i-1].Value.Status, v.Status):
				t.Errorf("history of task %s moves from %s to %s", id, entries[i-1].Value.Status, v.Status)
			}
		}
		if last := entries[len(entries)-1].Value; mustJSON(t, last) != mustJSON(t, p.tasks[id]) {
			t.Errorf("history of task %s ends %s, the task is %s", id, mustJSON(t, last), mustJSON(t, p.tasks[id]))
		}
	}
}
