package mectask

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// serializedIdentity builds the creator bytes Fabric puts in a proposal: an
// msp.SerializedIdentity holding a PEM X.509 certificate.
func serializedIdentity(t *testing.T, mspID string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "user1@" + mspID, OrganizationalUnit: []string{"client"}},
		NotBefore:    time.Unix(t0-3600, 0),
		NotAfter:     time.Unix(t0+3600, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	sid := &msp.SerializedIdentity{
		Mspid:   mspID,
		IdBytes: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}
	b, err := proto.Marshal(sid)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// invoker drives the chaincode the way the peer does: string arguments
// through contractapi's Invoke, the caller's org parsed from a real
// serialized identity, results serialized by contractapi (which also checks
// them against the contract's metadata schema).
type invoker struct {
	t        *testing.T
	cc       *contractapi.ContractChaincode
	ledger   *fakeLedger
	creators map[string][]byte
	n        int
	now      int64
}

func newInvoker(t *testing.T) *invoker {
	iv := &invoker{t: t, ledger: newFakeLedger(), creators: map[string][]byte{}, now: t0}
	cc, err := contractapi.NewChaincode(NewTaskContract(WithClock(func() int64 { return iv.now }, DefaultMaxSkewSeconds)))
	if err != nil {
		t.Fatal(err)
	}
	iv.cc = cc
	t.Cleanup((&harness{t: t, ledger: iv.ledger}).checkInvariants)
	return iv
}

// call runs one transaction on a peer of the caller's org and commits it
// when it succeeds.
func (iv *invoker) call(mspID string, transient map[string][]byte, args ...string) (int32, string, string, *fakeStub) {
	iv.t.Helper()
	if iv.creators[mspID] == nil {
		iv.creators[mspID] = serializedIdentity(iv.t, mspID)
	}
	iv.n++
	stub := newFakeStub(iv.ledger, fmt.Sprintf("tx%03d", iv.n), iv.now)
	stub.creator = iv.creators[mspID]
	stub.peerMSP = mspID
	stub.transient = transient
	for _, a := range args {
		stub.args = append(stub.args, []byte(a))
	}
	resp := iv.cc.Invoke(stub)
	if resp.GetStatus() == 200 {
		stub.commit()
	}
	return resp.GetStatus(), string(resp.GetPayload()), resp.GetMessage(), stub
}

func (iv *invoker) ok(mspID string, transient map[string][]byte, args ...string) string {
	iv.t.Helper()
	status, payload, msg, _ := iv.call(mspID, transient, args...)
	if status != 200 {
		iv.t.Fatalf("%v = %d %q", args, status, msg)
	}
	return payload
}

func TestInvokeThroughContractAPI(t *testing.T) {
	iv := newInvoker(t)
	invoke := func(mspID string, args ...string) (int32, string, string, *fakeStub) {
		t.Helper()
		return iv.call(mspID, nil, args...)
	}

	status, payload, _, _ := invoke("Edge1MSP", "ListEdges")
	if status != 200 || payload != "[]" {
		t.Fatalf("empty ListEdges = %d %q", status, payload)
	}

	status, payload, msg, stub := invoke("Edge1MSP", "mectask:RegisterEdge", "3000000000", "8192", "5")
	wantEdge := `{"docType":"edge","mspId":"Edge1MSP","cpuCyclesPerSec":3000000000,"memoryMB":8192,"pricePerGigacycle":5,"registeredAt":1750000000,"updatedAt":1750000000,` +
		`"grant":1000000,"balance":1000000,"reputation":500,"settledTasks":0,"expiredTasks":0,"disputedTasks":0}`
	if status != 200 || payload != wantEdge {
		t.Fatalf("RegisterEdge = %d %q %q", status, payload, msg)
	}
	if stub.eventName != EventEdgeRegistered || string(stub.eventPayload) != wantEdge {
		t.Fatalf("event %q %s", stub.eventName, stub.eventPayload)
	}

	_, _, msg, _ = invoke(CloudMSPID, "RegisterEdge", "1", "1", "1")
	if msg != "org CloudMSP is the cloud and cannot register as an edge" {
		t.Fatalf("cloud RegisterEdge message = %q", msg)
	}
	status, _, msg, _ = invoke("Edge1MSP", "RequestTask", "t-1", "abc", "1", "1750000060", "1", goodHash)
	if status != 500 || msg != `invalid cpuCycles "abc": must be a positive integer` {
		t.Fatalf("bad RequestTask = %d %q", status, msg)
	}
	_, _, msg, _ = invoke("Edge9MSP", "RequestTask", "t-1", "1", "1", "1750000060", "1", goodHash)
	if msg != "edge Edge9MSP is not registered" {
		t.Fatalf("unregistered RequestTask message = %q", msg)
	}

	status, payload, msg, stub = invoke("Edge1MSP", "RequestTask", "t-1", "2000000000", "1024", "1750000060", "40", goodHash)
	if status != 200 {
		t.Fatalf("RequestTask = %d %q", status, msg)
	}
	var task Task
	if err := json.Unmarshal([]byte(payload), &task); err != nil {
		t.Fatal(err)
	}
	if task.Requester != "Edge1MSP" || task.Status != StatusRequested || task.RequestedAt != t0 {
		t.Fatalf("task = %+v", task)
	}
	if stub.eventName != EventTaskRequested || string(stub.eventPayload) != strings.TrimSuffix(payload, "}")+`,"actor":"Edge1MSP"}` {
		t.Fatalf("event %q %s", stub.eventName, stub.eventPayload)
	}
	_, _, msg, _ = invoke("Edge1MSP", "RequestTask", "t-1", "1", "1", "1750000060", "1", goodHash)
	if msg != "task t-1 already exists" {
		t.Fatalf("duplicate message = %q", msg)
	}

	for _, q := range [][]string{{"ReadTask", "t-1"}, {"TaskExists", "t-1"}, {"GetEdge", "Edge1MSP"}, {"ListEdges"}} {
		status, payload, msg, _ = invoke("Edge2MSP", q...)
		if status != 200 {
			t.Fatalf("%v = %d %q", q, status, msg)
		}
		want := map[string]string{"ReadTask": string(iv.ledger.state[mustKey(t, taskObjectType, "t-1")]), "TaskExists": "true", "GetEdge": wantEdge, "ListEdges": "[" + wantEdge + "]"}[q[0]]
		if payload != want {
			t.Fatalf("%v payload\n got: %s\nwant: %s", q, payload, want)
		}
	}

	// The metadata lists every transaction with the right submit/evaluate tag.
	status, payload, msg, _ = invoke("Edge1MSP", "org.hyperledger.fabric:GetMetadata")
	if status != 200 {
		t.Fatalf("GetMetadata = %d %q", status, msg)
	}
	var md struct {
		Contracts map[string]struct {
			Transactions []struct {
				Name string   `json:"name"`
				Tag  []string `json:"tag"`
			} `json:"transactions"`
		} `json:"contracts"`
	}
	if err := json.Unmarshal([]byte(payload), &md); err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tx := range md.Contracts[ContractName].Transactions {
		switch {
		case slices.Contains(tx.Tag, "EVALUATE"):
			tags[tx.Name] = "EVALUATE"
		case slices.Contains(tx.Tag, "SUBMIT"):
			tags[tx.Name] = "SUBMIT"
		}
	}
	want := map[string]string{}
	for _, name := range []string{"RegisterEdge", "RequestTask", "RequestTaskWithOptions", "Shortlist", "Offer", "Award", "SendPayload",
		"SubmitResult", "Settle", "Dispute", "Expire", "Reassign", "TransferOwnership", "AcceptOwnership"} {
		want[name] = "SUBMIT"
	}
	for _, name := range NewTaskContract().GetEvaluateTransactions() {
		want[name] = "EVALUATE"
	}
	if fmt.Sprint(tags) != fmt.Sprint(want) {
		t.Fatalf("transactions = %v, want %v", tags, want)
	}
}

func mustKey(t *testing.T, objectType string, attrs ...string) string {
	t.Helper()
	k, err := shimKey(objectType, attrs...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestLifecycleThroughContractAPI runs the whole lifecycle through Invoke:
// string arguments, transient data, and every return type through
// contractapi's serializer and schema checks (binary payloads included).
func TestLifecycleThroughContractAPI(t *testing.T) {
	iv := newInvoker(t)
	for _, org := range []string{"Edge1MSP", "Edge2MSP", "Edge3MSP"} {
		iv.ok(org, nil, "RegisterEdge", "3000000000", "8192", "5")
	}
	binary := []byte{0x00, 0xff, 0xfe, 'x', 0x80, '\n'}
	hash := sha256Hex(binary)
	iv.ok("Edge1MSP", withPayload(binary), "RequestTaskWithOptions", "t-1", "1000", "6", fmt.Sprint(t0+600), "50", hash, `{"delegateAward":true}`)
	iv.ok(CloudMSPID, nil, "Shortlist", "t-1", `["Edge2MSP","Edge3MSP"]`)
	offer := iv.ok("Edge2MSP", nil, "Offer", "t-1", "true", "30", "20")
	if !strings.Contains(offer, `"willing":true,"price":30,"estimatedSeconds":20`) {
		t.Fatalf("Offer = %s", offer)
	}
	iv.ok("Edge3MSP", nil, "Offer", "t-1", "false", "0", "0")
	if got := iv.ok(CloudMSPID, nil, "ListOffers", "t-1"); strings.Count(got, `"docType":"offer"`) != 2 {
		t.Fatalf("ListOffers = %s", got)
	}
	iv.ok(CloudMSPID, nil, "Award", "t-1", "Edge2MSP", "30") // delegated: no payload
	iv.ok("Edge1MSP", withPayload(binary), "SendPayload", "t-1")
	if got := iv.ok("Edge2MSP", nil, "ReadPayload", "t-1"); got != string(binary) {
		t.Fatalf("ReadPayload by the executor = %q", got)
	}
	if got := iv.ok("Edge1MSP", nil, "ReadPayload", "t-1"); got != string(binary) {
		t.Fatalf("ReadPayload by the requester = %q", got)
	}
	for _, org := range []string{CloudMSPID, "Edge3MSP"} {
		if status, got, msg, _ := iv.call(org, nil, "ReadPayload", "t-1"); status == 200 || got != "" || msg != "org "+org+" holds no payload of task t-1" {
			t.Fatalf("ReadPayload by %s = %d %q %q", org, status, got, msg)
		}
	}
	check := iv.ok("Edge3MSP", withPayload(binary), "VerifyPayload", "t-1")
	if check != `{"taskId":"t-1","hash":"`+hash+`","matches":true,"heldByRequester":true,"heldByExecutor":true}` {
		t.Fatalf("VerifyPayload = %s", check)
	}
	iv.now += 10
	iv.ok("Edge2MSP", withResult(result), "SubmitResult", "t-1", resultHex)
	if got := iv.ok("Edge1MSP", nil, "ReadResult", "t-1"); got != string(result) {
		t.Fatalf("ReadResult = %q", got)
	}
	iv.ok("Edge1MSP", nil, "Settle", "t-1")
	if got := iv.ok("Edge2MSP", nil, "GetBalance", "Edge2MSP"); got != `{"mspId":"Edge2MSP","balance":1000030,"reputation":510}` {
		t.Fatalf("GetBalance = %s", got)
	}
	if got := iv.ok(CloudMSPID, nil, "AuditCredits"); got != `{"edges":3,"grants":3000000,"balances":3000000,"escrow":0,"balanced":true}` {
		t.Fatalf("AuditCredits = %s", got)
	}
	var history []HistoryEntry
	if err := json.Unmarshal([]byte(iv.ok(CloudMSPID, nil, "GetTaskHistory", "t-1")), &history); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	for _, e := range history {
		statuses = append(statuses, e.Value.Status)
	}
	if want := "REQUESTED,SHORTLISTED,AWARDED,AWARDED,COMPLETED,SETTLED"; joined(statuses) != want {
		t.Fatalf("history statuses %s, want %s", joined(statuses), want)
	}
	for q, want := range map[string]string{"ListTasksByStatus SETTLED": "t-1", "ListTasksByStatus AWARDED": "", "ListTasksByOrg Edge3MSP": "t-1", "ListTasksByOrg Edge4MSP": ""} {
		var tasks []Task
		if err := json.Unmarshal([]byte(iv.ok(CloudMSPID, nil, strings.Fields(q)...)), &tasks); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, task := range tasks {
			ids = append(ids, task.TaskID)
		}
		if joined(ids) != want {
			t.Fatalf("%s = %v, want %s", q, ids, want)
		}
	}
	// Argument count and transient checks reach the client as messages.
	if status, _, msg, _ := iv.call("Edge1MSP", map[string][]byte{"junk": {1}}, "ReadTask", "t-1"); status != 500 || msg != `unexpected transient key "junk"` {
		t.Fatalf("ReadTask with transient = %d %q", status, msg)
	}
}
