/* libdistill: the umbrella header (the stable API; experimental.h is
 * included by name).  See README.md and docs/. */
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
#include "teacher.h"
#include "env.h"
#include "rl.h"
#include "policy.h"
#include "diffusion.h"
#include "vdd.h"
#include "orl.h"
#include "ssl.h"
#include "krrst.h"
#include "kd.h"
#include "mask.h"

#endif /* DISTILL_DISTILL_H */
