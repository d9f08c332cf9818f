//! `gridmentor train --device wgpu` on burn's wgpu backend (a build with the `wgpu` feature:
//! `make test-wgpu`). Without a GPU it needs an adapter all the same: Mesa's software Vulkan
//! driver, llvmpipe (`scripts/setup.sh --gpu`). Tiny runs: two or three updates of DoorKey-5x5.
#![cfg(feature = "wgpu")]

mod common;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{Device, Tensor, TensorData};
use common::{gridmentor, json, metrics, read_json, temp_dir};
use gridmentor_core::nn::{ActorCritic, Checkpoint};
use gridmentor_trainer::device::{DeviceChoice, adapters, pick_device};
use std::path::Path;
use std::process::Output;

/// Two updates of 4 envs x 32 steps, two minibatches each epoch.
const TINY: [&str; 18] = [
    "train",
    "--env",
    "MiniGrid-DoorKey-5x5-v0",
    "--envs",
    "4",
    "--steps",
    "32",
    "--batch",
    "64",
    "--eval-episodes",
    "3",
    "--save-every",
    "1",
    "--seed",
    "3",
    "--quiet",
    "--anneal-lr",
    "false",
];

fn train(device: &str, frames: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = TINY.to_vec();
    args.extend(["--device", device, "--frames", frames, "--out"]);
    args.push(out.to_str().unwrap());
    args.extend(extra);
    gridmentor(&args)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every parameter of a network, in module order.
fn params(model: &ActorCritic) -> Vec<f32> {
    struct Collect(Vec<f32>);
    impl ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            let v = param.val().into_data().try_into_vec::<f32>().unwrap();
            self.0.extend(v);
        }
    }
    let mut c = Collect(Vec::new());
    model.visit(&mut c);
    c.0
}

fn checkpoint(path: &Path) -> Checkpoint {
    Checkpoint::from_bytes(&std::fs::read(path).unwrap()).unwrap()
}

/// The weights of a checkpoint.
fn weights(path: &Path) -> Vec<f32> {
    params(&checkpoint(path).model(&Device::flex()).unwrap())
}

/// The weights the run that wrote this checkpoint started from (its seed's fresh network).
fn start_weights(path: &Path) -> Vec<f32> {
    let meta = checkpoint(path).meta;
    params(&ActorCritic::new(meta.spec, meta.seed, &Device::flex()).unwrap())
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The software adapters `auto` must skip on a machine without a GPU (none with one).
fn gpu_present() -> bool {
    adapters().iter().any(|a| a.is_gpu())
}

#[test]
fn wgpu_trains_the_same_seed_identically_and_agrees_with_flex() {
    let dir = temp_dir("wgpu-train");
    let (a, b, cpu) = (dir.join("a"), dir.join("b"), dir.join("cpu"));
    // The two wgpu runs one after the other (one wgpu runtime per process), flex beside them.
    let flex = std::thread::scope(|s| {
        let flex = s.spawn(|| train("cpu", "256", &cpu, &[]));
        let ra = train("wgpu", "256", &a, &[]);
        let rb = train("wgpu", "256", &b, &[]);
        for r in [&ra, &rb] {
            let said = stderr(r);
            assert!(said.contains("device: wgpu ("), "{said}");
        }
        let (ja, jb) = (json(&ra), json(&rb));
        assert_eq!(ja["frames"], 256);
        let name = ja["device"].as_str().unwrap();
        assert!(name.starts_with("wgpu ("), "{ja}");
        assert_eq!(read_json(&a.join("config.json"))["device"], name);
        assert_eq!(jb["device"], name);
        assert_eq!(ja["mean_return"], jb["mean_return"]);
        flex.join().unwrap()
    });

    // The same seed twice on wgpu: the same metrics and weights, to the bit.
    let (ma, mb) = (metrics(&a), metrics(&b));
    assert_eq!(ma.len(), 3, "a header and 2 updates");
    assert_eq!(ma, mb, "two wgpu runs of one seed differ");
    let (wa, wb) = (
        weights(&a.join("latest.ckpt")),
        weights(&b.join("latest.ckpt")),
    );
    assert_eq!(wa, wb);

    // flex and wgpu: the same rollouts (the same actions sampled), weights within rounding.
    let jf = json(&flex);
    assert_eq!(jf["device"], "cpu (flex)");
    let wf = weights(&cpu.join("latest.ckpt"));
    let diff = max_diff(&wa, &wf);
    let moved = max_diff(&wf, &start_weights(&cpu.join("latest.ckpt")));
    eprintln!(
        "flex vs wgpu after 2 updates: max |weight difference| {diff:e} ({} weights; the \
         updates moved them by up to {moved:e})",
        wa.len()
    );
    assert!(moved > 1e-4, "training did not move the weights ({moved})");
    assert!(diff < 1e-4, "flex and wgpu weights differ by {diff}");
    let mf = common::metrics_rows(&cpu);
    let mw = common::metrics_rows(&a);
    for col in ["value_loss", "entropy", "grad_norm"] {
        let (f, w) = (common::column(&mf, col), common::column(&mw, col));
        for (x, y) in f.iter().zip(&w) {
            assert!(
                (x - y).abs() <= 1e-3 * x.abs().max(1.0),
                "{col}: flex {x} vs wgpu {y}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_resumed_wgpu_run_goes_on_like_an_uninterrupted_one() {
    let dir = temp_dir("wgpu-resume");
    let (whole, part) = (dir.join("whole"), dir.join("part"));
    json(&train("wgpu", "384", &whole, &[]));
    json(&train("wgpu", "128", &part, &[]));
    let r = json(&gridmentor(&[
        "train",
        "--resume",
        "--device",
        "wgpu",
        "--frames",
        "384",
        "--quiet",
        "--out",
        part.to_str().unwrap(),
    ]));
    assert_eq!(r["frames"], 384);
    assert_eq!(metrics(&whole), metrics(&part), "resumed metrics differ");
    assert_eq!(
        weights(&whole.join("latest.ckpt")),
        weights(&part.join("latest.ckpt"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn auto_takes_a_gpu_and_skips_software_adapters() {
    let dir = temp_dir("wgpu-auto");
    let run = dir.join("auto");
    let out = train("auto", "128", &run, &[]);
    let r = json(&out);
    let said = stderr(&out);
    let device = read_json(&run.join("config.json"))["device"].clone();
    assert_eq!(r["device"], device);
    if gpu_present() {
        assert!(device.as_str().unwrap().starts_with("wgpu ("), "{said}");
        assert!(!device.as_str().unwrap().contains("software"), "{said}");
    } else {
        assert_eq!(device, "cpu (flex)");
        let line = said.lines().find(|l| l.starts_with("device: ")).unwrap();
        for a in adapters() {
            assert!(
                line.contains(&a.info.name),
                "{} not named: {line}",
                a.info.name
            );
        }
        if adapters().is_empty() {
            assert!(line.contains("no wgpu adapter found"), "{line}");
        } else {
            assert!(line.contains("auto: no GPU adapter; skipped "), "{line}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// This machine's adapter list matters to the tests above: say what it is (`--nocapture`), and
/// that llvmpipe is seen as the software adapter it is.
#[test]
fn adapters_are_listed_best_first() {
    let all = adapters();
    for a in all {
        eprintln!("adapter: {} ({:?})", a.describe(), a.kind);
    }
    assert!(
        !all.is_empty(),
        "no wgpu adapter: run scripts/setup.sh --gpu"
    );
    for a in all.iter().filter(|a| a.info.name.contains("llvmpipe")) {
        assert!(!a.is_gpu(), "{}", a.describe());
    }
    let gpus = all.iter().take_while(|a| a.is_gpu()).count();
    assert_eq!(gpus, all.iter().filter(|a| a.is_gpu()).count());
}

#[test]
fn without_any_adapter_wgpu_is_one_clear_error_and_auto_is_flex() {
    let dir = temp_dir("wgpu-none");
    // Hide every driver: no Vulkan ICD, no EGL vendor library.
    let hidden = |device: &str, out: &Path| {
        let mut args = TINY.to_vec();
        args.extend(["--device", device, "--frames", "128", "--out"]);
        args.push(out.to_str().unwrap());
        common::command()
            .args(&args)
            .env("VK_ICD_FILENAMES", "/nonexistent.json")
            .env("VK_DRIVER_FILES", "/nonexistent.json")
            .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent.json")
            .output()
            .unwrap()
    };
    let out = hidden("wgpu", &dir.join("w"));
    assert!(!out.status.success());
    let msg = stderr(&out);
    assert!(msg.contains("no wgpu adapter found"), "{msg}");
    assert!(!msg.contains("panicked"), "{msg}");
    assert_eq!(msg.trim().lines().count(), 1, "one error line: {msg}");
    assert!(!dir.join("w").exists());

    let out = hidden("auto", &dir.join("a"));
    let r = json(&out);
    assert_eq!(r["device"], "cpu (flex)");
    assert!(stderr(&out).contains("auto: no wgpu adapter found"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// PPO's global-norm clipping on the wgpu device gives flex's norm and scaled gradients.
#[test]
fn global_norm_clipping_runs_on_wgpu() {
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use gridmentor_trainer::ppo::clip::{clip_global_norm, global_norm};
    let wgpu = pick_device(DeviceChoice::Wgpu).unwrap().device;
    let run = |device: Device| {
        let device = device.autodiff();
        let mut layer: Linear = LinearConfig::new(3, 2).init(&device);
        let w = TensorData::new(vec![0.1f32, -0.2, 0.3, 0.4, -0.5, 0.6], [3, 2]);
        layer.weight = Param::from_data(w, &device);
        layer.bias = Some(Param::from_data(
            TensorData::new(vec![0.5f32, -1.0], [2]),
            &device,
        ));
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0, 3.0], [1, 3]), &device);
        let loss = layer.forward(x).square().sum().mul_scalar(10.0);
        let mut grads = GradientsParams::from_grads(loss.backward(), &layer);
        let norm = clip_global_norm(&layer, &mut grads, 0.5);
        let after = global_norm(&layer, &grads);
        let g = grads.get::<2>(layer.weight.id).unwrap();
        (norm, after, g.into_data().try_into_vec::<f32>().unwrap())
    };
    let (nf, af, gf) = run(Device::flex());
    let (nw, aw, gw) = run(wgpu);
    assert!(nf > 1.0, "{nf}");
    assert!((nf - nw).abs() <= 1e-5 * nf, "norm: flex {nf} vs wgpu {nw}");
    assert!(
        (af - 0.5).abs() < 1e-5 && (aw - 0.5).abs() < 1e-5,
        "{af} {aw}"
    );
    assert!(max_diff(&gf, &gw) < 1e-6, "{gf:?} vs {gw:?}");
}
