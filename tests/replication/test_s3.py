"""The same archive on S3-compatible storage: a local moto server on 127.0.0.1 (started here)."""

from __future__ import annotations

import pytest

from sedimentdb.engine.database import Database
from sedimentdb.engine.options import DatabaseOptions
from sedimentdb.engine.replication import Follower, Shipper, restore, state_digest, verify_archive
from sedimentdb.engine.replication.destination import ObjectExistsError, S3Destination, open_destination

from .workload import Workload

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")


@pytest.fixture(scope="module")
def s3_endpoint():
    srv = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    srv.start()
    host, port = srv.get_host_and_port()
    yield f"http://{host}:{port}"
    srv.stop()


@pytest.fixture
def s3_archive(s3_endpoint, monkeypatch, request):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = f"b{abs(hash(request.node.name)) % 10**8}"
    dest = open_destination(f"s3://{bucket}/backups/db1?endpoint={s3_endpoint}")
    assert isinstance(dest, S3Destination)
    dest.client.create_bucket(Bucket=bucket)
    return dest


def test_ship_restore_follow_on_s3(primary, s3_archive, tmp_path):
    wl = Workload(primary, 41)
    shipper = Shipper(primary.path, s3_archive)
    for i in range(3):
        for _ in range(10):
            wl.step()
        if i == 1:
            primary.compact()
        shipper.ship_round(snapshot=i == 1)
    assert verify_archive(s3_archive, shipper.db_uuid) == []
    mid = sorted(wl.digests)[len(wl.digests) // 2]
    restore(s3_archive, str(tmp_path / "r"), to_lsn=mid)
    db = Database.open(str(tmp_path / "r"), DatabaseOptions(read_only=True, background_compaction=False))
    assert state_digest(db).digest == wl.digests[mid]
    db.close()
    f = Follower(s3_archive, str(tmp_path / "replica"),
                 options=DatabaseOptions(background_compaction=False, durability="off"))
    f.start()
    assert state_digest(f.db).digest == wl.digests[primary.last_lsn]
    f.close()


def test_s3_put_is_write_once(s3_archive):
    assert s3_archive.put_once("x/log/a", b"one") is True
    assert s3_archive.put_once("x/log/a", b"one") is False  # identical: success
    with pytest.raises(ObjectExistsError):
        s3_archive.put_once("x/log/a", b"two")
    assert s3_archive.get("x/log/a") == b"one"
