//! The Java helpers SystemDS's `map()` lambdas call (`PorterStemmer.stem`,
//! `UtilFunctions.getWordErrorRate`, `UtilFunctions.syntacticalPatternDiscovery`), rewritten with
//! the same results so that the DML-bodied builtins using them (`wer`, `dmv`, the cleaning
//! pipelines) give SystemDS's answers. `runtime::lambda` dispatches to them.

pub mod dmv;
pub mod porter_stemmer;
pub mod word_error_rate;
