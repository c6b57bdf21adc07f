//! The builtin table itself. Parameter names follow SystemDS so that named calls work unchanged.

use super::Def::{self, *};
use super::Lower::{self, *};
use super::Out::{self, *};
use super::{BuiltinSpec, Param};
use crate::types::ops::{AggDir, AggOp, UnOp};
use crate::types::ops::{CastOp, NaryOp, ReorgOp};

const fn p(name: &'static str, default: Def) -> Param {
    Param { name, default }
}

const X: &[Param] = &[p("x", Req)];
const TARGET: &[Param] = &[p("target", Req)];

const fn b(name: &'static str, params: &'static [Param], lower: Lower, out: Out) -> BuiltinSpec {
    BuiltinSpec { name, params, variadic: false, lower, out, nout: 1, side_effect: false }
}

const fn unary(name: &'static str, op: UnOp) -> BuiltinSpec {
    b(name, X, Unary(op), SameAs(0))
}

const fn agg(name: &'static str, op: AggOp, dir: AggDir) -> BuiltinSpec {
    b(name, X, Agg(op, dir), DoubleScalar)
}

const fn lib(name: &'static str, params: &'static [Param], out: Out) -> BuiltinSpec {
    b(name, params, Library, out)
}

const fn multi(name: &'static str, params: &'static [Param], nout: u8) -> BuiltinSpec {
    BuiltinSpec { name, params, variadic: false, lower: Library, out: Matrices, nout, side_effect: false }
}

const fn variadic(mut s: BuiltinSpec) -> BuiltinSpec {
    s.variadic = true;
    s
}

const fn effect(mut s: BuiltinSpec) -> BuiltinSpec {
    s.side_effect = true;
    s
}

const fn special(name: &'static str, params: &'static [Param], out: Out) -> BuiltinSpec {
    b(name, params, Special, out)
}

const CDF: &[Param] = &[
    p("target", Req),
    p("dist", Req),
    p("mean", Opt),
    p("sd", Opt),
    p("df", Opt),
    p("df1", Opt),
    p("df2", Opt),
    p("rate", Opt),
    p("lower.tail", B(true)),
];
/// `read`'s parameters, for `readMM` and `read.csv`.
const READ: &[Param] = &[
    p("file", Req),
    p("format", Opt),
    p("header", Opt),
    p("sep", Opt),
    p("fill", Opt),
    p("default", Opt),
    p("naStrings", Opt),
    p("rows", Opt),
    p("cols", Opt),
    p("nnz", Opt),
    p("data_type", Opt),
    p("value_type", Opt),
    p("schema", Opt),
    p("rows_in_block", Opt),
    p("cols_in_block", Opt),
];
const ICDF: &[Param] = CDF.split_at(8).0;

pub static ALIASES: &[(&str, &str)] = &[
    ("ceiling", "ceil"),
    ("isNA", "is.na"),
    ("isNaN", "is.nan"),
    ("isInf", "is.infinite"),
    ("avg", "mean"),
    ("pmin", "min"),
    ("pmax", "max"),
    ("castAsScalar", "as.scalar"),
    ("as.boolean", "as.logical"),
    ("inverse", "inv"),
    ("tr", "trace"),
    ("Rand", "rand"),
    ("ctable", "table"),
    ("centralMoment", "moment"),
    ("groupedAggregate", "aggregate"),
    ("rcm", "rowClassMeet"),
];

/// The table as a constant, so that [`super::id`] can resolve names at compile time.
pub(super) const TABLE: &[BuiltinSpec] = &[
    // cellwise math
    unary("abs", UnOp::Abs),
    unary("sign", UnOp::Sign),
    unary("sqrt", UnOp::Sqrt),
    unary("exp", UnOp::Exp),
    unary("floor", UnOp::Floor),
    unary("ceil", UnOp::Ceil),
    unary("round", UnOp::Round),
    unary("sin", UnOp::Sin),
    unary("cos", UnOp::Cos),
    unary("tan", UnOp::Tan),
    unary("asin", UnOp::Asin),
    unary("acos", UnOp::Acos),
    unary("atan", UnOp::Atan),
    unary("sinh", UnOp::Sinh),
    unary("cosh", UnOp::Cosh),
    unary("tanh", UnOp::Tanh),
    unary("sigmoid", UnOp::Sigmoid),
    unary("is.na", UnOp::IsNa),
    unary("is.nan", UnOp::IsNaN),
    unary("is.infinite", UnOp::IsInf),
    special("log", &[p("x", Req), p("base", Opt)], SameAs(0)),
    // aggregates
    agg("sum", AggOp::Sum, AggDir::All),
    agg("prod", AggOp::Prod, AggDir::All),
    // mean(X, W): the weighted mean sum(X*W)/sum(W) (SystemDS documents it; 3.4.0 fails on it).
    b("mean", &[p("x", Req), p("w", Opt)], Agg(AggOp::Mean, AggDir::All), DoubleScalar),
    agg("var", AggOp::Var, AggDir::All),
    agg("sd", AggOp::Sd, AggDir::All),
    agg("rowSums", AggOp::Sum, AggDir::Row),
    agg("colSums", AggOp::Sum, AggDir::Col),
    agg("rowMeans", AggOp::Mean, AggDir::Row),
    agg("colMeans", AggOp::Mean, AggDir::Col),
    agg("rowVars", AggOp::Var, AggDir::Row),
    agg("colVars", AggOp::Var, AggDir::Col),
    agg("rowSds", AggOp::Sd, AggDir::Row),
    agg("colSds", AggOp::Sd, AggDir::Col),
    agg("rowMaxs", AggOp::Max, AggDir::Row),
    agg("colMaxs", AggOp::Max, AggDir::Col),
    agg("rowMins", AggOp::Min, AggDir::Row),
    agg("colMins", AggOp::Min, AggDir::Col),
    agg("rowProds", AggOp::Prod, AggDir::Row),
    agg("colProds", AggOp::Prod, AggDir::Col),
    agg("rowIndexMax", AggOp::IndexMax, AggDir::Row),
    agg("rowIndexMin", AggOp::IndexMin, AggDir::Row),
    lib("trace", X, DoubleScalar),
    lib("cumsum", X, MatrixLike(0)),
    lib("cumprod", X, MatrixLike(0)),
    lib("cummin", X, MatrixLike(0)),
    lib("cummax", X, MatrixLike(0)),
    lib("rowcumsum", X, MatrixLike(0)),
    lib("cumsumprod", X, Matrix),
    variadic(b("min", X, MinMax(NaryOp::Min), Unknown)),
    variadic(b("max", X, MinMax(NaryOp::Max), Unknown)),
    // reorganisation and shape
    b("t", X, Reorg(ReorgOp::Transpose), Matrix),
    b("rev", X, Reorg(ReorgOp::Rev), MatrixLike(0)),
    b("diag", X, Reorg(ReorgOp::Diag), Matrix),
    variadic(b("cbind", &[p("x", Req)], Nary(NaryOp::Cbind), Matrix)),
    variadic(b("rbind", &[p("x", Req)], Nary(NaryOp::Rbind), Matrix)),
    variadic(special("append", &[p("x", Req)], Unknown)),
    b("as.scalar", X, Cast(CastOp::AsScalar), DoubleScalar),
    b("as.matrix", X, Cast(CastOp::AsMatrix), Matrix),
    b("as.double", X, Cast(CastOp::AsDouble), SameAs(0)),
    b("as.integer", X, Cast(CastOp::AsInt), SameAs(0)),
    b("as.logical", X, Cast(CastOp::AsBool), SameAs(0)),
    b("nrow", X, Cast(CastOp::Nrow), IntScalar),
    b("ncol", X, Cast(CastOp::Ncol), IntScalar),
    b("length", X, Cast(CastOp::Length), IntScalar),
    // construction
    special(
        "matrix",
        &[p("data", Req), p("rows", Opt), p("cols", Opt), p("byrow", B(true)), p("dimnames", Opt)],
        Matrix,
    ),
    effect(special(
        "rand",
        &[
            p("rows", I(1)),
            p("cols", I(1)),
            p("min", F(0.0)),
            p("max", F(1.0)),
            p("sparsity", F(1.0)),
            p("pdf", S("uniform")),
            p("lambda", F(1.0)),
            p("seed", I(-1)),
        ],
        Matrix,
    )),
    special("seq", &[p("from", Req), p("to", Req), p("incr", Opt)], Matrix),
    effect(lib(
        "sample",
        &[p("range", Req), p("size", Req), p("replace", B(false)), p("seed", I(-1))],
        Matrix,
    )),
    special("ifelse", &[p("test", Req), p("yes", Req), p("no", Req)], Unknown),
    variadic(special("list", &[], List)),
    special("exists", &[p("name", Req)], BoolScalar),
    effect(lib("time", &[], IntScalar)),
    // Ours (not SystemDS's): a progress bar on a terminal, for the converters' training loops.
    effect(lib("printProgress", &[p("done", Req), p("total", Req), p("text", S(""))], BoolScalar)),
    // Ours: a training history as an SVG line chart (runtime/builtins/chart.rs).
    effect(lib("plotHistory", &[p("history", Req), p("file", Req), p("names", Req)], Nothing)),
    // statements
    variadic(effect(special("print", &[p("x", Opt)], Nothing))),
    effect(special("stop", &[p("message", S(""))], Nothing)),
    effect(special("assert", &[p("condition", Req)], Nothing)),
    // strings and lists
    lib(
        "toString",
        &[
            p("target", Req),
            p("rows", I(100)),
            p("cols", I(100)),
            p("decimal", I(3)),
            p("sparse", B(false)),
            p("sep", S(" ")),
            p("linesep", S("\n")),
        ],
        StrScalar,
    ),
    multi("remove", &[p("target", Req), p("index", Req)], 2),
    // logic and bits
    lib("xor", &[p("x", Req), p("y", Req)], Unknown),
    lib("bitwAnd", &[p("x", Req), p("y", Req)], Unknown),
    lib("bitwOr", &[p("x", Req), p("y", Req)], Unknown),
    lib("bitwXor", &[p("x", Req), p("y", Req)], Unknown),
    lib("bitwShiftL", &[p("x", Req), p("y", Req)], Unknown),
    lib("bitwShiftR", &[p("x", Req), p("y", Req)], Unknown),
    // selection, tables and sorting
    lib(
        "table",
        &[
            p("A", Req),
            p("B", Req),
            p("W", Opt),
            p("odim1", Opt),
            p("odim2", Opt),
            p("outputEmptyBlocks", B(true)),
        ],
        Matrix,
    ),
    lib(
        "order",
        &[p("target", Req), p("by", I(1)), p("decreasing", B(false)), p("index.return", B(false))],
        Matrix,
    ),
    lib(
        "removeEmpty",
        &[p("target", Req), p("margin", Req), p("select", Opt), p("empty.return", B(true))],
        KindOf(0),
    ),
    lib("replace", &[p("target", Req), p("pattern", Req), p("replacement", Req)], MatrixLike(0)),
    lib("outer", &[p("x", Req), p("y", Req), p("op", Req)], Matrix),
    lib("lower.tri", &[p("target", Req), p("diag", B(false)), p("values", B(false))], MatrixLike(0)),
    lib("upper.tri", &[p("target", Req), p("diag", B(false)), p("values", B(false))], MatrixLike(0)),
    // distinct values and membership
    lib("unique", &[p("data", Req), p("dir", S("rc"))], Matrix),
    lib("countDistinct", &[p("data", Req), p("dir", S("rc"))], Unknown),
    lib("colCountDistinct", &[p("data", Req)], Matrix),
    lib("rowCountDistinct", &[p("data", Req)], Matrix),
    lib("contains", &[p("target", Req), p("pattern", Req)], BoolScalar),
    // statistics
    lib("quantile", &[p("x", Req), p("w", Req), p("p", Opt)], Unknown),
    lib("median", &[p("x", Req), p("w", Opt)], DoubleScalar),
    lib("interQuartileMean", &[p("x", Req), p("w", Opt)], DoubleScalar),
    lib("compress", &[p("x", Req)], SameAs(0)),
    lib("decompress", &[p("x", Req)], SameAs(0)),
    lib("ppred", &[p("x", Req), p("y", Req), p("op", Req)], Unknown),
    lib("interQuantile", &[p("x", Req), p("w", Req), p("p", Opt)], Matrix),
    lib("moment", &[p("x", Req), p("w", Req), p("order", Opt)], DoubleScalar),
    lib("cov", &[p("x", Req), p("y", Req), p("w", Opt)], DoubleScalar),
    lib(
        "aggregate",
        &[
            p("target", Req),
            p("groups", Req),
            p("fn", Req),
            p("weights", Opt),
            p("ngroups", Opt),
            p("order", Opt),
        ],
        Matrix,
    ),
    // linear algebra
    lib("solve", &[p("a", Req), p("b", Req)], Matrix),
    lib("inv", X, Matrix),
    lib("cholesky", X, Matrix),
    lib("det", X, DoubleScalar),
    multi("eigen", X, 2),
    multi("svd", X, 3),
    multi("qr", X, 2),
    multi("lu", X, 3),
    // I/O
    effect(lib(
        "write",
        &[
            p("x", Req),
            p("file", Req),
            p("format", S("text")),
            p("sep", S(",")),
            p("header", B(false)),
            // SystemDS 3.4.0 writes a zero as `0` unless `sparse=TRUE` is given (checked with it).
            p("sparse", B(false)),
            p("description", Opt),
            p("rows_in_block", Opt),
            p("cols_in_block", Opt),
            p("indSep", Opt),
        ],
        Nothing,
    )),
    effect(lib(
        "read",
        &[
            p("file", Req),
            p("format", Opt),
            p("header", Opt),
            p("sep", Opt),
            p("fill", Opt),
            p("default", Opt),
            p("naStrings", Opt),
            p("rows", Opt),
            p("cols", Opt),
            p("nnz", Opt),
            p("data_type", Opt),
            p("value_type", Opt),
            p("schema", Opt),
            p("rows_in_block", Opt),
            p("cols_in_block", Opt),
        ],
        Unknown,
    )),
    lib("typeof", TARGET, Unknown),
    // deep learning (images are N x C*H*W, NCHW row-major)
    lib(
        "conv2d",
        &[
            p("input", Req),
            p("filter", Req),
            p("input_shape", Req),
            p("filter_shape", Req),
            p("stride", Opt),
            p("padding", Opt),
        ],
        Matrix,
    ),
    lib(
        "conv2d_backward_filter",
        &[
            p("input", Req),
            p("dout", Req),
            p("stride", Opt),
            p("padding", Opt),
            p("input_shape", Req),
            p("filter_shape", Req),
        ],
        Matrix,
    ),
    lib(
        "conv2d_backward_data",
        &[
            p("filter", Req),
            p("dout", Req),
            p("stride", Opt),
            p("padding", Opt),
            p("input_shape", Req),
            p("filter_shape", Req),
        ],
        Matrix,
    ),
    lib(
        "max_pool",
        &[p("input", Req), p("input_shape", Req), p("pool_size", Req), p("stride", Opt), p("padding", Opt)],
        Matrix,
    ),
    lib(
        "avg_pool",
        &[p("input", Req), p("input_shape", Req), p("pool_size", Req), p("stride", Opt), p("padding", Opt)],
        Matrix,
    ),
    lib(
        "max_pool_backward",
        &[
            p("input", Req),
            p("dout", Req),
            p("input_shape", Req),
            p("pool_size", Req),
            p("stride", Opt),
            p("padding", Opt),
        ],
        Matrix,
    ),
    lib(
        "avg_pool_backward",
        &[
            p("input", Req),
            p("dout", Req),
            p("input_shape", Req),
            p("pool_size", Req),
            p("stride", Opt),
            p("padding", Opt),
        ],
        Matrix,
    ),
    lib("bias_add", &[p("input", Req), p("bias", Req)], MatrixLike(0)),
    lib("bias_multiply", &[p("input", Req), p("bias", Req)], MatrixLike(0)),
    multi(
        "lstm",
        &[
            p("input", Req),
            p("W", Req),
            p("bias", Req),
            p("out0", Req),
            p("c0", Req),
            p("return_sequences", B(true)),
        ],
        5,
    ),
    multi(
        "lstm_backward",
        &[
            p("input", Req),
            p("W", Req),
            p("bias", Req),
            p("out0", Req),
            p("c0", Req),
            p("given_sequences", B(true)),
            p("dout", Req),
            p("dc", Req),
            p("cache_out", Opt),
            p("cache_c", Opt),
            p("cache_ifog", Opt),
        ],
        5,
    ),
    // Not SystemDS builtins: the fused kernels behind nn/layers/rnn.dml and the Keras
    // converter's SimpleRNN (`activation` is "tanh", "sigmoid", "relu" or "linear").
    multi(
        "rnn",
        &[
            p("input", Req),
            p("W", Req),
            p("bias", Req),
            p("out0", Req),
            p("return_sequences", B(true)),
            p("activation", S("tanh")),
        ],
        2,
    ),
    multi(
        "rnn_backward",
        &[
            p("input", Req),
            p("W", Req),
            p("bias", Req),
            p("out0", Req),
            p("given_sequences", B(true)),
            p("dout", Req),
            p("cache_out", Req),
            p("activation", S("tanh")),
        ],
        4,
    ),
    // Not a SystemDS builtin: the fused kernels behind the Keras converter's GRU
    // (keras/gru.dml, whose caches H and G they produce and take).
    multi(
        "gru",
        &[
            p("input", Req),
            p("W", Req),
            p("U", Req),
            p("bias_x", Req),
            p("bias_h", Req),
            p("reset_after", B(true)),
            p("return_sequences", B(true)),
        ],
        3,
    ),
    multi(
        "gru_backward",
        &[
            p("dout", Req),
            p("input", Req),
            p("W", Req),
            p("U", Req),
            p("reset_after", B(true)),
            p("given_sequences", B(true)),
            p("H", Req),
            p("G", Req),
            p("need_dX", B(true)),
        ],
        5,
    ),
    multi(
        "batch_norm2d",
        &[
            p("input", Req),
            p("gamma", Req),
            p("beta", Req),
            p("ema_mean", Req),
            p("ema_var", Req),
            p("mode", Req),
            p("epsilon", Req),
            p("momentum", Req),
        ],
        5,
    ),
    multi(
        "batch_norm2d_backward",
        &[
            p("input", Req),
            p("dout", Req),
            p("gamma", Req),
            p("epsilon", Req),
            p("cache_mean", Req),
            p("cache_inv_var", Req),
        ],
        3,
    ),
    // frames and transforms (src/runtime/builtins/frame/)
    lib("frame", &[p("data", Req), p("rows", Opt), p("cols", Opt), p("schema", Opt)], Frame),
    lib("as.frame", &[p("x", Req), p("colnames", Opt)], Frame),
    lib("colnames", TARGET, Frame),
    lib("detectSchema", TARGET, Frame),
    lib("applySchema", &[p("target", Req), p("schema", Req)], Frame),
    BuiltinSpec {
        name: "transformencode",
        params: &[p("target", Req), p("spec", Req)],
        variadic: false,
        lower: Library,
        out: Unknown,
        nout: 2,
        side_effect: false,
    },
    lib("transformapply", &[p("target", Req), p("spec", Req), p("meta", Req), p("embedding", Opt)], Matrix),
    lib("transformdecode", &[p("target", Req), p("spec", Req), p("meta", Req)], Frame),
    lib("map", &[p("target", Req), p("lambda", Req), p("margin", Opt)], Frame),
    lib("dropInvalidLength", &[p("target", Req), p("lengths", Req)], Frame),
    // distributions, signal processing and assorted statistics (src/runtime/builtins/stats.rs, ...)
    lib("cdf", CDF, DoubleScalar),
    lib("icdf", ICDF, DoubleScalar),
    lib("pnorm", &[p("target", Req), p("mean", Opt), p("sd", Opt), p("lower.tail", B(true))], DoubleScalar),
    lib("qnorm", &[p("target", Req), p("mean", Opt), p("sd", Opt)], DoubleScalar),
    lib("pt", &[p("target", Req), p("df", Req), p("lower.tail", B(true))], DoubleScalar),
    lib("qt", &[p("target", Req), p("df", Req)], DoubleScalar),
    lib("pf", &[p("target", Req), p("df1", Req), p("df2", Req), p("lower.tail", B(true))], DoubleScalar),
    lib("qf", &[p("target", Req), p("df1", Req), p("df2", Req)], DoubleScalar),
    lib("pchisq", &[p("target", Req), p("df", Req), p("lower.tail", B(true))], DoubleScalar),
    lib("qchisq", &[p("target", Req), p("df", Req)], DoubleScalar),
    lib("pexp", &[p("target", Req), p("rate", Opt), p("lower.tail", B(true))], DoubleScalar),
    lib("qexp", &[p("target", Req), p("rate", Opt)], DoubleScalar),
    variadic(effect(lib("eval", &[p("fname", Req)], Unknown))),
    effect(lib("evalList", &[p("fname", Req), p("args", Req)], List)),
    lib("roll", &[p("x", Req), p("shift", Req)], MatrixLike(0)),
    lib("as.list", X, List),
    lib("countDistinctApprox", &[p("data", Req), p("dir", S("rc")), p("type", S("KMV"))], Unknown),
    lib("rowCountDistinctApprox", &[p("data", Req), p("type", S("KMV"))], Matrix),
    lib("colCountDistinctApprox", &[p("data", Req), p("type", S("KMV"))], Matrix),
    lib("sqrtMatrixJava", X, MatrixLike(0)),
    multi("fft", &[p("re", Req)], 2),
    multi("ifft", &[p("re", Req), p("im", Opt)], 2),
    // stft(X, window, overlap) or stft(re, im, window, overlap)
    multi("stft", &[p("re", Req), p("a", Req), p("b", Req), p("c", Opt)], 2),
    multi("fft_linearized", &[p("re", Req)], 2),
    multi("ifft_linearized", &[p("re", Req), p("im", Opt)], 2),
    variadic(lib("einsum", &[p("equation", Req)], Unknown)),
    effect(lib("readMM", READ, Unknown)),
    effect(lib("read.csv", READ, Unknown)),
    // more frame builtins (src/runtime/builtins/frame/)
    lib("transformcolmap", &[p("target", Req), p("spec", Req)], Matrix),
    lib("transformmeta", &[p("spec", Req), p("transformPath", Req)], Frame),
    lib("getCategoricalMask", &[p("target", Req), p("spec", Req)], Matrix),
    lib("dropInvalidType", &[p("target", Req), p("schema", Req)], Frame),
    lib("valueSwap", &[p("target", Req), p("schema", Req)], Frame),
    lib("freplicate", &[p("target", Req), p("X", Req)], Frame),
    lib("tokenize", &[p("target", Req), p("spec", Req), p("max_tokens", Opt)], Frame),
    // paramserv and rowClassMeet (src/runtime/builtins/paramserv.rs)
    effect(lib(
        "paramserv",
        &[
            p("model", Req),
            p("features", Req),
            p("labels", Req),
            p("val_features", Opt),
            p("val_labels", Opt),
            p("upd", Req),
            p("agg", Req),
            p("val", Opt),
            p("mode", Opt),
            p("utype", Opt),
            p("freq", Opt),
            p("epochs", Req),
            p("batchsize", Opt),
            p("k", Opt),
            p("scheme", Opt),
            p("hyperparams", Opt),
            p("checkpointing", Opt),
            p("seed", Opt),
            p("nbatches", Opt),
            p("modelAvg", Opt),
            p("num_backup_workers", Opt),
        ],
        List,
    )),
    BuiltinSpec {
        name: "rowClassMeet",
        params: &[p("X", Req), p("Y", Req)],
        variadic: false,
        lower: Library,
        out: Matrices,
        nout: 2,
        side_effect: false,
    },
    // fused forms chosen by rewrites (not callable under these names from scripts)
    lib(
        "_conv2d_bias_add",
        &[
            p("input", Req),
            p("filter", Req),
            p("bias", Req),
            p("input_shape", Req),
            p("filter_shape", Req),
            p("stride", Opt),
            p("padding", Opt),
        ],
        Matrix,
    ),
    lib(
        "_relu_max_pool",
        &[p("input", Req), p("input_shape", Req), p("pool_size", Req), p("stride", Opt), p("padding", Opt)],
        Matrix,
    ),
    lib(
        "_relu_max_pool_backward",
        &[
            p("input", Req),
            p("dout", Req),
            p("input_shape", Req),
            p("pool_size", Req),
            p("stride", Opt),
            p("padding", Opt),
        ],
        MatrixLike(0),
    ),
    // `_relu_max_pool` plus each window's gradient cell, and the gradient from those cells
    // (rewrite fuse_max_pool_argmax)
    multi(
        "_relu_max_pool_argmax",
        &[p("input", Req), p("input_shape", Req), p("pool_size", Req), p("stride", Opt), p("padding", Opt)],
        2,
    ),
    lib(
        "_max_pool_backward_at",
        &[
            p("codes", Req),
            p("dout", Req),
            p("input_shape", Req),
            p("pool_size", Req),
            p("stride", Opt),
            p("padding", Opt),
        ],
        Matrix,
    ),
    lib("_relu_backward", &[p("input", Req), p("dout", Req)], MatrixLike(0)),
    // a*X + b*Y in one pass (rewrite fuse_axpby)
    lib("_axpby", &[p("x", Req), p("y", Req), p("a", Req), p("b", Req)], MatrixLike(0)),
    lib("_matmul_t", &[p("a", Req), p("b", Req), p("ta", Req), p("tb", Req)], Matrix),
    // Evaluated by the executor from the lineage it traces (runtime::lineage); effects so that
    // they run where they stand and are never merged.
    effect(lib("lineage", TARGET, StrScalar)),
    effect(lib("autoDiff", &[p("output", Req), p("lineage", Opt)], List)),
];

pub static BUILTINS: &[BuiltinSpec] = TABLE;
