#ifndef PGSWEEP_CZSTD_SHIM_H
#define PGSWEEP_CZSTD_SHIM_H
#include <zstd.h>
#include <zstd_errors.h>
#endif
