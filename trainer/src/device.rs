//! Where training runs: `gridmentor train --device auto|cpu|wgpu`.
//!
//! Only PPO's network moves: the rollouts' forward passes and the update (see
//! [`crate::ppo::Ppo`]). Everything that plays a trained network stays on the CPU whatever device
//! trained it: the final evaluation (core's plain-f32 `Inference`), the When2Ask mediator and
//! skills-rl evaluations (flex), `gridmentor eval`, `bench policy`, the server and the browser.
//!
//! burn's wgpu backend exists only in a build with the `wgpu` feature
//! (`cargo build --release -p gridmentor-trainer --features wgpu`). There, `auto` takes wgpu
//! only for a real GPU adapter (discrete, integrated or virtual). A software adapter such as
//! Mesa's llvmpipe / lavapipe, which wgpu reports as `DeviceType::Cpu`, is ~30x slower than flex
//! on these small networks, so `auto` skips it and says so; `--device wgpu` still takes it when it
//! is all there is (that is how the tests exercise the backend on a machine without a GPU).

use burn::tensor::Device;

/// Where the networks run.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum DeviceChoice {
    /// wgpu when this build has it and a real GPU adapter exists, else the CPU.
    Auto,
    /// burn's flex backend on the CPU.
    Cpu,
    /// burn's wgpu backend (needs a build with the `wgpu` feature).
    Wgpu,
}

/// The device a run trains on, its name (config.json's and the final JSON line's "device") and
/// why it was chosen.
#[derive(Clone, Debug)]
pub struct PickedDevice {
    pub device: Device,
    /// `cpu (flex)`, or `wgpu (API, kind: adapter name)`.
    pub name: String,
    /// Why this device: the flag, or what `auto` found.
    pub reason: String,
}

impl PickedDevice {
    fn flex(reason: impl Into<String>) -> PickedDevice {
        PickedDevice {
            device: Device::flex(),
            name: "cpu (flex)".into(),
            reason: reason.into(),
        }
    }

    /// Whether this is burn's wgpu backend.
    pub fn is_wgpu(&self) -> bool {
        self.name.starts_with("wgpu")
    }

    /// The one line a run prints (on stderr) before it starts.
    pub fn announce(&self) {
        eprintln!("device: {} [{}]", self.name, self.reason);
    }
}

/// The rebuild hint of a build without the feature.
pub const NO_WGPU: &str = "this gridmentor was built without wgpu support; rebuild with \
     `cargo build --release -p gridmentor-trainer --features wgpu`, or use --device cpu";

/// Pick the device for `choice` (see the module docs); errors are one line.
pub fn pick_device(choice: DeviceChoice) -> anyhow::Result<PickedDevice> {
    match choice {
        DeviceChoice::Cpu => Ok(PickedDevice::flex("--device cpu")),
        #[cfg(not(feature = "wgpu"))]
        DeviceChoice::Auto => Ok(PickedDevice::flex(
            "auto: this build has no wgpu support (cargo feature `wgpu`)",
        )),
        #[cfg(not(feature = "wgpu"))]
        DeviceChoice::Wgpu => anyhow::bail!(NO_WGPU),
        #[cfg(feature = "wgpu")]
        DeviceChoice::Auto => Ok(gpu::auto()),
        #[cfg(feature = "wgpu")]
        DeviceChoice::Wgpu => gpu::wgpu(),
    }
}

#[cfg(feature = "wgpu")]
pub use gpu::{Adapter, adapters};

#[cfg(feature = "wgpu")]
mod gpu {
    use super::PickedDevice;
    use burn::backend::wgpu::graphics::AutoGraphicsApi;
    use burn::backend::wgpu::wgpu;
    use burn::tensor::wgpu::WgpuBackend;
    use burn::tensor::{Device, DeviceKind};
    use std::sync::{Mutex, OnceLock};

    /// A wgpu adapter of this machine, as burn selects it.
    #[derive(Clone, Debug)]
    pub struct Adapter {
        pub info: wgpu::AdapterInfo,
        /// burn's selector: the nth adapter of this type on `info.backend`.
        pub kind: DeviceKind,
    }

    impl Adapter {
        /// A real GPU, not a software rasterizer (llvmpipe, lavapipe, SwiftShader, WARP).
        pub fn is_gpu(&self) -> bool {
            matches!(
                self.info.device_type,
                wgpu::DeviceType::DiscreteGpu
                    | wgpu::DeviceType::IntegratedGpu
                    | wgpu::DeviceType::VirtualGpu
            )
        }

        /// `Vulkan, integrated GPU: Intel(R) UHD Graphics 620`.
        pub fn describe(&self) -> String {
            let kind = match self.info.device_type {
                wgpu::DeviceType::DiscreteGpu => "discrete GPU",
                wgpu::DeviceType::IntegratedGpu => "integrated GPU",
                wgpu::DeviceType::VirtualGpu => "virtual GPU",
                wgpu::DeviceType::Cpu => "software adapter",
                wgpu::DeviceType::Other => "other adapter",
            };
            format!("{:?}, {kind}: {}", self.info.backend, self.info.name)
        }

        /// Preference: discrete, integrated, virtual GPUs, then software (graphics API order
        /// within each, as burn's own `Auto` settles).
        fn rank(&self) -> u8 {
            match self.info.device_type {
                wgpu::DeviceType::DiscreteGpu => 0,
                wgpu::DeviceType::IntegratedGpu => 1,
                wgpu::DeviceType::VirtualGpu => 2,
                wgpu::DeviceType::Cpu => 3,
                wgpu::DeviceType::Other => 4,
            }
        }

        fn api(&self) -> Option<WgpuBackend> {
            Some(match self.info.backend {
                wgpu::Backend::Vulkan => WgpuBackend::Vulkan,
                wgpu::Backend::Metal => WgpuBackend::Metal,
                wgpu::Backend::Dx12 => WgpuBackend::Dx12,
                wgpu::Backend::Gl => WgpuBackend::Gl,
                wgpu::Backend::BrowserWebGpu => WgpuBackend::WebGpu,
                wgpu::Backend::Noop => return None,
            })
        }
    }

    /// Poll a future to its end on this thread (wgpu's adapter enumeration is ready at once on
    /// native targets).
    fn block_on<F: Future>(future: F) -> F::Output {
        use std::sync::Arc;
        use std::task::{Context, Poll, Wake, Waker};
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::park();
        }
    }

    /// Run `f` with stderr silenced when `XDG_RUNTIME_DIR` is unset (a headless Linux machine):
    /// Mesa's Vulkan driver then has libwayland print "error: XDG_RUNTIME_DIR is invalid or not
    /// set in the environment." twice per instance although nothing is wrong. A panic inside is
    /// caught and returned as an error (its message would have gone to the silenced stderr).
    fn quietly<T>(f: impl FnOnce() -> T) -> anyhow::Result<T> {
        struct Restore(Option<i32>);
        impl Drop for Restore {
            fn drop(&mut self) {
                #[cfg(all(target_os = "linux", target_env = "gnu"))]
                if let Some(saved) = self.0 {
                    // SAFETY: plain fd calls on descriptors this guard owns.
                    unsafe {
                        libc::dup2(saved, 2);
                        libc::close(saved);
                    }
                }
            }
        }
        #[allow(unused_mut)] // set only on Linux
        let mut guard = Restore(None);
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            // SAFETY: plain fd calls; fd 2 is restored by the guard, even on unwinding.
            unsafe {
                let saved = libc::dup(2);
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                if saved >= 0 && null >= 0 && libc::dup2(null, 2) >= 0 {
                    guard.0 = Some(saved);
                } else if saved >= 0 {
                    libc::close(saved);
                }
                if null >= 0 {
                    libc::close(null);
                }
            }
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        drop(guard);
        out.map_err(|panic| {
            let msg = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("a panic");
            anyhow::anyhow!("wgpu failed: {}", msg.replace('\n', " "))
        })
    }

    /// Every adapter burn's wgpu runtime can reach on this machine, best first. Asked once per
    /// process, on the graphics APIs burn's `Auto` tries (Vulkan, DirectX 12, OpenGL; Metal on
    /// macOS), each through an instance limited to it, as burn does. A driver that panics while
    /// asked counts as none.
    pub fn adapters() -> &'static [Adapter] {
        static ADAPTERS: OnceLock<Vec<Adapter>> = OnceLock::new();
        ADAPTERS.get_or_init(|| quietly(probe).unwrap_or_default())
    }

    fn probe() -> Vec<Adapter> {
        let mut found = Vec::new();
        for api in AutoGraphicsApi::chain() {
            let backends = wgpu::Backends::from(api);
            if !wgpu::Instance::enabled_backend_features().contains(backends) {
                continue;
            }
            let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
                backends,
                ..wgpu::InstanceDescriptor::new_without_display_handle()
            });
            // burn counts each device type from zero on each API.
            let mut next = [0usize; 3];
            for adapter in block_on(instance.enumerate_adapters(backends)) {
                let info = adapter.get_info();
                let mut index = |i: usize| {
                    next[i] += 1;
                    next[i] - 1
                };
                let kind = match info.device_type {
                    wgpu::DeviceType::DiscreteGpu => DeviceKind::DiscreteGpu(index(0)),
                    wgpu::DeviceType::IntegratedGpu => DeviceKind::IntegratedGpu(index(1)),
                    wgpu::DeviceType::VirtualGpu => DeviceKind::VirtualGpu(index(2)),
                    // burn opens the first software adapter of an API.
                    wgpu::DeviceType::Cpu => DeviceKind::Cpu,
                    // burn's `DeviceKind` has no selector for these: its default device.
                    wgpu::DeviceType::Other => DeviceKind::DefaultDevice,
                };
                found.push(Adapter { info, kind });
            }
        }
        // Stable: API order stays within a rank.
        found.sort_by_key(Adapter::rank);
        found
    }

    /// Open `adapter` as a burn device (once per process: burn's runtime cannot be set up twice,
    /// so later runs in this process share it).
    fn open(adapter: &Adapter) -> anyhow::Result<Device> {
        static OPENED: Mutex<Vec<(String, Device)>> = Mutex::new(Vec::new());
        let key = adapter.describe();
        let mut opened = OPENED.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, device)) = opened.iter().find(|(k, _)| *k == key) {
            return Ok(device.clone());
        }
        let api = adapter
            .api()
            .ok_or_else(|| anyhow::anyhow!("wgpu adapter {key} is not a device"))?;
        let opening = || {
            Device::wgpu_options()
                .device_kind(adapter.kind.clone())
                .graphics_api(api)
                .init()
                .map_err(|e| anyhow::anyhow!("{e}"))
        };
        let device = quietly(opening).and_then(|r| r).map_err(|e| {
            let why = e.to_string().replace('\n', " ");
            anyhow::anyhow!("opening the wgpu adapter {key}: {why}; use --device cpu")
        })?;
        opened.push((key, device.clone()));
        Ok(device)
    }

    fn picked(adapter: &Adapter, reason: String) -> anyhow::Result<PickedDevice> {
        Ok(PickedDevice {
            device: open(adapter)?,
            name: format!("wgpu ({})", adapter.describe()),
            reason,
        })
    }

    /// `--device auto`: the best real GPU, else flex.
    pub fn auto() -> PickedDevice {
        let all = adapters();
        if let Some(gpu) = all.iter().find(|a| a.is_gpu()) {
            match picked(gpu, "auto: a GPU adapter was found".into()) {
                Ok(p) => return p,
                Err(e) => return PickedDevice::flex(format!("auto: {e:#}")),
            }
        }
        let skipped: Vec<String> = all.iter().map(Adapter::describe).collect();
        if skipped.is_empty() {
            PickedDevice::flex("auto: no wgpu adapter found")
        } else {
            PickedDevice::flex(format!(
                "auto: no GPU adapter; skipped {}: slower than flex",
                skipped.join("; ")
            ))
        }
    }

    /// `--device wgpu`: the best adapter, a software one if that is all there is.
    pub fn wgpu() -> anyhow::Result<PickedDevice> {
        let Some(best) = adapters().iter().find(|a| a.api().is_some()) else {
            anyhow::bail!(
                "--device wgpu: no wgpu adapter found (no GPU driver for Vulkan, OpenGL or the \
                 platform's API; Mesa's software Vulkan driver: scripts/setup.sh --gpu); use \
                 --device cpu"
            );
        };
        let reason = if best.is_gpu() {
            "--device wgpu".to_string()
        } else {
            "--device wgpu; no GPU found: a software adapter, slower than --device cpu".to_string()
        };
        picked(best, reason)
    }
}
