/*
 * bpr.c - instantiates the BPR loss and regulariser (bpr_impl.h) for float
 * and double.
 */
#include "bpr.h"

#include <math.h>

#define SUF f32
#define REAL float
#include "bpr_impl.h"
#undef SUF
#undef REAL

#define SUF f64
#define REAL double
#include "bpr_impl.h"
#undef SUF
#undef REAL
