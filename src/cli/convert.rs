//! `dml convert keras MODEL`: a Keras model becomes DML training and prediction scripts with its
//! weights (`--out DIR`), its layer table (`--summary`), or, from a folder of trained weights, a
//! `.keras` file Keras loads (`--weights DIR --save NEW.keras`).
use std::path::PathBuf;

use dml::convert::script::{TestAlgo, TrainAlgo, TrainOptions};

#[derive(clap::Args, Debug)]
pub struct KerasArgs {
    /// The model: a Keras 3 `.keras` file or a legacy `.h5` file.
    pub model: PathBuf,
    /// Write `train.dml`, `predict.dml` and `weights/` into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the layer table (output shapes and parameter counts), as Keras's summary().
    #[arg(long)]
    pub summary: bool,
    /// Default number of epochs of the training script (its `epochs=` overrides it).
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Default batch size of the scripts (their `batch_size=` overrides it).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// How the training script turns mini-batches into updates: minibatch (Keras's fit), batch,
    /// looped_minibatch or allreduce_parallel_batches (SystemML's train_algo).
    #[arg(long, default_value = "minibatch", value_parser = parse_train_algo)]
    pub train_algo: TrainAlgo,
    /// How validation and prediction batch the rows: minibatch or batch (SystemML's test_algo).
    #[arg(long, default_value = "minibatch", value_parser = parse_test_algo)]
    pub test_algo: TestAlgo,
    /// Default mini-batches per update of the grouped train_algo values.
    #[arg(long, default_value_t = 4)]
    pub parallel_batches: usize,
    /// Default fraction of the rows (the last ones) that validate.
    #[arg(long, default_value_t = 0.0)]
    pub validation_split: f64,
    /// Train on the rows in their order by default (Keras's shuffle=False).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Default seed of the shuffling and dropout (-1: a fresh one each run).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub seed: i64,
    /// A folder of trained weights (as `train.dml` writes them) to put back into the model...
    #[arg(long, requires = "save")]
    pub weights: Option<PathBuf>,
    /// ...saved as this `.keras` file, which Keras loads with the trained weights.
    #[arg(long, requires = "weights")]
    pub save: Option<PathBuf>,
}

pub fn keras(args: &KerasArgs) -> i32 {
    let mut model = match dml::convert::load_keras(&args.model) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if args.out.is_none() && !args.summary && args.save.is_none() {
        eprintln!("error: nothing to do: give --out DIR, --summary, or --weights DIR --save FILE");
        return 2;
    }
    if args.summary {
        print!("{}", model.summary());
    }
    if let Some(dir) = &args.out {
        if !(0.0..1.0).contains(&args.validation_split) || args.parallel_batches == 0 {
            eprintln!("error: --validation-split must be in [0, 1) and --parallel-batches at least 1");
            return 2;
        }
        let opts = TrainOptions {
            epochs: args.epochs,
            batch_size: args.batch_size,
            algo: args.train_algo,
            test_algo: args.test_algo,
            parallel_batches: args.parallel_batches,
            validation_split: args.validation_split,
            shuffle: !args.no_shuffle,
            seed: args.seed,
            ..TrainOptions::default()
        };
        if let Err(e) = model.write_dir(dir, &opts) {
            eprintln!("error: {e}");
            return 1;
        }
        eprintln!("wrote {}/train.dml, predict.dml and weights/", dir.display());
    }
    if let (Some(wdir), Some(dst)) = (&args.weights, &args.save) {
        if let Err(e) = model.read_weights_dir(wdir) {
            eprintln!("error: {e}");
            return 1;
        }
        if let Err(e) = model.save_keras(dst) {
            eprintln!("error: {e}");
            return 1;
        }
        eprintln!("wrote {}", dst.display());
    }
    0
}

fn parse_train_algo(s: &str) -> Result<TrainAlgo, String> {
    TrainAlgo::from_name(s)
        .ok_or_else(|| format!("`{s}`: minibatch, batch, looped_minibatch or allreduce_parallel_batches"))
}

fn parse_test_algo(s: &str) -> Result<TestAlgo, String> {
    TestAlgo::from_name(s).ok_or_else(|| format!("`{s}`: minibatch or batch"))
}
