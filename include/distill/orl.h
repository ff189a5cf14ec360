/* libdistill: dataset distillation for offline RL (docs/orl.md).
 *
 * A few synthetic states, each with a fixed action label, learned so that
 * the behaviour-cloning gradient of a network on them matches its gradient
 * on the real offline data, action by action (gradient matching; Light, Liu
 * and Hu 2024).  A student trained by BC (distill_bc_train) on the m
 * distilled states then acts far better than one trained on m real states.
 *
 * The real data is a dataset whose y starts with the action (a trajectory
 * dataset from distill_env_rollout, or any labelled set: class = action).
 *
 * CONTINUOUS ACTIONS (n_actions = 0): the network outputs the action (as
 * many outputs as the action has floats), the BC loss is squared error,
 * and there is one bucket: the m states start as random real states with
 * their actions, which stay fixed or, with learn_actions, are learned too.
 * angle_pairs keeps states valid whose first observations are (cos, sin)
 * pairs (Pendulum): the solver learns the angle and maps it onto the
 * circle, instead of moving cos and sin apart (docs/orl.md).
 * The m synthetic states are split over the actions present in the data
 * (evenly, the remainder to the first actions); each bucket starts as
 * random real states of its action, whose label it keeps.  Every outer step
 * sums, over the buckets, ||g_s - g_r||^2 of the BC loss's parameter
 * gradients on the bucket's synthetic states (g_s) and on a batch of real
 * states of that action (g_r), and moves the states down its gradient with
 * Adam.  The network gradients are matched on is fixed (DISTILL_ORL_FIXED),
 * freshly initialised every step (DISTILL_ORL_REINIT, the default: best in
 * our prototype) or a student trained on the synthetic set between steps
 * (DISTILL_ORL_STUDENT, the reference code's; the weakest).
 *
 * Results are bit-identical for the same seed and thread count, and a
 * checkpoint resumes bit-identically. */
#ifndef DISTILL_ORL_H
#define DISTILL_ORL_H

#include <stddef.h>
#include <stdint.h>

#include "core.h"
#include "data.h"
#include "export.h"
#include "model.h"
#include "rl.h"
#include "status.h"

DISTILL_BEGIN_DECLS

typedef struct distill_orl distill_orl;

#define DISTILL_ORL_FIXED 0   /* one random network, fixed (variant A) */
#define DISTILL_ORL_REINIT 1  /* a fresh initialisation every outer step (variant C) */
#define DISTILL_ORL_STUDENT 2 /* a student trained on the synthetic set between steps (variant B) */

typedef struct distill_orl_options {
    uint32_t struct_size;             /* sizeof(distill_orl_options) */
    int32_t variant;                  /* DISTILL_ORL_* (REINIT) */
    int64_t m;                        /* synthetic states (10) */
    int64_t n_actions;                /* discrete actions in the data's first y column, 2 .. 256;
                                         0: continuous actions (the network's outputs) */
    int32_t loss;                     /* DISTILL_BC_MSE (the paper's), _MAE or _XENT (discrete) */
    int32_t learn_actions;            /* continuous: learn the actions too (0) */
    const distill_layer_spec *layers; /* the network matched on: the state in, n_actions logits out */
    int64_t n_layers;
    int64_t batch;                    /* real states per action per step (256); 0: the whole bucket */
    int64_t steps;                    /* outer steps for distill_orl_run(orl, 0) (500) */
    double lr;                        /* Adam on the states (0.01) */
    int64_t student_steps;            /* DISTILL_ORL_STUDENT: BC steps between outer steps (10) */
    double student_lr;                /* DISTILL_ORL_STUDENT: Adam (0.005) */
    const float *obs_low, *obs_high;  /* keep the states inside this box (NULL: unbounded); copied */
    int64_t angle_pairs;              /* the first 2 x angle_pairs observations are (cos, sin) pairs (0) */
} distill_orl_options;

DISTILL_API void distill_orl_options_init(distill_orl_options *opts);
DISTILL_API size_t distill_orl_options_size(void);

/* real: the offline data (x: states, shaped as the network's input; y: the
 * action index first).  The solver keeps a reference to `real`, which must
 * outlive it. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_orl_create(distill_context *ctx, const distill_orl_options *opts, distill_dataset *real,
                   distill_orl **out);
DISTILL_API void distill_orl_destroy(distill_orl *orl);

/* One outer step; *loss (may be NULL) is the matching loss before it. */
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_step(distill_orl *orl, double *loss);
/* Steps until `until` are done (0: the options' steps; negative is
 * DISTILL_E_INVAL), with progress and cancellation between steps. */
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_run(distill_orl *orl, int64_t until);
DISTILL_API int64_t distill_orl_steps_done(const distill_orl *orl);

/* The matching loss at the current states for the next step's network and
 * its gradients with respect to the states (m x state size, ldd; with
 * angle_pairs, still with respect to the observations) and, for continuous
 * actions, the actions (m x action floats, lda); changes nothing.  Either
 * gradient may be NULL; dactions must be NULL for discrete actions. */
DISTILL_API DISTILL_NODISCARD distill_status
distill_orl_gradient(distill_orl *orl, double *loss, float *dstates, int64_t ldd, float *dactions, int64_t lda);
/* Replace the synthetic states (m x state size, ld); outside the box is
 * DISTILL_E_INVAL (with angle_pairs, a pair is put back on the circle).
 * The optimiser's moments are kept. */
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_set_states(distill_orl *orl, const float *states,
                                                                    int64_t ld);
/* Replace continuous actions (m x action floats, ld); discrete labels are
 * fixed (DISTILL_E_INVAL). */
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_set_actions(distill_orl *orl, const float *actions,
                                                                     int64_t ld);

/* The synthetic states (m x state size) and their actions (m x action
 * floats: 1 for discrete, the index), owned by the solver and valid until
 * its next step, resume or destroy. */
DISTILL_API const float *distill_orl_states(const distill_orl *orl);
DISTILL_API const float *distill_orl_actions(const distill_orl *orl);
DISTILL_API void distill_orl_shape(const distill_orl *orl, int64_t *m, int64_t *state_dim, int64_t *action_dim);
/* The network of the next step (variant A: the fixed one; B: the student). */
DISTILL_API const distill_model *distill_orl_network(const distill_orl *orl);

/* The distilled set as a new dataset (x: states with the real data's shape,
 * y: the action), ready for distill_bc_train. */
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_dataset(const distill_orl *orl, distill_dataset **out);

/* A checkpoint (resumes bit-identically, under the same options, data and
 * context seed); the distilled set as a distilled-set file (read back by
 * distill_distilled_load) and as .npy arrays (either path may be NULL). */
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_checkpoint(const distill_orl *orl, const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_resume(distill_orl *orl, const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_save(const distill_orl *orl, const char *path);
DISTILL_API DISTILL_NODISCARD distill_status distill_orl_save_npy(const distill_orl *orl, const char *states_path,
                                                                  const char *actions_path);

DISTILL_END_DECLS

#endif /* DISTILL_ORL_H */
