//! `--explain dot`: the HOP DAGs as one Graphviz document, so that a plan can be looked at as a
//! picture (`dml run f.dml --explain dot 2> plan.dot && dot -Tsvg plan.dot > plan.svg`).
//!
//! Each block's DAG is rendered on its own ([`dag_fragment`]) with node names local to it; the
//! validator collects the fragments under the same `--- block (...)` headers as the text form,
//! and [`document`] turns every section into a cluster and makes the names unique.

use super::{format_bytes, op_label};
use crate::hops::{Dag, HopOp};
use crate::types::type_info::DType;

/// Quotes `s` as a DOT string (`"` and `\` escaped, newlines as `\n`).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn dim(d: i64) -> String {
    if d < 0 { "?".into() } else { d.to_string() }
}

/// The node shape: data going in and out of the block as ellipses, literals as plain text,
/// calls as double boxes, every other operator as a box.
fn node_shape(op: &HopOp) -> &'static str {
    match op {
        HopOp::Read(_) => "ellipse",
        HopOp::Write(_) => "doubleoctagon",
        HopOp::Literal(_) => "plaintext",
        HopOp::Call { .. } => "box3d",
        HopOp::Effect(_) => "hexagon",
        _ => "box",
    }
}

/// One block's DAG as DOT statements (no `digraph` around them). Nodes are `N1`, `N2`, ... in
/// topological order; edges go from an input to its user, labelled with the input's position
/// when an operator has several. Matrix and frame nodes show their shape, non-zero estimate,
/// memory estimate and backend (which says the format: dense or sparse); scalars their type.
pub fn dag_fragment(
    dag: &Dag,
    var_name: &dyn Fn(u32) -> String,
    func_name: &dyn Fn(u32) -> String,
) -> String {
    let order = dag.topo_order();
    let mut number = vec![0usize; dag.hops.len()];
    for (i, id) in order.iter().enumerate() {
        number[id.index()] = i + 1;
    }
    let mut out = String::new();
    for &id in &order {
        let h = dag.get(id);
        let mut label = match &h.op {
            HopOp::Literal(l) => l.to_string(),
            op => op_label(op, var_name, func_name),
        };
        match h.ty.dt {
            DType::Matrix | DType::Frame if !matches!(h.op, HopOp::Literal(_)) => {
                let kind = if h.ty.dt == DType::Frame { "frame" } else { "matrix" };
                let nnz = if h.ty.nnz >= 0 { format!(", nnz={}", h.ty.nnz) } else { String::new() };
                label.push_str(&format!("\n{kind} {}x{}{nnz}", dim(h.ty.rows), dim(h.ty.cols)));
                label.push_str(&format!("\n{}, {}", format_bytes(h.mem), h.backend));
            }
            DType::Scalar if !matches!(h.op, HopOp::Literal(_)) => {
                label.push_str(&format!("\n{} scalar", h.ty.vt));
            }
            DType::List => label.push_str("\nlist"),
            _ => {}
        }
        out.push_str(&format!(
            "N{} [label={}, shape={}];\n",
            number[id.index()],
            quote(&label),
            node_shape(&h.op)
        ));
    }
    for &id in &order {
        let h = dag.get(id);
        let several = h.inputs.len() > 1;
        for (pos, &input) in h.inputs.iter().enumerate() {
            let edge_label = if several { format!(" [label=\"{}\"]", pos + 1) } else { String::new() };
            out.push_str(&format!("N{} -> N{}{edge_label};\n", number[input.index()], number[id.index()]));
        }
    }
    out
}

/// Renames the local node names (`N12`) at the start of a fragment line, and after `-> `, to
/// `prefix` + the name, so that the fragments of several blocks can share one graph.
fn prefix_line(line: &str, prefix: &str) -> String {
    let rename = |s: &str| -> String {
        let digits =
            s.strip_prefix('N').map(|r| r.len() - r.trim_start_matches(|c: char| c.is_ascii_digit()).len());
        match digits {
            Some(n) if n > 0 => format!("{prefix}N{}", &s[1..]),
            _ => s.to_string(),
        }
    };
    match line.split_once(" -> ") {
        Some((from, to)) if from.starts_with('N') && !from.contains(' ') => {
            format!("{} -> {}", rename(from), rename(to))
        }
        _ => rename(line),
    }
}

/// Turns the explain sections that the validator collected in DOT mode (`--- what (where)`
/// headers, `=== function NAME` lines, each header followed by a [`dag_fragment`]) into one
/// Graphviz `digraph` with a cluster per section.
pub fn document(sections: &str) -> String {
    let mut out = String::from(
        "digraph hops {\n  compound=true;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontsize=8];\n",
    );
    let mut function: Option<String> = None;
    let mut cluster = 0usize;
    let mut open = false;
    for line in sections.lines() {
        if let Some(name) = line.strip_prefix("=== function ") {
            function = Some(name.trim().to_string());
            continue;
        }
        if let Some(header) = line.strip_prefix("--- ") {
            if open {
                out.push_str("  }\n");
            }
            let title = match &function {
                Some(f) => format!("function {f}: {header}"),
                None => header.to_string(),
            };
            out.push_str(&format!("  subgraph cluster_{cluster} {{\n    label={};\n", quote(&title)));
            cluster += 1;
            open = true;
            continue;
        }
        if line.trim().is_empty() || !open {
            continue;
        }
        out.push_str("    ");
        out.push_str(&prefix_line(line, &format!("c{}_", cluster - 1)));
        out.push('\n');
    }
    if open {
        out.push_str("  }\n");
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_backslashes_and_newlines() {
        assert_eq!(quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }

    #[test]
    fn node_names_get_the_cluster_prefix_and_labels_stay() {
        assert_eq!(
            prefix_line("N3 [label=\"N4 -> N5\", shape=box];", "c0_"),
            "c0_N3 [label=\"N4 -> N5\", shape=box];"
        );
        assert_eq!(prefix_line("N1 -> N12 [label=\"2\"];", "c7_"), "c7_N1 -> c7_N12 [label=\"2\"];");
    }

    #[test]
    fn sections_become_clusters() {
        let doc = document(
            "--- block (a.dml:1)\nN1 [label=\"read X\", shape=ellipse];\nN2 [label=\"x\", shape=box];\nN1 -> N2;\n=== function f\n--- block (a.dml:3)\nN1 [label=\"y\", shape=box];\n",
        );
        assert!(doc.starts_with("digraph hops {"), "{doc}");
        assert!(doc.contains("subgraph cluster_0 {\n    label=\"block (a.dml:1)\";"), "{doc}");
        assert!(doc.contains("c0_N1 -> c0_N2;"), "{doc}");
        assert!(doc.contains("label=\"function f: block (a.dml:3)\""), "{doc}");
        assert!(doc.contains("c1_N1 [label=\"y\""), "{doc}");
        assert_eq!(doc.matches('{').count(), doc.matches('}').count(), "{doc}");
    }
}
