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
    let model = match dml::convert::load_caffe_with(
        &args.net,
        args.solver.as_deref(),
        args.weights.as_deref(),
        &opts,
    ) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if args.summary {
        print!("{}", model.summary());
    }
    if let Some(dir) = &args.out {
        let batch = model.caffe.as_ref().and_then(|c| c.batch_size).unwrap_or(64);
        let opts = TrainOptions { batch_size: batch, ..TrainOptions::default() };
        if let Err(e) = model.write_dir(dir, &opts) {
            eprintln!("error: {e}");
            return 1;
        }
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
    let mut model = match dml::convert::load_keras(&args.model) {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    if args.out.is_none() && !args.summary && args.save.is_none() && args.emit_caffe.is_none() {
        eprintln!(
            "error: nothing to do: give --out DIR, --summary, --emit-caffe DIR, or --weights DIR --save FILE"
        );
        return 2;
    }
    if let Some(dir) = &args.emit_caffe {
        match dml::convert::caffe::emit_keras::write(&model, dir) {
            Ok(files) => eprintln!("wrote {}", files.join(", ")),
            Err(e) => {
                eprintln!("error: {e}");
                return 1;
            }
        }
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
