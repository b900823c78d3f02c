// run 118's variants: the product with the ring kernel at 8 tokens per warp (32-token chunks)
// and RING8_BLOCKS blocks per SM (given with -D).
#undef FK_RING_TOK
#undef FK_RING_BLOCKS
#define FK_RING_TOK 8
#define FK_RING_BLOCKS RING8_BLOCKS
#include "../../baselines/kernels/selective_scan.cu"
#undef FK_RING_TOK
#undef FK_RING_BLOCKS
