"""Test certificates made by the `openssl` command: a test CA and a server certificate it
signed, or a self-signed one (what Heroku Redis presents). Tests that need them skip without
`openssl` (`needs_openssl`)."""

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")

_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    certificate: Path
    key: Path
    ca: Path
    """What a client trusts to accept `certificate` (the CA, or the certificate itself)."""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def signed_by_test_ca(folder: Path, name: str) -> ServerCertificate:
    """A test CA and a server certificate for DNS name `name` signed by it."""
    _openssl("req", "-x509", *_EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "1",
             "-subj", "/CN=test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign",
             cwd=folder)  # fmt: skip
    _openssl("req", *_EC, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", f"/CN={name}",
             cwd=folder)  # fmt: skip
    (folder / "leaf.ext").write_text(
        f"subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\n"
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    _openssl("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-out", "leaf.pem", "-days", "1", "-extfile", "leaf.ext",
             cwd=folder)  # fmt: skip
    return ServerCertificate(folder / "leaf.pem", folder / "leaf.key", folder / "ca.pem")


def self_signed(folder: Path, name: str) -> ServerCertificate:
    """A certificate for DNS name `name` that signs itself, as Heroku Redis's do."""
    _openssl("req", "-x509", *_EC, "-keyout", "self.key", "-out", "self.pem", "-days", "1",
             "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}",
             cwd=folder)  # fmt: skip
    return ServerCertificate(folder / "self.pem", folder / "self.key", folder / "self.pem")
