"""Where archives live: a directory (local or a network mount) or S3-compatible storage.

Every put is write-once: an object is created only if its key is free (``link`` of a synced
temp file in a directory, ``If-None-Match: *`` on S3). Re-uploading identical bytes is a
success, so a shipper that crashed after a put can simply redo it; different bytes under an
existing key are refused.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Protocol
from urllib.parse import parse_qs, urlparse

from sedimentdb.engine.extras import require_extra
from sedimentdb.engine.storage_errors import StorageError


class ObjectExistsError(StorageError):
    """A different object already exists under a write-once key."""


class UnreachableError(StorageError):
    """The destination could not be reached (network, server restarting): trying again may work."""


class Destination(Protocol):
    """The operations replication needs from an object store."""

    url: str

    def put_once(self, key: str, data: bytes) -> bool:
        """Create ``key``; True if created, False if identical bytes were already there."""

    def get(self, key: str) -> bytes:
        """The bytes of ``key`` (StorageError if missing)."""

    def exists(self, key: str) -> bool:
        """Whether ``key`` exists."""

    def list(self, prefix: str) -> list[str]:
        """Sorted keys starting with ``prefix``."""

    def delete(self, key: str) -> None:
        """Remove ``key`` (missing is fine)."""


class DirDestination:
    """An archive in a directory; keys are relative paths."""

    def __init__(self, root: str, durable: bool = True) -> None:
        self.root = os.path.abspath(root)
        self.url = self.root
        self.durable = durable  # False skips fsync: for tests and scratch archives only

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    def put_once(self, key: str, data: bytes) -> bool:
        path = self._path(key)
        if os.path.exists(path):
            return self._same(key, data)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.tmp-{uuid.uuid4().hex}"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if self.durable:
                os.fsync(f.fileno())
        try:
            os.link(tmp, path)  # fails if the name exists: an atomic create-if-absent
        except FileExistsError:
            return self._same(key, data)
        finally:
            os.unlink(tmp)
        if not self.durable:
            return True
        fd = os.open(os.path.dirname(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return True

    def _same(self, key: str, data: bytes) -> bool:
        if self.get(key) != data:
            raise ObjectExistsError("a different object already exists under this write-once name",
                                    path=self._path(key), hint="two writers ship to one archive?")
        return False

    def get(self, key: str) -> bytes:
        try:
            with open(self._path(key), "rb") as f:
                return f.read()
        except OSError as exc:
            raise StorageError(f"cannot read archive object: {exc.strerror}", path=self._path(key)) from exc

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def list(self, prefix: str) -> list[str]:
        out = []
        # Walk only below the prefix's directory: a follower's poll of ``<uuid>/log/`` must not
        # cost a walk over every segment file of the archive.
        top = os.path.join(self.root, *prefix.split("/")[:-1])
        for dirpath, _dirs, files in os.walk(top):
            rel = os.path.relpath(dirpath, self.root)
            base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            out += [base + f for f in files if ".tmp-" not in f and (base + f).startswith(prefix)]
        return sorted(out)

    def delete(self, key: str) -> None:
        try:
            os.unlink(self._path(key))
        except FileNotFoundError:
            pass


class S3Destination:
    """An archive under ``s3://bucket/prefix`` (boto3; ``endpoint`` for S3-compatible servers)."""

    def __init__(self, bucket: str, prefix: str = "", endpoint: str | None = None, client: Any = None) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.url = f"s3://{bucket}/{self.prefix}"
        self.client = client or _s3_client(endpoint)

    def put_once(self, key: str, data: bytes) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data, IfNoneMatch="*")
            return True
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code not in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                raise StorageError(f"S3 put failed: {code}", path=self.url + key) from exc
        if self.get(key) != data:
            raise ObjectExistsError("a different object already exists under this write-once name",
                                    path=self.url + key, hint="two writers ship to one archive?")
        return False

    def get(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            return self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"].read()
        except ClientError as exc:
            raise StorageError(f"cannot read archive object: {exc}", path=self.url + key) from exc

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self.prefix + key)
            return True
        except ClientError:
            return False

    def list(self, prefix: str) -> list[str]:
        keys: list[str] = []
        pager = self.client.get_paginator("list_objects_v2")
        for page in pager.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            keys += [o["Key"][len(self.prefix):] for o in page.get("Contents", [])]
        return sorted(keys)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)


def _s3_client(endpoint: str | None) -> Any:
    boto3 = require_extra("boto3", "replication", "An S3 archive (s3://...)")
    Config = require_extra("botocore.config", "replication", "An S3 archive (s3://...)").Config  # noqa: N806
    endpoint = endpoint or os.environ.get("SEDIMENT_S3_ENDPOINT") or None
    return boto3.client("s3", endpoint_url=endpoint, config=Config(s3={"addressing_style": "path"}))


def open_destination(url: str) -> Destination:
    """A destination from ``DIR``, ``s3://bucket/prefix[?endpoint=http://host:port]``, or
    ``http(s)://HOST:PORT`` (the read-only archive of a ``sediment run --replicate`` server)."""
    if url.startswith(("http://", "https://")):
        from sedimentdb.engine.replication.http_destination import HttpDestination

        return HttpDestination(url)
    if url.startswith("s3://"):
        u = urlparse(url)
        endpoint = parse_qs(u.query).get("endpoint", [None])[0]
        return S3Destination(u.netloc, u.path, endpoint)
    return DirDestination(url)
