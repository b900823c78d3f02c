//! CUDA graphs of decode steps, one per batch size (or batch-size bucket): the first step of a
//! size runs eagerly (so lazy module loading and cuBLASLt plan creation happen outside any
//! capture), then the same launches on the same buffers are captured; later steps of that
//! size replay the graph. Used by [`crate::Generator`] and the engine's GPU runner.

use fk_runtime::{Device, Graph, Result};
use std::collections::HashMap;

pub struct DecodeGraphs {
    enabled: bool,
    graphs: HashMap<usize, Graph>,
}

impl DecodeGraphs {
    pub fn new(enabled: bool) -> DecodeGraphs {
        DecodeGraphs { enabled, graphs: HashMap::new() }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    /// Graphs captured so far.
    pub fn len(&self) -> usize {
        self.graphs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.graphs.is_empty()
    }

    /// Run `step` for batch key `key`: eagerly when graphs are off, else by replaying the
    /// graph captured for `key` (capturing it after one eager run on first use). `step` must
    /// enqueue the same launches on the same buffers every time for a given key; inputs
    /// that change between steps must already be in those buffers.
    pub fn run(&mut self, dev: &Device, key: usize, step: impl Fn() -> Result<()>) -> Result<()> {
        if !self.enabled {
            return step();
        }
        if let Some(graph) = self.graphs.get(&key) {
            return graph.launch();
        }
        // The eager run already produced this step (a replay would write the same values),
        // so the capture is not replayed now.
        step()?;
        dev.synchronize()?;
        let graph = Graph::capture(dev, step)?;
        self.graphs.insert(key, graph);
        Ok(())
    }
}
