package main

import (
	"testing"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestNewServerRequiresChaincodeID(t *testing.T) {
	_, err := newServer(envOf(nil))
	if err == nil || err.Error() != "CHAINCODE_ID is not set: set it to the package ID printed by 'peer lifecycle chaincode install' (label:hash)" {
		t.Fatalf("error = %v", err)
	}
}

func TestNewServerDefaults(t *testing.T) {
	s, err := newServer(envOf(map[string]string{"CHAINCODE_ID": "mectask_1.0:abc"}))
	if err != nil {
		t.Fatal(err)
	}
	if s.CCID != "mectask_1.0:abc" || s.Address != DefaultAddress || !s.TLSProps.Disabled || s.CC == nil {
		t.Fatalf("server = %+v", s)
	}
	s, err = newServer(envOf(map[string]string{"CHAINCODE_ID": "x:1", "CHAINCODE_SERVER_ADDRESS": "127.0.0.1:7052"}))
	if err != nil || s.Address != "127.0.0.1:7052" {
		t.Fatalf("server = %+v, %v", s, err)
	}
}

func TestNewServerPeerOrgEnforcement(t *testing.T) {
	_, err := newServer(envOf(map[string]string{"CHAINCODE_ID": "x:1", "MECTASK_ENFORCE_PEER_ORG": "true"}))
	if err == nil || err.Error() != "MECTASK_ENFORCE_PEER_ORG is set but CORE_PEER_LOCALMSPID is not: set it to the MSP ID of the peer this server endorses for" {
		t.Fatalf("error = %v", err)
	}
	if _, err := newServer(envOf(map[string]string{"CHAINCODE_ID": "x:1", "MECTASK_ENFORCE_PEER_ORG": "true", "CORE_PEER_LOCALMSPID": "Edge1MSP"})); err != nil {
		t.Fatal(err)
	}
	_, err = newServer(envOf(map[string]string{"CHAINCODE_ID": "x:1", "MECTASK_ENFORCE_PEER_ORG": "maybe"}))
	if err == nil || err.Error() != `invalid MECTASK_ENFORCE_PEER_ORG "maybe": must be true or false` {
		t.Fatalf("error = %v", err)
	}
}

func TestNewServerMaxSkew(t *testing.T) {
	for _, ok := range []string{"", "1", "30", " 900 "} {
		if _, err := newServer(envOf(map[string]string{"CHAINCODE_ID": "x:1", "MECTASK_MAX_SKEW_SECONDS": ok})); err != nil {
			t.Fatalf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"0", "-5", "901", "30s", "1e3"} {
		_, err := newServer(envOf(map[string]string{"CHAINCODE_ID": "x:1", "MECTASK_MAX_SKEW_SECONDS": bad}))
		want := `invalid MECTASK_MAX_SKEW_SECONDS "` + bad + `": must be a whole number of seconds from 1 to 900 (Fabric's own time window)`
		if err == nil || err.Error() != want {
			t.Fatalf("%q: error = %v", bad, err)
		}
	}
}
