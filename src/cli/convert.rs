//! `dml convert keras MODEL`: a Keras model becomes DML training and prediction scripts with its
//! weights (`--out DIR`), its layer table (`--summary`), or, from a folder of trained weights, a
//! `.keras` file Keras loads (`--weights DIR --save NEW.keras`); `dml convert onnx MODEL.onnx`: an
//! ONNX model becomes a prediction script with its weights, and a fine-tuning script when a loss
//! and an optimizer are named.
use std::path::PathBuf;

use dml::convert::script::{TestAlgo, TrainAlgo, TrainOptions};

/// The defaults of a generated training script (each is also one of its `-nvargs`), shared by
/// every `dml convert` front end.
/// The value of a `Result`, or (after printing the error) a return with the exit status `code`.
macro_rules! or_exit {
    ($result:expr, $code:expr) => {
        match $result {
            Ok(v) => v,
            Err(e) => {
                eprintln!("error: {e}");
                return $code;
            }
        }
    };
}

#[derive(clap::Args, Debug)]
pub struct TrainFlags {
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
}

impl TrainFlags {
    /// The training options, or `None` (after saying why) when a value is out of range.
    pub fn options(&self) -> Option<TrainOptions> {
        if !(0.0..1.0).contains(&self.validation_split) || self.parallel_batches == 0 || self.batch_size == 0
        {
            eprintln!(
                "error: --validation-split must be in [0, 1), --parallel-batches and --batch-size at least 1"
            );
            return None;
        }
        Some(TrainOptions {
            epochs: self.epochs,
            batch_size: self.batch_size,
            algo: self.train_algo,
            test_algo: self.test_algo,
            parallel_batches: self.parallel_batches,
            validation_split: self.validation_split,
            shuffle: !self.no_shuffle,
            seed: self.seed,
            ..TrainOptions::default()
        })
    }
}

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
    #[command(flatten)]
    pub train: TrainFlags,
    /// A folder of trained weights (as `train.dml` writes them) to put back into the model...
    #[arg(long, requires = "save")]
    pub weights: Option<PathBuf>,
    /// ...saved as this `.keras` file, which Keras loads with the trained weights.
    #[arg(long, requires = "weights")]
    pub save: Option<PathBuf>,
    /// Write the network prototxt and solver that SystemML's Keras2DML would have written for
    /// the model into this folder (`<name>.proto`, `<name>_solver.proto`).
    #[arg(long)]
    pub emit_caffe: Option<PathBuf>,
}

/// `dml convert caffe NET.prototxt [SOLVER.prototxt] [--weights MODEL.caffemodel] --out DIR`.
#[derive(clap::Args, Debug)]
pub struct CaffeArgs {
    /// The network (text `NetParameter`, as Caffe's `.prototxt`).
    pub net: PathBuf,
    /// The solver (text `SolverParameter`); without it, SGD at a fixed rate 0.01 for 1000 iterations.
    pub solver: Option<PathBuf>,
    /// Trained weights (binary `.caffemodel`) to start from.
    #[arg(long)]
    pub weights: Option<PathBuf>,
    /// Write `train.dml`, `predict.dml` and `weights/` into this folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The data's shape `C,H,W` for a Data layer (its database holds it, not the prototxt).
    #[arg(long, value_delimiter = ',')]
    pub input_shape: Option<Vec<usize>>,
    /// Print the layer table (output shapes and parameter counts).
    #[arg(long)]
    pub summary: bool,
}

pub fn caffe(args: &CaffeArgs) -> i32 {
    if args.out.is_none() && !args.summary {
        eprintln!("error: nothing to do: give --out DIR or --summary");
        return 2;
    }
    let opts = dml::convert::caffe::NetOptions { input_shape: args.input_shape.clone(), seed: 0 };
    let model = or_exit!(
        dml::convert::load_caffe_with(&args.net, args.solver.as_deref(), args.weights.as_deref(), &opts,),
        1
    );
    if args.summary {
        print!("{}", model.summary());
    }
    if let Some(dir) = &args.out {
        let batch = model.caffe.as_ref().and_then(|c| c.batch_size).unwrap_or(64);
        let opts = TrainOptions { batch_size: batch, ..TrainOptions::default() };
        or_exit!(model.write_dir(dir, &opts), 1);
        if model.graph.training.is_some() {
            eprintln!("wrote {}/train.dml, predict.dml and weights/", dir.display());
        } else {
            eprintln!(
                "wrote {}/predict.dml and weights/ (the network has no loss layer: no train.dml)",
                dir.display()
            );
        }
    }
    0
}

pub fn keras(args: &KerasArgs) -> i32 {
    let mut model = or_exit!(dml::convert::load_keras(&args.model), 1);
    if args.out.is_none() && !args.summary && args.save.is_none() && args.emit_caffe.is_none() {
        eprintln!(
            "error: nothing to do: give --out DIR, --summary, --emit-caffe DIR, or --weights DIR --save FILE"
        );
        return 2;
    }
    if let Some(dir) = &args.emit_caffe {
        let files = or_exit!(dml::convert::caffe::emit_keras::write(&model, dir), 1);
        eprintln!("wrote {}", files.join(", "));
    }
    if args.summary {
        print!("{}", model.summary());
    }
    if let Some(dir) = &args.out {
        let Some(opts) = args.train.options() else { return 2 };
        or_exit!(model.write_dir(dir, &opts), 1);
        eprintln!("wrote {}/train.dml, predict.dml and weights/", dir.display());
    }
    if let (Some(wdir), Some(dst)) = (&args.weights, &args.save) {
        or_exit!(model.read_weights_dir(wdir), 1);
        or_exit!(model.save_keras(dst), 1);
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
    #[command(flatten)]
    pub train: TrainFlags,
}

pub fn onnx(args: &OnnxArgs) -> i32 {
    if args.out.is_none() && !args.summary {
        eprintln!("error: nothing to do: give --out DIR or --summary");
        return 2;
    }
    let training = match (&args.loss, &args.optimizer) {
        (Some(l), Some(o)) => {
            Some(or_exit!(dml::convert::onnx::training_config(l, o, args.learning_rate), 2))
        }
        _ => None,
    };
    let mut model = or_exit!(dml::convert::load_onnx(&args.model), 1);
    if let Some(t) = training {
        model.set_training(t);
    }
    if args.summary {
        print!("{}", model.summary());
    }
    if let Some(dir) = &args.out {
        let Some(opts) = args.train.options() else { return 2 };
        or_exit!(model.write_dir(dir, &opts), 1);
        let train = if model.graph.training.is_some() { "train.dml, " } else { "" };
        eprintln!("wrote {}/{train}predict.dml and weights/", dir.display());
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
