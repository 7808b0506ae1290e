// TensorView: a read-only, zero-copy view of one tensor's bytes inside a mapped checkpoint file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace fm {

struct TensorView {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;  // row-major, outermost first (as in safetensors / PyTorch)
  const void* data = nullptr;  // nbytes bytes; alignment not guaranteed (read with memcpy or ToF32)
  uint64_t nbytes = 0;
  std::string file;  // the file holding the bytes, for error messages

  int64_t numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

// "[4096, 11008]"
std::string ShapeString(const std::vector<int64_t>& shape);

}  // namespace fm
