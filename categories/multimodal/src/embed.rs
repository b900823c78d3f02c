//! The ViT family's side of the embedding engine (`fk_runtime::embed`): image requests of
//! one resolution → an [`ImageBatch`] on the host or, as the encoders run them, an f32 NCHW
//! tensor on the GPU; and the per-request image check (channels, size a multiple of the patch)
//! every ViT encoder needs.

use crate::ImageBatch;
use fk_runtime::embed::{EmbedInput, PIPELINE_SLOTS};
use fk_runtime::pinned::{AsyncDownload, PinnedBuffer};
use fk_runtime::{DType, Device, Error, Result, Tensor};
use std::sync::Mutex;

/// A batch's image requests, checked: all images, one resolution (the batcher's grouping),
/// at least one.
struct SameSizeImages<'a> {
    /// `(channels, height, width)`.
    size: (usize, usize, usize),
    pixels: Vec<&'a [f32]>,
}

fn same_size_images<'a>(inputs: &[&'a EmbedInput]) -> Result<SameSizeImages<'a>> {
    let mut size = None;
    let mut pixels = Vec::with_capacity(inputs.len());
    for (i, x) in inputs.iter().enumerate() {
        let EmbedInput::Image { channels, height, width, pixels: p } = x else {
            return Err(Error::bad_input("image_batch", format!("request {i} is text, the model takes images")));
        };
        let s = (*channels, *height, *width);
        if *size.get_or_insert(s) != s {
            return Err(Error::bad_input("image_batch", format!("request {i} is {channels}×{height}×{width}, the batch's first image {:?}: one resolution per batch", size)));
        }
        pixels.push(p.as_slice());
    }
    let Some(size) = size else {
        return Err(Error::bad_input("image_batch", "empty batch"));
    };
    Ok(SameSizeImages { size, pixels })
}

/// The image requests of one batch as host NCHW.
pub fn image_batch(inputs: &[&EmbedInput]) -> Result<ImageBatch> {
    let SameSizeImages { size: (c, h, w), pixels } = same_size_images(inputs)?;
    ImageBatch::new(inputs.len(), c, h, w, pixels.concat())
}

/// The image requests of one batch as an f32 `[batch, channels, height, width]` tensor on
/// `dev`, each request uploaded from its own buffer. This is the encoders' hot path: no host
/// concatenation and no host f32 → bf16 pass (both cost tens of ms per batch of 32 images of
/// 256² on one host core, more than the GPU forward); the patch embedding's im2col converts
/// on the GPU as it reads.
pub fn upload_images(dev: &Device, inputs: &[&EmbedInput]) -> Result<Tensor> {
    let SameSizeImages { size: (c, h, w), pixels } = same_size_images(inputs)?;
    let t = Tensor::empty(dev, &[pixels.len(), c, h, w], DType::F32)?;
    for (i, p) in pixels.iter().enumerate() {
        t.narrow(0, i, 1)?.write_f32(p)?;
    }
    Ok(t)
}

/// Page-locked staging slots (`PIPELINE_SLOTS` of them) for an image encoder's pipelined path
/// (`fk_runtime::embed::PipelinedEncoder`): `stage` copies a batch's pixels into a slot on the
/// host (waiting only for that slot's previous upload, if it is still running), `upload` sends
/// the slot to a new f32 `[batch, C, H, W]` tensor as a DMA in stream order, without waiting;
/// `download` enqueues the batch's result into the slot's page-locked output and `collect`
/// waits for that copy alone (not for batches queued after it). Allocated on first use and
/// grown to the largest batch seen.
#[derive(Default)]
pub struct ImageStaging {
    slots: [Mutex<Option<Staged>>; PIPELINE_SLOTS],
}

struct Staged {
    buffer: PinnedBuffer,
    /// The batch's result, once `download` has enqueued it.
    out: AsyncDownload,
    /// The batch in the buffer: images and `(channels, height, width)`.
    batch: usize,
    size: (usize, usize, usize),
}

impl ImageStaging {
    fn slot(&self, slot: usize) -> Result<std::sync::MutexGuard<'_, Option<Staged>>> {
        let m = self.slots.get(slot).ok_or_else(|| Error::bad_input("ImageStaging", format!("slot {slot} (there are {PIPELINE_SLOTS})")))?;
        Ok(m.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Copy `inputs`' pixels (one resolution) into `slot` on the host.
    pub fn stage(&self, dev: &Device, slot: usize, inputs: &[&EmbedInput]) -> Result<()> {
        let SameSizeImages { size: (c, h, w), pixels } = same_size_images(inputs)?;
        let per = c * h * w;
        if let Some((i, p)) = pixels.iter().enumerate().find(|(_, p)| p.len() != per) {
            return Err(Error::shape("ImageStaging", format!("request {i} has {} pixel values for {c}×{h}×{w}", p.len())));
        }
        let n = pixels.len() * per;
        let mut guard = self.slot(slot)?;
        if guard.as_ref().is_none_or(|s| s.buffer.bytes() < 4 * n) {
            // Dropping the old buffer waits for its last upload.
            *guard = None;
            *guard = Some(Staged { buffer: PinnedBuffer::new(dev, 4 * n)?, out: AsyncDownload::default(), batch: 0, size: (0, 0, 0) });
        }
        let staged = guard.as_mut().expect("allocated above");
        let host = staged.buffer.host_f32_mut(n)?;
        for (dst, p) in host.chunks_exact_mut(per).zip(&pixels) {
            dst.copy_from_slice(p);
        }
        staged.batch = pixels.len();
        staged.size = (c, h, w);
        Ok(())
    }

    /// The batch staged in `slot` as an f32 `[batch, C, H, W]` tensor on `dev`; the copy is
    /// enqueued on the device stream, not waited for. `inputs` must be the staged batch.
    pub fn upload(&self, dev: &Device, slot: usize, inputs: &[&EmbedInput]) -> Result<Tensor> {
        let SameSizeImages { size, pixels } = same_size_images(inputs)?;
        let mut guard = self.slot(slot)?;
        let staged = match guard.as_mut() {
            Some(s) if s.batch == pixels.len() && s.size == size => s,
            _ => return Err(Error::bad_input("ImageStaging", format!("slot {slot} does not hold this batch of {} images of {size:?}: stage it first", pixels.len()))),
        };
        let (c, h, w) = size;
        let t = Tensor::empty(dev, &[pixels.len(), c, h, w], DType::F32)?;
        staged.buffer.upload_async(&t)?;
        Ok(t)
    }

    /// Enqueue the copy of `result` (`[rows, cols]`) into `slot`'s page-locked output, after
    /// everything queued so far; nothing waits.
    pub fn download(&self, slot: usize, result: &Tensor) -> Result<()> {
        let mut guard = self.slot(slot)?;
        let staged = guard.as_mut().ok_or_else(|| Error::bad_input("ImageStaging", format!("slot {slot} was never staged")))?;
        staged.out.enqueue(result)
    }

    /// The rows `download` sent to `slot` (f32, row-major) and their width, once that copy
    /// (and only it) has completed.
    pub fn collect(&self, slot: usize) -> Result<(Vec<f32>, usize)> {
        let mut guard = self.slot(slot)?;
        let staged = guard.as_mut().ok_or_else(|| Error::bad_input("ImageStaging", format!("slot {slot} was never staged")))?;
        staged.out.collect()
    }
}

/// One image request checked for a model with `num_channels` and `patch_size`.
pub fn check_image(input: &EmbedInput, num_channels: usize, patch_size: usize) -> Result<()> {
    match input {
        EmbedInput::Image { channels, height, width, .. } => {
            if *channels != num_channels {
                return Err(Error::bad_input("embed", format!("image has {channels} channels, the model takes num_channels {num_channels}")));
            }
            if *height == 0 || *width == 0 || height % patch_size != 0 || width % patch_size != 0 {
                return Err(Error::bad_input("embed", format!("image size {height}×{width} is not a positive multiple of patch_size {patch_size}")));
            }
            Ok(())
        }
        EmbedInput::Text { .. } => Err(Error::bad_input("embed", "a text request for an image model")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn img(c: usize, h: usize, w: usize, v: f32) -> EmbedInput {
        EmbedInput::Image { channels: c, height: h, width: w, pixels: vec![v; c * h * w] }
    }

    #[test]
    fn batches_and_checks() {
        let b = image_batch(&[&img(3, 4, 8, 1.0), &img(3, 4, 8, 2.0)]).unwrap();
        assert_eq!((b.batch, b.channels, b.height, b.width), (2, 3, 4, 8));
        assert_eq!(b.pixels[96], 2.0);
        let e = image_batch(&[&img(3, 4, 8, 1.0), &img(3, 8, 4, 1.0)]).unwrap_err().to_string();
        assert!(e.contains("one resolution per batch"), "{e}");
        assert!(check_image(&img(3, 32, 48, 0.0), 3, 16).is_ok());
        let e = check_image(&img(3, 30, 48, 0.0), 3, 16).unwrap_err().to_string();
        assert!(e.contains("30×48 is not a positive multiple of patch_size 16"), "{e}");
        let e = check_image(&img(1, 32, 32, 0.0), 3, 16).unwrap_err().to_string();
        assert!(e.contains("1 channels"), "{e}");
        assert!(check_image(&EmbedInput::text(vec![1]), 3, 16).is_err());
    }
}
