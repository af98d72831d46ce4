"""S3 buckets and objects kept in the data dir, so they survive a restart.

Layout: `s3/<account>/<bucket>/bucket.json` (region) and `objects/<n>.data` + `<n>.json`
(key, etag, metadata) per object. A background thread syncs after every S3 change (at most
every `interval` seconds) and once more at shutdown; only changed objects are rewritten.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from pathlib import Path

from localcloud import moto_patches

logger = logging.getLogger("localcloud.persistence")


def _object_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


class S3Store:
    def __init__(self, data_dir: Path, interval: float = 0.5) -> None:
        self.root = data_dir / "s3"
        self.interval = interval
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._sync_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="s3-persist", daemon=True)

    def restore(self) -> int:
        """Load every stored bucket and object into moto; return the number of objects."""
        count = 0
        if not self.root.is_dir():
            return 0
        for account_dir in sorted(self.root.iterdir()):
            for bucket_dir in sorted(account_dir.iterdir()):
                info_path = bucket_dir / "bucket.json"
                if not info_path.is_file():
                    continue
                info = json.loads(info_path.read_text())
                moto_patches.s3_restore_bucket(account_dir.name, bucket_dir.name, info["region"])
                for meta_path in sorted((bucket_dir / "objects").glob("*.json")):
                    meta = json.loads(meta_path.read_text())
                    data = meta_path.with_suffix(".data").read_bytes()
                    moto_patches.s3_restore_object(
                        account_dir.name, bucket_dir.name, meta["key"], data, meta["metadata"]
                    )
                    count += 1
        return count

    def start(self) -> None:
        self._thread.start()

    def mark_changed(self) -> None:
        self._dirty.set()

    def _loop(self) -> None:
        while not self._closed.is_set():
            self._dirty.wait(timeout=5)
            if self._closed.is_set():
                break
            if self._dirty.is_set():
                self._dirty.clear()
                self.sync()
                self._closed.wait(self.interval)

    def close(self) -> None:
        self._closed.set()
        self._dirty.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.sync()

    def sync(self) -> None:
        with self._sync_lock:
            try:
                self._sync()
            except Exception:
                logger.exception("could not save S3 to %s", self.root)

    def _sync(self) -> None:
        seen_buckets: set[Path] = set()
        for bucket in moto_patches.s3_buckets():
            bucket_dir = self.root / bucket.account / bucket.name
            objects_dir = bucket_dir / "objects"
            objects_dir.mkdir(parents=True, exist_ok=True)
            seen_buckets.add(bucket_dir)
            info = json.dumps({"region": bucket.region}).encode()
            info_path = bucket_dir / "bucket.json"
            if not info_path.is_file() or info_path.read_bytes() != info:
                _write_atomic(info_path, info)
            kept: set[str] = set()
            for key, etag, metadata, read in bucket.objects():
                object_id = _object_id(key)
                kept.add(object_id)
                meta_path = objects_dir / f"{object_id}.json"
                meta = json.dumps({"key": key, "etag": etag, "metadata": metadata}).encode()
                if meta_path.is_file() and meta_path.read_bytes() == meta:
                    continue
                _write_atomic(objects_dir / f"{object_id}.data", read())
                _write_atomic(meta_path, meta)
            for path in objects_dir.iterdir():
                if path.name.split(".")[0] not in kept:
                    path.unlink(missing_ok=True)
        if self.root.is_dir():
            for account_dir in self.root.iterdir():
                for bucket_dir in account_dir.iterdir():
                    if bucket_dir not in seen_buckets:
                        shutil.rmtree(bucket_dir, ignore_errors=True)
