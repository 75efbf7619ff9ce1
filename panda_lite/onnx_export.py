"""ONNX export of a [`PandaLiteModel`]'s forward pass, for onnxruntime (the optional `onnx` extra).

    from panda_lite import PandaLitePipeline
    from panda_lite.onnx_export import export_onnx
    export_onnx(PandaLitePipeline.from_pretrained("panda-lite-mini-preview").model, "panda.onnx")

The file maps `past_values` (B, context_length, C) and `past_observed_mask` (same shape,
bool) to `prediction` (B, prediction_length, C), batch and channel axes dynamic; contexts
are left-padded to `context_length` by the caller (as the pipeline does), and horizons
beyond `prediction_length` are rolled out by the caller. Instance normalisation, the
parroting retrieval and the head's row padding are all in the graph.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from .io import atomic_write_bytes
from .modeling_panda_lite import PandaLiteModel

if TYPE_CHECKING:
    import onnx

# 23 has fused Attention and RMSNormalization ops (onnxruntime >= 1.23 runs them on CPU).
OPSET = 23
INPUT_NAMES = ("past_values", "past_observed_mask")
OUTPUT_NAME = "prediction"
VALUE_DTYPES = (torch.float32, torch.float64)
# |onnxruntime - torch| allowed by the export-time check, relative to the forecast's magnitude;
# measured ~1e-6 on the bundled checkpoint.
PARITY_TOLERANCE = 1e-4


class _Forward(nn.Module):
    """(values, observed) -> prediction: the forecaster's forward without its optional outputs."""

    def __init__(self, model: PandaLiteModel):
        super().__init__()
        self.model = model

    def forward(self, past_values: torch.Tensor, past_observed_mask: torch.Tensor) -> torch.Tensor:
        output = self.model(past_values=past_values, past_observed_mask=past_observed_mask, return_dict=True)
        return output.prediction


def _time_sum_length(
    node: onnx.NodeProto, types: dict[str, onnx.TypeProto.Tensor], constants: dict[str, onnx.TensorProto]
) -> int:
    """T if `node` is a float ReduceSum over the second-to-last axis (of static length T) of
    its input, else 0."""
    from onnx import TensorProto, numpy_helper

    if node.op_type != "ReduceSum" or len(node.input) != 2 or node.input[1] not in constants:
        return 0
    tensor_type = types.get(node.input[0])
    if tensor_type is None or tensor_type.elem_type not in (TensorProto.FLOAT, TensorProto.DOUBLE):
        return 0
    rank = len(tensor_type.shape.dim)
    axes = [int(axis) % rank for axis in numpy_helper.to_array(constants[node.input[1]]).reshape(-1)]
    return tensor_type.shape.dim[rank - 2].dim_value if rank >= 2 and axes == [rank - 2] else 0


def _reductions_as_matmul(graph: onnx.GraphProto) -> None:
    """Rewrites each ReduceSum over the second-to-last axis (instance normalisation's sums over
    time, (B, T, C) -> (B, 1, C)) as a MatMul with a (1, T) row of ones.

    onnxruntime drops size-1 axes before reducing, so a batch of one series takes another
    summation order than a larger batch and its forecast differs in the last bits; a MatMul
    sums each series alike whatever the batch size.
    """
    from onnx import helper, numpy_helper

    types = {info.name: info.type.tensor_type for info in [*graph.input, *graph.value_info, *graph.output]}
    constants = {tensor.name: tensor for tensor in graph.initializer}
    nodes = []
    for node in graph.node:
        length = _time_sum_length(node, types, constants)
        if not length:
            nodes.append(node)
            continue
        name = f"{node.output[0]}_as_matmul"
        dtype = helper.tensor_dtype_to_np_dtype(types[node.input[0]].elem_type)
        graph.initializer.append(numpy_helper.from_array(np.ones((1, length), dtype=dtype), f"{name}_ones"))
        keepdims = next((attribute.i for attribute in node.attribute if attribute.name == "keepdims"), 1)
        summed = node.output[0] if keepdims else f"{name}_kept"
        nodes.append(helper.make_node("MatMul", [f"{name}_ones", node.input[0]], [summed], name=name))
        if not keepdims:
            rank = len(types[node.input[0]].shape.dim)
            graph.initializer.append(numpy_helper.from_array(np.array([rank - 2], dtype=np.int64), f"{name}_axis"))
            nodes.append(helper.make_node("Squeeze", [summed, f"{name}_axis"], [node.output[0]], name=f"{name}_sq"))
    graph.ClearField("node")
    graph.node.extend(nodes)


def _broadcast_attention_masks(graph: onnx.GraphProto) -> None:
    """Expands each Attention mask of shape (S, 1, 1, L) to (S, 1, L, L): onnxruntime's CPU
    kernel does not broadcast the mask over query positions (the exporter emits it as SDPA
    takes it)."""
    from onnx import helper, numpy_helper

    nodes = []
    for node in graph.node:
        if node.op_type == "Attention" and len(node.input) > 3 and node.input[3]:
            name = f"{node.name or node.output[0]}_mask"
            for suffix, value in (("ones", [1, 1]), ("one", [1])):
                graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.int64), f"{name}_{suffix}"))
            nodes += [  # shape [1, 1, L_query, 1], L_query read from the query (S, H, L, E)
                helper.make_node("Shape", [node.input[0]], [f"{name}_length"], start=2, end=3),
                helper.make_node(
                    "Concat", [f"{name}_ones", f"{name}_length", f"{name}_one"], [f"{name}_shape"], axis=0
                ),
                helper.make_node("Expand", [node.input[3], f"{name}_shape"], [f"{name}_expanded"]),
            ]
            node.input[3] = f"{name}_expanded"
        nodes.append(node)
    graph.ClearField("node")
    graph.node.extend(nodes)


def _check_parity(data: bytes, example: torch.Tensor, expected: np.ndarray) -> None:
    """Runs the exported graph in onnxruntime on `example` (B, L, C), all observed, and raises
    unless it matches torch's forecast `expected` (B, H, C) within PARITY_TOLERANCE."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    values = example.cpu().numpy()
    (got,) = session.run([OUTPUT_NAME], {INPUT_NAMES[0]: values, INPUT_NAMES[1]: np.ones_like(values, dtype=bool)})
    error = float(np.abs(got - expected).max())
    if not error <= PARITY_TOLERANCE * max(1.0, float(np.abs(expected).max())):
        raise RuntimeError(
            f"export_onnx: onnxruntime's forecast differs from torch's by up to {error:.3g} "
            f"(allowed {PARITY_TOLERANCE:g} x the forecast's magnitude); the file was not written"
        )


def export_onnx(
    model: PandaLiteModel, path: str | os.PathLike, *, dtype: torch.dtype = torch.float32, check: bool = True
) -> Path:
    """Writes `model`'s forward pass as an ONNX file (opset 23), atomically.

    Args:
        model: a [`PandaLiteModel`] with float32 weights; exported in eval mode (its mode is restored).
        path: the file to write, ending in ".onnx"; its folder is created.
        dtype: dtype of `past_values` and `prediction`, torch.float32 or torch.float64 (the
            pipeline's: normalisation in float64, the network in float32, as in torch).
        check: run the file in onnxruntime on a random-walk batch and raise RuntimeError
            (writing nothing) if it differs from torch by more than PARITY_TOLERANCE.

    Returns:
        `path` as a Path. Inputs `past_values` (B, context_length, C) of `dtype` and
        `past_observed_mask` (B, context_length, C) bool; output `prediction`
        (B, prediction_length, C) of `dtype`; B and C are dynamic.

    Raises:
        ValueError: a model of another type or weights dtype, an unsupported `dtype`, or a
            path that does not end in ".onnx", names a folder or lies under a file.
        RuntimeError: with `check`, onnxruntime disagrees with torch (nothing is written).
        ImportError: onnx, onnxscript (or, with `check`, onnxruntime) is not installed.
    """
    if not isinstance(model, PandaLiteModel):
        raise ValueError(f"export_onnx: model must be a PandaLiteModel, got {type(model).__name__}")
    if model.dtype != torch.float32:
        raise ValueError(f"export_onnx: model weights must be float32 (model.float()), got {model.dtype}")
    if model.config.nvar_token_delays:
        raise ValueError(
            "export_onnx: this model reads NVAR tokens (nvar_token_delays="
            f"{model.config.nvar_token_delays}), whose in-context fit runs in numpy, outside the traced graph; "
            "run it in torch, or export a checkpoint without NVAR tokens"
        )
    if dtype not in VALUE_DTYPES:
        raise ValueError(f"export_onnx: dtype must be torch.float32 or torch.float64, got {dtype}")
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"export_onnx: path must end in .onnx, got {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"export_onnx: {path} is a folder; give the path of the .onnx file to write")
    ancestor = next(folder for folder in path.absolute().parents if folder.exists())
    if not ancestor.is_dir():
        raise ValueError(f"export_onnx: cannot create {path}: {ancestor} is a file, not a folder")
    try:
        import onnx
        import onnxscript  # noqa: F401  (the dynamo exporter's backend)

        if check:
            import onnxruntime  # noqa: F401
    except ImportError as error:
        raise ImportError(f"export_onnx needs the onnx extra (pip install 'panda-lite[onnx]'): {error}") from None

    config = model.config
    # Batch and channels of 2 and 3: the exporter specialises sizes 0 and 1.
    generator = torch.Generator().manual_seed(0)
    example = torch.randn(3, config.context_length, 3, generator=generator, dtype=dtype).cumsum(dim=1)
    example = example.to(model.device)
    was_training = model.training
    forward = _Forward(model).eval()  # eval() reaches the model too
    try:
        # Eager first: the reference forecast, and any cache the forward fills (e.g. rotary
        # tables) holds real tensors rather than the exporter's tracing ones.
        with torch.inference_mode():
            expected = forward(example, torch.ones_like(example, dtype=torch.bool)).cpu().numpy()
        # The legacy (TorchScript) exporter fails on this model: it cannot unfold the reshaped
        # parroted copies ("input size not accessible").
        batch, channels = torch.export.Dim("batch"), torch.export.Dim("channels")
        program = torch.onnx.export(
            forward,
            (example[:2], torch.ones_like(example[:2], dtype=torch.bool)),
            dynamo=True,
            opset_version=OPSET,
            input_names=list(INPUT_NAMES),
            output_names=[OUTPUT_NAME],
            dynamic_shapes=({0: batch, 2: channels}, {0: batch, 2: channels}),
            verbose=False,
        )
        assert program is not None  # the dynamo exporter always returns its program
        proto = program.model_proto
        for node in proto.graph.node:  # the exporter's debug records hold memory addresses: not reproducible
            node.ClearField("metadata_props")
        _reductions_as_matmul(proto.graph)
        _broadcast_attention_masks(proto.graph)
        onnx.checker.check_model(proto)
        data = proto.SerializeToString()
        if check:
            _check_parity(data, example, expected)
    finally:
        model.train(was_training)
    atomic_write_bytes(path, data)
    return path
