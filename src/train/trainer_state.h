// TrainerState: everything beyond the weights that `--resume` needs to continue a run exactly — the f32
// master parameters (the published model may be bf16), both AdamW moments, the step, the data position and
// the run's arguments — in OUT/trainer_state/state.bin.
//
// Format (little endian), version 1:
//   [0, 64)   header: magic "FMTRNSTA" (8 bytes), uint32 version, uint32 reserved (0), uint64 json_bytes,
//             uint64 num_params (n), uint64 checksum, zero padding
//   [64, 64 + J)  JSON document (json_bytes), zero-padded to a multiple of 64 bytes (J):
//             {"step", "adam_step", "data": {"slots", "main_taken", "replay_taken"}, "args": {...},
//              "tensors": [[name, offset, numel], ...]}
//   then      f32 params[n], f32 m[n], f32 v[n]
// checksum: 64-bit FNV-1a over 8-byte words of the padded JSON, then of each array (an odd tail
// zero-extended). The reader checks magic, version, file size, checksum and that the tensor table matches the
// model being resumed, and names what differs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/model.h"
#include "train/data_loader.h"

namespace fm {

struct TrainerState {
  int64_t step = 0;       // optimizer steps completed
  int64_t adam_step = 0;  // AdamW's t (equal to step unless a run changed it)
  DataPosition data;
  nlohmann::json args = nlohmann::json::object();  // the options of the run that wrote it
};

// The file name inside the trainer_state folder.
inline constexpr const char* kTrainerStateFile = "state.bin";

// Writes `dir`/state.bin (dir must exist). params, m, v: (n) each, laid out per `tensors`.
Status SaveTrainerState(const std::string& dir, const TrainerState& state,
                        const std::vector<ParamTensor>& tensors, const float* params, const float* m,
                        const float* v, size_t n);

// Reads `dir`/state.bin into state and the three (n) arrays, after checking it matches `tensors`.
Status LoadTrainerState(const std::string& dir, const std::vector<ParamTensor>& tensors, TrainerState* state,
                        float* params, float* m, float* v, size_t n);

// Reads only the JSON part (step, data position, args), e.g. to check a resume's arguments before loading.
Status PeekTrainerState(const std::string& dir, TrainerState* state);

}  // namespace fm
