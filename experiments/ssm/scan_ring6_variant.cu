// run 117's variant: the product with the ring kernel built for 6 blocks per SM (80 registers).
#define FK_SELECTIVE_SCAN_RING_BLOCKS 6
#include "../../baselines/kernels/selective_scan.cu"
#undef FK_SELECTIVE_SCAN_RING_BLOCKS
