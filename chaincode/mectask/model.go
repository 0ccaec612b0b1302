// Package mectask is the mec-fabric task-sharing chaincode: MEC edge servers
// register their capacity and publish computation tasks on a shared ledger.
//
// The full protocol is requester -> shortlist by the Cloud -> offers -> award ->
// result -> settle. This first milestone implements edge registration and task
// requests; the state machine below names every later status so that new
// transactions only add transitions, never change stored shapes.
package mectask

// Document types, stored in every JSON document so that a CouchDB rich query
// (or a human reading the world state) can tell records apart.
const (
	DocTypeEdge = "edge"
	DocTypeTask = "task"
)

// Composite-key object types. Keys are CreateCompositeKey(objectType, id...),
// so each kind of record lives in its own sorted key range.
const (
	edgeObjectType = "mec.edge"
	taskObjectType = "mec.task"
)

// CloudMSPID is the MSP ID of the Cloud organisation. The Cloud coordinates
// (shortlists, arbitrates) but is never an edge: it cannot register capacity
// or request tasks.
const CloudMSPID = "CloudMSP"

// Event names. Fabric keeps at most one chaincode event per transaction, so
// every transaction emits exactly one event; the payload is the JSON of the
// record the transaction wrote (the same bytes as the ledger value).
const (
	EventEdgeRegistered = "EdgeRegistered"
	EventTaskRequested  = "TaskRequested"
)

// Edge is the registered capacity of one MEC edge organisation, keyed by its
// MSP ID. Times are Unix seconds taken from transaction timestamps.
type Edge struct {
	DocType           string `json:"docType"`
	MSPID             string `json:"mspId"`
	CPUCyclesPerSec   uint64 `json:"cpuCyclesPerSec"`
	MemoryMB          uint64 `json:"memoryMB"`
	PricePerGigacycle uint64 `json:"pricePerGigacycle"`
	RegisteredAt      int64  `json:"registeredAt"`
	UpdatedAt         int64  `json:"updatedAt"`
}

// TaskStatus is the lifecycle state of a Task.
type TaskStatus = string

// Task statuses. Only StatusRequested is reachable in this milestone; the
// others are reserved for the transactions that follow (see CanTransition).
const (
	StatusRequested   TaskStatus = "REQUESTED"   // published by the requesting edge
	StatusShortlisted TaskStatus = "SHORTLISTED" // the Cloud picked candidate edges
	StatusAwarded     TaskStatus = "AWARDED"     // the requester accepted one offer
	StatusCompleted   TaskStatus = "COMPLETED"   // the winner posted the result hash
	StatusSettled     TaskStatus = "SETTLED"     // payment recorded; final
	StatusCancelled   TaskStatus = "CANCELLED"   // withdrawn or expired; final
)

// CanTransition reports whether a task may move from one status to another.
// Offers are collected while a task is SHORTLISTED (they are separate records,
// not a status of their own).
func CanTransition(from, to TaskStatus) bool {
	switch from {
	case StatusRequested:
		return to == StatusShortlisted || to == StatusCancelled
	case StatusShortlisted:
		return to == StatusAwarded || to == StatusCancelled
	case StatusAwarded:
		return to == StatusCompleted || to == StatusCancelled
	case StatusCompleted:
		return to == StatusSettled
	default:
		return false
	}
}

// Task is one computation task published by a requesting edge. Prices are
// integers in the smallest currency unit; Deadline and RequestedAt are Unix
// seconds (RequestedAt is the transaction timestamp, never a wall clock).
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
}
