//! NaFlex inputs as `Siglip2VisionTransformer` takes them: per image a grid of `h × w`
//! patches, each flattened in `(ky, kx, c)` order (what `Siglip2ImageProcessor` produces),
//! right-padded to `max_patches` with a mask.

use fk_runtime::{Error, Result};

#[derive(Clone, Debug, PartialEq)]
pub struct PatchBatch {
    pub batch: usize,
    pub max_patches: usize,
    pub patch_dim: usize,
    /// `[batch, max_patches, patch_dim]`.
    pub pixel_values: Vec<f32>,
    /// `[batch, max_patches]`: true for the `h·w` real patches, which come first.
    pub mask: Vec<bool>,
    /// Each image's patch grid (rows, columns).
    pub spatial_shapes: Vec<(usize, usize)>,
}

impl PatchBatch {
    /// Check sizes and that each image's mask is exactly its first `h·w` patches.
    pub fn new(max_patches: usize, patch_dim: usize, pixel_values: Vec<f32>, mask: Vec<bool>, spatial_shapes: Vec<(usize, usize)>) -> Result<PatchBatch> {
        let batch = spatial_shapes.len();
        if batch == 0 || pixel_values.len() != batch * max_patches * patch_dim || mask.len() != batch * max_patches {
            return Err(Error::shape("PatchBatch", format!("{batch} images: pixel_values must be {batch}×{max_patches}×{patch_dim}, mask {batch}×{max_patches}")));
        }
        for (b, &(h, w)) in spatial_shapes.iter().enumerate() {
            let n = h * w;
            if n == 0 || n > max_patches {
                return Err(Error::bad_input("PatchBatch", format!("image {b}: spatial shape {h}×{w} must have 1..={max_patches} patches")));
            }
            if (0..max_patches).any(|t| mask[b * max_patches + t] != (t < n)) {
                return Err(Error::bad_input("PatchBatch", format!("image {b}: the mask must mark exactly the first {h}×{w} = {n} patches")));
            }
        }
        Ok(PatchBatch { batch, max_patches, patch_dim, pixel_values, mask, spatial_shapes })
    }

    /// Patchify CHW images (each `(height, width, pixels)`, `channels` planes) with
    /// `patch`-sized patches and pad to `max_patches`. Sizes that are not multiples of the
    /// patch are errors (the processor resizes first; we do not guess).
    /// A patch row is (ky, kx, c) as Siglip2ImageProcessor flattens it. The output is
    /// allocated once (zeros = padding) and filled by index, one source row segment of
    /// `patch` pixels at a time: this runs on the host for every batch the embedding engine
    /// forms, and an element-wise `extend` took ~100 ms for 32 images of 256² (run 17).
    pub fn from_images<P: AsRef<[f32]>>(images: &[(usize, usize, P)], channels: usize, patch: usize, max_patches: usize) -> Result<PatchBatch> {
        let pd = channels * patch * patch;
        let mut pixel_values = vec![0f32; images.len() * max_patches * pd];
        let (mut mask, mut shapes) = (Vec::with_capacity(images.len() * max_patches), Vec::with_capacity(images.len()));
        for (b, (h, w, px)) in images.iter().enumerate() {
            let (h, w, px) = (*h, *w, px.as_ref());
            if patch == 0 || h % patch != 0 || w % patch != 0 || h == 0 || w == 0 {
                return Err(Error::bad_input("PatchBatch", format!("image {b}: size {h}×{w} is not a positive multiple of patch_size {patch}")));
            }
            if px.len() != channels * h * w {
                return Err(Error::shape("PatchBatch", format!("image {b}: {} values for {channels}×{h}×{w}", px.len())));
            }
            let (gh, gw) = (h / patch, w / patch);
            if gh * gw > max_patches {
                return Err(Error::bad_input("PatchBatch", format!("image {b}: {gh}×{gw} patches exceed max_patches {max_patches}")));
            }
            let image = &mut pixel_values[b * max_patches * pd..(b + 1) * max_patches * pd];
            for py in 0..gh {
                for pxi in 0..gw {
                    let dst = &mut image[(py * gw + pxi) * pd..(py * gw + pxi + 1) * pd];
                    for (ky, seg) in dst.chunks_exact_mut(patch * channels).enumerate() {
                        for c in 0..channels {
                            let src = &px[(c * h + py * patch + ky) * w + pxi * patch..][..patch];
                            for (d, &v) in seg[c..].iter_mut().step_by(channels).zip(src) {
                                *d = v;
                            }
                        }
                    }
                }
            }
            mask.extend((0..max_patches).map(|t| t < gh * gw));
            shapes.push((gh, gw));
        }
        PatchBatch::new(max_patches, pd, pixel_values, mask, shapes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_order_is_row_col_channel_and_bad_sizes_fail() {
        // 2 channels, 2×4 image, patch 2: patch (0, 1) holds pixels x = 2, 3 of rows 0, 1.
        let px: Vec<f32> = (0..16).map(|i| i as f32).collect(); // c*8 + y*4 + x
        let b = PatchBatch::from_images(&[(2, 4, px.clone())], 2, 2, 3).unwrap();
        assert_eq!(b.spatial_shapes, [(1, 2)]);
        assert_eq!(&b.pixel_values[8..16], &[2.0, 10.0, 3.0, 11.0, 6.0, 14.0, 7.0, 15.0]);
        assert_eq!(b.mask, [true, true, false]);
        let e = PatchBatch::from_images(&[(3, 4, vec![0.0; 24])], 2, 2, 8).unwrap_err().to_string();
        assert!(e.contains("3×4") && e.contains("patch_size 2"), "{e}");
        let e = PatchBatch::from_images(&[(2, 4, px)], 2, 2, 1).unwrap_err().to_string();
        assert!(e.contains("exceed max_patches"), "{e}");
    }
}
