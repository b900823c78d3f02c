// The product selective_scan with its ring kernel switched off: every call takes the chunked
// kernel, as before run 116 (the A/B of the two). Runs 110-115 used this file's predecessor,
// scan_ring_variant.cu (commits 22c17a0..), which switched the ring kernel on when it was not
// yet the default.
#define FK_SELECTIVE_SCAN_NO_RING 1
#include "../../baselines/kernels/selective_scan.cu"
#undef FK_SELECTIVE_SCAN_NO_RING
