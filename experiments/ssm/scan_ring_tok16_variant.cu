// run 118's reference variant: the ring kernel as run 116 tested it (16 tokens per warp, 5 blocks
// per SM), against a product built with other FK_RING_TOK / FK_RING_BLOCKS defaults (run 118:
// 8 and 7; these are the defaults again since).
#undef FK_RING_TOK
#undef FK_RING_BLOCKS
#define FK_RING_TOK 16
#define FK_RING_BLOCKS 5
#include "../../baselines/kernels/selective_scan.cu"
#undef FK_RING_TOK
#undef FK_RING_BLOCKS
