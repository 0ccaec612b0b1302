package mectask

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hyperledger/fabric-chaincode-go/v2/pkg/statebased"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"google.golang.org/protobuf/proto"
)

// The fake validator's reading of a key-level endorsement policy: the
// serialized SignaturePolicyEnvelope evaluated the way Fabric's cauthdsl
// does (NOutOf over sub-rules, SignedBy over the envelope's principals, each
// endorsement used for at most one SignedBy of a satisfied branch). An
// endorsement here is one peer of an org: it satisfies a ROLE principal of
// that MSP with role PEER or MEMBER, nothing else.

// keyPolicy is a decoded key-level policy.
type keyPolicy struct {
	rule       *common.SignaturePolicy
	principals []principal
}

type principal struct {
	mspID string
	role  msp.MSPRole_MSPRoleType
}

func decodeKeyPolicy(vp []byte) (*keyPolicy, error) {
	var spe common.SignaturePolicyEnvelope
	if err := proto.Unmarshal(vp, &spe); err != nil {
		return nil, fmt.Errorf("validation parameter is not a SignaturePolicyEnvelope: %w", err)
	}
	if spe.GetRule() == nil {
		return nil, fmt.Errorf("policy has no rule")
	}
	p := &keyPolicy{rule: spe.GetRule()}
	for i, id := range spe.GetIdentities() {
		if id.GetPrincipalClassification() != msp.MSPPrincipal_ROLE {
			return nil, fmt.Errorf("principal %d is not a role", i)
		}
		var role msp.MSPRole
		if err := proto.Unmarshal(id.GetPrincipal(), &role); err != nil {
			return nil, fmt.Errorf("principal %d: %w", i, err)
		}
		p.principals = append(p.principals, principal{mspID: role.GetMspIdentifier(), role: role.GetRole()})
	}
	return p, nil
}

// satisfiedBy reports whether peers of the endorsing orgs satisfy the policy.
func (p *keyPolicy) satisfiedBy(endorsers []string) (bool, error) {
	used := make([]bool, len(endorsers))
	return p.eval(p.rule, endorsers, used)
}

func (p *keyPolicy) eval(rule *common.SignaturePolicy, endorsers []string, used []bool) (bool, error) {
	switch r := rule.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		i := int(r.SignedBy)
		if i < 0 || i >= len(p.principals) {
			return false, fmt.Errorf("SignedBy %d out of range", i)
		}
		pr := p.principals[i]
		for j, org := range endorsers {
			if !used[j] && org == pr.mspID && (pr.role == msp.MSPRole_PEER || pr.role == msp.MSPRole_MEMBER) {
				used[j] = true
				return true, nil
			}
		}
		return false, nil
	case *common.SignaturePolicy_NOutOf_:
		verified := int32(0)
		scratch := make([]bool, len(used))
		for _, sub := range r.NOutOf.GetRules() {
			copy(scratch, used)
			ok, err := p.eval(sub, endorsers, scratch)
			if err != nil {
				return false, err
			}
			if ok {
				verified++
				copy(used, scratch)
			}
		}
		return verified >= r.NOutOf.GetN(), nil
	default:
		return false, fmt.Errorf("unknown rule type %T", r)
	}
}

// orgs lists the MSP IDs the policy names, sorted.
func (p *keyPolicy) orgs() []string {
	var out []string
	for _, pr := range p.principals {
		out = append(out, pr.mspID)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// completions lists the minimal sets of further orgs whose peers, added to
// the endorsers, would satisfy the policy, rendered "A+B or C" (each set's
// orgs sorted; sets by size, then by name). "" when none would.
func (p *keyPolicy) completions(endorsers []string) (string, error) {
	var missing []string
	for _, o := range p.orgs() {
		if !slices.Contains(endorsers, o) {
			missing = append(missing, o)
		}
	}
	var found [][]string
	for size := 1; size <= len(missing); size++ {
		for mask := 1; mask < 1<<len(missing); mask++ {
			var set []string
			for i, o := range missing {
				if mask&(1<<i) != 0 {
					set = append(set, o)
				}
			}
			if len(set) != size || slices.ContainsFunc(found, func(f []string) bool { return isSubset(f, set) }) {
				continue
			}
			ok, err := p.satisfiedBy(append(slices.Clone(endorsers), set...))
			if err != nil {
				return "", err
			}
			if ok {
				found = append(found, set)
			}
		}
	}
	parts := make([]string, len(found))
	for i, f := range found {
		parts[i] = strings.Join(f, "+")
	}
	slices.SortStableFunc(parts, func(a, b string) int {
		if d := strings.Count(a, "+") - strings.Count(b, "+"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	return strings.Join(parts, " or "), nil
}

func isSubset(small, big []string) bool {
	for _, s := range small {
		if !slices.Contains(big, s) {
			return false
		}
	}
	return true
}

// render writes the policy as AND(…)/OR(…)/k-of-n(…) over MSP IDs (".role"
// appended for a role other than PEER).
func (p *keyPolicy) render(rule *common.SignaturePolicy) string {
	switch r := rule.GetType().(type) {
	case *common.SignaturePolicy_SignedBy:
		if i := int(r.SignedBy); i >= 0 && i < len(p.principals) {
			pr := p.principals[i]
			if pr.role == msp.MSPRole_PEER {
				return pr.mspID
			}
			return pr.mspID + "." + strings.ToLower(pr.role.String())
		}
		return fmt.Sprintf("?%d", r.SignedBy)
	case *common.SignaturePolicy_NOutOf_:
		var subs []string
		for _, sub := range r.NOutOf.GetRules() {
			subs = append(subs, p.render(sub))
		}
		op := fmt.Sprintf("%d-of-%d", r.NOutOf.GetN(), len(subs))
		switch {
		case int(r.NOutOf.GetN()) == len(subs):
			op = "AND"
		case r.NOutOf.GetN() == 1:
			op = "OR"
		}
		return op + "(" + strings.Join(subs, ",") + ")"
	default:
		return "?"
	}
}

// renderPolicy renders a validation parameter ("" when there is none).
func renderPolicy(vp []byte) (string, error) {
	if len(vp) == 0 {
		return "", nil
	}
	p, err := decodeKeyPolicy(vp)
	if err != nil {
		return "", err
	}
	return p.render(p.rule), nil
}

// andOf and awardedPolicy are the expected renderings.
func andOf(orgs ...string) string {
	return "AND(" + strings.Join(slices.Sorted(slices.Values(orgs)), ",") + ")"
}

func awardedPolicy(requester, executor string) string {
	return "OR(" + andOf(requester, executor) + "," + andOf(requester, CloudMSPID) + ")"
}

func TestTaskPolicyBytes(t *testing.T) {
	// A single alternative is byte for byte statebased's flat AND.
	ep, _ := statebased.NewStateEP(nil)
	if err := ep.AddOrgs(statebased.RoleTypePeer, "Edge2MSP", "Edge1MSP"); err != nil {
		t.Fatal(err)
	}
	want, _ := ep.Policy()
	got, err := anyOfAll([]string{"Edge2MSP", "Edge1MSP"})
	if err != nil || string(got) != string(want) {
		t.Fatalf("AND policy %x, %v; statebased %x", got, err, want)
	}
	// The awarded policy: deterministic, peer principals, the right shape.
	a, err := anyOfAll([]string{"Edge2MSP", "Edge1MSP"}, []string{"Edge2MSP", CloudMSPID})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if b, _ := anyOfAll([]string{"Edge2MSP", "Edge1MSP"}, []string{"Edge2MSP", CloudMSPID}); string(a) != string(b) {
			t.Fatal("policy bytes are not deterministic")
		}
	}
	p, err := decodeKeyPolicy(a)
	if err != nil {
		t.Fatal(err)
	}
	if r := p.render(p.rule); r != awardedPolicy("Edge2MSP", "Edge1MSP") {
		t.Fatalf("rendered %s", r)
	}
	if joined(p.orgs()) != "CloudMSP,Edge1MSP,Edge2MSP" {
		t.Fatalf("identities %v", p.orgs())
	}
	for _, c := range []struct {
		endorsers []string
		ok        bool
		need      string
	}{
		{[]string{"Edge2MSP", "Edge1MSP"}, true, ""},
		{[]string{CloudMSPID, "Edge2MSP"}, true, ""},
		{[]string{CloudMSPID, "Edge1MSP", "Edge2MSP"}, true, ""},
		{[]string{"Edge2MSP"}, false, "CloudMSP or Edge1MSP"},
		{[]string{"Edge1MSP", CloudMSPID}, false, "Edge2MSP"},
		{[]string{"Edge4MSP"}, false, "CloudMSP+Edge2MSP or Edge1MSP+Edge2MSP"},
		{nil, false, "CloudMSP+Edge2MSP or Edge1MSP+Edge2MSP"},
	} {
		ok, err := p.satisfiedBy(c.endorsers)
		need, err2 := p.completions(c.endorsers)
		if err != nil || err2 != nil || ok != c.ok || (!ok && need != c.need) {
			t.Errorf("endorsers %v: %v %q (%v, %v), want %v %q", c.endorsers, ok, need, err, err2, c.ok, c.need)
		}
	}
	// Empty input is refused rather than encoded as an unsatisfiable policy.
	for _, bad := range [][][]string{nil, {{}}, {{""}}} {
		if _, err := anyOfAll(bad...); err == nil {
			t.Errorf("anyOfAll(%q) gave no error", bad)
		}
	}
}
