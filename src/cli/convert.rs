//! `dml convert keras MODEL`: a Keras model becomes DML training and prediction scripts with its
//! weights (`--out DIR`), its layer table (`--summary`), or, from a folder of trained weights, a
//! `.keras` file Keras loads (`--weights DIR --save NEW.keras`).
use std::path::PathBuf;

use dml::convert::script::TrainOptions;

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
        let opts =
            TrainOptions { epochs: args.epochs, batch_size: args.batch_size, ..TrainOptions::default() };
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
