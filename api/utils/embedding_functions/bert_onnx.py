"""Build an ONNX graph of a BERT encoder (all-MiniLM-L6-v2) from its safetensors weights.

The model package ships only PyTorch-style weights; building the graph here, with the
``onnx`` helper API, is what lets the runtime be onnxruntime alone -- no torch, no download.
The graph mirrors Hugging Face's ``BertModel`` forward pass in inference mode:

    embeddings = LayerNorm(word[input_ids] + position[0:S] + token_type[token_type_ids])
    per layer:  x = LayerNorm(x + SelfAttention(x, mask));  x = LayerNorm(x + FFN_gelu(x))

Its inputs and output (``input_ids``, ``attention_mask``, ``token_type_ids`` ->
``last_hidden_state``) have the names and shapes of Chroma's exported ``model.onnx``, so
pooling and normalisation stay outside the graph, exactly as in Chroma.

Importing this module imports ``onnx``; only the cache imports it, and only to build.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from sedimentdb.utils.embedding_functions.extra_missing import EmbeddingExtraMissingError
from sedimentdb.utils.embedding_functions.onnx_cache import BUILDER_VERSION

try:
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # imported only to build the graph: the error names the extra, as every missing one does
    raise EmbeddingExtraMissingError("onnx (used once, to build the model graph)") from e

OPSET = 17  # the first opset with LayerNormalization
IR_VERSION = 8  # old enough for every onnxruntime that supports opset 17


@dataclass(frozen=True)
class BertShape:
    """The architecture numbers the graph needs (from the model's ``config.json``)."""

    layers: int
    hidden: int
    heads: int
    layer_norm_eps: float

    @property
    def head_dim(self) -> int:
        """Width of one attention head."""
        return self.hidden // self.heads


class _Graph:
    """Collects nodes and initializers; names every intermediate value uniquely."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._const_names: set[str] = set()
        self._count = 0

    def const(self, name: str, value: np.ndarray) -> str:
        # Shared scalars (0.5, 1.0, ...) are requested once per layer; store each name once.
        if name not in self._const_names:
            self._const_names.add(name)
            self.initializers.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def op(self, op_type: str, inputs: list[str], **attrs: Any) -> str:
        self._count += 1
        out = f"{op_type.lower()}_{self._count}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out


def build_bert_onnx(weights: dict[str, np.ndarray], shape: BertShape) -> bytes:
    """Return the serialized ONNX model for the given weights; deterministic for equal inputs."""
    g = _Graph()
    x = _embeddings(g, weights, shape)
    mask_bias = _attention_bias(g)
    for i in range(shape.layers):
        x = _layer(g, weights, shape, f"encoder.layer.{i}.", x, mask_bias)
    g.nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"]))
    graph = helper.make_graph(
        g.nodes,
        "all_minilm_l6_v2",
        inputs=[
            helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"])
            for name in ("input_ids", "attention_mask", "token_type_ids")
        ],
        outputs=[
            helper.make_tensor_value_info(
                "last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", shape.hidden]
            )
        ],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="sedimentdb",
        producer_version=str(BUILDER_VERSION),
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model.SerializeToString(deterministic=True)


def _embeddings(g: _Graph, w: dict[str, np.ndarray], shape: BertShape) -> str:
    word = g.op("Gather", [g.const("word_embeddings", w["embeddings.word_embeddings.weight"]), "input_ids"])
    token_type = g.op(
        "Gather",
        [g.const("token_type_embeddings", w["embeddings.token_type_embeddings.weight"]), "token_type_ids"],
    )
    # Positions 0..S-1 are a prefix slice of the position table, broadcast over the batch.
    seq_len = g.op(
        "Slice",
        [
            g.op("Shape", ["input_ids"]),
            g.const("one_1d", np.array([1], np.int64)),
            g.const("two_1d", np.array([2], np.int64)),
        ],
    )
    position = g.op(
        "Slice",
        [
            g.const("position_embeddings", w["embeddings.position_embeddings.weight"]),
            g.const("zero_1d", np.array([0], np.int64)),
            seq_len,
            g.const("axis0_1d", np.array([0], np.int64)),
        ],
    )
    summed = g.op("Add", [g.op("Add", [word, position]), token_type])
    return _layer_norm(g, w, shape, "embeddings.LayerNorm", summed)


def _attention_bias(g: _Graph) -> str:
    """(1 - mask) * float32.min, shaped [B, 1, 1, S]: padded keys get no attention, as in HF."""
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const("one_f", np.array(1.0, np.float32)), mask])
    bias = g.op("Mul", [inverted, g.const("mask_min", np.array(np.finfo(np.float32).min, np.float32))])
    return g.op("Unsqueeze", [bias, g.const("axes_1_2", np.array([1, 2], np.int64))])


def _layer(g: _Graph, w: dict[str, np.ndarray], shape: BertShape, p: str, x: str, mask_bias: str) -> str:
    attended = _linear(g, w, p + "attention.output.dense", _self_attention(g, w, shape, p, x, mask_bias))
    x = _layer_norm(g, w, shape, p + "attention.output.LayerNorm", g.op("Add", [attended, x]))
    inner = _gelu(g, _linear(g, w, p + "intermediate.dense", x))
    out = _linear(g, w, p + "output.dense", inner)
    return _layer_norm(g, w, shape, p + "output.LayerNorm", g.op("Add", [out, x]))


def _self_attention(
    g: _Graph, w: dict[str, np.ndarray], shape: BertShape, p: str, x: str, mask_bias: str
) -> str:
    split = g.const(f"{p}split_heads", np.array([0, 0, shape.heads, shape.head_dim], np.int64))
    merge = g.const(f"{p}merge_heads", np.array([0, 0, shape.hidden], np.int64))

    def heads(name: str, perm: list[int]) -> str:
        projected = _linear(g, w, f"{p}attention.self.{name}", x)
        return g.op("Transpose", [g.op("Reshape", [projected, split])], perm=perm)

    query = heads("query", [0, 2, 1, 3])  # [B, heads, S, d]
    key_t = heads("key", [0, 2, 3, 1])  # [B, heads, d, S]
    value = heads("value", [0, 2, 1, 3])  # [B, heads, S, d]
    scale = g.const(f"{p}scale", np.array(1.0 / math.sqrt(shape.head_dim), np.float32))
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [query, key_t]), scale]), mask_bias])
    context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), value])
    return g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge])


def _linear(g: _Graph, w: dict[str, np.ndarray], name: str, x: str) -> str:
    # PyTorch stores Linear weights as [out, in]; MatMul wants [in, out].
    weight = g.const(f"{name}.weight_t", w[f"{name}.weight"].T)
    return g.op("Add", [g.op("MatMul", [x, weight]), g.const(f"{name}.bias", w[f"{name}.bias"])])


def _layer_norm(g: _Graph, w: dict[str, np.ndarray], shape: BertShape, name: str, x: str) -> str:
    return g.op(
        "LayerNormalization",
        [x, g.const(f"{name}.weight", w[f"{name}.weight"]), g.const(f"{name}.bias", w[f"{name}.bias"])],
        axis=-1,
        epsilon=shape.layer_norm_eps,
    )


def _gelu(g: _Graph, x: str) -> str:
    """Exact (erf) GELU, BERT's ``hidden_act="gelu"``: 0.5 * x * (1 + erf(x / sqrt(2)))."""
    erf = g.op("Erf", [g.op("Mul", [x, g.const("inv_sqrt2", np.array(1.0 / math.sqrt(2.0), np.float32))])])
    one_plus = g.op("Add", [erf, g.const("one_g", np.array(1.0, np.float32))])
    return g.op("Mul", [g.op("Mul", [x, one_plus]), g.const("half", np.array(0.5, np.float32))])
