//! `dml convert keras MODEL`: a Keras model becomes DML training and prediction scripts with its
//! weights (`--out DIR`), its layer table (`--summary`), or, from a folder of trained weights, a
//! `.keras` file Keras loads (`--weights DIR --save NEW.keras`); `dml convert onnx MODEL.onnx`: an
//! ONNX model becomes a prediction script with its weights, and a fine-tuning script when a loss
//! and an optimizer are named.
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

#[derive(clap::Args, Debug)]
pub struct OnnxArgs {
    /// The model: an `.onnx` file (opset 13 or later).
    pub model: PathBuf,
    /// Write `predict.dml` and `weights/` (and `train.dml` with --loss and --optimizer) into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the layer table (output shapes and parameter counts).
    #[arg(long)]
    pub summary: bool,
    /// The training loss, by its Keras name (categorical_crossentropy, mse, ...): writes train.dml.
    #[arg(long, requires = "optimizer")]
    pub loss: Option<String>,
    /// The optimizer, by its Keras name (sgd, adam, rmsprop, ...), with Keras's defaults.
    #[arg(long, requires = "loss")]
    pub optimizer: Option<String>,
    /// The optimizer's learning rate (default: Keras's default for the optimizer).
    #[arg(long, requires = "optimizer")]
    pub learning_rate: Option<f64>,
    /// Default number of epochs of the training script (its `epochs=` overrides it).
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Default batch size of the scripts (their `batch_size=` overrides it).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
}

pub fn onnx(args: &OnnxArgs) -> i32 {
    if args.out.is_none() && !args.summary {
        eprintln!("error: nothing to do: give --out DIR or --summary");
        return 2;
    }
    let training = match (&args.loss, &args.optimizer) {
        (Some(l), Some(o)) => match dml::convert::onnx::training_config(l, o, args.learning_rate) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        },
        _ => None,
    };
    let mut model = match dml::convert::load_onnx(&args.model) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if let Some(t) = training {
        model.set_training(t);
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
        let train = if model.graph.training.is_some() { "train.dml, " } else { "" };
        eprintln!("wrote {}/{train}predict.dml and weights/", dir.display());
    }
    0
}
