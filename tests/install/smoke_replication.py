"""Smoke test of ``pip install "sedimentdb[replication]"``: ship to S3-compatible storage and back.

Run by ``make wheel-check`` with the python of a fresh venv of the wheel and the [replication]
extra only, against a local moto server on 127.0.0.1 that the caller started (its URL in
``SEDIMENT_SMOKE_S3_ENDPOINT``). Writes a database, ships it with ``sediment replicate --once``,
checks the archive with ``sediment archive-verify``, restores it with ``sediment restore`` into
a new directory and reads the records back. Exits non-zero on failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import boto3

import sedimentdb


def check(condition: object, message: str) -> None:
    """Fail the smoke test with ``message`` unless ``condition``."""
    if not condition:
        raise SystemExit(f"FAIL: {message}")


def sediment(*args: str) -> str:
    """Run this venv's ``sediment`` command; its stdout, or fail with its output."""
    command = [str(Path(sys.executable).with_name("sediment")), *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    check(result.returncode == 0, f"{' '.join(args[:1])} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result.stdout


def main() -> None:
    """Write, ship, verify, restore, read."""
    endpoint = os.environ["SEDIMENT_SMOKE_S3_ENDPOINT"]
    check(endpoint.startswith("http://127.0.0.1:"), f"the S3 endpoint must be local: {endpoint}")
    # moto accepts any credentials; set them so no real ones are ever looked up.
    os.environ.update(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1")
    bucket = f"smoke-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    archive = f"s3://{bucket}/db?endpoint={endpoint}"
    with tempfile.TemporaryDirectory() as tmp:
        primary, restored = str(Path(tmp) / "primary"), str(Path(tmp) / "restored")
        client = sedimentdb.PersistentClient(path=primary)
        client.create_collection("docs").add(ids=["a", "b"], embeddings=[[1.0, 0.0], [0.0, 1.0]],
                                             documents=["first", "second"])
        client.clear_system_cache()  # closes the engine: the tools open the directory next
        sediment("replicate", primary, "--to", archive, "--once")
        sediment("archive-verify", archive)
        sediment("restore", restored, "--from", archive)
        back = sedimentdb.PersistentClient(path=restored).get_collection("docs").get()
        check(back["ids"] == ["a", "b"] and back["documents"] == ["first", "second"], f"restored: {back}")
        sedimentdb.PersistentClient(path=restored).clear_system_cache()
    print(f"ok: shipped to s3://{bucket} on {endpoint}, archive verified, restored and read back")
    print("smoke replication: passed")


if __name__ == "__main__":
    main()
