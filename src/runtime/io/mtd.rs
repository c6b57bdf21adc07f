//! The `.mtd` metadata file SystemDS writes beside every output and reads beside every input.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::IoError;
use super::atomic::write_atomic;

/// Keys SystemDS accepts in a `.mtd` file (`DataExpression.READ_VALID_MTD_PARAM_NAMES`); any
/// other key is an error, as in SystemDS, so that typos do not pass silently.
const VALID_KEYS: &[&str] = &[
    "iofilename",
    "rows",
    "cols",
    "nnz",
    "format",
    "rows_in_block",
    "cols_in_block",
    "data_type",
    "value_type",
    "schema",
    "description",
    "author",
    "created",
    "default",
    "sep",
    "fill",
    "header",
    "naStrings",
    "indSep",
    "dataset",
    "privacy",
    "fine_grained_privacy",
];

/// Parsed metadata. Missing `data_type` means matrix, missing `value_type` double and missing
/// `format` text (SystemDS's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct Mtd {
    pub data_type: String,
    pub value_type: String,
    pub schema: Option<String>,
    pub rows: Option<usize>,
    pub cols: Option<usize>,
    pub rows_in_block: Option<usize>,
    pub cols_in_block: Option<usize>,
    pub nnz: Option<usize>,
    pub format: String,
    pub description: Option<String>,
    pub author: Option<String>,
    pub header: Option<bool>,
    pub sep: Option<String>,
    pub fill: Option<bool>,
    pub default_value: Option<f64>,
    pub na_strings: Vec<String>,
    pub ind_sep: Option<String>,
    pub created: Option<String>,
}

impl Default for Mtd {
    fn default() -> Self {
        Mtd {
            data_type: "matrix".into(),
            value_type: "double".into(),
            schema: None,
            rows: None,
            cols: None,
            rows_in_block: None,
            cols_in_block: None,
            nnz: None,
            format: "text".into(),
            description: None,
            author: None,
            header: None,
            sep: None,
            fill: None,
            default_value: None,
            na_strings: Vec::new(),
            ind_sep: None,
            created: None,
        }
    }
}

/// The metadata path beside a data file: `x.csv` → `x.csv.mtd`.
pub fn mtd_path(data: &Path) -> PathBuf {
    let mut s = data.as_os_str().to_owned();
    s.push(".mtd");
    PathBuf::from(s)
}

impl Mtd {
    /// Reads and validates the `.mtd` file at `path` (the metadata file itself, not the data).
    pub fn read(path: &Path) -> Result<Mtd, IoError> {
        let text = std::fs::read_to_string(path).map_err(|e| IoError::os(path, e))?;
        Mtd::parse(path, &text)
    }

    /// Parses metadata text; `path` is only used in error messages.
    pub fn parse(path: &Path, text: &str) -> Result<Mtd, IoError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| IoError::parse(path, e.line(), e.column(), format!("invalid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(IoError::invalid(path, "metadata must be a JSON object"));
        };
        let mut m = Mtd::default();
        for (key, v) in &map {
            if !VALID_KEYS.contains(&key.as_str()) {
                return Err(IoError::meta(path, key, "unknown metadata key"));
            }
            match key.as_str() {
                "data_type" => m.data_type = string(path, key, v)?.to_ascii_lowercase(),
                "value_type" => m.value_type = string(path, key, v)?.to_ascii_lowercase(),
                "schema" => m.schema = Some(string(path, key, v)?),
                "rows" => m.rows = dim(path, key, v)?,
                "cols" => m.cols = dim(path, key, v)?,
                "rows_in_block" => m.rows_in_block = dim(path, key, v)?,
                "cols_in_block" => m.cols_in_block = dim(path, key, v)?,
                "nnz" => m.nnz = dim(path, key, v)?,
                "format" => m.format = string(path, key, v)?.to_ascii_lowercase(),
                "description" => m.description = Some(any_text(v)),
                "author" => m.author = Some(any_text(v)),
                "created" => m.created = Some(any_text(v)),
                "header" => m.header = Some(boolean(path, key, v)?),
                "fill" => m.fill = Some(boolean(path, key, v)?),
                "sep" => m.sep = Some(string(path, key, v)?),
                "indSep" => m.ind_sep = Some(string(path, key, v)?),
                "default" => m.default_value = Some(number(path, key, v)?),
                "naStrings" => m.na_strings = na_strings(path, key, v)?,
                // Accepted for compatibility; they do not change how we read a file.
                _ => {}
            }
        }
        Ok(m)
    }

    /// Serializes as SystemDS does: 4-space indented JSON, keys in SystemDS's order, no newline
    /// at the end. `author` and `created` are filled in when absent.
    pub fn to_json(&self) -> String {
        let mut fields: Vec<(&str, Value)> = vec![("data_type", Value::from(self.data_type.as_str()))];
        // Frames have a schema instead of one value type.
        if self.data_type != "frame" {
            fields.push(("value_type", Value::from(self.value_type.as_str())));
        }
        if let Some(s) = &self.schema {
            fields.push(("schema", Value::from(s.as_str())));
        }
        if self.data_type != "scalar" {
            if let Some(r) = self.rows {
                fields.push(("rows", Value::from(r)));
            }
            if let Some(c) = self.cols {
                fields.push(("cols", Value::from(c)));
            }
            if let Some(b) = self.rows_in_block {
                fields.push(("rows_in_block", Value::from(b)));
            }
            if let Some(b) = self.cols_in_block {
                fields.push(("cols_in_block", Value::from(b)));
            }
            if let Some(n) = self.nnz {
                fields.push(("nnz", Value::from(n)));
            }
        }
        fields.push(("format", Value::from(self.format.as_str())));
        if let Some(d) = &self.description {
            fields.push(("description", Value::from(d.as_str())));
        }
        let author = self.author.clone().unwrap_or_else(default_author);
        fields.push(("author", Value::from(author)));
        if self.format == "csv" {
            fields.push(("header", Value::from(self.header.unwrap_or(false))));
            fields.push(("sep", Value::from(self.sep.clone().unwrap_or_else(|| ",".into()))));
        }
        let created = self.created.clone().unwrap_or_else(now_utc);
        fields.push(("created", Value::from(created)));
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("    \"{k}\": {v}")).collect();
        format!("{{\n{}\n}}", body.join(",\n"))
    }

    /// Writes this metadata beside the data file `data` (atomically).
    pub fn write_beside(&self, data: &Path) -> Result<(), IoError> {
        write_atomic(&mtd_path(data), self.to_json().as_bytes())
    }
}

fn string(path: &Path, key: &str, v: &Value) -> Result<String, IoError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        _ => Err(IoError::meta(path, key, format!("expected a string, found {v}"))),
    }
}

fn any_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A dimension or count; negative values (SystemDS's -1) mean unknown.
fn dim(path: &Path, key: &str, v: &Value) -> Result<Option<usize>, IoError> {
    let n = match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    };
    match n {
        Some(x) if x < 0.0 => Ok(None),
        Some(x) if x.fract() == 0.0 && x <= 9.0e15 => Ok(Some(x as usize)),
        _ => Err(IoError::meta(path, key, format!("expected a non-negative integer, found {v}"))),
    }
}

fn number(path: &Path, key: &str, v: &Value) -> Result<f64, IoError> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| IoError::meta(path, key, "number out of range")),
        Value::String(s) => super::parse_java_double(s.trim())
            .ok_or_else(|| IoError::meta(path, key, format!("expected a number, found {v}"))),
        _ => Err(IoError::meta(path, key, format!("expected a number, found {v}"))),
    }
}

fn boolean(path: &Path, key: &str, v: &Value) -> Result<bool, IoError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(IoError::meta(path, key, format!("expected true or false, found {v}"))),
    }
}

fn na_strings(path: &Path, key: &str, v: &Value) -> Result<Vec<String>, IoError> {
    match v {
        Value::String(s) => Ok(s.split(',').map(str::to_string).collect()),
        Value::Array(items) => items.iter().map(|i| string(path, key, i)).collect(),
        _ => Err(IoError::meta(path, key, format!("expected a string or a list, found {v}"))),
    }
}

/// SystemDS records the Java `user.name`; `$USER` is its equivalent here.
fn default_author() -> String {
    std::env::var("USER").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| "SystemDS".into())
}

/// The current time as SystemDS formats it (`yyyy-MM-dd HH:mm:ss z`), always in UTC.
fn now_utc() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::civil_from_days;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2026-11-23 is day 20_780 since the epoch (date -d 2026-11-23 +%s / 86400).
        assert_eq!(civil_from_days(20_780), (2026, 11, 23));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
