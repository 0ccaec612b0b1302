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

// TestInvokeThroughContractAPI drives the contract the way the peer does:
// string arguments through contractapi's Invoke, the caller's org parsed
// from a real serialized identity, results serialized by contractapi.
func TestInvokeThroughContractAPI(t *testing.T) {
	cc, err := contractapi.NewChaincode(NewTaskContract())
	if err != nil {
		t.Fatal(err)
	}
	ledger := newFakeLedger()
	creators := map[string][]byte{}
	n := 0
	invoke := func(mspID string, args ...string) (int32, string, string, *fakeStub) {
		t.Helper()
		if creators[mspID] == nil {
			creators[mspID] = serializedIdentity(t, mspID)
		}
		n++
		stub := newFakeStub(ledger, fmt.Sprintf("tx%03d", n), t0)
		stub.creator = creators[mspID]
		for _, a := range args {
			stub.args = append(stub.args, []byte(a))
		}
		resp := cc.Invoke(stub)
		if resp.GetStatus() == 200 {
			stub.commit()
		}
		return resp.GetStatus(), string(resp.GetPayload()), resp.GetMessage(), stub
	}

	status, payload, _, _ := invoke("Edge1MSP", "ListEdges")
	if status != 200 || payload != "[]" {
		t.Fatalf("empty ListEdges = %d %q", status, payload)
	}

	status, payload, msg, stub := invoke("Edge1MSP", "mectask:RegisterEdge", "3000000000", "8192", "5")
	wantEdge := `{"docType":"edge","mspId":"Edge1MSP","cpuCyclesPerSec":3000000000,"memoryMB":8192,"pricePerGigacycle":5,"registeredAt":1750000000,"updatedAt":1750000000}`
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
	if stub.eventName != EventTaskRequested || string(stub.eventPayload) != payload {
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
		want := map[string]string{"ReadTask": string(stub.eventPayload), "TaskExists": "true", "GetEdge": wantEdge, "ListEdges": "[" + wantEdge + "]"}[q[0]]
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
	want := map[string]string{
		"RegisterEdge": "SUBMIT", "RequestTask": "SUBMIT",
		"GetEdge": "EVALUATE", "ListEdges": "EVALUATE", "ReadTask": "EVALUATE", "TaskExists": "EVALUATE",
	}
	if fmt.Sprint(tags) != fmt.Sprint(want) {
		t.Fatalf("transactions = %v, want %v", tags, want)
	}
}
