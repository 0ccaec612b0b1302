// Package mectask is the mec-fabric task-sharing chaincode: MEC edge servers
// register their capacity, publish computation tasks on a shared ledger, and
// contract with each other to execute them.
//
// The lifecycle of a task (see CanTransition):
//
//	RequestTask (edge) -> Shortlist (Cloud) -> Offer (candidates) -> Award
//	-> SubmitResult (executor) -> Settle | Dispute (requester)
//
// with Expire after the deadline, Reassign of an expired task, and a two-step
// TransferOwnership / AcceptOwnership of the requester role. Payloads and
// results live only in the implicit private data collections of the requester
// and the executor; the public state holds their SHA-256 hashes.
package mectask

// Document types, stored in every JSON document so that a CouchDB rich query
// (or a human reading the world state) can tell records apart.
const (
	DocTypeEdge  = "edge"
	DocTypeTask  = "task"
	DocTypeOffer = "offer"
)

// Composite-key object types. Keys are CreateCompositeKey(objectType, id...),
// so each kind of record lives in its own sorted key range.
const (
	edgeObjectType = "mec.edge"
	taskObjectType = "mec.task"
	// offerObjectType keys an offer by (taskID, round, mspID): offers are
	// separate keys so that candidates offering concurrently do not collide
	// on the task key (MVCC), and a new shortlist round starts clean.
	offerObjectType = "mec.offer"
	// Index entries (value 0x00): tasks by status and by involved org.
	statusIndexType = "mec.status~task"
	orgIndexType    = "mec.org~task"
	// Private data keys, in the implicit org collections.
	payloadObjectType = "mec.payload"
	resultObjectType  = "mec.result"
)

// CloudMSPID is the MSP ID of the Cloud organisation. The Cloud coordinates
// (shortlists, awards when delegated) but is never an edge: it cannot register
// capacity, request, offer for or own tasks, and never sees task contents.
const CloudMSPID = "CloudMSP"

// implicitCollectionPrefix + MSP ID names an org's implicit private data
// collection: Fabric defines one per org and chaincode, no configuration
// needed. Only that org's peers store its data; writes to it must be endorsed
// by that org's peers (the org's Endorsement policy).
const implicitCollectionPrefix = "_implicit_org_"

// Transient-map keys. Payloads and results travel only in the transient map,
// which is never written to the ledger, never in arguments.
const (
	TransientPayload = "payload"
	TransientResult  = "result"
)

// Credits and reputation (see README "Incentives").
const (
	// InitialGrant is credited to an edge's balance at its first
	// registration. It is the only way credits enter the system, so
	// sum(balance) + sum(escrow) == sum(grant) at all times.
	InitialGrant uint64 = 1_000_000
	// InitialReputation is every edge's starting reputation; reputation
	// stays within [0, MaxReputation].
	InitialReputation uint64 = 500
	MaxReputation     uint64 = 1000
	// ReputationSettled is added to the executor's reputation when its
	// result is settled (an on-time completion: results after the deadline
	// are refused).
	ReputationSettled uint64 = 10
	// ReputationExpired is taken from the executor's reputation when an
	// awarded task expires without a result.
	ReputationExpired uint64 = 25
	// ReputationDisputedExecutor and ReputationDisputedRequester are taken
	// from the executor and the requester when a result is disputed.
	ReputationDisputedExecutor  uint64 = 15
	ReputationDisputedRequester uint64 = 5
	// DisputeWindowSeconds: the requester may dispute a result until this
	// long after it was submitted; from then on the executor may settle
	// the task itself if the requester did neither.
	DisputeWindowSeconds int64 = 3600
)

// Limits on arguments (see README "Limits").
const (
	// MaxShortlist is k, the most candidates one Shortlist may name.
	MaxShortlist = 16
	// MaxJSONArgBytes bounds a JSON argument (candidates, options).
	MaxJSONArgBytes = 4096
	// MaxPayloadBytes and MaxResultBytes bound the private payload and result.
	MaxPayloadBytes = 1 << 20
	MaxResultBytes  = 1 << 20
	// MaxReasonBytes bounds a dispute reason.
	MaxReasonBytes = 256
	// MaxHorizonSeconds bounds how far after the transaction a deadline may
	// lie, and an offer's estimated completion time (365 days).
	MaxHorizonSeconds int64 = 365 * 24 * 3600
)

// Event names. Fabric keeps at most one chaincode event per transaction, so
// every transaction emits exactly one event. EdgeRegistered carries the edge
// JSON; every task event carries a TaskEvent (the task JSON as written, plus
// the actor, plus the offer for TaskOffered).
const (
	EventEdgeRegistered       = "EdgeRegistered"
	EventTaskRequested        = "TaskRequested"
	EventTaskShortlisted      = "TaskShortlisted"
	EventTaskOffered          = "TaskOffered"
	EventTaskAwarded          = "TaskAwarded"
	EventPayloadSent          = "PayloadSent"
	EventTaskCompleted        = "TaskCompleted"
	EventTaskSettled          = "TaskSettled"
	EventTaskDisputed         = "TaskDisputed"
	EventTaskExpired          = "TaskExpired"
	EventTaskReassigned       = "TaskReassigned"
	EventOwnershipProposed    = "OwnershipProposed"
	EventOwnershipTransferred = "OwnershipTransferred"
)

// Edge is the registered capacity and the account of one MEC edge
// organisation, keyed by its MSP ID. Times are Unix seconds taken from
// transaction timestamps. The counters count tasks this edge executed.
type Edge struct {
	DocType           string `json:"docType"`
	MSPID             string `json:"mspId"`
	CPUCyclesPerSec   uint64 `json:"cpuCyclesPerSec"`
	MemoryMB          uint64 `json:"memoryMB"`
	PricePerGigacycle uint64 `json:"pricePerGigacycle"`
	RegisteredAt      int64  `json:"registeredAt"`
	UpdatedAt         int64  `json:"updatedAt"`
	Grant             uint64 `json:"grant"`
	Balance           uint64 `json:"balance"`
	Reputation        uint64 `json:"reputation"`
	SettledTasks      uint64 `json:"settledTasks"`
	ExpiredTasks      uint64 `json:"expiredTasks"`
	DisputedTasks     uint64 `json:"disputedTasks"`
}

// TaskStatus is the lifecycle state of a Task.
type TaskStatus = string

// Task statuses.
const (
	StatusRequested   TaskStatus = "REQUESTED"   // published by the requesting edge
	StatusShortlisted TaskStatus = "SHORTLISTED" // the Cloud named candidates; offers are open
	StatusAwarded     TaskStatus = "AWARDED"     // contract with one executor; price in escrow
	StatusCompleted   TaskStatus = "COMPLETED"   // the executor posted the result hash
	StatusSettled     TaskStatus = "SETTLED"     // escrow paid to the executor; final
	StatusDisputed    TaskStatus = "DISPUTED"    // escrow split by the dispute rule; final
	StatusExpired     TaskStatus = "EXPIRED"     // deadline passed without a result; Reassign reopens
)

// Statuses lists every status in lifecycle order.
var Statuses = []TaskStatus{
	StatusRequested, StatusShortlisted, StatusAwarded, StatusCompleted,
	StatusSettled, StatusDisputed, StatusExpired,
}

// openStatuses are those in which the requester role may be transferred and
// the deadline may expire the task.
var openStatuses = []TaskStatus{StatusRequested, StatusShortlisted, StatusAwarded}

// CanTransition reports whether a task may move from one status to another.
// Offers are separate records collected while a task is SHORTLISTED; a new
// Shortlist replaces the candidates (SHORTLISTED -> SHORTLISTED, a new round).
// EXPIRED -> REQUESTED is Reassign with a new deadline. It guards every task
// write (requireTransition, checkTransition in tasktx.go).
func CanTransition(from, to TaskStatus) bool {
	switch from {
	case StatusRequested:
		return to == StatusShortlisted || to == StatusExpired
	case StatusShortlisted:
		return to == StatusShortlisted || to == StatusAwarded || to == StatusExpired
	case StatusAwarded:
		return to == StatusCompleted || to == StatusExpired
	case StatusCompleted:
		return to == StatusSettled || to == StatusDisputed
	case StatusExpired:
		return to == StatusRequested
	default:
		return false
	}
}

// Task is one computation task published by a requesting edge. Prices are
// integers in the smallest currency unit; times are Unix seconds from
// transaction timestamps (0 = not yet). Fields up to requestTxId are those of
// chaincode 0.1; the rest were added with the lifecycle.
type Task struct {
	DocType     string     `json:"docType"`
	TaskID      string     `json:"taskId"`
	Requester   string     `json:"requester"`
	Status      TaskStatus `json:"status"`
	CPUCycles   uint64     `json:"cpuCycles"`
	InputBytes  uint64     `json:"inputBytes"`
	Deadline    int64      `json:"deadline"`
	MaxPrice    uint64     `json:"maxPrice"`
	PayloadHash string     `json:"payloadHash"`
	RequestedAt int64      `json:"requestedAt"`
	RequestTxID string     `json:"requestTxId"`

	// DelegateAward lets the Cloud award the task on the requester's behalf.
	DelegateAward bool `json:"delegateAward"`
	// Round counts Shortlist calls; offers belong to the current round.
	Round      uint64   `json:"round"`
	Candidates []string `json:"candidates"`
	// Executor, Price (the accepted offer's), EstimatedSeconds (the offer's
	// estimate) and AwardedAt are set by Award. Escrow is the amount held
	// from the requester's balance until Settle, Dispute or Expire.
	Executor         string `json:"executor"`
	Price            uint64 `json:"price"`
	EstimatedSeconds uint64 `json:"estimatedSeconds"`
	Escrow           uint64 `json:"escrow"`
	AwardedAt        int64  `json:"awardedAt"`
	// PayloadDelivered: the payload was written to the executor's private
	// collection (by Award from the requester, or by SendPayload).
	PayloadDelivered bool   `json:"payloadDelivered"`
	ResultHash       string `json:"resultHash"`
	CompletedAt      int64  `json:"completedAt"`
	// ClosedAt is when the task was settled, disputed or expired.
	ClosedAt      int64  `json:"closedAt"`
	DisputeReason string `json:"disputeReason"`
	// PendingOwner is the edge offered the requester role by
	// TransferOwnership, until it accepts.
	PendingOwner string `json:"pendingOwner"`
	UpdatedAt    int64  `json:"updatedAt"`
	LastTxID     string `json:"lastTxId"`
}

// Offer is a shortlisted edge's answer to a task in one shortlist round.
type Offer struct {
	DocType          string `json:"docType"`
	TaskID           string `json:"taskId"`
	Round            uint64 `json:"round"`
	MSPID            string `json:"mspId"`
	Willing          bool   `json:"willing"`
	Price            uint64 `json:"price"`
	EstimatedSeconds uint64 `json:"estimatedSeconds"`
	OfferedAt        int64  `json:"offeredAt"`
	TxID             string `json:"txId"`
}

// TaskEvent is the payload of every task event: the task as written by the
// transaction (its JSON fields, flattened), the MSP ID of the caller, and for
// TaskOffered the offer.
type TaskEvent struct {
	Task
	Actor string `json:"actor"`
	Offer *Offer `json:"offer,omitempty"`
}

// HistoryEntry is one committed version of a task key (GetTaskHistory).
type HistoryEntry struct {
	TxID      string `json:"txId"`
	Timestamp int64  `json:"timestamp"`
	IsDelete  bool   `json:"isDelete"`
	Value     *Task  `json:"value,omitempty" metadata:",optional"`
}

// Account is an edge's balance and reputation (GetBalance).
type Account struct {
	MSPID      string `json:"mspId"`
	Balance    uint64 `json:"balance"`
	Reputation uint64 `json:"reputation"`
}

// PrivateCheck answers VerifyPayload and VerifyResult: whether the transient
// value matches the public hash, and whether the requester's and executor's
// private collections hold a value with that hash (read with
// GetPrivateDataHash, so any peer can answer without holding the data).
type PrivateCheck struct {
	TaskID          string `json:"taskId"`
	Hash            string `json:"hash"`
	Matches         bool   `json:"matches"`
	HeldByRequester bool   `json:"heldByRequester"`
	HeldByExecutor  bool   `json:"heldByExecutor"`
}

// CreditAudit sums every account (AuditCredits): Balanced is the invariant
// Balances + Escrow == Grants.
type CreditAudit struct {
	Edges    uint64 `json:"edges"`
	Grants   uint64 `json:"grants"`
	Balances uint64 `json:"balances"`
	Escrow   uint64 `json:"escrow"`
	Balanced bool   `json:"balanced"`
}
