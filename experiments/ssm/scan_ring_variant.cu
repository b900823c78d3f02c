// run 110's variant: the product file with the ring kernel (selective_scan_ring.cuh) enabled.
#define FK_SELECTIVE_SCAN_RING 1
#include "../../baselines/kernels/selective_scan.cu"
#undef FK_SELECTIVE_SCAN_RING
