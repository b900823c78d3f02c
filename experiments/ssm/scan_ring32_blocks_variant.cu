// run 141's variant: the product with the cluster ring kernel's registers fitted for
// RING32_BLOCKS CTAs per SM (given with -D).
#undef FK_RING32_BLOCKS
#define FK_RING32_BLOCKS RING32_BLOCKS
#include "../../baselines/kernels/selective_scan.cu"
#undef FK_RING32_BLOCKS
