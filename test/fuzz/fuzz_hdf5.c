/* libFuzzer target (HDF5 builds): the D4RL/Minari reader on a file image
 * must return a status for any bytes and leak nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "distill/distill.h"
#include "fuzz_util.h"
#include "rl/internal.h"
#include "../hdf5/h5_files.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
    distill_dataset *d = NULL;
    if (distill__trajectories_from_hdf5_image(fuzz_context(), data, size, &d) == DISTILL_OK)
        distill_dataset_destroy(d);
    return 0;
}

/* Seeds: a D4RL and a Minari file written with the HDF5 C API. */
size_t fuzz_seed(int i, unsigned char *buf, size_t cap)
{
    if (i > 1)
        return 0;
    if (!(i ? h5_write_minari(fuzz_scratch()) : h5_write_d4rl(fuzz_scratch())))
        abort();
    return fuzz_take_scratch(buf, cap);
}
