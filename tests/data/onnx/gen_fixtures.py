"""Builds the ONNX importer's fixtures: small graphs made with onnx.helper, their expected outputs
computed by onnx.reference (numpy, float64). CI has no Python: the .onnx and .npz files are
committed. Run by hand: /work/venvs/onnx/bin/python tests/data/onnx/gen_fixtures.py

Each case writes CASE.onnx and CASE.npz with:
  x:    the model's inputs flattened per example, in the model's own order (N x cells; several
        inputs side by side), as the converted scripts read X;
  pred: the output per example (N x cells), batch rows first;
  y:    one-hot targets (for the fine-tuning cases).
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper as h, numpy_helper
from onnx.reference import ReferenceEvaluator as _Reference
from onnx.reference.op_run import OpRun
import math


class Gelu(OpRun):
    """Gelu in float64. onnx.reference runs Gelu (opset 20) through its function body, whose
    constants (0.5, sqrt(2), sqrt(2/pi), 0.044715) are float32 tensors: its output is off by about
    1e-9 relative even for double inputs. This is the operator's formula in doubles."""

    op_domain = ""

    def _run(self, x, approximate="none"):
        x = np.asarray(x, dtype=np.float64)
        if approximate == "tanh":
            y = 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
        else:
            y = 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
        return (y,)


def ReferenceEvaluator(m):
    return _Reference(m, new_ops=[Gelu])

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(17)
D = TensorProto.DOUBLE


def w(name, *shape, scale=0.5, dtype=np.float64):
    return numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(dtype), name)


def const(name, arr, dtype=np.float64):
    return numpy_helper.from_array(np.asarray(arr, dtype=dtype), name)


def model(name, nodes, inputs, outputs, inits, opset=13):
    g = h.make_graph(nodes, name, inputs, outputs, inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", opset)], producer_name="gen_fixtures")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def inp(name, *shape, t=D):
    return h.make_tensor_value_info(name, t, list(shape))


def save(name, m, feeds, batch_axes=None, out_batch_axis=0, y=None):
    """Runs the reference and writes the files; batch_axes: the batch axis of each input."""
    got = ReferenceEvaluator(m).run(None, feeds)[0]
    batch_axes = batch_axes or [0] * len(feeds)
    xs = []
    for (k, v), b in zip(feeds.items(), batch_axes):
        v = np.moveaxis(np.asarray(v, dtype=np.float64), b, 0)
        xs.append(v.reshape(v.shape[0], -1))
    pred = np.moveaxis(np.asarray(got, dtype=np.float64), out_batch_axis, 0)
    pred = pred.reshape(pred.shape[0], -1)
    extra = {} if y is None else {"y": y}
    onnx.save(m, os.path.join(HERE, name + ".onnx"))
    np.savez(os.path.join(HERE, name + ".npz"), x=np.concatenate(xs, axis=1), pred=pred, **extra)
    print(name, pred.shape)


def onehot(pred):
    y = np.zeros_like(pred)
    # Targets that disagree with the model's own choice, so that fine-tuning has work to do.
    y[np.arange(len(pred)), (pred.argmax(1) + 1) % pred.shape[1]] = 1
    return y


N = 4

# An MLP as PyTorch exports Linear layers: Gemm(transB=1), plus alpha/beta.
m = model("mlp", [
    h.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1, alpha=0.7, beta=1.3),
    h.make_node("Relu", ["h1"], ["a1"], name="relu1"),
    h.make_node("Gemm", ["a1", "w2", "b2"], ["h2"], name="fc2", transB=1),
    h.make_node("Softmax", ["h2"], ["p"], name="softmax"),
], [inp("x", "N", 6)], [inp("p", "N", 3)], [w("w1", 8, 6), w("b1", 8), w("w2", 3, 8), w("b2", 3)])
x = rng.standard_normal((16, 6))
p = ReferenceEvaluator(m).run(None, {"x": x})[0]
save("mlp", m, {"x": x}, y=onehot(p))

# MatMul + Add (newer exporters), activations.
m = model("matmul", [
    h.make_node("MatMul", ["x", "w1"], ["m1"], name="mm1"),
    h.make_node("Add", ["m1", "b1"], ["h1"], name="add1"),
    h.make_node("Tanh", ["h1"], ["a1"], name="tanh"),
    h.make_node("MatMul", ["a1", "w2"], ["m2"], name="mm2"),
    h.make_node("Add", ["b2", "m2"], ["h2"], name="add2"),
    h.make_node("LeakyRelu", ["h2"], ["a2"], name="leaky", alpha=0.2),
    h.make_node("Sigmoid", ["a2"], ["s"], name="sigmoid"),
    h.make_node("Gelu", ["s"], ["g1"], name="gelu"),
    h.make_node("Gelu", ["g1"], ["g2"], name="gelu_tanh", approximate="tanh"),
    h.make_node("LogSoftmax", ["g2"], ["p"], name="logsoftmax"),
], [inp("x", "N", 5)], [inp("p", "N", 4)], [w("w1", 5, 7), w("b1", 7), w("w2", 7, 4), w("b2", 4)], opset=20)
save("matmul", m, {"x": rng.standard_normal((N, 5))})

# Broadcasting arithmetic: constants and tensors of other shapes, two model inputs.
m = model("arith", [
    h.make_node("Add", ["a", "c4"], ["t1"], name="add_row"),
    h.make_node("Mul", ["t1", "c31"], ["t2"], name="mul_col"),
    h.make_node("Sub", ["t2", "half"], ["t3"], name="sub_scalar"),
    h.make_node("Mul", ["t3", "b"], ["t4"], name="mul_tensor"),
    h.make_node("Sigmoid", ["b"], ["sb"], name="sig"),
    h.make_node("Add", ["sb", "one"], ["sb1"], name="plus_one"),
    h.make_node("Div", ["t4", "sb1"], ["t5"], name="div_tensor"),
    h.make_node("Sub", ["k", "t5"], ["t6"], name="sub_from_const"),
    h.make_node("Div", ["t6", "c34"], ["out"], name="div_full"),
], [inp("a", "N", 3, 4), inp("b", "N", 3, 1)], [inp("out", "N", 3, 4)],
    [w("c4", 4), w("c31", 3, 1), const("half", 0.5), const("one", [1.0]), w("k", 1, 3, 4),
     const("c34", rng.uniform(0.5, 1.5, (3, 4)))])
save("arith", m, {"a": rng.standard_normal((N, 3, 4)), "b": rng.standard_normal((N, 3, 1))})

# Convolutions and pooling, NCHW.
m = model("cnn", [
    h.make_node("Conv", ["x", "k1", "kb1"], ["c1"], name="conv1", pads=[0, 1, 1, 0], strides=[2, 2]),
    h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
    h.make_node("Conv", ["r1", "k2", "kb2"], ["c2"], name="conv2", auto_pad="SAME_UPPER", kernel_shape=[2, 2]),
    h.make_node("MaxPool", ["c2"], ["p1"], name="maxpool", kernel_shape=[2, 2], strides=[2, 2], ceil_mode=1),
    h.make_node("AveragePool", ["c2"], ["p2"], name="avgpool_excl", kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
    h.make_node("AveragePool", ["c2"], ["p3"], name="avgpool_incl", kernel_shape=[2, 2], pads=[1, 0, 0, 1], strides=[2, 2], count_include_pad=1),
    h.make_node("Concat", ["p1", "p2", "p3"], ["cat"], name="concat_channels", axis=1),
    h.make_node("GlobalAveragePool", ["cat"], ["gap"], name="gap"),
    h.make_node("Flatten", ["gap"], ["f1"], name="flatten_gap"),
    h.make_node("Flatten", ["cat"], ["f2"], name="flatten_cat"),
    h.make_node("Concat", ["f1", "f2"], ["f"], name="concat_features", axis=-1),
    h.make_node("Gemm", ["f", "fw", "fb"], ["logits"], name="fc", transB=1),
    h.make_node("Softmax", ["logits"], ["p"], name="softmax"),
], [inp("x", "N", 2, 7, 7)], [inp("p", "N", 3)],
    [w("k1", 4, 2, 3, 3), w("kb1", 4), w("k2", 3, 4, 2, 2), w("kb2", 3), w("fw", 3, 9 + 9 * 2 * 2), w("fb", 3)])
x = rng.standard_normal((12, 2, 7, 7))
p = ReferenceEvaluator(m).run(None, {"x": x})[0]
save("cnn", m, {"x": x}, y=onehot(p))

# Depthwise (group = channels), ConvTranspose, BatchNormalization, softmax over channels.
m = model("conv_more", [
    h.make_node("Conv", ["x", "dk", "db"], ["d1"], name="depthwise", group=3, pads=[1, 1, 1, 1]),
    h.make_node("BatchNormalization", ["d1", "g", "be", "mu", "var"], ["bn"], name="bn", epsilon=1e-3),
    h.make_node("ConvTranspose", ["bn", "tk", "tb"], ["t1"], name="deconv", strides=[2, 2], pads=[1, 0, 0, 1], output_padding=[1, 1]),
    h.make_node("Softmax", ["t1"], ["p"], name="softmax_channels", axis=1),
], [inp("x", "N", 3, 5, 4)], [inp("p", "N", 2, 11, 9)],
    [w("dk", 6, 1, 3, 3), w("db", 6), w("g", 6), w("be", 6), w("mu", 6),
     const("var", rng.uniform(0.5, 1.5, 6)), w("tk", 6, 2, 3, 2), w("tb", 2)], opset=14)
# (opset 14: onnx.reference's BatchNormalization before 14 mixes in the batch's statistics, which
# the operator's specification for inference does not.)
save("conv_more", m, {"x": rng.standard_normal((N, 3, 5, 4))})

# Grouped and dilated convolutions (the kernel dilated by a 0/1 product, groups in a loop).
m = model("conv_groups", [
    h.make_node("Conv", ["x", "gk", "gb"], ["c1"], name="grouped", group=2, dilations=[2, 1], pads=[1, 0, 2, 1]),
    h.make_node("Tanh", ["c1"], ["t1"], name="tanh"),
    h.make_node("Conv", ["t1", "dk"], ["c2"], name="dilated", dilations=[1, 2], strides=[1, 2]),
    h.make_node("Conv", ["c2", "ck"], ["p"], name="grouped_3", group=3),
], [inp("x", "N", 4, 6, 5)], [inp("p", "N", 6, 6, 1)],
    [w("gk", 6, 2, 2, 3), w("gb", 6), w("dk", 3, 6, 2, 2), w("ck", 6, 1, 1, 1)])
save("conv_groups", m, {"x": rng.standard_normal((N, 4, 6, 5))})

# Shape ops: Reshape, Transpose, Squeeze/Unsqueeze, Identity, Dropout, Constant, BN on features,
# LayerNormalization.
m = model("shapes", [
    h.make_node("Constant", [], ["shape"], name="shape_const", value=numpy_helper.from_array(np.array([0, 3, -1], dtype=np.int64))),
    h.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
    h.make_node("Transpose", ["r"], ["t"], name="transpose", perm=[0, 2, 1]),
    h.make_node("Identity", ["t"], ["i"], name="identity"),
    h.make_node("Dropout", ["i"], ["dr"], name="dropout"),
    h.make_node("LayerNormalization", ["dr", "ls", "lb"], ["ln"], name="layernorm", axis=-1, epsilon=1e-5),
    h.make_node("Unsqueeze", ["ln", "ax1"], ["u"], name="unsqueeze"),
    h.make_node("Squeeze", ["u", "ax1"], ["s"], name="squeeze"),
    h.make_node("Flatten", ["s"], ["f"], name="flatten"),
    h.make_node("BatchNormalization", ["f", "g", "be", "mu", "var"], ["bn"], name="bn1d"),
    h.make_node("Constant", [], ["two"], name="two", value=numpy_helper.from_array(np.array(2.0))),
    h.make_node("Mul", ["bn", "two"], ["out"], name="double"),
], [inp("x", "N", 12)], [inp("out", "N", 12)],
    [w("ls", 3), w("lb", 3), const("ax1", [1], np.int64), w("g", 12), w("be", 12), w("mu", 12),
     const("var", rng.uniform(0.5, 1.5, 12))], opset=17)
save("shapes", m, {"x": rng.standard_normal((N, 12))})

# LSTM, sequence-major input [T, N, D] (ONNX's default layout), the whole sequence out.
H, T, Din = 3, 4, 2
m = model("lstm_seq", [
    h.make_node("LSTM", ["x", "W", "R", "B"], ["Y"], name="lstm", hidden_size=H),
    h.make_node("Squeeze", ["Y", "ax1"], ["out"], name="squeeze_dirs"),
], [inp("x", T, "N", Din)], [inp("out", T, "N", H)],
    [w("W", 1, 4 * H, Din), w("R", 1, 4 * H, H), w("B", 1, 8 * H), const("ax1", [1], np.int64)])
save("lstm_seq", m, {"x": rng.standard_normal((T, N, Din))}, batch_axes=[1], out_batch_axis=1)

# LSTM after PyTorch's batch_first Transpose, last state into a Gemm.
m = model("lstm_last", [
    h.make_node("Transpose", ["x"], ["xt"], name="to_seq_major", perm=[1, 0, 2]),
    h.make_node("LSTM", ["xt", "W", "R", "B"], ["", "Yh"], name="lstm", hidden_size=H),
    h.make_node("Squeeze", ["Yh", "ax0"], ["hT"], name="squeeze_dirs"),
    h.make_node("Gemm", ["hT", "fw", "fb"], ["out"], name="fc", transB=1),
], [inp("x", "N", T, Din)], [inp("out", "N", 2)],
    [w("W", 1, 4 * H, Din), w("R", 1, 4 * H, H), w("B", 1, 8 * H), const("ax0", [0], np.int64), w("fw", 2, H), w("fb", 2)])
save("lstm_last", m, {"x": rng.standard_normal((N, T, Din))})

# GRU, both linear_before_reset settings, batch-first layout=1 for one of them.
for lbr in (0, 1):
    m = model(f"gru_lbr{lbr}", [
        h.make_node("GRU", ["x", "W", "R", "B"], ["Y"], name="gru", hidden_size=H, linear_before_reset=lbr, layout=1),
        h.make_node("Flatten", ["Y"], ["out"], name="flatten"),
    ], [inp("x", "N", T, Din)], [inp("out", "N", T * H)],
        [w("W", 1, 3 * H, Din), w("R", 1, 3 * H, H), w("B", 1, 6 * H)], opset=14)
    save(f"gru_lbr{lbr}", m, {"x": rng.standard_normal((N, T, Din))})

# Gather from an embedding table.
m = model("embedding", [
    h.make_node("Gather", ["E", "ids"], ["e"], name="embed"),
    h.make_node("Reshape", ["e", "shape"], ["f"], name="flatten_steps"),
    h.make_node("Gemm", ["f", "fw"], ["out"], name="fc"),
], [inp("ids", "N", 3, t=TensorProto.INT64)], [inp("out", "N", 2)],
    [w("E", 5, 4), const("shape", [-1, 12], np.int64), w("fw", 12, 2)])
save("embedding", m, {"ids": rng.integers(0, 5, (N, 3)).astype(np.int64)})

# Float32 weights (as real exports are); the expected output is computed in float64 from them.
m32 = model("mlp_f32", [
    h.make_node("Gemm", ["x", "w1", "b1"], ["h1"], name="fc1", transB=1),
    h.make_node("Relu", ["h1"], ["p"], name="relu"),
], [inp("x", "N", 3, t=TensorProto.FLOAT)], [inp("p", "N", 2, t=TensorProto.FLOAT)],
    [w("w1", 2, 3, dtype=np.float32), w("b1", 2, dtype=np.float32)])
m64 = onnx.ModelProto()
m64.CopyFrom(m32)
for t in m64.graph.initializer:
    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).astype(np.float64), t.name))
for v in list(m64.graph.input) + list(m64.graph.output):
    v.type.tensor_type.elem_type = D
x = rng.standard_normal((N, 3))
got = ReferenceEvaluator(m64).run(None, {"x": x})[0]
onnx.save(m32, os.path.join(HERE, "mlp_f32.onnx"))
np.savez(os.path.join(HERE, "mlp_f32.npz"), x=x, pred=got)
print("mlp_f32", got.shape)

# An op outside the supported list (an error naming it).
m = model("unsupported", [h.make_node("Cos", ["x"], ["p"], name="cosine")], [inp("x", "N", 2)], [inp("p", "N", 2)], [])
onnx.save(m, os.path.join(HERE, "unsupported.onnx"))

# --- Recurrent directions and outputs (appended, so the cases above keep their random draws) ---
# Every output that is read goes into one graph output: each moved batch-first, flattened, and
# concatenated.
H, T, Din = 3, 4, 2


def batch_first(name, src, rank_perm):
    return [h.make_node("Transpose", [src], [name + "_t"], name=name + "_batch_first", perm=rank_perm),
            h.make_node("Flatten", [name + "_t"], [name], name=name + "_flat")]


def rnn_case(case, op, direction, lbr, layout, outs, bias=True):
    gates = 4 if op == "LSTM" else 3
    dirs = 2 if direction == "bidirectional" else 1
    names = [o if o in outs else "" for o in ("Y", "Yh", "Yc")][: 3 if op == "LSTM" else 2]
    while names and names[-1] == "":
        names.pop()
    attrs = dict(hidden_size=H, direction=direction, layout=layout)
    if op == "GRU":
        attrs["linear_before_reset"] = lbr
    ins = ["x", "W", "R"] + (["B"] if bias else [])
    nodes = [h.make_node(op, ins, names, name=case, **attrs)]
    flat = []
    for o in outs:
        if layout == 1:
            nodes.append(h.make_node("Flatten", [o], [o + "_f"], name=o + "_flat"))
        elif o == "Y":
            nodes += batch_first(o + "_f", o, [2, 0, 1, 3])
        else:
            nodes += batch_first(o + "_f", o, [1, 0, 2])
        flat.append(o + "_f")
    nodes.append(h.make_node("Concat", flat, ["out"], name="concat_outputs", axis=1))
    width = sum(T * dirs * H if o == "Y" else dirs * H for o in outs)
    x_shape = ("N", T, Din) if layout == 1 else (T, "N", Din)
    inits = [w("W", dirs, gates * H, Din), w("R", dirs, gates * H, H)]
    if bias:
        inits.append(w("B", dirs, 2 * gates * H))
    m = model(case, nodes, [inp("x", *x_shape)], [inp("out", "N", width)], inits, opset=14)
    x = rng.standard_normal((N, T, Din) if layout == 1 else (T, N, Din))
    save(case, m, {"x": x}, batch_axes=[0 if layout == 1 else 1])


rnn_case("lstm_bidir", "LSTM", "bidirectional", 0, 0, ["Y", "Yh", "Yc"])
rnn_case("lstm_reverse", "LSTM", "reverse", 0, 1, ["Y", "Yh"])
rnn_case("lstm_reverse_last", "LSTM", "reverse", 0, 0, ["Yh", "Yc"], bias=False)
rnn_case("lstm_cell", "LSTM", "forward", 0, 1, ["Yc"])
rnn_case("gru_bidir", "GRU", "bidirectional", 1, 1, ["Y", "Yh"])
rnn_case("gru_bidir_last", "GRU", "bidirectional", 0, 0, ["Yh"])
rnn_case("gru_reverse", "GRU", "reverse", 0, 0, ["Y", "Yh"])

# --- ConvTranspose: group, dilations, output_shape, auto_pad ---
# onnx.reference's ConvTranspose is right for group=1 with explicit pads, but its group > 1 path
# slices W by output channels and writes one channel per group, and with output_shape and
# auto_pad=NOTSET it ignores the pads the specification derives. So the expected output comes from
# an equivalent graph that avoids both (each group a Split slice with its own group=1
# ConvTranspose, the pads written out as the specification computes them), evaluated by
# onnx.reference, and checked against the operator's definition written in numpy.


def conv_transpose_definition(x, W, B, strides, dil, pads, out_hw, group):
    """out[n, g*mg+m, i*s+ki*d-pad_top, j*s+kj*d-pad_left] += x[n, c, i, j] * W[c, m, ki, kj]."""
    n_, c_, h_, w_ = x.shape
    mg, kh, kw = W.shape[1:]
    cg = c_ // group
    out = np.zeros((n_, mg * group, *out_hw))
    for c in range(c_):
        g = c // cg
        for i in range(h_):
            for j in range(w_):
                for m in range(mg):
                    for ki in range(kh):
                        for kj in range(kw):
                            oi = i * strides[0] + ki * dil[0] - pads[0]
                            oj = j * strides[1] + kj * dil[1] - pads[1]
                            if 0 <= oi < out_hw[0] and 0 <= oj < out_hw[1]:
                                out[:, g * mg + m, oi, oj] += x[:, c, i, j] * W[c, m, ki, kj]
    if B is not None:
        out += B.reshape(1, -1, 1, 1)
    return out


C_in = 4
branches = [
    # name, W shape, bias, attrs, group, explicit pads per the spec [top, left, bottom, right]
    ("grouped", (4, 3, 3, 2), True, dict(group=2, strides=[2, 1], pads=[1, 0, 0, 1]), 2, [1, 0, 0, 1]),
    ("dilated", (4, 2, 2, 3), True, dict(dilations=[2, 1], strides=[2, 2], output_padding=[1, 0]), 1, [0, 0, 0, 0]),
    ("same_lower", (4, 1, 2, 2), False, dict(group=4, dilations=[1, 2], strides=[2, 2], auto_pad="SAME_LOWER"), 4, None),
    ("shape_notset", (4, 2, 3, 3), False, dict(strides=[2, 2], output_shape=[6, 4]), 1, [1, 2, 0, 1]),
    ("shape_upper", (4, 1, 3, 3), True, dict(group=2, strides=[2, 2], output_shape=[6, 4], auto_pad="SAME_UPPER"), 2, [0, 1, 1, 2]),
]
x = rng.standard_normal((N, C_in, 3, 3))
inits, nodes, oracle_nodes, oracle_inits, flat, defs = [], [], [], [], [], []
for name, wshape, has_b, attrs, group, pads in branches:
    W = rng.standard_normal(wshape) * 0.5
    B = rng.standard_normal(wshape[1] * group) * 0.5 if has_b else None
    if pads is None:  # SAME_LOWER: the output is input * stride, the odd cell at the start.
        kd = [(wshape[2] - 1) * attrs["dilations"][0] + 1, (wshape[3] - 1) * attrs["dilations"][1] + 1]
        tot = [(3 - 1) * attrs["strides"][a] + kd[a] - 3 * attrs["strides"][a] for a in range(2)]
        pads = [tot[0] - tot[0] // 2, tot[1] - tot[1] // 2, tot[0] // 2, tot[1] // 2]
    inits.append(const(name + "_W", W))
    ins = ["x", name + "_W"]
    if has_b:
        inits.append(const(name + "_B", B))
        ins.append(name + "_B")
    nodes.append(h.make_node("ConvTranspose", ins, [name], name=name, **attrs))
    nodes.append(h.make_node("Flatten", [name], [name + "_f"], name=name + "_flat"))
    flat.append(name + "_f")
    # The oracle: groups split, pads explicit.
    plain = {k: v for k, v in attrs.items() if k not in ("group", "auto_pad", "output_shape")}
    plain["pads"] = pads
    cg, mg = C_in // group, wshape[1]
    parts = []
    if group > 1:
        oracle_inits.append(const(name + "_split", [cg] * group, np.int64))
        oracle_nodes.append(h.make_node("Split", ["x", name + "_split"], [f"{name}_x{g}" for g in range(group)], axis=1))
    for g in range(group):
        xg = f"{name}_x{g}" if group > 1 else "x"
        oracle_inits.append(const(f"{name}_W{g}", W[g * cg:(g + 1) * cg]))
        gins = [xg, f"{name}_W{g}"]
        if has_b:
            oracle_inits.append(const(f"{name}_B{g}", B[g * mg:(g + 1) * mg]))
            gins.append(f"{name}_B{g}")
        oracle_nodes.append(h.make_node("ConvTranspose", gins, [f"{name}_o{g}"], **plain))
        parts.append(f"{name}_o{g}")
    oracle_nodes.append(h.make_node("Concat", parts, [name], axis=1))
    oracle_nodes.append(h.make_node("Flatten", [name], [name + "_f"]))
    defs.append((W, B, attrs.get("strides", [1, 1]), attrs.get("dilations", [1, 1]), pads, group))
nodes.append(h.make_node("Concat", flat, ["out"], name="concat_branches", axis=1))
oracle_nodes.append(h.make_node("Concat", flat, ["out"], axis=1))
oracle = model("conv_transpose_oracle", oracle_nodes, [inp("x", "N", C_in, 3, 3)], [inp("out", "N", None)], oracle_inits)
want = ReferenceEvaluator(oracle).run(None, {"x": x})[0]
# The definition, branch by branch, with the output sizes the oracle gives.
outs = ReferenceEvaluator(oracle).run([b[0] for b in branches], {"x": x})
for (W, B, s, d, pads, group), o in zip(defs, outs):
    ref = conv_transpose_definition(x, W, B, s, d, pads, o.shape[2:], group)
    assert np.allclose(ref, o, rtol=1e-12, atol=1e-12), "the oracle disagrees with the definition"
width = want.shape[1]
m = model("conv_transpose", nodes, [inp("x", "N", C_in, 3, 3)], [inp("out", "N", width)], inits)
onnx.save(m, os.path.join(HERE, "conv_transpose.onnx"))
np.savez(os.path.join(HERE, "conv_transpose.npz"), x=x.reshape(N, -1), pred=want)
print("conv_transpose", want.shape, [o.shape[1:] for o in outs])

# --- PyTorch's dynamic-batch flatten: x.view(x.size(0), -1) as torch.onnx.export writes it ---
# Shape -> Gather(0) -> Unsqueeze -> Concat(with -1) -> Reshape; the same with the feature count
# computed from the shape (Gather/Mul), and with Shape -> Slice -> Cast.
I64 = TensorProto.INT64
m = model("torch_flatten", [
    h.make_node("Conv", ["x", "k", "kb"], ["c"], name="conv", pads=[1, 1, 1, 1]),
    h.make_node("Relu", ["c"], ["r"], name="relu"),
    h.make_node("Shape", ["r"], ["s"], name="shape"),
    h.make_node("Constant", [], ["i0"], name="c0", value=numpy_helper.from_array(np.array(0, dtype=np.int64))),
    h.make_node("Gather", ["s", "i0"], ["n"], name="gather_batch", axis=0),
    h.make_node("Unsqueeze", ["n", "ax0"], ["n1"], name="unsqueeze_batch"),
    h.make_node("Concat", ["n1", "minus1"], ["target"], name="concat_target", axis=0),
    h.make_node("Reshape", ["r", "target"], ["flat"], name="view"),
    h.make_node("Gemm", ["flat", "fw", "fb"], ["logits"], name="fc", transB=1),
    # The feature count from the shape: C * H * W, all known at import time.
    h.make_node("Gather", ["s", "i1"], ["ch"], name="gather_c"),
    h.make_node("Gather", ["s", "i2"], ["hh"], name="gather_h"),
    h.make_node("Gather", ["s", "i3"], ["ww"], name="gather_w"),
    h.make_node("Mul", ["hh", "ww"], ["hw"], name="mul_hw"),
    h.make_node("Mul", ["ch", "hw"], ["chw"], name="mul_chw"),
    h.make_node("Unsqueeze", ["chw", "ax0"], ["chw1"], name="unsqueeze_chw"),
    h.make_node("Concat", ["n1", "chw1"], ["target2"], name="concat_target2", axis=0),
    h.make_node("Reshape", ["r", "target2"], ["flat2"], name="view2"),
    h.make_node("Tanh", ["flat2"], ["t2"], name="tanh"),
    # Shape -> Slice -> Cast -> Concat with constants: a [N, 3, 25] view, then flattened.
    h.make_node("Slice", ["s", "st0", "en1"], ["sl"], name="slice_batch"),
    h.make_node("Cast", ["sl"], ["slc"], name="cast", to=TensorProto.INT64),
    h.make_node("Concat", ["slc", "rest"], ["target3"], name="concat_target3", axis=0),
    h.make_node("Reshape", ["r", "target3"], ["v3"], name="view3"),
    h.make_node("Flatten", ["v3"], ["f3"], name="flatten3"),
    h.make_node("Concat", ["logits", "t2", "f3"], ["out"], name="concat_out", axis=1),
], [inp("x", "N", 2, 5, 5)], [inp("out", "N", 2 + 75 + 75)],
    [w("k", 3, 2, 3, 3), w("kb", 3), w("fw", 2, 75), w("fb", 2),
     const("ax0", [0], np.int64), const("minus1", [-1], np.int64), const("i1", 1, np.int64),
     const("i2", 2, np.int64), const("i3", 3, np.int64), const("st0", [0], np.int64),
     const("en1", [1], np.int64), const("rest", [3, -1], np.int64)])
save("torch_flatten", m, {"x": rng.standard_normal((N, 2, 5, 5))})

# --- Several graph outputs: the prediction holds them side by side (each batch-first, flattened) ---
m = model("two_outputs", [
    h.make_node("LSTM", ["x", "W", "R", "B"], ["Y", "Yh"], name="lstm", hidden_size=H, layout=1),
    h.make_node("Flatten", ["Y"], ["y_seq"], name="flatten_seq"),
    h.make_node("Flatten", ["Yh"], ["y_last"], name="flatten_last"),
    h.make_node("Gemm", ["y_last", "fw", "fb"], ["logits"], name="fc", transB=1),
], [inp("x", "N", T, Din)], [inp("y_seq", "N", T * H), inp("logits", "N", 2)],
    [w("W", 1, 4 * H, Din), w("R", 1, 4 * H, H), w("B", 1, 8 * H), w("fw", 2, H), w("fb", 2)], opset=14)
x = rng.standard_normal((N, T, Din))
outs = ReferenceEvaluator(m).run(None, {"x": x})
onnx.save(m, os.path.join(HERE, "two_outputs.onnx"))
np.savez(os.path.join(HERE, "two_outputs.npz"), x=x.reshape(N, -1),
         pred=np.concatenate([o.reshape(N, -1) for o in outs], axis=1))
print("two_outputs", [o.shape for o in outs])
