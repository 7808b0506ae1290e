// Distributed: data parallelism over MPI. Every rank holds the whole model, takes different micro-batches of
// the same global batch, and the gradients are summed across ranks (MPI_Allreduce in buckets) before clipping
// and the optimizer step, so every rank applies the identical update and the result equals one process
// running the whole global batch (up to float summation order).
//
// MPI is initialised only when the process was started by a launcher (mpirun/srun set OMPI_COMM_WORLD_SIZE,
// PMIX_RANK or PMI_SIZE); a plain `finmerge cpt` runs as a world of one without touching MPI. Builds without
// MPI (FINMERGE_WITH_MPI undefined) always run as a world of one and reject a multi-rank launch.
//
// Not thread-safe: call from the main thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/status.h"

namespace fm {

class Distributed {
 public:
  // The process-wide instance; initialises MPI on first use when launched under mpirun. Finalises at exit.
  static Distributed& Get();

  int rank() const { return rank_; }
  int world_size() const { return world_; }
  bool is_root() const { return rank_ == 0; }
  // Ranks sharing this machine (OMPI_COMM_WORLD_LOCAL_SIZE), to split the cores between them.
  int local_size() const { return local_size_; }
  // Ok, or the reason a multi-rank launch cannot run (MPI missing from this build).
  const Status& init_status() const { return init_status_; }

  // In-place sum across ranks, in buckets of at most `kBucketFloats` so no temporary grows with the model.
  static constexpr size_t kBucketFloats = size_t{1} << 22;  // 16 MB of f32
  void AllReduceSum(float* data, size_t n);
  void AllReduceSum(double* data, size_t n);
  void AllReduceSum(int64_t* data, size_t n);
  // Rank 0's `status` on every rank (for errors only rank 0 can see, e.g. writing the output), so all ranks
  // stop together instead of waiting forever in the next collective.
  Status BroadcastStatus(const Status& status);
  void Barrier();

  ~Distributed();

 private:
  Distributed();
  int rank_ = 0, world_ = 1, local_size_ = 1;
  bool mpi_ = false;
  Status init_status_;
};

}  // namespace fm
