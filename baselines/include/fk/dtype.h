/* dtype codes shared by every launcher contract and by fk-runtime's `DType::code()`.
 * Plain C so a contract header can be read by any C/C++ compiler. The numbers are ABI:
 * never renumber, only append. */
#pragma once
#include <stdint.h>

typedef enum fk_dtype {
    FK_DTYPE_F32 = 0,
    FK_DTYPE_F16 = 1,
    FK_DTYPE_BF16 = 2,
    FK_DTYPE_F8E4M3 = 3,
    FK_DTYPE_F8E5M2 = 4,
    FK_DTYPE_I32 = 5,
    FK_DTYPE_I64 = 6,
    FK_DTYPE_U8 = 7,
    FK_DTYPE_F64 = 8
} fk_dtype;

/* Device-side status word for ops that can meet bad *data* (not bad shapes): an
 * out-of-range token id or position. The launcher resets it; the kernel counts offenders
 * and keeps the smallest offending row, so the host can name it in an error. */
typedef struct fk_status {
    unsigned long long bad_count;  /* number of offending rows */
    unsigned long long first_bad;  /* smallest offending row index (UINT64_MAX if none) */
} fk_status;
