package mectask

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// allRoles are the callers of the caller x transaction table: the requester,
// the awarded executor, a shortlisted candidate that was not awarded, a
// registered outsider, an unregistered org and the Cloud.
var allRoles = []string{reqOrg, execOrg, candOrg, outOrg, unregOrg, CloudMSPID}

type roleCase struct {
	name    string
	setup   func(h *harness) // builds the state in which the call is valid for an allowed caller
	allowed []string
	call    func(h *harness, caller string) error
	// refusal is the error of a caller that is not allowed.
	refusal func(h *harness, caller string) string
}

// callAs runs fn as caller, endorsed by the task's parties (the would-be
// executor included) and the caller's own peer.
func callAs(h *harness, caller string, transient map[string][]byte, fn func(contractapi.TransactionContextInterface) (any, error)) error {
	endorsers := h.partiesOf(taskID)
	for _, org := range []string{execOrg, caller} {
		if !slices.Contains(endorsers, org) {
			endorsers = append(endorsers, org)
		}
	}
	_, err := run(h, caller, txOpts{endorsers: endorsers, transient: transient}, fn)
	return err
}

func notRequester(_ *harness, caller string) string {
	return fmt.Sprintf("org %s is not the requester of task t-1", caller)
}

func roleCases() []roleCase {
	at := func(s stage) func(h *harness) { return func(h *harness) { h.setup(s) } }
	return []roleCase{
		{
			name: "RegisterEdge", setup: at(stageRegistered),
			allowed: []string{reqOrg, execOrg, candOrg, outOrg, unregOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.RegisterEdge(ctx, "1", "1", "1")
				})
			},
			refusal: func(_ *harness, caller string) string {
				return "org CloudMSP is the cloud and cannot register as an edge"
			},
		},
		{
			name: "RequestTask", setup: at(stageRegistered),
			allowed: []string{reqOrg, execOrg, candOrg, outOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, withPayload(payload), func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.RequestTask(ctx, "t-9", "1", "1", fmt.Sprint(deadline), "1", payloadHex)
				})
			},
			refusal: func(_ *harness, caller string) string {
				if caller == CloudMSPID {
					return "org CloudMSP is the cloud and cannot request tasks"
				}
				return "edge " + caller + " is not registered"
			},
		},
		{
			name: "Shortlist", setup: at(stageRequested), allowed: []string{CloudMSPID},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Shortlist(ctx, taskID, `["Edge2MSP"]`)
				})
			},
			refusal: func(_ *harness, caller string) string {
				return fmt.Sprintf("org %s is not the cloud and cannot shortlist tasks", caller)
			},
		},
		{
			name: "Offer", setup: at(stageShortlisted), allowed: []string{execOrg, candOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Offer(ctx, taskID, "true", "10", "10")
				})
			},
			refusal: func(_ *harness, caller string) string {
				return fmt.Sprintf("org %s is not shortlisted for task t-1", caller)
			},
		},
		{
			name: "Award", setup: at(stageOffered), allowed: []string{reqOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, withPayload(payload), func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Award(ctx, taskID, execOrg, fmt.Sprint(h.offerPrice(taskID, execOrg)))
				})
			},
			refusal: func(h *harness, caller string) string {
				if caller == CloudMSPID {
					return "org CloudMSP may not award task t-1: the requester did not delegate the award"
				}
				return notRequester(h, caller)
			},
		},
		{
			name: "Award (delegated)",
			setup: func(h *harness) {
				h.setup(stageRegistered)
				h.must(h.requestFull(reqOrg, taskID, deadline, 120, payload, `{"delegateAward":true}`))
				h.must(h.shortlist(CloudMSPID, taskID, `["Edge2MSP","Edge3MSP"]`))
				h.must(h.offer(execOrg, taskID, "true", "40", "30"))
			},
			allowed: []string{reqOrg, CloudMSPID},
			call: func(h *harness, caller string) error {
				var tr map[string][]byte
				if caller != CloudMSPID {
					tr = withPayload(payload)
				}
				return callAs(h, caller, tr, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Award(ctx, taskID, execOrg, fmt.Sprint(h.offerPrice(taskID, execOrg)))
				})
			},
			refusal: notRequester,
		},
		{
			name: "SendPayload", setup: at(stageAwarded), allowed: []string{reqOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, withPayload(payload), func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.SendPayload(ctx, taskID)
				})
			},
			refusal: notRequester,
		},
		{
			name: "SubmitResult", setup: at(stageAwarded), allowed: []string{execOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, withResult(result), func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.SubmitResult(ctx, taskID, resultHex)
				})
			},
			refusal: func(_ *harness, caller string) string {
				return fmt.Sprintf("org %s is not the executor of task t-1", caller)
			},
		},
		{
			name: "Settle", setup: at(stageCompleted), allowed: []string{reqOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Settle(ctx, taskID)
				})
			},
			refusal: func(h *harness, caller string) string {
				if caller == execOrg {
					return fmt.Sprintf("org Edge2MSP may settle task t-1 only from time %d, when its dispute window closes", h.task(taskID).CompletedAt+DisputeWindowSeconds)
				}
				return notRequester(h, caller)
			},
		},
		{
			name: "Dispute", setup: at(stageCompleted), allowed: []string{reqOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Dispute(ctx, taskID, "bad")
				})
			},
			refusal: notRequester,
		},
		{
			name:    "Expire",
			setup:   func(h *harness) { h.setup(stageAwarded); h.now = deadline + 1 },
			allowed: []string{reqOrg, execOrg, CloudMSPID},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Expire(ctx, taskID)
				})
			},
			refusal: func(_ *harness, caller string) string {
				return fmt.Sprintf("org %s may not expire task t-1: only its requester, its executor or the Cloud may", caller)
			},
		},
		{
			name: "Reassign", setup: at(stageExpired), allowed: []string{reqOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.Reassign(ctx, taskID, fmt.Sprint(h.now+600))
				})
			},
			refusal: notRequester,
		},
		{
			name: "TransferOwnership", setup: at(stageAwarded), allowed: []string{reqOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.TransferOwnership(ctx, taskID, outOrg)
				})
			},
			refusal: notRequester,
		},
		{
			name: "AcceptOwnership", setup: at(stageTransferProposed), allowed: []string{outOrg},
			call: func(h *harness, caller string) error {
				return callAs(h, caller, nil, func(ctx contractapi.TransactionContextInterface) (any, error) {
					return h.contract.AcceptOwnership(ctx, taskID, fmt.Sprint(h.task(taskID).Escrow))
				})
			},
			refusal: func(_ *harness, caller string) string {
				return fmt.Sprintf("org %s is not the pending owner of task t-1", caller)
			},
		},
	}
}

// TestCallerByTransaction: for every transaction and every role, an allowed
// caller succeeds and any other is refused with its stable error, writing
// nothing at all.
func TestCallerByTransaction(t *testing.T) {
	for _, tc := range roleCases() {
		for _, caller := range allRoles {
			t.Run(tc.name+"/"+caller, func(t *testing.T) {
				h := newHarness(t)
				tc.setup(h)
				before := h.ledger.snapshot()
				err := tc.call(h, caller)
				if slices.Contains(tc.allowed, caller) {
					if err != nil {
						t.Fatalf("allowed caller refused: %v", err)
					}
					return
				}
				wantErr(t, err, tc.refusal(h, caller))
				if h.ledger.snapshot() != before {
					t.Fatal("a refused call changed the ledger")
				}
			})
		}
	}
}
