/* libdistill: the umbrella header.  See README.md and docs/. */
#ifndef DISTILL_DISTILL_H
#define DISTILL_DISTILL_H

#include "export.h"
#include "version.h"
#include "status.h"
#include "core.h"
#include "kernels.h"
#include "data.h"
#include "model.h"
#include "optim.h"
#include "io.h"
#include "krrst.h"
#include "transfer.h"
#include "ssl.h"
#include "teacher.h"
#include "kd.h"

#endif /* DISTILL_DISTILL_H */
