#include <memory>

#include "merge/merge_method.h"

namespace fm {

namespace {

const std::vector<std::unique_ptr<MergeMethod>>& Registry() {
  static const std::vector<std::unique_ptr<MergeMethod>> methods = [] {
    std::vector<std::unique_ptr<MergeMethod>> m = MakeTaskArithmeticFamily();
    m.push_back(MakeLinearMethod());
    m.push_back(MakeSlerpMethod());
    m.push_back(MakeModelStockMethod());
    return m;
  }();
  return methods;
}

}  // namespace

const MergeMethod* FindMergeMethod(const std::string& name) {
  for (const auto& m : Registry()) {
    if (m->name() == name) return m.get();
  }
  return nullptr;
}

std::vector<const MergeMethod*> AllMergeMethods() {
  std::vector<const MergeMethod*> out;
  for (const auto& m : Registry()) out.push_back(m.get());
  return out;
}

}  // namespace fm
