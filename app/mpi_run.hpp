// `layerpipe run --mpi`: the run's stages spread over the MPI ranks that mpirun started
// (docs/mpi.md). Every rank trains its stages; rank 0 prints and writes the run folder.
// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include "app/run_command.hpp"

namespace lp::app {

// Runs `options` as one rank of an MPI run; returns the exit code as runRun does. A failure that
// every rank sees alike (bad flags, config or data; more ranks than stages; ranks given different
// arguments) is an InputError on every rank. A failure of one rank during training ends every
// rank (MPI_Abort) after printing the rank, its host and the cause. In a build without MPI:
// InputError saying so and how to get one.
int runMpi(const RunOptions& options);

// InputError when mpirun (or srun) started this process among several ranks without --mpi:
// each rank would train the whole model into the same folder.
void rejectMpiLaunch();

}  // namespace lp::app
