//! Element types. `code()` is the ABI value of `fk_dtype` in `baselines/include/fk/dtype.h`.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F16,
    BF16,
    F8E4M3,
    F8E5M2,
    I32,
    I64,
    U8,
    F64,
}

impl DType {
    pub const ALL: [DType; 9] =
        [DType::F32, DType::F16, DType::BF16, DType::F8E4M3, DType::F8E5M2, DType::I32, DType::I64, DType::U8, DType::F64];

    /// The float types the elementwise/norm baselines accept.
    pub const FLOATS: [DType; 3] = [DType::F32, DType::F16, DType::BF16];

    /// Value of the matching `fk_dtype` enumerator in C.
    pub const fn code(self) -> i32 {
        match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::BF16 => 2,
            DType::F8E4M3 => 3,
            DType::F8E5M2 => 4,
            DType::I32 => 5,
            DType::I64 => 6,
            DType::U8 => 7,
            DType::F64 => 8,
        }
    }

    pub const fn size(self) -> usize {
        match self {
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::F8E4M3 | DType::F8E5M2 | DType::U8 => 1,
            DType::I64 | DType::F64 => 8,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::F8E4M3 => "f8e4m3",
            DType::F8E5M2 => "f8e5m2",
            DType::I32 => "i32",
            DType::I64 => "i64",
            DType::U8 => "u8",
            DType::F64 => "f64",
        }
    }

    /// Unit roundoff u = 2^-(stored mantissa bits + 1): the largest relative error of rounding
    /// a real to this type (one unit in the last place at 1.0 is 2u). 0 for integers.
    pub fn unit_roundoff(self) -> f64 {
        match self {
            DType::F64 => 2f64.powi(-53),
            DType::F32 => 2f64.powi(-24),
            DType::F16 => 2f64.powi(-11),
            DType::BF16 => 2f64.powi(-8),
            DType::F8E4M3 => 2f64.powi(-4),
            DType::F8E5M2 => 2f64.powi(-3),
            DType::I32 | DType::I64 | DType::U8 => 0.0,
        }
    }

    pub const fn is_float(self) -> bool {
        !matches!(self, DType::I32 | DType::I64 | DType::U8)
    }

    pub fn parse(s: &str) -> Option<DType> {
        Some(match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "fp32" => DType::F32,
            "f16" | "float16" | "fp16" | "half" => DType::F16,
            "bf16" | "bfloat16" => DType::BF16,
            "f8e4m3" | "fp8_e4m3" | "float8_e4m3fn" => DType::F8E4M3,
            "f8e5m2" | "fp8_e5m2" | "float8_e5m2" => DType::F8E5M2,
            "i32" | "int32" => DType::I32,
            "i64" | "int64" => DType::I64,
            "u8" | "uint8" => DType::U8,
            "f64" | "float64" => DType::F64,
            _ => return None,
        })
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_roundoff_is_half_the_gap_above_one() {
        assert_eq!(DType::F32.unit_roundoff(), f64::from(f32::EPSILON) / 2.0);
        assert_eq!(DType::F64.unit_roundoff(), f64::EPSILON / 2.0);
        assert_eq!(DType::F16.unit_roundoff(), 1.0 / 2048.0); // 10 stored mantissa bits
        assert_eq!(DType::BF16.unit_roundoff(), 1.0 / 256.0); // 7
        assert_eq!(DType::I32.unit_roundoff(), 0.0);
    }

    #[test]
    fn codes_are_distinct_and_parse_round_trips() {
        let mut codes: Vec<i32> = DType::ALL.iter().map(|d| d.code()).collect();
        codes.sort();
        codes.dedup();
        assert_eq!(codes.len(), DType::ALL.len());
        for d in DType::ALL {
            assert_eq!(DType::parse(d.name()), Some(d));
        }
        assert_eq!(DType::parse("bfloat16"), Some(DType::BF16));
        assert_eq!(DType::parse("complex64"), None);
    }
}
