"""``sedimentdb.schema``: Chroma 1.5.9's Schema JSON, byte for byte (fixture recorded from chromadb)."""

from __future__ import annotations

import pytest

from sedimentdb.schema import (
    Cmek,
    FtsIndexConfig,
    HnswIndexConfig,
    IntInvertedIndexConfig,
    Schema,
    SparseVector,
    SparseVectorIndexConfig,
    StringInvertedIndexConfig,
    VectorIndexConfig,
)
from tests.compat.helpers import load_fixture

BUILT = {
    "default": lambda: Schema(),
    "vector_cosine": lambda: Schema().create_index(VectorIndexConfig(space="cosine", hnsw=HnswIndexConfig(ef_search=50))),
    "no_color_index": lambda: Schema().delete_index(StringInvertedIndexConfig(), key="color"),
    "no_fts": lambda: Schema().delete_index(FtsIndexConfig(), key="#document"),
    "int_off_globally": lambda: Schema().delete_index(IntInvertedIndexConfig()),
}


@pytest.mark.parametrize("case", sorted(BUILT))
def test_serialized_json_equals_chromas(case: str) -> None:
    """The same schema built with SedimentDB's classes serializes to what chromadb 1.5.9 sent."""
    assert BUILT[case]().serialize_to_json() == load_fixture("chromadb_schemas.json")[case]


@pytest.mark.parametrize("case", sorted(BUILT))
def test_chromas_json_round_trips(case: str) -> None:
    """Parsing Chroma's JSON and serializing again gives the same JSON, and equal objects."""
    chroma_json = load_fixture("chromadb_schemas.json")[case]
    parsed = Schema.deserialize_from_json(chroma_json)
    assert parsed.serialize_to_json() == chroma_json
    assert parsed.keys.keys() == BUILT[case]().keys.keys()


def test_cmek_round_trips() -> None:
    """A customer-managed key is carried through the JSON."""
    schema = Schema().set_cmek(Cmek.gcp("projects/p/locations/l/keyRings/r/cryptoKeys/k"))
    data = schema.serialize_to_json()
    assert data["cmek"] == {"gcp": "projects/p/locations/l/keyRings/r/cryptoKeys/k"}
    assert Schema.deserialize_from_json(data).cmek == schema.cmek
    assert schema.cmek is not None and schema.cmek.validate_pattern()


@pytest.mark.parametrize("call, message", [
    (lambda s: s.create_index(), "Cannot enable all index types globally"),
    (lambda s: s.create_index(FtsIndexConfig(), key="title"), "FTS index can only be enabled on #document key"),
    (lambda s: s.create_index(VectorIndexConfig(), key="v"), "Vector index cannot be enabled on specific keys"),
    (lambda s: s.create_index(StringInvertedIndexConfig(), key="#embedding"), "Cannot create index on special key"),
    (lambda s: s.create_index(SparseVectorIndexConfig()), "Sparse vector index must be created on a specific key"),
    (lambda s: s.delete_index(VectorIndexConfig()), "Deleting vector index is not currently supported"),
    (lambda s: s.delete_index(StringInvertedIndexConfig(), key="#other"), "key cannot begin with '#'"),
])
def test_chromas_rules_and_messages(call, message: str) -> None:
    """What Chroma refuses is refused, with Chroma's message."""
    with pytest.raises(ValueError, match=message):
        call(Schema())


def test_only_one_sparse_index_per_collection() -> None:
    """A second key with a sparse vector index is refused, naming the first."""
    schema = Schema().create_index(SparseVectorIndexConfig(), key="a")
    with pytest.raises(ValueError, match="already enabled on key 'a'"):
        schema.create_index(SparseVectorIndexConfig(), key="b")


@pytest.mark.parametrize("bad, message", [
    ({"defaults": {"strings": {}}}, "unknown value type 'strings'"),
    ({"defaults": {"string": {"vector_index": {"enabled": True, "config": {}}}}}, "unknown index 'vector_index'"),
    ({"defaults": {"int": {"int_inverted_index": {"enabled": True, "config": {"x": 1}}}}}, "'x' is not a valid field"),
    ([], "expected an object"),
])
def test_malformed_json_is_a_clear_error(bad, message: str) -> None:
    """Bad schema JSON is a ValueError naming what was wrong."""
    with pytest.raises(ValueError, match=message):
        Schema.deserialize_from_json(bad)


@pytest.mark.parametrize("kwargs, message", [
    ({"indices": [2, 1], "values": [1.0, 2.0]}, "strictly ascending"),
    ({"indices": [1], "values": [1.0, 2.0]}, "same length"),
    ({"indices": [-1], "values": [1.0]}, "non-negative"),
    ({"indices": [1], "values": ["x"]}, "must be numbers"),
])
def test_sparse_vector_validation(kwargs, message: str) -> None:
    """SparseVector refuses what Chroma's refuses."""
    with pytest.raises(ValueError, match=message):
        SparseVector(**kwargs)


def test_sparse_vector_wire_form() -> None:
    """``to_dict``/``from_dict`` use Chroma's tagged form (labels travel as ``tokens``)."""
    vector = SparseVector(indices=[1, 5], values=[0.5, 0.25], labels=["a", "b"])
    assert SparseVector.from_dict(vector.to_dict()) == vector
    with pytest.raises(ValueError, match="#type"):
        SparseVector.from_dict({"indices": [], "values": []})
