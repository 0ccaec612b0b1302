package mectask

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

type rejection struct {
	name  string
	stage stage
	prep  func(h *harness)
	call  func(h *harness) error
	want  string
}

func ignore[T any](_ T, err error) error { return err }

// runRejections: each call fails with exactly its error and changes nothing.
func runRejections(t *testing.T, cases []rejection) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			h.setup(tc.stage)
			if tc.prep != nil {
				tc.prep(h)
			}
			before := h.ledger.snapshot()
			wantErr(t, tc.call(h), tc.want)
			if h.ledger.snapshot() != before {
				t.Fatal("a rejected call changed the ledger")
			}
		})
	}
}

var (
	oversized   = make([]byte, MaxPayloadBytes+1)
	idRule      = `must match ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
	deadlineStr = fmt.Sprint(deadline)
)

// Every transaction on a task rejects a malformed ID, an unknown task and a
// stray transient key the same way.
func TestCommonTaskRejections(t *testing.T) {
	type txFn func(h *harness, id string, tr map[string][]byte) error
	with := func(caller string, fn func(h *harness, ctx contractapi.TransactionContextInterface, id string) error) txFn {
		return func(h *harness, id string, tr map[string][]byte) error {
			return ignore(run(h, caller, txOpts{endorsers: []string{reqOrg, execOrg}, transient: tr},
				func(ctx contractapi.TransactionContextInterface) (bool, error) { return true, fn(h, ctx, id) }))
		}
	}
	txs := map[string]txFn{
		"Shortlist": with(CloudMSPID, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.Shortlist(ctx, id, `["Edge2MSP"]`))
		}),
		"Offer": with(execOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.Offer(ctx, id, "true", "1", "1"))
		}),
		"Award": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.Award(ctx, id, execOrg, fmt.Sprint(h.offerPrice(id, execOrg))))
		}),
		"SendPayload": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.SendPayload(ctx, id))
		}),
		"SubmitResult": with(execOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.SubmitResult(ctx, id, resultHex))
		}),
		"Settle": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.Settle(ctx, id))
		}),
		"Dispute": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.Dispute(ctx, id, "x"))
		}),
		"Expire": with(outOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.Expire(ctx, id))
		}),
		"Reassign": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.Reassign(ctx, id, deadlineStr))
		}),
		"TransferOwnership": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.TransferOwnership(ctx, id, outOrg))
		}),
		"AcceptOwnership": with(outOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.AcceptOwnership(ctx, id, "0"))
		}),
		"ReadTask": with(outOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.ReadTask(ctx, id))
		}),
		"GetTaskHistory": with(outOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.GetTaskHistory(ctx, id))
		}),
		"ListOffers": with(outOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.ListOffers(ctx, id))
		}),
		"ReadPayload": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.ReadPayload(ctx, id))
		}),
		"ReadResult": with(reqOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.ReadResult(ctx, id))
		}),
		"VerifyPayload": with(outOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.VerifyPayload(ctx, id))
		}),
		"VerifyResult": with(outOrg, func(h *harness, ctx contractapi.TransactionContextInterface, id string) error {
			return ignore(h.contract.VerifyResult(ctx, id))
		}),
	}
	// The transient a valid call would carry (so that the unknown-task case
	// gets past the transient checks).
	valid := map[string]map[string][]byte{
		"Award": withPayload(payload), "SendPayload": withPayload(payload), "TransferOwnership": withPayload(payload),
		"VerifyPayload": withPayload(payload), "SubmitResult": withResult(result), "VerifyResult": withResult(result),
	}
	for name, fn := range txs {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			h.setup(stageAwarded)
			before := h.ledger.snapshot()
			wantErr(t, fn(h, "t/1", valid[name]), `invalid taskID "t/1": `+idRule)
			wantErr(t, fn(h, "t-404", valid[name]), "task t-404 does not exist")
			tr := map[string][]byte{"zz-extra": {1}}
			for k, v := range valid[name] {
				tr[k] = v
			}
			wantErr(t, fn(h, taskID, tr), `unexpected transient key "zz-extra"`)
			if h.ledger.snapshot() != before {
				t.Fatal("a rejected call changed the ledger")
			}
		})
	}
}

func TestRequestTaskRejections(t *testing.T) {
	req := func(tr map[string][]byte, hash, options string, dl int64) func(h *harness) error {
		return func(h *harness) error {
			return ignore(run(h, reqOrg, txOpts{transient: tr}, func(ctx contractapi.TransactionContextInterface) (*Task, error) {
				return h.contract.RequestTaskWithOptions(ctx, "t-2", "1", "1", fmt.Sprint(dl), "1", hash, options)
			}))
		}
	}
	runRejections(t, []rejection{
		{"payload mismatch", stageRegistered, nil, req(withPayload([]byte("x")), payloadHex, "{}", deadline),
			"transient payload has sha-256 " + sha256Hex([]byte("x")) + ", which does not match the payloadHash " + payloadHex},
		{"empty payload", stageRegistered, nil, req(withPayload([]byte{}), payloadHex, "{}", deadline),
			"invalid transient payload: 0 bytes, must be 1 to 1048576"},
		{"oversized payload", stageRegistered, nil, req(withPayload(oversized), sha256Hex(oversized), "{}", deadline),
			"invalid transient payload: 1048577 bytes, must be 1 to 1048576"},
		{"stray transient", stageRegistered, nil, req(withResult(result), payloadHex, "{}", deadline),
			`unexpected transient key "result"`},
		{"deadline too far", stageRegistered, nil, req(nil, payloadHex, "{}", t0+MaxHorizonSeconds+1),
			fmt.Sprintf(`invalid deadlineUnixSeconds "%d": must be at most 31536000 seconds after the transaction time %d`, t0+MaxHorizonSeconds+1, t0)},
		{"options not an object", stageRegistered, nil, req(nil, payloadHex, "[]", deadline),
			`invalid options "[]": must be a JSON object with only the field "delegateAward" (true or false)`},
		{"options null", stageRegistered, nil, req(nil, payloadHex, "null", deadline),
			`invalid options "null": must be a JSON object with only the field "delegateAward" (true or false)`},
		{"options unknown field", stageRegistered, nil, req(nil, payloadHex, `{"delegate":true}`, deadline),
			`invalid options "{\"delegate\":true}": must be a JSON object with only the field "delegateAward" (true or false)`},
		{"options wrong type", stageRegistered, nil, req(nil, payloadHex, `{"delegateAward":"yes"}`, deadline),
			`invalid options "{\"delegateAward\":\"yes\"}": must be a JSON object with only the field "delegateAward" (true or false)`},
		{"options trailing", stageRegistered, nil, req(nil, payloadHex, `{} {}`, deadline),
			`invalid options "{} {}": must be a JSON object with only the field "delegateAward" (true or false)`},
		{"options malformed", stageRegistered, nil, req(nil, payloadHex, `{"delegateAward":tru`, deadline),
			`invalid options "{\"delegateAward\":tru": must be a JSON object with only the field "delegateAward" (true or false)`},
		{"options oversized", stageRegistered, nil, req(nil, payloadHex, "{"+strings.Repeat(" ", MaxJSONArgBytes)+"}", deadline),
			`invalid options "{` + strings.Repeat(" ", 79) + `"...: must be at most 4096 bytes`},
		{"duplicate id", stageRequested, nil, func(h *harness) error { return ignore(h.requestFull(execOrg, taskID, deadline, 1, payload, "{}")) },
			"task t-1 already exists"},
	})
}

func TestShortlistRejections(t *testing.T) {
	sl := func(id, candidates string) func(h *harness) error {
		return func(h *harness) error { return ignore(h.shortlist(CloudMSPID, id, candidates)) }
	}
	many := `["E1","E2","E3","E4","E5","E6","E7","E8","E9","E10","E11","E12","E13","E14","E15","E16","E17"]`
	const arrayRule = ": must be a JSON array of msp ids"
	runRejections(t, []rejection{
		{"malformed", stageRequested, nil, sl(taskID, `["Edge2MSP"`), `invalid candidates "[\"Edge2MSP\""` + arrayRule},
		{"object", stageRequested, nil, sl(taskID, `{}`), `invalid candidates "{}"` + arrayRule},
		{"null", stageRequested, nil, sl(taskID, `null`), `invalid candidates "null"` + arrayRule},
		{"string", stageRequested, nil, sl(taskID, `"Edge2MSP"`), `invalid candidates "\"Edge2MSP\""` + arrayRule},
		{"numbers", stageRequested, nil, sl(taskID, `[1]`), `invalid candidates "[1]"` + arrayRule},
		{"trailing", stageRequested, nil, sl(taskID, `["Edge2MSP"] []`), `invalid candidates "[\"Edge2MSP\"] []"` + arrayRule},
		{"empty", stageRequested, nil, sl(taskID, `[]`), `invalid candidates "[]": must list 1 to 16 msp ids`},
		{"too many", stageRequested, nil, sl(taskID, many), `invalid candidates ` + quote(many) + `: must list 1 to 16 msp ids`},
		{"bad id", stageRequested, nil, sl(taskID, `["Edge 2"]`), `invalid candidates "[\"Edge 2\"]": msp id "Edge 2" ` + idRule},
		{"duplicate", stageRequested, nil, sl(taskID, `["Edge2MSP","Edge3MSP","Edge2MSP"]`), `invalid candidates "[\"Edge2MSP\",\"Edge3MSP\",\"Edge2MSP\"]": lists Edge2MSP twice`},
		{"cloud", stageRequested, nil, sl(taskID, `["CloudMSP"]`), `invalid candidates "[\"CloudMSP\"]": CloudMSP is the cloud and cannot be a candidate`},
		{"oversized", stageRequested, nil, sl(taskID, `[`+strings.Repeat(" ", MaxJSONArgBytes)+`]`), `invalid candidates "[` + strings.Repeat(" ", 79) + `"...: must be at most 4096 bytes`},
		{"requester", stageRequested, nil, sl(taskID, `["Edge2MSP","Edge1MSP"]`), `invalid candidates "[\"Edge2MSP\",\"Edge1MSP\"]": the requester Edge1MSP cannot be a candidate`},
		{"pending owner", stageRequested, func(h *harness) { h.must(h.transfer(reqOrg, taskID, outOrg, nil)) },
			sl(taskID, `["Edge4MSP"]`), `invalid candidates "[\"Edge4MSP\"]": the pending owner Edge4MSP cannot be a candidate`},
		{"unregistered", stageRequested, nil, sl(taskID, `["Edge2MSP","Edge9MSP"]`), "edge Edge9MSP is not registered"},
		{"awarded", stageAwarded, nil, sl(taskID, `["Edge3MSP"]`), "task t-1 is in status AWARDED, not one of REQUESTED, SHORTLISTED"},
		{"expired", stageExpired, nil, sl(taskID, `["Edge3MSP"]`), "task t-1 is in status EXPIRED, not one of REQUESTED, SHORTLISTED"},
		{"past deadline", stageRequested, func(h *harness) { h.now = deadline + 1 }, sl(taskID, `["Edge2MSP"]`),
			fmt.Sprintf("task t-1 passed its deadline %d at transaction time %d", deadline, deadline+1)},
	})
}

func TestOfferRejections(t *testing.T) {
	of := func(caller, willing, price, est string) func(h *harness) error {
		return func(h *harness) error { return ignore(h.offer(caller, taskID, willing, price, est)) }
	}
	runRejections(t, []rejection{
		{"willing", stageShortlisted, nil, of(execOrg, "yes", "1", "1"), `invalid willing "yes": must be true or false`},
		{"willing case", stageShortlisted, nil, of(execOrg, "True", "1", "1"), `invalid willing "True": must be true or false`},
		{"zero price", stageShortlisted, nil, of(execOrg, "true", "0", "1"), `invalid price "0": must be a positive integer`},
		{"negative price", stageShortlisted, nil, of(execOrg, "true", "-1", "1"), `invalid price "-1": must be a positive integer`},
		{"zero estimate", stageShortlisted, nil, of(execOrg, "true", "1", "0"), `invalid estimatedSeconds "0": must be a positive integer`},
		{"absurd estimate", stageShortlisted, nil, of(execOrg, "true", "1", "31536001"), `invalid estimatedSeconds "31536001": must be at most 31536000`},
		{"refusal with price", stageShortlisted, nil, of(execOrg, "false", "5", "0"), `invalid price "5": must be 0 when willing is false`},
		{"refusal with estimate", stageShortlisted, nil, of(execOrg, "false", "0", "3"), `invalid estimatedSeconds "3": must be 0 when willing is false`},
		{"above max price", stageShortlisted, nil, of(execOrg, "true", "121", "1"), `invalid price "121": must be at most the maxPrice 120 of task t-1`},
		{"not shortlisted yet", stageRequested, nil, of(execOrg, "true", "1", "1"), "org Edge2MSP is not shortlisted for task t-1"},
		{"after award", stageAwarded, nil, of(candOrg, "true", "1", "1"), "task t-1 is in status AWARDED, not SHORTLISTED"},
		{"past deadline", stageShortlisted, func(h *harness) { h.now = deadline + 1 }, of(execOrg, "true", "1", "1"),
			fmt.Sprintf("task t-1 passed its deadline %d at transaction time %d", deadline, deadline+1)},
	})
}

func TestAwardRejections(t *testing.T) {
	aw := func(executor string, tr map[string][]byte) func(h *harness) error {
		return func(h *harness) error { return ignore(h.award(reqOrg, taskID, executor, tr)) }
	}
	runRejections(t, []rejection{
		{"bad executor id", stageOffered, nil, aw("", withPayload(payload)), `invalid executorMSPID "": ` + idRule},
		{"not shortlisted", stageOffered, nil, aw(outOrg, withPayload(payload)), "org Edge4MSP is not shortlisted for task t-1"},
		{"no offer", stageShortlisted, nil, aw(execOrg, withPayload(payload)), "edge Edge2MSP has made no offer for task t-1"},
		{"declined", stageOffered, nil, aw(candOrg, withPayload(payload)), "edge Edge3MSP declined task t-1"},
		{"no payload", stageOffered, nil, aw(execOrg, nil), "transient payload is required"},
		{"wrong payload", stageOffered, nil, aw(execOrg, withPayload([]byte("y"))),
			"transient payload has sha-256 " + sha256Hex([]byte("y")) + ", which does not match the payloadHash " + payloadHex},
		{"oversized payload", stageOffered, nil, aw(execOrg, withPayload(oversized)), "invalid transient payload: 1048577 bytes, must be 1 to 1048576"},
		{"not yet shortlisted", stageRequested, nil, aw(execOrg, withPayload(payload)), "task t-1 is in status REQUESTED, not SHORTLISTED"},
		{"twice", stageAwarded, nil, aw(execOrg, withPayload(payload)), "task t-1 is in status AWARDED, not SHORTLISTED"},
		{"past deadline", stageOffered, func(h *harness) { h.now = deadline + 1 }, aw(execOrg, withPayload(payload)),
			fmt.Sprintf("task t-1 passed its deadline %d at transaction time %d", deadline, deadline+1)},
		{"insufficient balance", stageRegistered, func(h *harness) {
			h.must(h.requestFull(reqOrg, taskID, deadline, 2*InitialGrant, payload, "{}"))
			h.must(h.shortlist(CloudMSPID, taskID, `["Edge2MSP"]`))
			h.must(h.offer(execOrg, taskID, "true", fmt.Sprint(InitialGrant+1), "1"))
		}, aw(execOrg, withPayload(payload)), "edge Edge1MSP has balance 1000000, less than the price 1000001 of task t-1"},
	})
}

func TestLaterTransactionRejections(t *testing.T) {
	late := func(h *harness) { h.now = deadline + 1 }
	runRejections(t, []rejection{
		{"send payload missing", stageAwarded, nil, func(h *harness) error { return ignore(h.sendPayload(reqOrg, taskID, nil)) },
			"transient payload is required"},
		{"send payload wrong", stageAwarded, nil, func(h *harness) error { return ignore(h.sendPayload(reqOrg, taskID, withPayload([]byte("z")))) },
			"transient payload has sha-256 " + sha256Hex([]byte("z")) + ", which does not match the payloadHash " + payloadHex},
		{"send payload completed", stageCompleted, nil, func(h *harness) error { return ignore(h.sendPayload(reqOrg, taskID, withPayload(payload))) },
			"task t-1 is in status COMPLETED, not AWARDED"},
		{"result bad hash", stageAwarded, nil, func(h *harness) error { return ignore(h.submit(execOrg, taskID, "abc", withResult(result))) },
			`invalid resultHash "abc": must be 64 hex characters`},
		{"result missing", stageAwarded, nil, func(h *harness) error { return ignore(h.submit(execOrg, taskID, resultHex, nil)) },
			"transient result is required"},
		{"result mismatch", stageAwarded, nil, func(h *harness) error { return ignore(h.submit(execOrg, taskID, goodHash, withResult(result))) },
			"transient result has sha-256 " + resultHex + ", which does not match the resultHash " + goodHash},
		{"result oversized", stageAwarded, nil, func(h *harness) error {
			return ignore(h.submit(execOrg, taskID, sha256Hex(oversized), withResult(oversized)))
		},
			"invalid transient result: 1048577 bytes, must be 1 to 1048576"},
		{"result late", stageAwarded, late, func(h *harness) error { return ignore(h.submit(execOrg, taskID, resultHex, withResult(result))) },
			fmt.Sprintf("task t-1 passed its deadline %d at transaction time %d", deadline, deadline+1)},
		{"result twice", stageCompleted, nil, func(h *harness) error { return ignore(h.submit(execOrg, taskID, resultHex, withResult(result))) },
			"task t-1 is in status COMPLETED, not AWARDED"},
		{"settle too early", stageAwarded, nil, func(h *harness) error { return ignore(h.settle(reqOrg, taskID)) },
			"task t-1 is in status AWARDED, not COMPLETED"},
		{"settle twice", stageSettled, nil, func(h *harness) error { return ignore(h.settle(reqOrg, taskID)) },
			"task t-1 is in status SETTLED, not COMPLETED"},
		{"dispute empty reason", stageCompleted, nil, func(h *harness) error { return ignore(h.dispute(reqOrg, taskID, "")) },
			`invalid reason "": must be 1 to 256 bytes`},
		{"dispute long reason", stageCompleted, nil, func(h *harness) error { return ignore(h.dispute(reqOrg, taskID, strings.Repeat("r", 257))) },
			`invalid reason "` + strings.Repeat("r", 80) + `"...: must be 1 to 256 bytes`},
		{"dispute control chars", stageCompleted, nil, func(h *harness) error { return ignore(h.dispute(reqOrg, taskID, "bad\nline")) },
			`invalid reason "bad\nline": must be valid utf-8 without control characters`},
		{"dispute bad utf-8", stageCompleted, nil, func(h *harness) error { return ignore(h.dispute(reqOrg, taskID, "bad\xff")) },
			`invalid reason "bad\xff": must be valid utf-8 without control characters`},
		{"dispute settled", stageSettled, nil, func(h *harness) error { return ignore(h.dispute(reqOrg, taskID, "late")) },
			"task t-1 is in status SETTLED, not COMPLETED"},
		{"expire early", stageAwarded, func(h *harness) { h.now = deadline }, func(h *harness) error { return ignore(h.expire(reqOrg, taskID, parties())) },
			fmt.Sprintf("task t-1 is not past its deadline %d at transaction time %d", deadline, deadline)},
		{"expire completed", stageCompleted, late, func(h *harness) error { return ignore(h.expire(reqOrg, taskID, parties())) },
			"task t-1 is in status COMPLETED, not one of REQUESTED, SHORTLISTED, AWARDED"},
		{"expire twice", stageExpired, nil, func(h *harness) error { return ignore(h.expire(reqOrg, taskID, txOpts{})) },
			"task t-1 is in status EXPIRED, not one of REQUESTED, SHORTLISTED, AWARDED"},
		{"reassign open", stageAwarded, nil, func(h *harness) error { return ignore(h.reassign(reqOrg, taskID, deadline)) },
			"task t-1 is in status AWARDED, not EXPIRED"},
		{"reassign past deadline", stageExpired, nil, func(h *harness) error { return ignore(h.reassign(reqOrg, taskID, deadline)) },
			fmt.Sprintf(`invalid deadlineUnixSeconds "%d": must be after the transaction time %d`, deadline, deadline+1)},
	})
}

func TestOwnershipRejections(t *testing.T) {
	tf := func(newOwner string, tr map[string][]byte) func(h *harness) error {
		return func(h *harness) error { return ignore(h.transfer(reqOrg, taskID, newOwner, tr)) }
	}
	runRejections(t, []rejection{
		{"bad owner id", stageAwarded, nil, tf("a b", nil), `invalid newOwnerMSPID "a b": ` + idRule},
		{"self", stageAwarded, nil, tf(reqOrg, nil), "org Edge1MSP already owns task t-1"},
		{"cloud", stageAwarded, nil, tf(CloudMSPID, nil), "org CloudMSP is the cloud and cannot own tasks"},
		{"executor", stageAwarded, nil, tf(execOrg, nil), "org Edge2MSP is the executor of task t-1 and cannot own it"},
		{"candidate", stageShortlisted, nil, tf(candOrg, nil), "org Edge3MSP is shortlisted for task t-1 and cannot own it"},
		{"unregistered", stageAwarded, nil, tf(unregOrg, nil), "edge Edge9MSP is not registered"},
		{"closed", stageCompleted, nil, tf(outOrg, nil), "task t-1 is in status COMPLETED, not one of REQUESTED, SHORTLISTED, AWARDED"},
		{"wrong payload", stageAwarded, nil, tf(outOrg, withPayload([]byte("q"))),
			"transient payload has sha-256 " + sha256Hex([]byte("q")) + ", which does not match the payloadHash " + payloadHex},
		{"accept without proposal", stageAwarded, nil, func(h *harness) error { return ignore(h.accept(outOrg, taskID)) },
			"task t-1 has no pending ownership transfer"},
		{"accept after completion", stageTransferProposed, func(h *harness) {
			h.must(h.submit(execOrg, taskID, resultHex, withResult(result)))
		}, func(h *harness) error { return ignore(h.accept(outOrg, taskID)) },
			"task t-1 is in status COMPLETED, not one of REQUESTED, SHORTLISTED, AWARDED"},
		{"accept without balance", stageTransferProposed, func(h *harness) {
			// The new owner spends its whole balance on a task of its own.
			h.must(h.requestFull(outOrg, "t-2", deadline, InitialGrant, []byte("p2"), "{}"))
			h.must(h.shortlist(CloudMSPID, "t-2", `["Edge3MSP"]`))
			h.must(h.offer(candOrg, "t-2", "true", fmt.Sprint(InitialGrant), "1"))
			h.must(run(h, outOrg, txOpts{endorsers: []string{outOrg, candOrg}, transient: withPayload([]byte("p2"))},
				func(ctx contractapi.TransactionContextInterface) (*Task, error) {
					return h.contract.Award(ctx, "t-2", candOrg, fmt.Sprint(InitialGrant))
				}))
		}, func(h *harness) error { return ignore(h.accept(outOrg, taskID)) },
			"edge Edge4MSP has balance 0, less than the escrow 40 of task t-1"},
	})
}
