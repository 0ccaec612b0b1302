package mectask

import (
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// fakeLedger is the committed ledger shared by successive fake transactions:
// world state, key-level endorsement policies (state validation parameters),
// private data of every implicit collection (each fake peer may read only
// its own org's), and the history of every public key.
type fakeLedger struct {
	state   map[string][]byte
	vp      map[string][]byte
	private map[string]map[string][]byte // collection -> key -> value
	history map[string][]*queryresult.KeyModification
}

func newFakeLedger() *fakeLedger {
	return &fakeLedger{
		state:   map[string][]byte{},
		vp:      map[string][]byte{},
		private: map[string]map[string][]byte{},
		history: map[string][]*queryresult.KeyModification{},
	}
}

// snapshot is a deep copy of everything a transaction may change, to check
// that a rejected transaction changed nothing.
func (l *fakeLedger) snapshot() string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l.state)) {
		fmt.Fprintf(&b, "S %q=%x\n", k, l.state[k])
	}
	for _, k := range slices.Sorted(maps.Keys(l.vp)) {
		fmt.Fprintf(&b, "V %q=%x\n", k, l.vp[k])
	}
	for _, c := range slices.Sorted(maps.Keys(l.private)) {
		for _, k := range slices.Sorted(maps.Keys(l.private[c])) {
			fmt.Fprintf(&b, "P %s %q=%x\n", c, k, l.private[c][k])
		}
	}
	for _, k := range slices.Sorted(maps.Keys(l.history)) {
		fmt.Fprintf(&b, "H %q=%d\n", k, len(l.history[k]))
	}
	return b.String()
}

// fakeStub is an in-memory stand-in for one endorsing peer's simulation of
// a transaction (shim.ChaincodeStubInterface). Like Fabric: reads see
// committed state only (never this transaction's own writes); writes,
// private writes and validation parameters are buffered until commit; a
// transaction keeps only its last event; a peer reads only the private data
// of its own org's implicit collection (another org's returns Fabric's
// "not available" error when the key exists, nil when it does not), while
// GetPrivateDataHash works for every collection. Methods the contract does
// not use fall through to the nil embedded interface and panic, so an
// accidental new dependency shows up in the tests.
type fakeStub struct {
	shim.ChaincodeStubInterface

	ledger     *fakeLedger
	peerMSP    string // org of the endorsing peer running this simulation
	writes     map[string][]byte
	vpWrites   map[string][]byte
	privWrites map[string]map[string][]byte
	transient  map[string][]byte
	txID       string
	ts         *timestamppb.Timestamp
	creator    []byte
	args       [][]byte

	eventName    string
	eventPayload []byte
	eventCount   int
}

func newFakeStub(ledger *fakeLedger, txID string, seconds int64) *fakeStub {
	return &fakeStub{
		ledger:     ledger,
		writes:     map[string][]byte{},
		vpWrites:   map[string][]byte{},
		privWrites: map[string]map[string][]byte{},
		txID:       txID,
		ts:         &timestamppb.Timestamp{Seconds: seconds, Nanos: 123456789},
	}
}

// wrote reports whether the simulation buffered any write or event.
func (s *fakeStub) wrote() bool {
	return len(s.writes) > 0 || len(s.vpWrites) > 0 || len(s.privWrites) > 0 || s.eventCount > 0
}

// commit applies the buffered writes, as a valid committed transaction would.
func (s *fakeStub) commit() {
	l := s.ledger
	for _, k := range slices.Sorted(maps.Keys(s.writes)) {
		v := s.writes[k]
		if v == nil {
			delete(l.state, k)
			delete(l.vp, k) // Fabric deletes a key's metadata with the key
		} else {
			l.state[k] = v
		}
		l.history[k] = append(l.history[k], &queryresult.KeyModification{
			TxId: s.txID, Value: v, Timestamp: s.ts, IsDelete: v == nil,
		})
	}
	for k, v := range s.vpWrites {
		if len(v) == 0 {
			delete(l.vp, k)
		} else {
			l.vp[k] = v
		}
	}
	for c, kvs := range s.privWrites {
		if l.private[c] == nil {
			l.private[c] = map[string][]byte{}
		}
		for k, v := range kvs {
			l.private[c][k] = v
		}
	}
	s.writes = map[string][]byte{}
	s.vpWrites = map[string][]byte{}
	s.privWrites = map[string]map[string][]byte{}
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
	if len(value) == 0 {
		return errors.New("fake: an empty value would be a delete in fabric")
	}
	s.writes[key] = append([]byte(nil), value...)
	return nil
}

func (s *fakeStub) DelState(key string) error {
	s.writes[key] = nil
	return nil
}

func (s *fakeStub) SetStateValidationParameter(key string, ep []byte) error {
	s.vpWrites[key] = append([]byte(nil), ep...)
	return nil
}

func (s *fakeStub) GetStateValidationParameter(key string) ([]byte, error) {
	return append([]byte(nil), s.ledger.vp[key]...), nil
}

// collectionOrg returns the MSP ID of an implicit collection; other
// collections are not defined (the chaincode has no collection config).
func collectionOrg(collection string) (string, error) {
	org, ok := strings.CutPrefix(collection, implicitCollectionPrefix)
	if !ok || org == "" {
		return "", fmt.Errorf("collection %s not defined for chaincode mectask", collection)
	}
	return org, nil
}

func (s *fakeStub) GetPrivateData(collection, key string) ([]byte, error) {
	org, err := collectionOrg(collection)
	if err != nil {
		return nil, err
	}
	v, ok := s.ledger.private[collection][key]
	if org != s.peerMSP {
		if ok {
			return nil, errors.New("private data matching public hash version is not available. Public hash version = {BlockNum: 1, TxNum: 0}, Private data version = <nil>")
		}
		return nil, nil
	}
	if !ok {
		return nil, nil
	}
	return append([]byte(nil), v...), nil
}

func (s *fakeStub) GetPrivateDataHash(collection, key string) ([]byte, error) {
	if _, err := collectionOrg(collection); err != nil {
		return nil, err
	}
	v, ok := s.ledger.private[collection][key]
	if !ok {
		return nil, nil
	}
	sum := sha256.Sum256(v)
	return sum[:], nil
}

func (s *fakeStub) PutPrivateData(collection, key string, value []byte) error {
	if _, err := collectionOrg(collection); err != nil {
		return err
	}
	if key == "" {
		return errors.New("key must not be an empty string")
	}
	if s.privWrites[collection] == nil {
		s.privWrites[collection] = map[string][]byte{}
	}
	s.privWrites[collection][key] = append([]byte(nil), value...)
	return nil
}

func (s *fakeStub) GetTransient() (map[string][]byte, error) {
	out := make(map[string][]byte, len(s.transient))
	for k, v := range s.transient {
		out[k] = append([]byte(nil), v...)
	}
	return out, nil
}

func (s *fakeStub) GetHistoryForKey(key string) (shim.HistoryQueryIteratorInterface, error) {
	h := s.ledger.history[key]
	it := &fakeHistoryIterator{}
	for i := len(h) - 1; i >= 0; i-- { // newest first, as Fabric 2+
		it.mods = append(it.mods, h[i])
	}
	return it, nil
}

func (s *fakeStub) CreateCompositeKey(objectType string, attributes []string) (string, error) {
	return shim.CreateCompositeKey(objectType, attributes)
}

func (s *fakeStub) SplitCompositeKey(key string) (string, []string, error) {
	// shim exposes no standalone splitter; composite keys are
	// 0x00 objectType 0x00 attr 0x00 ... attr 0x00.
	if !strings.HasPrefix(key, "\x00") || !strings.HasSuffix(key, "\x00") {
		return "", nil, fmt.Errorf("not a composite key: %q", key)
	}
	parts := strings.Split(key[1:len(key)-1], "\x00")
	return parts[0], parts[1:], nil
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
	slices.Sort(keys) // state databases return keys in order
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

type fakeHistoryIterator struct {
	mods   []*queryresult.KeyModification
	closed bool
}

func (it *fakeHistoryIterator) HasNext() bool { return !it.closed && len(it.mods) > 0 }

func (it *fakeHistoryIterator) Next() (*queryresult.KeyModification, error) {
	if !it.HasNext() {
		return nil, errors.New("no more results")
	}
	m := it.mods[0]
	it.mods = it.mods[1:]
	return m, nil
}

func (it *fakeHistoryIterator) Close() error { it.closed = true; return nil }

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
