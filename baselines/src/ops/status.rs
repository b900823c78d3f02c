//! A device-side `fk_status` for ops that can meet bad data (out-of-range ids/positions).
//! Kernels record offenders without a host round trip; the host checks when it chooses.

use crate::ffi::FkStatus;
use fk_runtime::{DType, Device, Error, Result, Tensor};

pub struct DeviceStatus {
    buf: Tensor,
}

impl DeviceStatus {
    pub fn new(device: &Device) -> Result<DeviceStatus> {
        let buf = Tensor::zeros(device, &[std::mem::size_of::<FkStatus>()], DType::U8)?;
        Ok(DeviceStatus { buf })
    }

    pub fn ptr(&self) -> u64 {
        self.buf.ptr()
    }

    pub fn device(&self) -> &Device {
        self.buf.device()
    }

    /// Wait for the stream and read (offending rows, first offending row).
    pub fn read(&self) -> Result<(u64, Option<u64>)> {
        let b = self.buf.to_bytes()?;
        let count = u64::from_le_bytes(b[0..8].try_into().expect("16-byte status"));
        let first = u64::from_le_bytes(b[8..16].try_into().expect("16-byte status"));
        Ok((count, (count > 0).then_some(first)))
    }

    /// `Err(BadInput)` naming the first offending row if the last op that used this status
    /// found bad data. `describe(row)` says what was wrong with that row.
    pub fn check(&self, op: &str, describe: impl FnOnce(u64) -> String) -> Result<()> {
        match self.read()? {
            (0, _) => Ok(()),
            (n, Some(row)) => Err(Error::bad_input(op, format!("{n} bad row(s); first: {}", describe(row)))),
            (n, None) => Err(Error::bad_input(op, format!("{n} bad row(s)"))),
        }
    }
}
