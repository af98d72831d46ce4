"""S3 buckets and objects kept in the data dir, so they survive a restart.

Layout: `s3/<account>/<bucket>/bucket.json` (region) and `objects/<n>.data` + `<n>.json`
(key, etag, metadata) per object. A background thread syncs after every S3 change (at most
every `interval` seconds) and once more at shutdown. It remembers what the files hold, so a
sync reads none: only changed objects are rewritten, and only a bucket that lost an object
(or is new to this process) is listed for files to remove.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

from localcloud import moto_patches

logger = logging.getLogger("localcloud.persistence")


def _object_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


@dataclass
class _SavedBucket:
    """What one bucket's files hold: bucket.json, and each object's (key, etag, metadata)
    by object id."""

    info: bytes = b""
    # None: its files may not hold its current version.
    objects: dict[str, tuple[str, str, dict[str, str]] | None] = field(default_factory=dict)
    listed: bool = False  # whether its folder was looked through for stray files


class S3Store:
    def __init__(self, data_dir: Path, interval: float = 0.5) -> None:
        self.root = data_dir / "s3"
        self.interval = interval
        self._dirty = threading.Event()
        self._closed = threading.Event()
        self._sync_lock = threading.Lock()
        self._thread = threading.Thread(target=self._loop, name="s3-persist", daemon=True)
        self._saved: dict[Path, _SavedBucket] = {}
        self._walked = False

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
                saved = self._saved[bucket_dir] = _SavedBucket(info=info_path.read_bytes())
                info = json.loads(saved.info)
                moto_patches.s3_restore_bucket(account_dir.name, bucket_dir.name, info["region"])
                for meta_path in sorted((bucket_dir / "objects").glob("*.json")):
                    meta = json.loads(meta_path.read_text())
                    saved.objects[meta_path.stem] = (meta["key"], meta["etag"], meta["metadata"])
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
                # What the files hold is no longer known (a sync stopped halfway): the
                # next one rewrites every object and looks through every folder.
                self._saved, self._walked = {}, False

    def _sync(self) -> None:
        previous, self._saved = self._saved, {}
        for bucket in moto_patches.s3_buckets():
            bucket_dir = self.root / bucket.account / bucket.name
            saved = previous.pop(bucket_dir, None) or _SavedBucket()
            self._saved[bucket_dir] = saved
            self._sync_bucket(bucket, bucket_dir, saved)
        if (previous or not self._walked) and self.root.is_dir():
            # A bucket was deleted, or this is the first sync: remove stray folders.
            for account_dir in self.root.iterdir():
                for bucket_dir in account_dir.iterdir():
                    if bucket_dir not in self._saved:
                        shutil.rmtree(bucket_dir, ignore_errors=True)
            self._walked = True

    @staticmethod
    def _sync_bucket(
        bucket: moto_patches.StoredBucket, bucket_dir: Path, saved: _SavedBucket
    ) -> None:
        objects_dir = bucket_dir / "objects"
        info = json.dumps({"region": bucket.region}).encode()
        if saved.info != info or not saved.listed:
            objects_dir.mkdir(parents=True, exist_ok=True)
        if saved.info != info:
            _write_atomic(bucket_dir / "bucket.json", info)
            saved.info = info
        kept: dict[str, tuple[str, str, dict[str, str]] | None] = {}
        for key, etag, metadata, read in bucket.objects():
            object_id = _object_id(key)
            if saved.objects.get(object_id) == (key, etag, metadata):
                kept[object_id] = saved.objects[object_id]
                continue
            kept[object_id] = None  # Until both files are written.
            try:
                data = read()
            except ValueError:
                # moto closed it: overwritten or deleted while this sync ran. The change
                # that did it asks for another sync; the files written before stay.
                continue
            meta = {"key": key, "etag": etag, "metadata": metadata}
            _write_atomic(objects_dir / f"{object_id}.data", data)
            _write_atomic(objects_dir / f"{object_id}.json", json.dumps(meta).encode())
            kept[object_id] = (key, etag, metadata)
        if not saved.listed or saved.objects.keys() - kept.keys():
            for path in objects_dir.iterdir():
                if path.name.split(".")[0] not in kept:
                    path.unlink(missing_ok=True)
            saved.listed = True
        saved.objects = kept
