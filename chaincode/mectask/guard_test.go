package mectask

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// The status checks of the transactions that change a task's status are
// CanTransition read backwards, with the texts they always had.
func TestRequireTransitionIsTheStatusCheckOfEachTransaction(t *testing.T) {
	for _, c := range []struct {
		tx   string
		to   TaskStatus
		from []TaskStatus
		text string // the error for a SETTLED task
	}{
		{"Shortlist", StatusShortlisted, []TaskStatus{StatusRequested, StatusShortlisted}, "not one of REQUESTED, SHORTLISTED"},
		{"Award", StatusAwarded, []TaskStatus{StatusShortlisted}, "not SHORTLISTED"},
		{"SubmitResult", StatusCompleted, []TaskStatus{StatusAwarded}, "not AWARDED"},
		{"Settle", StatusSettled, []TaskStatus{StatusCompleted}, "not COMPLETED"},
		{"Dispute", StatusDisputed, []TaskStatus{StatusCompleted}, "not COMPLETED"},
		{"Expire", StatusExpired, openStatuses, "not one of REQUESTED, SHORTLISTED, AWARDED"},
		{"Reassign", StatusRequested, []TaskStatus{StatusExpired}, "not EXPIRED"},
	} {
		if got := transitionSources(c.to); !slices.Equal(got, c.from) {
			t.Errorf("%s: transitionSources(%s) = %v, want %v", c.tx, c.to, got, c.from)
		}
		for _, s := range Statuses {
			err := requireTransition(&Task{TaskID: "t-1", Status: s}, c.to)
			if (err == nil) != slices.Contains(c.from, s) {
				t.Errorf("%s: requireTransition from %s: %v", c.tx, s, err)
			}
		}
		err := requireTransition(&Task{TaskID: "t-1", Status: StatusSettled}, c.to)
		if want := "task t-1 is in status SETTLED, " + c.text; err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %q", c.tx, err, want)
		}
	}
}

func TestCheckTransitionIsCanTransition(t *testing.T) {
	for _, to := range Statuses {
		err := checkTransition(nil, &Task{TaskID: "t-1", Status: to})
		if (err == nil) != (to == StatusRequested) {
			t.Errorf("create in %s: %v", to, err)
		}
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			err := checkTransition(&Task{TaskID: "t-1", Status: from}, &Task{TaskID: "t-1", Status: to})
			want := CanTransition(from, to) || (from == to && from != StatusSettled && from != StatusDisputed)
			if (err == nil) != want {
				t.Errorf("%s -> %s: %v", from, to, err)
			}
		}
	}
	err := checkTransition(&Task{TaskID: "t-1", Status: StatusAwarded}, &Task{TaskID: "t-1", Status: StatusSettled})
	wantErr(t, err, "task t-1 cannot move from status AWARDED to SETTLED")
	err = checkTransition(&Task{TaskID: "t-1", Status: StatusSettled}, &Task{TaskID: "t-1", Status: StatusSettled})
	wantErr(t, err, "task t-1 is in the final status SETTLED and cannot change")
	err = checkTransition(&Task{TaskID: "t-1", Status: StatusRequested}, &Task{TaskID: "t-2", Status: StatusRequested})
	wantErr(t, err, "task t-1 cannot be written as task t-2")
}

// A transaction that computed a forbidden status fails at the guard, even
// endorsed by every party, and writes nothing.
func TestTheGuardRefusesAForbiddenWrite(t *testing.T) {
	for _, c := range []struct {
		stage stage
		to    TaskStatus
		want  string
	}{
		{stageAwarded, StatusSettled, "task t-1 cannot move from status AWARDED to SETTLED"},
		{stageCompleted, StatusExpired, "task t-1 cannot move from status COMPLETED to EXPIRED"},
		{stageSettled, StatusSettled, "task t-1 is in the final status SETTLED and cannot change"},
		{stageExpired, StatusAwarded, "task t-1 cannot move from status EXPIRED to AWARDED"},
	} {
		h := newHarness(t)
		h.setup(c.stage)
		before := h.ledger.snapshot()
		_, err := run(h, reqOrg, txOpts{endorsers: []string{reqOrg, execOrg, CloudMSPID}}, func(ctx contractapi.TransactionContextInterface) (bool, error) {
			tx, err := h.contract.openTaskTx(ctx, taskID, callerMSPID)
			if err != nil {
				return false, err
			}
			after := tx.task.clone()
			after.Status = c.to
			return true, tx.save(ctx, after, EventTaskSettled)
		})
		wantErr(t, err, c.want)
		if h.ledger.snapshot() != before {
			t.Fatal("a write refused by the guard changed the ledger")
		}
	}
}

// saveTask is the bare write below the guard: in the chaincode only
// commitTask calls it, so every task write passes checkTransition.
func TestOnlyCommitTaskCallsSaveTask(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok {
				continue
			}
			ast.Inspect(fn, func(n ast.Node) bool {
				if call, ok := n.(*ast.CallExpr); ok {
					if id, ok := call.Fun.(*ast.Ident); ok && id.Name == "saveTask" {
						calls++
						if fn.Name.Name != "commitTask" {
							t.Errorf("%s: %s calls saveTask: write tasks with taskTx.save or commitTask", fset.Position(call.Pos()), fn.Name.Name)
						}
					}
				}
				return true
			})
		}
	}
	if calls == 0 {
		t.Error("found no call of saveTask")
	}
}
