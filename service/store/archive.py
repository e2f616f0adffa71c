"""Raw message bytes stored content-addressed (sha256) under data_dir, before anything else."""
from __future__ import annotations

import hashlib
import os
from pathlib import Path


def sha256_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


class Archive:
    """Write-once store: <root>/ab/cd/<sha256>.eml, written atomically and made durable."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / f"{digest}.eml"

    def store(self, raw: bytes, durable: bool = True) -> str:
        """Archive raw bytes (idempotent); returns their sha256.

        durable=False leaves the flush to `sync()`, called once for a batch before its commit.
        """
        digest = sha256_of(raw)
        path = self.path_for(digest)
        if path.exists() and path.stat().st_size == len(raw):
            return digest
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(f".tmp{os.getpid()}")
        try:
            with open(tmp, "wb") as fh:
                fh.write(raw)
                if durable:
                    fh.flush()
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a disk-full write leaves no half file taking the space left
            raise
        return digest

    def store_many(self, raws: list[bytes]) -> list[str]:
        """Archive a batch and make it durable with one sync: one journal commit instead of one per file."""
        digests = [self.store(raw, durable=False) for raw in raws]
        self.sync()
        return digests

    def sync(self) -> None:
        """Flush written files, their renames and new folders to disk (sync(2): Python has no syncfs)."""
        os.sync()

    def load(self, digest: str) -> bytes:
        return self.path_for(digest).read_bytes()
