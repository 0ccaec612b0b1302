"""CRL generation for ``revoke_edge``: what Fabric's MSP needs to match a CRL to the CA that
issued a certificate (authority key identifier = the CA's subject key identifier) and to trust it
(signed by that CA). The certificates are laid out as cryptogen does; no binaries, no Docker."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from orchestrator import membership as m
from orchestrator.errors import ConfigError
from orchestrator.paths import StateDir
from orchestrator.topology import Org, load_topology

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_ca(cn: str = "ca.edge1.mec", *, ski: bool = True) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, cn.removeprefix("ca.")),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if ski:
        builder = builder.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    return builder.sign(key, hashes.SHA256()), key


def issue(ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, cn: str) -> x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .sign(ca_key, hashes.SHA256())
    )


def test_crl_is_signed_by_the_ca_and_names_it_by_key_identifier() -> None:
    ca, key = make_ca()
    user, peer = issue(ca, key, "User1@edge1.mec"), issue(ca, key, "peer0.edge1.mec")
    pem = m.make_crl(_pem(ca), _key_pem(key), [user.serial_number, peer.serial_number], now=NOW)
    assert pem.startswith(b"-----BEGIN X509 CRL-----")
    crl = x509.load_pem_x509_crl(pem)
    public_key = ca.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(public_key)
    assert crl.issuer == ca.subject
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert m.crl_serials(pem) == {user.serial_number, peer.serial_number}
    revoked = crl.get_revoked_certificate_by_serial_number(peer.serial_number)
    assert revoked is not None and revoked.revocation_date_utc == NOW
    assert crl.next_update_utc is not None and crl.next_update_utc > NOW > crl.last_update_utc


def test_another_ca_cannot_vouch_for_the_crl() -> None:
    ca, key = make_ca()
    other, _ = make_ca("ca.edge2.mec")
    crl = x509.load_pem_x509_crl(m.make_crl(_pem(ca), _key_pem(key), [1], now=NOW))
    other_key = other.public_key()
    assert isinstance(other_key, ec.EllipticCurvePublicKey)
    assert not crl.is_signature_valid(other_key)


def test_duplicate_serials_appear_once() -> None:
    ca, key = make_ca()
    crl = x509.load_pem_x509_crl(m.make_crl(_pem(ca), _key_pem(key), [7, 7, 9], now=NOW))
    assert sorted(r.serial_number for r in crl) == [7, 9]


def test_a_ca_without_subject_key_identifier_is_a_config_error() -> None:
    ca, key = make_ca(ski=False)
    with pytest.raises(ConfigError, match="no subject key identifier"):
        m.make_crl(_pem(ca), _key_pem(key), [1], now=NOW)


def _cryptogen_like(state: StateDir, org: Org, peer_host: str) -> dict[str, x509.Certificate]:
    """CA, User1 and peer certificates where cryptogen puts them."""
    ca, key = make_ca(f"ca.{org.domain}")
    ca_dir = state.org_dir(org) / "ca"
    ca_dir.mkdir(parents=True)
    (ca_dir / f"ca.{org.domain}-cert.pem").write_bytes(_pem(ca))
    (ca_dir / "priv_sk").write_bytes(_key_pem(key))
    user, peer = issue(ca, key, f"User1@{org.domain}"), issue(ca, key, peer_host)
    user_file = state.user_msp(org, "User1") / "signcerts" / f"User1@{org.domain}-cert.pem"
    peer_file = state.node_dir(load_topology().peer_of(org)) / "msp" / "signcerts" / f"{peer_host}-cert.pem"
    for path, cert in ((user_file, user), (peer_file, peer)):
        path.parent.mkdir(parents=True)
        path.write_bytes(_pem(cert))
    return {"ca": ca, "user": user, "peer": peer}


def test_revoked_orgs_are_those_whose_peer_certificate_a_crl_lists(tmp_path: Path) -> None:
    from tests.unit.test_membership_config import decoded_config

    topology = load_topology().with_overrides(edges=2)
    state = StateDir(tmp_path)
    edge1, edge2 = topology.org("Edge1"), topology.org("Edge2")
    certs = _cryptogen_like(state, edge1, "peer0.edge1.mec")
    _cryptogen_like(state, edge2, "peer0.edge2.mec")
    serials = m.revoked_certificates(state, topology, edge1)
    assert serials == {"User1@edge1.mec": certs["user"].serial_number, "peer0.edge1.mec": certs["peer"].serial_number}

    ca_cert, ca_key = (state.org_dir(edge1) / "ca" / name for name in ("ca.edge1.mec-cert.pem", "priv_sk"))
    crl = m.make_crl(ca_cert.read_bytes(), ca_key.read_bytes(), serials.values(), now=NOW)
    config = decoded_config()
    assert m.revoked_orgs(config, state, topology) == set()
    assert m.revoked_orgs(m.with_revocation_list(config, "Edge1MSP", [crl]), state, topology) == {"Edge1MSP"}
    only_user = m.make_crl(ca_cert.read_bytes(), ca_key.read_bytes(), [certs["user"].serial_number], now=NOW)
    assert m.revoked_orgs(m.with_revocation_list(config, "Edge1MSP", [only_user]), state, topology) == set()
