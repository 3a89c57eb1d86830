#ifndef PGSWEEP_CLIBPQ_SHIM_H
#define PGSWEEP_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
