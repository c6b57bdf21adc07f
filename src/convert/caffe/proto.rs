//! Caffe's file formats through a message schema built at run time: `caffe.proto` (our subset of
//! Caffe's schema, in this folder) compiled in memory by protox, so no `protoc` is needed; text
//! files (`.prototxt`) parsed with prost-reflect's text format, binary `.caffemodel` files decoded
//! with prost. [`Msg`] reads fields by name with Caffe's defaults.

use std::sync::OnceLock;

use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor, ReflectMessage, Value};

use crate::convert::error::ConvertError;

const SCHEMA: &str = include_str!("caffe.proto");

/// The resolver that hands protox our schema as the only file.
struct SchemaFile;

impl protox::file::FileResolver for SchemaFile {
    fn open_file(&self, name: &str) -> Result<protox::file::File, protox::Error> {
        if name == "caffe.proto" {
            protox::file::File::from_source(name, SCHEMA)
        } else {
            Err(protox::Error::file_not_found(name))
        }
    }
}

fn pool() -> Result<&'static DescriptorPool, String> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut c = protox::Compiler::with_file_resolver(SchemaFile);
        c.open_file("caffe.proto")
            .map_err(|e| format!("internal error: the Caffe schema does not compile: {e}"))?;
        Ok(c.descriptor_pool())
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn descriptor(message: &str) -> Result<MessageDescriptor, ConvertError> {
    let pool = pool().map_err(|e| ConvertError::Malformed {
        file: "caffe.proto".into(),
        part: "schema".into(),
        detail: e,
    })?;
    pool.get_message_by_name(&format!("caffe.{message}")).ok_or_else(|| ConvertError::Malformed {
        file: "caffe.proto".into(),
        part: "schema".into(),
        detail: format!("internal error: no message {message}"),
    })
}

/// Line and column (1-based) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Parses a text-format file as message `message` (`NetParameter`, `SolverParameter`).
pub fn parse_text(file: &str, text: &str, message: &str) -> Result<DynamicMessage, ConvertError> {
    let desc = descriptor(message)?;
    DynamicMessage::parse_text_format(desc, text).map_err(|e| {
        use miette::Diagnostic;
        let place = e
            .labels()
            .and_then(|mut l| l.next())
            .map(|l| {
                let (line, col) = line_col(text, l.offset());
                format!("line {line}, column {col}")
            })
            .unwrap_or_else(|| {
                let (line, _) = line_col(text, text.len());
                format!("line {line} (the end of the file)")
            });
        let mut detail = e.to_string();
        if let Some(help) = e.help() {
            detail = format!("{detail} ({help})");
        }
        ConvertError::Malformed {
            file: file.into(),
            part: place,
            detail: format!("{detail} (as a Caffe {message})"),
        }
    })
}

/// Decodes a binary protobuf file as message `message` (a `.caffemodel` is a `NetParameter`).
pub fn decode_binary(file: &str, bytes: &[u8], message: &str) -> Result<DynamicMessage, ConvertError> {
    let desc = descriptor(message)?;
    DynamicMessage::decode(desc, bytes).map_err(|e| ConvertError::Malformed {
        file: file.into(),
        part: format!("binary {message}"),
        detail: format!("not a valid protobuf message: {e}"),
    })
}

/// A parsed message, read by field name. Reading a field name the schema lacks is a bug of the
/// converter, reported as such.
#[derive(Clone, Copy)]
pub struct Msg<'a>(pub &'a DynamicMessage);

impl<'a> Msg<'a> {
    fn field(&self, name: &str) -> Option<prost_reflect::FieldDescriptor> {
        self.0.descriptor().get_field_by_name(name)
    }

    /// Whether the file sets the field (a repeated field: has entries).
    pub fn has(&self, name: &str) -> bool {
        self.field(name).is_some_and(|f| self.0.has_field(&f))
    }

    fn value(&self, name: &str) -> Option<std::borrow::Cow<'a, Value>> {
        let f = self.field(name)?;
        Some(self.0.get_field(&f))
    }

    pub fn f64(&self, name: &str) -> f64 {
        match self.value(name).as_deref() {
            Some(Value::F32(v)) => *v as f64,
            Some(Value::F64(v)) => *v,
            Some(Value::I32(v)) => *v as f64,
            Some(Value::I64(v)) => *v as f64,
            Some(Value::U32(v)) => *v as f64,
            Some(Value::U64(v)) => *v as f64,
            _ => 0.0,
        }
    }

    pub fn i64(&self, name: &str) -> i64 {
        match self.value(name).as_deref() {
            Some(Value::I32(v)) => *v as i64,
            Some(Value::I64(v)) => *v,
            Some(Value::U32(v)) => *v as i64,
            Some(Value::U64(v)) => *v as i64,
            Some(Value::EnumNumber(v)) => *v as i64,
            _ => 0,
        }
    }

    pub fn usize(&self, name: &str) -> usize {
        self.i64(name).max(0) as usize
    }

    pub fn bool(&self, name: &str) -> bool {
        matches!(self.value(name).as_deref(), Some(Value::Bool(true)))
    }

    pub fn str(&self, name: &str) -> String {
        match self.value(name).as_deref() {
            Some(Value::String(s)) => s.clone(),
            _ => String::new(),
        }
    }

    /// An enum field's value name (`"MAX"`).
    pub fn enum_name(&self, name: &str) -> String {
        let Some(f) = self.field(name) else { return String::new() };
        let n = self.i64(name) as i32;
        match f.kind() {
            prost_reflect::Kind::Enum(e) => e.get_value(n).map(|v| v.name().to_string()).unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// A sub-message (the default, empty one when absent).
    pub fn msg(&self, name: &str) -> Option<Msg<'a>> {
        match self.value(name)? {
            std::borrow::Cow::Borrowed(Value::Message(m)) => Some(Msg(m)),
            _ => None,
        }
    }

    /// Entries of a repeated message field.
    pub fn msgs(&self, name: &str) -> Vec<Msg<'a>> {
        match self.value(name) {
            Some(std::borrow::Cow::Borrowed(Value::List(l))) => {
                l.iter().filter_map(|v| if let Value::Message(m) = v { Some(Msg(m)) } else { None }).collect()
            }
            _ => Vec::new(),
        }
    }

    /// Entries of a repeated scalar field, as doubles.
    pub fn f64s(&self, name: &str) -> Vec<f64> {
        match self.value(name).as_deref() {
            Some(Value::List(l)) => l
                .iter()
                .map(|v| match v {
                    Value::F32(x) => *x as f64,
                    Value::F64(x) => *x,
                    Value::I32(x) => *x as f64,
                    Value::I64(x) => *x as f64,
                    Value::U32(x) => *x as f64,
                    Value::U64(x) => *x as f64,
                    Value::Bool(b) => f64::from(u8::from(*b)),
                    _ => 0.0,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    pub fn strs(&self, name: &str) -> Vec<String> {
        match self.value(name).as_deref() {
            Some(Value::List(l)) => l
                .iter()
                .filter_map(|v| if let Value::String(s) = v { Some(s.clone()) } else { None })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Names of the fields the file sets (for messages about them).
    pub fn set_fields(&self) -> Vec<String> {
        self.0.fields().map(|(f, _)| f.name().to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_compiles_and_text_parses_with_defaults() {
        let m = parse_text("t", "name: \"n\" layer { name: \"c\" type: \"Convolution\" convolution_param { num_output: 3 kernel_size: 5 } }", "NetParameter").unwrap();
        let net = Msg(&m);
        assert_eq!(net.str("name"), "n");
        let l = net.msgs("layer");
        let cp = l[0].msg("convolution_param").unwrap();
        assert_eq!(cp.usize("num_output"), 3);
        assert!(cp.bool("bias_term"), "Caffe's default bias_term is true");
        assert_eq!(cp.f64s("kernel_size"), vec![5.0]);
    }

    #[test]
    fn an_unknown_field_is_an_error_with_its_line() {
        let e = parse_text("s.prototxt", "base_lr: 0.1\nbogus_field: 3\n", "SolverParameter")
            .unwrap_err()
            .to_string();
        assert!(e.contains("s.prototxt") && e.contains("line 2") && e.contains("bogus_field"), "{e}");
    }
}
