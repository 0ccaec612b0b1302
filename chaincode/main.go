// Command mectask serves the mec-fabric task-sharing chaincode as an external
// service (chaincode-as-a-service): the peer dials it at the address given in
// the package's connection.json. See README.md for the environment variables.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"

	"mecfabric/chaincode/mectask"
)

// DefaultAddress is where the chaincode server listens unless
// CHAINCODE_SERVER_ADDRESS says otherwise.
const DefaultAddress = "0.0.0.0:9999"

// MaxSkewSeconds bounds MECTASK_MAX_SKEW_SECONDS: a wider skew than the
// peer's own peer.authentication.timewindow (15 min) would check nothing.
const MaxSkewSeconds = 900

func main() {
	server, err := newServer(os.Getenv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mectask: "+err.Error())
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "mectask: serving chaincode %s on %s\n", server.CCID, server.Address)
	if err := server.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "mectask: "+err.Error())
		os.Exit(1)
	}
}

// newServer builds the chaincode server from the environment (getenv is
// os.Getenv outside tests).
func newServer(getenv func(string) string) (*shim.ChaincodeServer, error) {
	ccid := strings.TrimSpace(getenv("CHAINCODE_ID"))
	if ccid == "" {
		return nil, fmt.Errorf("CHAINCODE_ID is not set: set it to the package ID printed by 'peer lifecycle chaincode install' (label:hash)")
	}
	address := strings.TrimSpace(getenv("CHAINCODE_SERVER_ADDRESS"))
	if address == "" {
		address = DefaultAddress
	}
	var opts []mectask.Option
	switch v := strings.ToLower(strings.TrimSpace(getenv("MECTASK_ENFORCE_PEER_ORG"))); v {
	case "", "0", "false", "no":
	case "1", "true", "yes":
		// Same source as shim.GetMSPID(): the peer's CORE_PEER_LOCALMSPID,
		// which a ccaas container must be given explicitly.
		peerMSP := strings.TrimSpace(getenv("CORE_PEER_LOCALMSPID"))
		if peerMSP == "" {
			return nil, fmt.Errorf("MECTASK_ENFORCE_PEER_ORG is set but CORE_PEER_LOCALMSPID is not: set it to the MSP ID of the peer this server endorses for")
		}
		opts = append(opts, mectask.WithEndorserMSPID(peerMSP))
	default:
		return nil, fmt.Errorf("invalid MECTASK_ENFORCE_PEER_ORG %q: must be true or false", v)
	}
	if raw := strings.TrimSpace(getenv("MECTASK_MAX_SKEW_SECONDS")); raw != "" {
		skew, err := strconv.ParseInt(raw, 10, 64)
		if err != nil || skew < 1 || skew > MaxSkewSeconds {
			return nil, fmt.Errorf("invalid MECTASK_MAX_SKEW_SECONDS %q: must be a whole number of seconds from 1 to %d (Fabric's own time window)", raw, MaxSkewSeconds)
		}
		opts = append(opts, mectask.WithClock(func() int64 { return time.Now().Unix() }, skew))
	}
	cc, err := contractapi.NewChaincode(mectask.NewTaskContract(opts...))
	if err != nil {
		return nil, fmt.Errorf("cannot build the chaincode: %w", err)
	}
	return &shim.ChaincodeServer{
		CCID:     ccid,
		Address:  address,
		CC:       cc,
		TLSProps: shim.TLSProperties{Disabled: true},
	}, nil
}
