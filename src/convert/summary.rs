//! The layer table of a converted model, as Keras's `model.summary()` prints it: one row per
//! layer of the model file with its output shape and parameter count, then the totals.

use crate::convert::ir::Graph;

/// Thousands separators, as Keras prints counts.
fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn shape_text(shape: &[usize]) -> String {
    let mut parts = vec!["None".to_string()];
    parts.extend(shape.iter().map(|d| d.to_string()));
    format!("({}{})", parts.join(", "), if shape.is_empty() { "," } else { "" })
}

pub fn summary(g: &Graph) -> String {
    // Rows: model inputs, then each layer once, in the order its nodes run.
    let mut rows: Vec<(String, String, usize)> = Vec::new();
    for &t in &g.inputs {
        let ti = g.tensor(t);
        rows.push((format!("{} (InputLayer)", ti.var), shape_text(&ti.shape), 0));
    }
    let mut seen: Vec<String> = Vec::new();
    for node in &g.nodes {
        if node.class == "Relayout" {
            continue;
        }
        let count: usize = node.params.iter().map(|&p| g.params[p].value.len()).sum();
        let shape = shape_text(&g.tensor(node.outputs[0]).shape);
        if let Some(pos) = seen.iter().position(|l| *l == node.layer) {
            // A later node of the same layer (a fused activation): its output is the layer's.
            let row = &mut rows[g.inputs.len() + pos];
            row.1 = shape;
            row.2 += count;
        } else {
            seen.push(node.layer.clone());
            rows.push((format!("{} ({})", node.layer, node.class), shape, count));
        }
    }
    let (total, trainable) = g.param_counts();
    let w0 = rows.iter().map(|r| r.0.len()).max().unwrap_or(0).max(12) + 2;
    let w1 = rows.iter().map(|r| r.1.len()).max().unwrap_or(0).max(12) + 2;
    let width = w0 + w1 + 12;
    let mut s = format!("Model: \"{}\"\n", g.name);
    s.push_str(&format!("{}\n", "_".repeat(width)));
    s.push_str(&format!(" {:<w0$}{:<w1$}{:>10}\n", "Layer (type)", "Output Shape", "Param #"));
    s.push_str(&format!("{}\n", "=".repeat(width)));
    for (name, shape, count) in &rows {
        s.push_str(&format!(" {name:<w0$}{shape:<w1$}{:>10}\n", grouped(*count)));
    }
    s.push_str(&format!("{}\n", "=".repeat(width)));
    s.push_str(&format!("Total params: {}\n", grouped(total)));
    s.push_str(&format!("Trainable params: {}\n", grouped(trainable)));
    s.push_str(&format!("Non-trainable params: {}\n", grouped(total - trainable)));
    s
}
