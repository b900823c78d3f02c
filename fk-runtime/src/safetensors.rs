//! Checkpoint loading from safetensors files (memory-mapped).
//!
//! A checkpoint is one `.safetensors` file, a folder with `model.safetensors`, or a folder
//! (or the index file itself) with a sharded `model.safetensors.index.json` whose
//! `weight_map` names the shard of every tensor, as written by HF `save_pretrained`.
//! Every shard is validated when opened (header, offsets, file length), so a truncated
//! download fails at `open` with the file named, not later with garbage weights.
//!
//! The host API (`names`, `info`, `host_bytes`, `host_f32`, `checked_bytes`) needs no GPU;
//! `load`/`load_as` upload to a [`Device`].

use crate::device::Device;
use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::host;
use crate::tensor::Tensor;
use ::safetensors::tensor::{Metadata, TensorView};
use ::safetensors::Dtype as StDtype;
use memmap2::Mmap;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// File names HF uses inside a model folder.
pub const SINGLE_FILE: &str = "model.safetensors";
pub const INDEX_FILE: &str = "model.safetensors.index.json";

/// dtype and shape of a checkpoint tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    pub dtype: DType,
    pub shape: Vec<usize>,
}

pub struct Checkpoint {
    /// What was opened: the file, or the index file of a sharded checkpoint.
    path: PathBuf,
    shards: Vec<Shard>,
    tensors: HashMap<String, Entry>,
}

struct Shard {
    path: PathBuf,
    map: ShardBytes,
}

/// A shard's bytes: a mapped file, or a buffer built in memory ([`Checkpoint::from_fn`]).
enum ShardBytes {
    Mapped(Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for ShardBytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            ShardBytes::Mapped(m) => m,
            ShardBytes::Owned(v) => v,
        }
    }
}

struct Entry {
    shard: usize,
    /// The file's dtype, or the safetensors dtype we have no `DType` for (reported on use,
    /// so one exotic tensor does not make the whole checkpoint unreadable).
    dtype: std::result::Result<DType, StDtype>,
    shape: Vec<usize>,
    /// Byte range in the shard's mapping (header included).
    start: usize,
    end: usize,
}

/// safetensors dtype → fastkernels dtype. `F8_E4M3` is torch's `float8_e4m3fn`.
pub fn dtype_from_safetensors(d: StDtype) -> Option<DType> {
    Some(match d {
        StDtype::BF16 => DType::BF16,
        StDtype::F16 => DType::F16,
        StDtype::F32 => DType::F32,
        StDtype::F64 => DType::F64,
        StDtype::F8_E4M3 => DType::F8E4M3,
        StDtype::F8_E5M2 => DType::F8E5M2,
        StDtype::I32 => DType::I32,
        StDtype::I64 => DType::I64,
        StDtype::U8 => DType::U8,
        _ => return None,
    })
}

pub fn dtype_to_safetensors(d: DType) -> StDtype {
    match d {
        DType::BF16 => StDtype::BF16,
        DType::F16 => StDtype::F16,
        DType::F32 => StDtype::F32,
        DType::F64 => StDtype::F64,
        DType::F8E4M3 => StDtype::F8_E4M3,
        DType::F8E5M2 => StDtype::F8_E5M2,
        DType::I32 => StDtype::I32,
        DType::I64 => StDtype::I64,
        DType::U8 => StDtype::U8,
    }
}

fn corrupt(file: &Path, message: impl Into<String>) -> Error {
    Error::Checkpoint { file: file.to_path_buf(), message: message.into() }
}

/// The `weight_map` of an index file (its `metadata` is not needed).
#[derive(serde::Deserialize)]
struct Index {
    weight_map: BTreeMap<String, String>,
}

impl Checkpoint {
    pub fn open(path: impl AsRef<Path>) -> Result<Checkpoint> {
        let path = path.as_ref();
        let meta =
            std::fs::metadata(path).map_err(|e| Error::io(format!("opening checkpoint {}", path.display()), e))?;
        if meta.is_dir() {
            let index = path.join(INDEX_FILE);
            if index.is_file() {
                return Checkpoint::open_index(&index);
            }
            let single = path.join(SINGLE_FILE);
            if single.is_file() {
                return Checkpoint::open_single(&single);
            }
            return Err(corrupt(path, format!("folder has neither {SINGLE_FILE} nor {INDEX_FILE}")));
        }
        if path.extension().is_some_and(|e| e == "json") {
            return Checkpoint::open_index(path);
        }
        Checkpoint::open_single(path)
    }

    /// A checkpoint held in memory: `tensors` (name, dtype, shape), each `fill`ed with its
    /// little-endian bytes. `label` stands for the file in errors. What random weights at a
    /// real config load through, so they take exactly the loaders' code path.
    pub fn from_fn(label: impl Into<PathBuf>, tensors: &[(String, DType, Vec<usize>)], mut fill: impl FnMut(&str, DType, &mut [u8])) -> Result<Checkpoint> {
        let label = label.into();
        let mut entries = HashMap::with_capacity(tensors.len());
        let mut at = 0usize;
        for (name, dtype, shape) in tensors {
            let n = shape.iter().product::<usize>() * dtype.size();
            let e = Entry { shard: 0, dtype: Ok(*dtype), shape: shape.clone(), start: at, end: at + n };
            if entries.insert(name.clone(), e).is_some() {
                return Err(corrupt(&label, format!("tensor `{name}` given twice")));
            }
            at += n;
        }
        let mut bytes = vec![0u8; at];
        for (name, dtype, _) in tensors {
            let e = &entries[name];
            fill(name, *dtype, &mut bytes[e.start..e.end]);
        }
        Ok(Checkpoint { path: label.clone(), shards: vec![Shard { path: label, map: ShardBytes::Owned(bytes) }], tensors: entries })
    }

    fn open_single(path: &Path) -> Result<Checkpoint> {
        let (shard, header) = Shard::open(path)?;
        let tensors = header.into_iter().map(|(name, mut e)| {
            e.shard = 0;
            (name, e)
        });
        Ok(Checkpoint { path: path.to_path_buf(), shards: vec![shard], tensors: tensors.collect() })
    }

    fn open_index(index_path: &Path) -> Result<Checkpoint> {
        let text = std::fs::read(index_path).map_err(|e| Error::io(format!("reading {}", index_path.display()), e))?;
        let index: Index = serde_json::from_slice(&text).map_err(|e| {
            corrupt(index_path, format!("not a safetensors index (expected {{\"weight_map\": {{name: shard}}}}): {e}"))
        })?;
        let folder = index_path.parent().unwrap_or(Path::new("."));
        let files: BTreeSet<&str> = index.weight_map.values().map(String::as_str).collect();
        let mut shards = Vec::with_capacity(files.len());
        let mut headers = HashMap::with_capacity(files.len());
        for file in files {
            let shard_path = folder.join(file);
            if !shard_path.is_file() {
                let user =
                    index.weight_map.iter().find(|(_, f)| f.as_str() == file).map(|(n, _)| n.as_str()).unwrap_or("");
                return Err(corrupt(
                    index_path,
                    format!("names shard `{file}` (for tensor `{user}`), but {} does not exist", shard_path.display()),
                ));
            }
            let (shard, header) = Shard::open(&shard_path)?;
            headers.insert(file, (shards.len(), header));
            shards.push(shard);
        }
        // Like HF loaders, the weight_map decides which tensors exist and where.
        let mut tensors = HashMap::with_capacity(index.weight_map.len());
        for (name, file) in &index.weight_map {
            let Some((id, header)) = headers.get_mut(file.as_str()) else { continue };
            let Some(mut entry) = header.remove(name) else {
                return Err(corrupt(
                    index_path,
                    format!("maps tensor `{name}` to shard `{file}`, which does not contain it"),
                ));
            };
            entry.shard = *id;
            tensors.insert(name.clone(), entry);
        }
        Ok(Checkpoint { path: index_path.to_path_buf(), shards, tensors })
    }

    /// The file (or index file) this checkpoint was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// All tensor names, sorted.
    pub fn names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = self.tensors.keys().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.tensors.get(name).ok_or_else(|| Error::MissingTensor { file: self.path.clone(), name: name.to_string() })
    }

    fn file_of(&self, e: &Entry) -> &Path {
        &self.shards[e.shard].path
    }

    pub fn info(&self, name: &str) -> Result<TensorInfo> {
        let e = self.entry(name)?;
        let dtype = e.dtype.map_err(|d| {
            corrupt(self.file_of(e), format!("tensor `{name}` has dtype {d:?}, which fastkernels does not support"))
        })?;
        Ok(TensorInfo { dtype, shape: e.shape.clone() })
    }

    /// The tensor's raw little-endian bytes, straight from the mapping.
    pub fn host_bytes(&self, name: &str) -> Result<&[u8]> {
        let e = self.entry(name)?;
        Ok(&self.shards[e.shard].map[e.start..e.end])
    }

    /// The tensor's values as f32 (exact for f32, f16, bf16 and fp8).
    pub fn host_f32(&self, name: &str) -> Result<Vec<f32>> {
        let info = self.info(name)?;
        Ok(host::decode(self.host_bytes(name)?, info.dtype))
    }

    /// The bytes of `name` after checking that it has exactly `shape` and `dtype`.
    pub fn checked_bytes(&self, name: &str, shape: &[usize], dtype: DType) -> Result<&[u8]> {
        let info = self.checked_shape(name, shape)?;
        if info.dtype != dtype {
            return Err(Error::dtype(
                "Checkpoint::load",
                format!("tensor `{name}` in {}: expected {dtype}, found {}", self.path.display(), info.dtype),
            ));
        }
        self.host_bytes(name)
    }

    fn checked_shape(&self, name: &str, shape: &[usize]) -> Result<TensorInfo> {
        let info = self.info(name)?;
        if info.shape != shape {
            return Err(Error::shape(
                "Checkpoint::load",
                format!("tensor `{name}` in {}: expected shape {shape:?}, found {:?}", self.path.display(), info.shape),
            ));
        }
        Ok(info)
    }

    /// Upload `name`, which must have exactly `shape` and `dtype`.
    pub fn load(&self, device: &Device, name: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        Tensor::from_bytes(device, self.checked_bytes(name, shape, dtype)?, shape, dtype)
    }

    /// Upload `name` (exactly `shape`) as `dtype`, converting between float dtypes on the
    /// host (round to nearest even) when the file's dtype differs.
    pub fn load_as(&self, device: &Device, name: &str, shape: &[usize], dtype: DType) -> Result<Tensor> {
        let info = self.checked_shape(name, shape)?;
        let bytes = self.host_bytes(name)?;
        if info.dtype == dtype {
            return Tensor::from_bytes(device, bytes, shape, dtype);
        }
        if !info.dtype.is_float() || !dtype.is_float() {
            return Err(Error::dtype(
                "Checkpoint::load_as",
                format!(
                    "tensor `{name}` in {}: cannot convert {} to {dtype} (only float dtypes convert)",
                    self.path.display(),
                    info.dtype
                ),
            ));
        }
        Tensor::from_bytes(device, &host::encode(&host::decode(bytes, info.dtype), dtype), shape, dtype)
    }
}

impl Shard {
    /// Map and validate one file; returns its tensors (with `shard` still to be set).
    fn open(path: &Path) -> Result<(Shard, HashMap<String, Entry>)> {
        let file =
            std::fs::File::open(path).map_err(|e| Error::io(format!("opening checkpoint {}", path.display()), e))?;
        let len = file.metadata().map_err(|e| Error::io(format!("reading {}", path.display()), e))?.len() as usize;
        if len < 8 {
            return Err(corrupt(path, format!("truncated: {len} bytes, not even the 8-byte header length")));
        }
        // SAFETY: the file is mapped read-only and never written through. If another process
        // truncates it while mapped, reads fault; that is inherent to mmap loading and the
        // same contract as the reference safetensors loader.
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(format!("mapping {}", path.display()), e))?;
        let mut n = [0u8; 8];
        n.copy_from_slice(&map[..8]);
        let header_len = u64::from_le_bytes(n);
        let body = (len - 8) as u64;
        if header_len > body {
            return Err(corrupt(
                path,
                format!("truncated or corrupt: the header length field says {header_len} bytes, but only {body} bytes follow it"),
            ));
        }
        let data_start = 8 + header_len as usize;
        // safetensors' own Metadata parser checks dtypes, shapes and that the offsets tile
        // the data section exactly.
        let meta: Metadata =
            serde_json::from_slice(&map[8..data_start]).map_err(|e| corrupt(path, format!("invalid header: {e}")))?;
        let (want, have) = (meta.data_len(), len - data_start);
        if have < want {
            return Err(corrupt(
                path,
                format!("truncated: the header describes {want} bytes of tensor data, but the file has only {have}"),
            ));
        }
        if have > want {
            return Err(corrupt(
                path,
                format!("corrupt: {} bytes after the last tensor (header describes {want})", have - want),
            ));
        }
        let tensors = meta
            .tensors()
            .into_iter()
            .map(|(name, info)| {
                let (s, e) = info.data_offsets;
                let entry = Entry {
                    shard: 0,
                    dtype: dtype_from_safetensors(info.dtype).ok_or(info.dtype),
                    shape: info.shape.clone(),
                    start: data_start + s,
                    end: data_start + e,
                };
                (name, entry)
            })
            .collect();
        Ok((Shard { path: path.to_path_buf(), map: ShardBytes::Mapped(map) }, tensors))
    }
}

/// Write a safetensors file (for tests and fixtures): `(name, dtype, shape, little-endian
/// bytes)`. Written to a temporary sibling and renamed, so a mapped old file is untouched.
pub fn write_safetensors(path: impl AsRef<Path>, tensors: &[(&str, DType, &[usize], &[u8])]) -> Result<()> {
    let path = path.as_ref();
    let op = "write_safetensors";
    let mut seen = BTreeSet::new();
    let mut views = Vec::with_capacity(tensors.len());
    for &(name, dtype, shape, bytes) in tensors {
        if !seen.insert(name) {
            return Err(Error::bad_input(op, format!("tensor `{name}` given twice for {}", path.display())));
        }
        let view = TensorView::new(dtype_to_safetensors(dtype), shape.to_vec(), bytes).map_err(|_| {
            let need = shape.iter().product::<usize>() * dtype.size();
            Error::shape(
                op,
                format!("tensor `{name}`: {} bytes for shape {shape:?} of {dtype} (needs {need})", bytes.len()),
            )
        })?;
        views.push((name, view));
    }
    ::safetensors::serialize_to_file(views, None, path).map_err(|e| match e {
        ::safetensors::SafeTensorError::IoError(source) => Error::io(format!("writing {}", path.display()), source),
        other => corrupt(path, format!("cannot serialize: {other}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("fk-safetensors-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            TempDir(dir)
        }
        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn f32_bytes(v: &[f32]) -> Vec<u8> {
        host::encode(v, DType::F32)
    }

    /// `a` (f32 [2,3]), `b` (bf16 [4]), `c` (i64 [2]).
    fn write_sample(path: &Path) {
        let a = f32_bytes(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let b = host::encode(&[0.5, -1.0, 2.0, 3.0], DType::BF16);
        let c: Vec<u8> = [7i64, -9].iter().flat_map(|v| v.to_le_bytes()).collect();
        write_safetensors(
            path,
            &[("a", DType::F32, &[2, 3], &a), ("b", DType::BF16, &[4], &b), ("c", DType::I64, &[2], &c)],
        )
        .expect("write sample");
    }

    fn check_sample(ck: &Checkpoint) {
        assert_eq!(ck.names(), vec!["a", "b", "c"]);
        assert_eq!(ck.info("a").unwrap(), TensorInfo { dtype: DType::F32, shape: vec![2, 3] });
        assert_eq!(ck.info("b").unwrap(), TensorInfo { dtype: DType::BF16, shape: vec![4] });
        assert_eq!(ck.host_f32("a").unwrap(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(ck.host_f32("b").unwrap(), vec![0.5, -1.0, 2.0, 3.0]);
        assert_eq!(ck.host_bytes("c").unwrap(), [7i64, -9].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
        assert_eq!(ck.checked_bytes("a", &[2, 3], DType::F32).unwrap().len(), 24);
    }

    #[test]
    fn single_file_and_model_folder_load() {
        let dir = TempDir::new("single");
        write_sample(&dir.path(SINGLE_FILE));
        check_sample(&Checkpoint::open(dir.path(SINGLE_FILE)).unwrap());
        check_sample(&Checkpoint::open(&dir.0).unwrap());
    }

    /// Two shards and an index; returns the folder.
    fn write_sharded(dir: &TempDir) {
        let a = f32_bytes(&[1.0, 2.0]);
        let b = f32_bytes(&[3.0]);
        write_safetensors(dir.path("model-00001-of-00002.safetensors"), &[("layer.0.w", DType::F32, &[2], &a)])
            .unwrap();
        write_safetensors(dir.path("model-00002-of-00002.safetensors"), &[("layer.1.w", DType::F32, &[1], &b)])
            .unwrap();
        let index = r#"{"metadata": {"total_size": 12}, "weight_map": {
            "layer.0.w": "model-00001-of-00002.safetensors",
            "layer.1.w": "model-00002-of-00002.safetensors"}}"#;
        std::fs::write(dir.path(INDEX_FILE), index).unwrap();
    }

    #[test]
    fn sharded_index_loads_from_folder_and_index_path() {
        let dir = TempDir::new("sharded");
        write_sharded(&dir);
        for ck in [Checkpoint::open(&dir.0).unwrap(), Checkpoint::open(dir.path(INDEX_FILE)).unwrap()] {
            assert_eq!(ck.names(), vec!["layer.0.w", "layer.1.w"]);
            assert_eq!(ck.host_f32("layer.0.w").unwrap(), vec![1.0, 2.0]);
            assert_eq!(ck.host_f32("layer.1.w").unwrap(), vec![3.0]);
            assert!(ck.path().ends_with(INDEX_FILE));
        }
    }

    fn checkpoint_error(path: &Path) -> (PathBuf, String) {
        match Checkpoint::open(path) {
            Err(Error::Checkpoint { file, message }) => (file, message),
            Err(other) => panic!("expected Error::Checkpoint, got {other:?}"),
            Ok(_) => panic!("{} opened but should not have", path.display()),
        }
    }

    #[test]
    fn missing_path_is_an_io_error_naming_it() {
        let dir = TempDir::new("missing");
        let path = dir.path("nope.safetensors");
        let err = Checkpoint::open(&path).err().expect("must fail");
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert!(err.to_string().contains("nope.safetensors"), "{err}");
    }

    #[test]
    fn folder_without_model_files_is_rejected() {
        let dir = TempDir::new("empty");
        let (file, message) = checkpoint_error(&dir.0);
        assert_eq!(file, dir.0);
        assert!(message.contains(SINGLE_FILE) && message.contains(INDEX_FILE), "{message}");
    }

    /// Cut `cut` bytes off the end of a valid file.
    fn truncate(path: &Path, cut: usize) {
        let bytes = std::fs::read(path).unwrap();
        std::fs::write(path, &bytes[..bytes.len() - cut]).unwrap();
    }

    #[test]
    fn truncated_files_say_truncated() {
        let dir = TempDir::new("truncated");
        let path = dir.path("m.safetensors");
        let full = {
            write_sample(&path);
            std::fs::metadata(&path).unwrap().len() as usize
        };
        // Data section short by a few bytes, header cut in half, and a stub of 5 bytes.
        for keep in [full - 3, 40, 5] {
            write_sample(&path);
            truncate(&path, full - keep);
            let (file, message) = checkpoint_error(&path);
            assert_eq!(file, path);
            assert!(message.contains("truncated"), "keep {keep}: {message}");
            let shown = Error::Checkpoint { file, message }.to_string();
            assert!(shown.contains("m.safetensors"), "{shown}");
        }
    }

    #[test]
    fn corrupt_header_and_trailing_bytes_are_rejected() {
        let dir = TempDir::new("corrupt");
        let path = dir.path("bad.safetensors");
        let header = b"{not json}";
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header);
        std::fs::write(&path, &bytes).unwrap();
        let (_, message) = checkpoint_error(&path);
        assert!(message.contains("invalid header"), "{message}");

        write_sample(&path);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&[0; 4]);
        std::fs::write(&path, &bytes).unwrap();
        let (_, message) = checkpoint_error(&path);
        assert!(message.contains("4 bytes after the last tensor"), "{message}");
    }

    #[test]
    fn index_naming_a_missing_shard_is_rejected() {
        let dir = TempDir::new("noshard");
        write_sharded(&dir);
        std::fs::remove_file(dir.path("model-00002-of-00002.safetensors")).unwrap();
        let (file, message) = checkpoint_error(&dir.0);
        assert_eq!(file, dir.path(INDEX_FILE));
        assert!(message.contains("model-00002-of-00002.safetensors") && message.contains("layer.1.w"), "{message}");
    }

    #[test]
    fn index_pointing_at_the_wrong_shard_is_rejected() {
        let dir = TempDir::new("wrongshard");
        write_sharded(&dir);
        let index = r#"{"weight_map": {"layer.0.w": "model-00002-of-00002.safetensors"}}"#;
        std::fs::write(dir.path(INDEX_FILE), index).unwrap();
        let (_, message) = checkpoint_error(&dir.0);
        assert!(message.contains("layer.0.w") && message.contains("does not contain"), "{message}");

        std::fs::write(dir.path(INDEX_FILE), "[1, 2]").unwrap();
        let (_, message) = checkpoint_error(&dir.0);
        assert!(message.contains("weight_map"), "{message}");
    }

    #[test]
    fn missing_tensor_and_wrong_shape_or_dtype_name_the_tensor() {
        let dir = TempDir::new("mismatch");
        let path = dir.path("m.safetensors");
        write_sample(&path);
        let ck = Checkpoint::open(&path).unwrap();
        match ck.info("model.embed_tokens.weight") {
            Err(Error::MissingTensor { file, name }) => {
                assert_eq!(file, path);
                assert_eq!(name, "model.embed_tokens.weight");
            }
            other => panic!("expected MissingTensor, got {other:?}"),
        }
        assert!(matches!(ck.host_bytes("zzz"), Err(Error::MissingTensor { .. })));
        match ck.checked_bytes("a", &[3, 2], DType::F32) {
            Err(e @ Error::Shape { .. }) => {
                let m = e.to_string();
                assert!(m.contains("`a`") && m.contains("[3, 2]") && m.contains("[2, 3]"), "{m}");
            }
            other => panic!("expected Shape, got {other:?}"),
        }
        match ck.checked_bytes("b", &[4], DType::F16) {
            Err(e @ Error::DType { .. }) => {
                let m = e.to_string();
                assert!(m.contains("`b`") && m.contains("f16") && m.contains("bf16"), "{m}");
            }
            other => panic!("expected DType, got {other:?}"),
        }
    }

    #[test]
    fn every_dtype_maps_both_ways_and_unsupported_ones_are_named() {
        for d in DType::ALL {
            assert_eq!(dtype_from_safetensors(dtype_to_safetensors(d)), Some(d), "{d}");
        }
        assert_eq!(dtype_from_safetensors(StDtype::F8_E4M3), Some(DType::F8E4M3));
        assert_eq!(dtype_from_safetensors(StDtype::U16), None);
        assert_eq!(dtype_from_safetensors(StDtype::BOOL), None);

        // Every DType survives a file round trip.
        let dir = TempDir::new("dtypes");
        let path = dir.path("all.safetensors");
        let data: Vec<(String, DType, Vec<u8>)> =
            DType::ALL.iter().map(|&d| (format!("t_{d}"), d, host::encode(&[1.0, 2.0, 3.0], d))).collect();
        let list: Vec<(&str, DType, &[usize], &[u8])> =
            data.iter().map(|(n, d, b)| (n.as_str(), *d, &[3usize][..], b.as_slice())).collect();
        write_safetensors(&path, &list).unwrap();
        let ck = Checkpoint::open(&path).unwrap();
        for (name, d, bytes) in &data {
            assert_eq!(ck.info(name).unwrap().dtype, *d);
            assert_eq!(ck.host_bytes(name).unwrap(), bytes.as_slice());
            assert_eq!(ck.host_f32(name).unwrap(), vec![1.0, 2.0, 3.0], "{name}");
        }

        // A dtype we cannot represent: the file opens, and using the tensor names it.
        let raw = [0u8; 4];
        let view = TensorView::new(StDtype::U16, vec![2], &raw).unwrap();
        ::safetensors::serialize_to_file([("odd", view)], None, &path).unwrap();
        let ck = Checkpoint::open(&path).unwrap();
        assert_eq!(ck.names(), vec!["odd"]);
        let err = ck.info("odd").unwrap_err().to_string();
        assert!(err.contains("odd") && err.contains("U16"), "{err}");
    }

    #[test]
    fn writer_rejects_bad_input() {
        let dir = TempDir::new("writer");
        let path = dir.path("w.safetensors");
        let b = [0u8; 8];
        let err = write_safetensors(&path, &[("x", DType::F32, &[3], &b)]).unwrap_err();
        assert!(matches!(err, Error::Shape { .. }) && err.to_string().contains("`x`"), "{err}");
        let err = write_safetensors(&path, &[("x", DType::F32, &[2], &b), ("x", DType::F32, &[2], &b)]).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }
}
