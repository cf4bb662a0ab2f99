"""TLS material and the webhook signing key, created once per cert dir and reused."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import certifi
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


@dataclass(frozen=True)
class TlsFiles:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    # Public CAs plus the local CA, for SSL_CERT_FILE: clients keep trusting the internet.
    bundle: Path


def ensure_tls_files(cert_dir: Path) -> TlsFiles:
    """Create a local CA and a 127.0.0.1/localhost server certificate unless they exist."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    files = TlsFiles(
        ca_cert=cert_dir / "ca.pem",
        server_cert=cert_dir / "server.pem",
        server_key=cert_dir / "server-key.pem",
        bundle=cert_dir / "bundle.pem",
    )
    if not _reusable(files):
        ca = trustme.CA(organization_name="imagegen fal emulator")
        leaf = ca.issue_cert("127.0.0.1", "localhost")
        ca.cert_pem.write_to_path(str(files.ca_cert))
        leaf.private_key_pem.write_to_path(str(files.server_key))
        files.server_key.chmod(0o600)
        # Leaf first, then the chain, as servers are expected to present it.
        files.server_cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    # Rewritten on every start so the bundle follows certifi updates; replaced atomically
    # because running clients may be reading it.
    system_bundle = Path(certifi.where()).read_bytes()
    staging = files.bundle.with_suffix(".pem.tmp")
    staging.write_bytes(system_bundle.rstrip(b"\n") + b"\n" + files.ca_cert.read_bytes())
    staging.replace(files.bundle)
    return files


def _reusable(files: TlsFiles) -> bool:
    if not all(p.exists() for p in (files.ca_cert, files.server_cert, files.server_key)):
        return False
    leaf = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
    return leaf.not_valid_after_utc > datetime.now(UTC) + timedelta(days=1)


def load_signing_key(cert_dir: Path) -> Ed25519PrivateKey:
    """Load the webhook signing key, creating it on first use so JWKS stays stable."""
    path = cert_dir / "webhook-signing-key.pem"
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an ED25519 private key")
        return key
    cert_dir.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key
