#include "train/distributed.h"

#include <algorithm>
#include <cstdlib>

#ifdef FINMERGE_WITH_MPI
#include <mpi.h>
#endif

namespace fm {

namespace {

// True when a launcher started this process as one rank of a job.
bool LaunchedByMpi(int* world) {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "SLURM_NTASKS"}) {
    if (const char* v = std::getenv(var)) {
      *world = std::atoi(v);
      return true;
    }
  }
  if (std::getenv("PMIX_RANK") != nullptr) {
    *world = 0;  // unknown until MPI is up
    return true;
  }
  return false;
}

}  // namespace

Distributed& Distributed::Get() {
  static Distributed instance;
  return instance;
}

Distributed::Distributed() {
  int launched_world = 1;
  if (!LaunchedByMpi(&launched_world)) return;
  if (const char* v = std::getenv("OMPI_COMM_WORLD_LOCAL_SIZE")) local_size_ = std::max(1, std::atoi(v));
#ifdef FINMERGE_WITH_MPI
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) MPI_Init(nullptr, nullptr);
  mpi_ = true;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &world_);
#else
  if (launched_world > 1) {
    init_status_ = Status::Unsupported("this finmerge was built without MPI, so it cannot run as " +
                                       std::to_string(launched_world) +
                                       " ranks (install libopenmpi-dev and rebuild, or run without mpirun)");
  }
#endif
}

Distributed::~Distributed() {
#ifdef FINMERGE_WITH_MPI
  if (mpi_) {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
#endif
}

void Distributed::AllReduceSum(float* data, size_t n) {
  if (world_ == 1) return;
#ifdef FINMERGE_WITH_MPI
  for (size_t off = 0; off < n; off += kBucketFloats) {
    const int count = static_cast<int>(std::min(kBucketFloats, n - off));
    MPI_Allreduce(MPI_IN_PLACE, data + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
  }
#else
  (void)data;
  (void)n;
#endif
}

void Distributed::AllReduceSum(double* data, size_t n) {
  if (world_ == 1) return;
#ifdef FINMERGE_WITH_MPI
  MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
#else
  (void)data;
  (void)n;
#endif
}

void Distributed::AllReduceSum(int64_t* data, size_t n) {
  if (world_ == 1) return;
#ifdef FINMERGE_WITH_MPI
  MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
#else
  (void)data;
  (void)n;
#endif
}

Status Distributed::BroadcastStatus(const Status& status) {
  if (world_ == 1) return status;
#ifdef FINMERGE_WITH_MPI
  // (code, message length) then the message bytes, from rank 0.
  int64_t head[2] = {static_cast<int64_t>(status.code()), static_cast<int64_t>(status.message().size())};
  MPI_Bcast(head, 2, MPI_INT64_T, 0, MPI_COMM_WORLD);
  std::string msg = status.message();
  msg.resize(static_cast<size_t>(head[1]));
  if (head[1] > 0) MPI_Bcast(msg.data(), static_cast<int>(head[1]), MPI_CHAR, 0, MPI_COMM_WORLD);
  switch (static_cast<Status::Code>(head[0])) {
    case Status::Code::kOk:
      return Status::Ok();
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(msg);
    case Status::Code::kNotFound:
      return Status::NotFound(msg);
    case Status::Code::kCorruption:
      return Status::Corruption(msg);
    case Status::Code::kIOError:
      return Status::IOError(msg);
    case Status::Code::kUnsupported:
      return Status::Unsupported(msg);
    case Status::Code::kInternal:
      return Status::Internal(msg);
  }
  return Status::Internal(msg);
#else
  return status;
#endif
}

void Distributed::Barrier() {
#ifdef FINMERGE_WITH_MPI
  if (world_ > 1) MPI_Barrier(MPI_COMM_WORLD);
#endif
}

}  // namespace fm
