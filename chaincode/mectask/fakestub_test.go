package mectask

import (
	"crypto/x509"
	"errors"
	"sort"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeLedger is committed world state shared by successive fake transactions.
type fakeLedger struct {
	state map[string][]byte
}

func newFakeLedger() *fakeLedger { return &fakeLedger{state: map[string][]byte{}} }

// fakeStub is a small in-memory stand-in for one transaction's
// shim.ChaincodeStubInterface. Like Fabric, reads see committed state only
// (never this transaction's own writes), writes are buffered until commit,
// and a transaction keeps only its last event. Methods the contract does not
// use fall through to the nil embedded interface and panic, so an accidental
// new dependency shows up in the tests.
type fakeStub struct {
	shim.ChaincodeStubInterface

	ledger  *fakeLedger
	writes  map[string][]byte // nil value: delete
	txID    string
	ts      *timestamppb.Timestamp
	creator []byte
	args    [][]byte

	eventName    string
	eventPayload []byte
	eventCount   int
}

func newFakeStub(ledger *fakeLedger, txID string, seconds int64) *fakeStub {
	return &fakeStub{
		ledger: ledger,
		writes: map[string][]byte{},
		txID:   txID,
		ts:     &timestamppb.Timestamp{Seconds: seconds, Nanos: 123456789},
	}
}

// commit applies the buffered writes, as a valid committed transaction would.
func (s *fakeStub) commit() {
	for k, v := range s.writes {
		if v == nil {
			delete(s.ledger.state, k)
		} else {
			s.ledger.state[k] = v
		}
	}
	s.writes = map[string][]byte{}
}

func (s *fakeStub) GetState(key string) ([]byte, error) {
	if v, ok := s.ledger.state[key]; ok {
		return append([]byte(nil), v...), nil
	}
	return nil, nil
}

func (s *fakeStub) PutState(key string, value []byte) error {
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if value == nil {
		value = []byte{}
	}
	s.writes[key] = append([]byte(nil), value...)
	return nil
}

func (s *fakeStub) DelState(key string) error {
	s.writes[key] = nil
	return nil
}

func (s *fakeStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *fakeStub) GetStateByPartialCompositeKey(objectType string, attributes []string) (shim.StateQueryIteratorInterface, error) {
	prefix, err := shim.CreateCompositeKey(objectType, attributes)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range s.ledger.state {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys) // state databases return keys in order
	it := &fakeIterator{}
	for _, k := range keys {
		it.kvs = append(it.kvs, &queryresult.KV{Key: k, Value: append([]byte(nil), s.ledger.state[k]...)})
	}
	return it, nil
}

func (s *fakeStub) GetTxID() string                                 { return s.txID }
func (s *fakeStub) GetChannelID() string                            { return "mec" }
func (s *fakeStub) GetTxTimestamp() (*timestamppb.Timestamp, error) { return s.ts, nil }
func (s *fakeStub) GetCreator() ([]byte, error)                     { return s.creator, nil }
func (s *fakeStub) GetArgs() [][]byte                               { return s.args }

func (s *fakeStub) GetStringArgs() []string {
	out := make([]string, len(s.args))
	for i, a := range s.args {
		out[i] = string(a)
	}
	return out
}

func (s *fakeStub) GetFunctionAndParameters() (string, []string) {
	all := s.GetStringArgs()
	if len(all) == 0 {
		return "", nil
	}
	return all[0], all[1:]
}

func (s *fakeStub) SetEvent(name string, payload []byte) error {
	if name == "" {
		return errors.New("event name can not be empty string")
	}
	s.eventName, s.eventPayload = name, append([]byte(nil), payload...)
	s.eventCount++
	return nil
}

type fakeIterator struct {
	kvs    []*queryresult.KV
	closed bool
}

func (it *fakeIterator) HasNext() bool { return !it.closed && len(it.kvs) > 0 }

func (it *fakeIterator) Next() (*queryresult.KV, error) {
	if !it.HasNext() {
		return nil, errors.New("no more results")
	}
	kv := it.kvs[0]
	it.kvs = it.kvs[1:]
	return kv, nil
}

func (it *fakeIterator) Close() error { it.closed = true; return nil }

// fakeIdentity is a cid.ClientIdentity with only an MSP ID.
type fakeIdentity struct {
	mspID string
	err   error
}

func (f fakeIdentity) GetID() (string, error)    { return "x509::CN=user::CN=ca", nil }
func (f fakeIdentity) GetMSPID() (string, error) { return f.mspID, f.err }
func (f fakeIdentity) GetAttributeValue(string) (string, bool, error) {
	return "", false, nil
}
func (f fakeIdentity) AssertAttributeValue(name, _ string) error {
	return errors.New("attribute '" + name + "' was not found")
}
func (f fakeIdentity) GetX509Certificate() (*x509.Certificate, error) { return nil, nil }

func shimKey(objectType string, attrs ...string) (string, error) {
	return shim.CreateCompositeKey(objectType, attrs)
}
