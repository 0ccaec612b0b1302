"""Export a benchmark for Hyperledger Caliper: the same workload against the same network.

Writes a Caliper workspace::

    networks/mecfab.yaml                 Caliper network config (v2.0.0 format, fabric connector)
    networks/connection-<org>.yaml       one connection profile per client org (its peer, TLS CA)
    benchmarks/<name>.yaml               the rounds: txNumber/txDuration, rateControl, workload module
    workloads/<workload>.js              one module per workload, calling the same chaincode functions
    README.md                            how to run it with @hyperledger/caliper-cli

Rate controllers map one to one (fixed-rate, linear-rate, fixed-load, maximum-rate). The edges must
be registered before Caliper writes tasks: ``mecfab bench run`` does it, or the request-task module
does it from its first worker (re-registering is harmless).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from orchestrator.bench.config import BenchConfig, RoundSpec
from orchestrator.bench.rates import FixedLoadOptions, FixedRateOptions, LinearRateOptions, MaximumRateOptions
from orchestrator.bench.workloads import ReadTaskOptions, RequestTaskOptions
from orchestrator.errors import ConfigError
from orchestrator.network import NetworkSpec

__all__ = ["CALIPER_CLI_VERSION", "export_caliper"]

CALIPER_CLI_VERSION = "0.6.0"


def _rate_control(round_spec: RoundSpec) -> dict[str, Any]:
    o = round_spec.rate
    if isinstance(o, FixedRateOptions):
        return {"type": "fixed-rate", "opts": {"tps": o.tps}}
    if isinstance(o, LinearRateOptions):
        return {"type": "linear-rate", "opts": {"startingTps": o.start_tps, "finishingTps": o.end_tps}}
    if isinstance(o, FixedLoadOptions):
        return {"type": "fixed-load", "opts": {"transactionLoad": o.transaction_load, "startingTps": 1}}
    if isinstance(o, MaximumRateOptions):
        return {
            "type": "maximum-rate",
            "opts": {
                "tps": o.tps,
                "step": o.step_tps,
                "sampleInterval": o.sample_interval_s,
                "includeFailed": False,
            },
        }
    raise ConfigError(f"rate controller {o.type!r} has no Caliper equivalent")


def _workload_arguments(round_spec: RoundSpec, msp_ids: list[str], chaincode: str) -> dict[str, Any]:
    o = round_spec.workload
    args: dict[str, Any] = {"contractId": chaincode, "orgs": msp_ids}
    if isinstance(o, RequestTaskOptions):
        args |= {
            "cpuCycles": o.cpu_cycles,
            "inputBytes": o.input_bytes,
            "deadlineSeconds": o.deadline_s,
            "maxPrice": o.max_price,
        }
    elif isinstance(o, ReadTaskOptions):
        args |= {"seedTasks": o.seed_tasks}
    return args


_COMMON_JS = """'use strict';

const crypto = require('crypto');
const { WorkloadModuleBase } = require('@hyperledger/caliper-core');

// Written by `mecfab bench export-caliper`: the same calls as mec-fabric's %(name)s workload.
class Workload extends WorkloadModuleBase {
    async initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter, context) {
        await super.initializeWorkloadModule(workerIndex, totalWorkers, roundIndex, roundArguments, sutAdapter,
            context);
        this.seq = 0;
        this.runId = 'cal' + crypto.randomBytes(3).toString('hex');
        this.orgs = roundArguments.orgs;
%(init)s
    }

    request(fn, args, readOnly, seq) {
        const org = this.orgs[seq %% this.orgs.length];
        return {
            contractId: this.roundArguments.contractId,
            contractFunction: fn,
            contractArguments: args,
            invokerMspId: org,
            invokerIdentity: 'User1',
            readOnly: readOnly,
        };
    }

    taskArgs(id, cycles, inputBytes, deadlineSeconds, maxPrice) {
        const deadline = Math.floor(Date.now() / 1000) + deadlineSeconds;
        const hash = crypto.createHash('sha256').update(id).digest('hex');
        return [id, String(cycles), String(inputBytes), String(deadline), String(maxPrice), hash];
    }

    async submitTransaction() {
        const seq = this.seq++;
%(submit)s
    }
}

function createWorkloadModule() {
    return new Workload();
}

module.exports.createWorkloadModule = createWorkloadModule;
"""

_REGISTER_JS = """        if (workerIndex === 0) {
            // RequestTask needs registered edges; re-registering an edge is harmless.
            for (const org of this.orgs) {
                await this.sutAdapter.sendRequests({
                    contractId: roundArguments.contractId, contractFunction: 'RegisterEdge',
                    contractArguments: ['3000000000', '4096', '5'], invokerMspId: org, invokerIdentity: 'User1',
                    readOnly: false,
                });
            }
        }"""

_JS = {
    "request-task": {
        "init": _REGISTER_JS,
        "submit": """        const a = this.roundArguments;
        const id = `${this.runId}-w${this.workerIndex}-${seq}`;
        const args = this.taskArgs(id, a.cpuCycles, a.inputBytes, a.deadlineSeconds, a.maxPrice);
        await this.sutAdapter.sendRequests(this.request('RequestTask', args, false, seq));""",
    },
    "read-task": {
        "init": """        this.tasks = [];
        for (let i = 0; i < roundArguments.seedTasks; i++) {
            const id = `${this.runId}-seed-w${workerIndex}-${i}`;
            const args = this.taskArgs(id, 1000000000, 1000, 1000000, 10);
            await this.sutAdapter.sendRequests(this.request('RequestTask', args, false, i));
            this.tasks.push(id);
        }""",
        "submit": """        const id = this.tasks[seq % this.tasks.length];
        await this.sutAdapter.sendRequests(this.request('ReadTask', [id], true, seq));""",
    },
    "list-edges": {
        "init": "",
        "submit": "        await this.sutAdapter.sendRequests(this.request('ListEdges', [], true, seq));",
    },
    "get-edge": {
        "init": "",
        "submit": """        const org = this.orgs[seq % this.orgs.length];
        await this.sutAdapter.sendRequests(this.request('GetEdge', [org], true, seq));""",
    },
}


def export_caliper(config: BenchConfig, spec: NetworkSpec, out: Path) -> list[Path]:
    """Write a Caliper workspace for ``config`` against ``spec``; returns the files written."""
    t = spec.topology
    orgs = [t.org(name) for name in config.clients.orgs]
    for org in orgs:
        if not org.is_peer_org:
            raise ConfigError(f"clients.orgs: {org.name} has no peer")
    unknown = sorted({r.workload.type for r in config.rounds} - set(_JS))
    if unknown:
        raise ConfigError(f"workload(s) {', '.join(unknown)} have no Caliper module")
    written: list[Path] = []

    def write(rel: str, text: str) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)

    organizations = []
    for org in orgs:
        peer = t.peer_of(org)
        msp = spec.state.user_msp(org, config.clients.user)
        certs = sorted((msp / "signcerts").glob("*.pem"))
        cert = certs[0] if certs else msp / "signcerts" / f"{config.clients.user}@{org.domain}-cert.pem"
        profile = {
            "name": f"mecfab-{org.name.lower()}",
            "version": "1.0.0",
            "client": {"organization": org.name},
            "organizations": {org.name: {"mspid": org.msp_id, "peers": [peer.host]}},
            "peers": {
                peer.host: {
                    "url": f"grpcs://{t.ports.bind}:{peer.host_port}",
                    "tlsCACerts": {"path": str(spec.state.org_tls_ca(org).resolve())},
                    "grpcOptions": {"ssl-target-name-override": peer.host, "hostnameOverride": peer.host},
                }
            },
        }
        profile_rel = f"networks/connection-{org.name.lower()}.yaml"
        write(profile_rel, yaml.safe_dump(profile, sort_keys=False))
        organizations.append(
            {
                "mspid": org.msp_id,
                "identities": {
                    "certificates": [
                        {
                            "name": config.clients.user,
                            "clientPrivateKey": {"path": str((msp / "keystore" / "priv_sk").resolve())},
                            "clientSignedCert": {"path": str(cert.resolve())},
                        }
                    ]
                },
                "connectionProfile": {"path": profile_rel, "discover": False},
            }
        )
    network = {
        "name": "mec-fabric",
        "version": "2.0.0",
        "caliper": {"blockchain": "fabric"},
        "channels": [{"channelName": t.channel, "contracts": [{"id": t.chaincode.name}]}],
        "organizations": organizations,
    }
    write("networks/mecfab.yaml", yaml.safe_dump(network, sort_keys=False))

    msp_ids = [o.msp_id for o in orgs]
    rounds = []
    for r in config.rounds:
        entry: dict[str, Any] = {"label": r.label, "description": r.description or r.label}
        if r.tx_count is not None:
            entry["txNumber"] = r.tx_count
        else:
            entry["txDuration"] = r.duration_s
        entry["rateControl"] = _rate_control(r)
        entry["workload"] = {
            "module": f"workloads/{r.workload.type}.js",
            "arguments": _workload_arguments(r, msp_ids, t.chaincode.name),
        }
        rounds.append(entry)
    benchmark = {
        "test": {
            "name": config.name,
            "description": config.description or config.name,
            "workers": {"number": config.workers},
            "rounds": rounds,
        }
    }
    write(f"benchmarks/{config.name}.yaml", yaml.safe_dump(benchmark, sort_keys=False))
    for workload in sorted({r.workload.type for r in config.rounds}):
        write(f"workloads/{workload}.js", _COMMON_JS % {"name": workload, **_JS[workload]})
    write("README.md", _readme(config.name))
    return written


def _readme(name: str) -> str:
    return f"""# Caliper workspace for mec-fabric benchmark `{name}`

Written by `mecfab bench export-caliper`. The network must be up (`make up`); crypto material
paths in `networks/` are absolute paths into the network's state folder.

```sh
npm init -y
npm install --no-save @hyperledger/caliper-cli@{CALIPER_CLI_VERSION}
npx caliper bind --caliper-bind-sut fabric:fabric-gateway
npx caliper launch manager \\
    --caliper-workspace . \\
    --caliper-networkconfig networks/mecfab.yaml \\
    --caliper-benchconfig benchmarks/{name}.yaml \\
    --caliper-flow-only-test
```

Caliper writes `report.html` here; compare its throughput and latency per round with
`mecfab bench run benchmarks/{name}.yaml` (same rounds, same rate controllers, same calls).
"""
