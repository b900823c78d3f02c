//! A batch of same-sized images, NCHW f32 (what an image processor returns as
//! `pixel_values`).

use fk_baselines::reference::PatchGeometry;
use fk_runtime::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct ImageBatch {
    pub batch: usize,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `[batch, channels, height, width]`.
    pub pixels: Vec<f32>,
}

impl ImageBatch {
    pub fn new(batch: usize, channels: usize, height: usize, width: usize, pixels: Vec<f32>) -> Result<ImageBatch> {
        if pixels.len() != batch * channels * height * width || batch == 0 {
            return Err(Error::shape("ImageBatch", format!("{} pixel values for {batch}×{channels}×{height}×{width}", pixels.len())));
        }
        Ok(ImageBatch { batch, channels, height, width, pixels })
    }

    /// The patch geometry for `patch`, with the image size checked to be a multiple of it.
    pub fn patches(&self, patch: usize, expected_channels: usize) -> Result<PatchGeometry> {
        if self.channels != expected_channels {
            return Err(Error::bad_input("ImageBatch", format!("images have {} channels, the model takes num_channels {expected_channels}", self.channels)));
        }
        let g = PatchGeometry { batch: self.batch, channels: self.channels, height: self.height, width: self.width, patch };
        g.grid()?;
        Ok(g)
    }
}
