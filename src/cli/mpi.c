/* The distill program's MPI ranks (`make MPI=1`): data-parallel KRR-ST
 * through the solver's allreduce hook.  Without MPI, --mpi says so. */
#include "cli.h"

#ifdef DISTILL_HAVE_MPI
#include <limits.h>
#include <mpi.h>

int cli_mpi_init(int *rank, int *world)
{
    int started = 0;
    if (MPI_Initialized(&started) != MPI_SUCCESS || (!started && MPI_Init(NULL, NULL) != MPI_SUCCESS))
        return -1;
    if (MPI_Comm_rank(MPI_COMM_WORLD, rank) != MPI_SUCCESS || MPI_Comm_size(MPI_COMM_WORLD, world) != MPI_SUCCESS)
        return -1;
    return 0;
}

/* Sums buf over the ranks in place (in chunks an int can count). */
int cli_mpi_allreduce(void *user, float *buf, int64_t count)
{
    (void)user;
    while (count > 0) {
        const int chunk = count > INT_MAX ? INT_MAX : (int)count;
        if (MPI_Allreduce(MPI_IN_PLACE, buf, chunk, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return -1;
        buf += chunk, count -= chunk;
    }
    return 0;
}

void cli_mpi_finalize(void)
{
    int started = 0, done = 0;
    if (MPI_Initialized(&started) == MPI_SUCCESS && started && MPI_Finalized(&done) == MPI_SUCCESS && !done)
        MPI_Finalize();
}

#else

int cli_mpi_init(int *rank, int *world)
{
    *rank = 0, *world = 1;
    fprintf(stderr, "distill: --mpi needs the program built with MPI (make MPI=1, Debian libopenmpi-dev)\n");
    return -1;
}

int cli_mpi_allreduce(void *user, float *buf, int64_t count)
{
    (void)user, (void)buf, (void)count;
    return -1;
}

void cli_mpi_finalize(void) {}

#endif
