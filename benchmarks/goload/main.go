// Command goload is a raw Go load generator for the mectask chaincode, built on the official
// fabric-gateway client. It exists to check the Python load generator (orchestrator.bench):
// the same RequestTask writes, the same open fixed-rate schedule, the same definitions
// (throughput = committed VALID / (last commit - first send); latency = proposal built ->
// commit status received). It prints one JSON object.
//
//	go run . -state /path/to/state -port-base 7000 -tps 400 -n 2000
package main

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

type org struct {
	name, msp, host string
	port            int
}

type result struct {
	start, end time.Time
	ok         bool
	err        string
}

func main() {
	state := flag.String("state", "", "the network's state folder (holds organizations/)")
	portBase := flag.Int("port-base", 7000, "ports.base of the topology")
	orderers := flag.Int("orderers", 3, "orderers in the topology (peers follow them in the port plan)")
	edges := flag.Int("edges", 4, "edge orgs to send as (Edge1..EdgeN), round-robin")
	tps := flag.Float64("tps", 200, "open-loop send rate")
	n := flag.Int("n", 1000, "transactions")
	channel := flag.String("channel", "mec", "channel")
	chaincode := flag.String("chaincode", "mectask", "chaincode")
	flag.Parse()
	if *state == "" {
		fail("-state is required")
	}

	var orgs []org
	for i := 1; i <= *edges; i++ {
		// node index: orderers first, then the Cloud peer, then Edge1..EdgeN
		idx := *orderers + i
		orgs = append(orgs, org{
			name: fmt.Sprintf("Edge%d", i), msp: fmt.Sprintf("Edge%dMSP", i),
			host: fmt.Sprintf("peer0.edge%d.mec", i), port: *portBase + 10*idx,
		})
	}
	var contracts []*client.Contract
	for _, o := range orgs {
		gw, conn := connect(*state, o)
		defer conn.Close()
		defer gw.Close()
		contracts = append(contracts, gw.GetNetwork(*channel).GetContract(*chaincode))
	}

	runID := fmt.Sprintf("go%x", time.Now().UnixNano()&0xffffff)
	results := make([]result, *n)
	var wg sync.WaitGroup
	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	t0 := time.Now().Add(100 * time.Millisecond)
	for i := 0; i < *n; i++ {
		due := t0.Add(time.Duration(float64(i) / *tps * float64(time.Second)))
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("%s-%d", runID, i)
			sum := sha256.Sum256([]byte(id))
			deadline := fmt.Sprint(time.Now().Unix() + 3600)
			start := time.Now()
			_, commit, err := contracts[i%len(contracts)].SubmitAsync("RequestTask",
				client.WithArguments(id, "2000000000", "1000000", deadline, "10", hex.EncodeToString(sum[:])))
			r := result{start: start}
			if err == nil {
				var status *client.Status
				status, err = commit.Status()
				if err == nil && !status.Successful {
					err = fmt.Errorf("committed as %s", status.Code)
				}
			}
			r.end = time.Now()
			r.ok = err == nil
			if err != nil {
				r.err = err.Error()
			}
			results[i] = r
		}(i)
	}
	wg.Wait()
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	report(results, *tps, cpuSeconds(ru1)-cpuSeconds(ru0))
}

func cpuSeconds(ru syscall.Rusage) float64 {
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func report(results []result, tps float64, cpu float64) {
	var lat []float64
	first, last := results[0].start, results[0].start
	lastSend := results[0].start
	errs := map[string]int{}
	for _, r := range results {
		if r.start.Before(first) {
			first = r.start
		}
		if r.start.After(lastSend) {
			lastSend = r.start
		}
		if r.ok {
			lat = append(lat, r.end.Sub(r.start).Seconds())
			if r.end.After(last) {
				last = r.end
			}
		} else {
			errs[strings.SplitN(r.err, "\n", 2)[0]]++
		}
	}
	sort.Float64s(lat)
	out := map[string]any{
		"client":         "go fabric-gateway",
		"target_tps":     tps,
		"sent":           len(results),
		"valid":          len(lat),
		"failed":         len(results) - len(lat),
		"send_rate_tps":  float64(len(results)-1) / lastSend.Sub(first).Seconds(),
		"throughput_tps": float64(len(lat)) / last.Sub(first).Seconds(),
		"latency_s":      map[string]float64{"avg": mean(lat), "p50": pct(lat, 50), "p99": pct(lat, 99)},
		"cpu_s":          cpu,
		"cpu_ms_per_tx":  cpu / math.Max(1, float64(len(lat))) * 1000,
		"errors":         errs,
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(out)
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// pct is numpy's default (linear interpolation) percentile of sorted values.
func pct(v []float64, p float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	pos := p / 100 * float64(len(v)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return v[lo] + (v[hi]-v[lo])*(pos-float64(lo))
}

func connect(state string, o org) (*client.Gateway, *grpc.ClientConn) {
	orgDir := filepath.Join(state, "organizations", "peerOrganizations", strings.ToLower(o.name)+".mec")
	caPEM := must(os.ReadFile(filepath.Join(orgDir, "tlsca", "tlsca."+strings.ToLower(o.name)+".mec-cert.pem")))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		fail("bad TLS CA of " + o.name)
	}
	creds := credentials.NewClientTLSFromCert(pool, o.host)
	conn := must(grpc.NewClient(fmt.Sprintf("127.0.0.1:%d", o.port), grpc.WithTransportCredentials(creds)))
	msp := filepath.Join(orgDir, "users", "User1@"+strings.ToLower(o.name)+".mec", "msp")
	certs := must(filepath.Glob(filepath.Join(msp, "signcerts", "*.pem")))
	if len(certs) != 1 {
		fail("expected one signing certificate in " + msp)
	}
	cert := must(identity.CertificateFromPEM(must(os.ReadFile(certs[0]))))
	id := must(identity.NewX509Identity(o.msp, cert))
	key := must(identity.PrivateKeyFromPEM(must(os.ReadFile(filepath.Join(msp, "keystore", "priv_sk")))))
	sign := must(identity.NewPrivateKeySign(key))
	gw := must(client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn),
		client.WithEndorseTimeout(30*time.Second), client.WithSubmitTimeout(10*time.Second),
		client.WithCommitStatusTimeout(60*time.Second), client.WithEvaluateTimeout(30*time.Second)))
	return gw, conn
}

func must[T any](v T, err error) T {
	if err != nil {
		fail(err.Error())
	}
	return v
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "goload:", msg)
	os.Exit(1)
}
