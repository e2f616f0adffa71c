"""Raw message bytes stored content-addressed (sha256) under data_dir, before anything else."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class Archive:
    """Write-once store: <root>/ab/cd/<sha256>.eml, written atomically and fsynced."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / f"{digest}.eml"

    def store(self, raw: bytes) -> str:
        """Archive raw bytes (idempotent); returns their sha256."""
        digest = sha256_of(raw)
        path = self.path_for(digest)
        if path.exists() and path.stat().st_size == len(raw):
            return digest
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        with open(tmp, "wb") as fh:
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
        return digest

    def load(self, digest: str) -> bytes:
        return self.path_for(digest).read_bytes()
