"""The OCR tools' export clean-up and speed bookkeeping (tools/ocr/graph.py, tools/ocr/evaluate.py)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper
from tool_import import import_tool

HIDDEN, FEATURES = 3, 4


def lstm_with_initial_state(fill: float) -> onnx.ModelProto:
    """X -> LSTM whose initial hidden state is ConstantOfShape(fill), built from X's shape the way torch exports
    an LSTM called without h0."""
    rng = np.random.default_rng(0)
    weights = {"W": rng.normal(size=(1, 4 * HIDDEN, FEATURES)), "R": rng.normal(size=(1, 4 * HIDDEN, HIDDEN)),
               "B": rng.normal(size=(1, 8 * HIDDEN)), "tail": np.array([HIDDEN]), "head": np.array([1])}
    initializers = [numpy_helper.from_array(v.astype(np.int64 if k in ("tail", "head") else np.float32), k)
                    for k, v in weights.items()]
    nodes = [
        helper.make_node("Shape", ["X"], ["shape"], start=1, end=2),  # the batch size
        helper.make_node("Concat", ["head", "shape", "tail"], ["state_shape"], axis=0),
        helper.make_node("ConstantOfShape", ["state_shape"], ["h0"],
                         value=numpy_helper.from_array(np.array([fill], np.float32))),
        helper.make_node("LSTM", ["X", "W", "R", "B", "", "h0"], ["Y"], hidden_size=HIDDEN),
    ]
    graph = helper.make_graph(nodes, "lstm", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["T", 1, FEATURES])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)], initializers)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def run(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": x})[0]


@pytest.mark.parametrize("fill", [0.0, 0.5])
def test_only_an_all_zero_initial_state_is_dropped_and_the_output_is_unchanged(fill):
    graph = import_tool("ocr", "graph")
    x = np.random.default_rng(1).normal(size=(7, 1, FEATURES)).astype(np.float32)
    model = lstm_with_initial_state(fill)
    before = run(model, x)
    cleaned = graph.drop_zero_initial_state(model)
    if fill == 0.0:
        assert [node.op_type for node in cleaned.graph.node] == ["LSTM"]
        assert list(cleaned.graph.node[0].input) == ["X", "W", "R", "B"]
        assert {i.name for i in cleaned.graph.initializer} == {"W", "R", "B"}
    else:
        assert "ConstantOfShape" in [node.op_type for node in cleaned.graph.node]
    np.testing.assert_array_equal(run(cleaned, x), before)


def test_int8_speedup_reports_each_statistic():
    evaluate = import_tool("ocr", "evaluate")
    # two passes over three lines; FP32 takes 2x, 3x and 1x as long as INT8 on them
    int8 = np.array([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    fp32 = np.array([[2.0, 6.0, 4.0], [2.0, 6.0, 4.0]])
    up = evaluate.int8_speedup({"ours-int8": int8, "ours-fp32": fp32})
    assert up["p50_ratio"] == pytest.approx(4.0 / 2.0)
    assert up["p50_ratio_per_pass"] == [2.0, 2.0]
    assert up["paired_median_ratio"] == pytest.approx(2.0)
    assert up["paired_geometric_mean_ratio"] == pytest.approx(6 ** (1 / 3))
    assert up["whole_set_ratio"] == pytest.approx(12.0 / 7.0)
