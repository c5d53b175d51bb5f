"""Basic auth does not reveal which users exist (issue 16, item 3).

The dummy hash an unknown user is checked against had cost 4 while real users had 12 (2-7 ms
against 67 ms). Compared here by work factor, which is what the time follows, not wall clock:
every bcrypt check the authenticator makes is recorded with the cost of the hash it used.
"""

from __future__ import annotations

import base64
from typing import Any

import bcrypt
import pytest

from sedimentdb.server.auth import AuthFailure, BasicAuthenticator, bcrypt_cost


def _header(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


class _RecordingBcrypt:
    """bcrypt, recording the cost of the hash each ``checkpw`` runs against."""

    def __init__(self) -> None:
        self.costs: list[int] = []

    def checkpw(self, password: bytes, hashed: bytes) -> bool:
        self.costs.append(bcrypt_cost(hashed))
        return bcrypt.checkpw(password, hashed)

    def __getattr__(self, name: str) -> Any:
        return getattr(bcrypt, name)


def _cost_of_attempt(auth: BasicAuthenticator, user: str, password: str) -> int:
    recorder = _RecordingBcrypt()
    auth._bcrypt = recorder  # type: ignore[assignment]
    with pytest.raises(AuthFailure) as failure:
        auth.authenticate(_header(user, password))
    assert failure.value.status == 403
    assert len(recorder.costs) == 1, "each attempt costs exactly one bcrypt check"
    return recorder.costs[0]


@pytest.mark.parametrize("costs", [(6,), (5, 7), (7, 5, 6)])
def test_unknown_user_costs_what_a_wrong_password_costs(costs: tuple[int, ...]) -> None:
    """An unknown user's check runs at the configured users' work factor (the highest when they differ)."""
    lines = [f"user{i}:" + bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=c)).decode() for i, c in enumerate(costs)]
    auth = BasicAuthenticator(lines)
    assert auth.dummy_cost == max(costs)
    unknown = _cost_of_attempt(auth, "nobody", "pw")
    slowest_user = costs.index(max(costs))
    assert unknown == _cost_of_attempt(auth, f"user{slowest_user}", "wrong") == max(costs)


def test_htpasswd_2y_hashes_keep_their_cost() -> None:
    """``htpasswd -B`` writes ``$2y$``: its cost is read the same way."""
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(rounds=5)).decode().replace("$2b$", "$2y$", 1)
    assert BasicAuthenticator([f"admin:{hashed}"]).dummy_cost == 5


def test_a_hash_without_a_cost_is_refused() -> None:
    """A malformed hash is a start-up error naming what is wrong, not a guess."""
    with pytest.raises(ValueError, match="cost of 4-31"):
        BasicAuthenticator(["admin:$2b$xx$abcdefghijklmnopqrstuu"])
