// Page-level hints for memory-mapped checkpoint data, used to stream tensors of any size with flat memory.
// Both are hints: they never change the bytes a view reads, and errors (old kernels) are ignored.
#pragma once

#include <cstddef>

namespace fm {

// Maps the pages of [p, p+n) into the page table in one call (MADV_POPULATE_READ), which is much cheaper than
// taking one page fault per 4 KB when the range is then read sequentially.
void PrefetchMapped(const void* p, size_t n);
// Drops the whole pages inside [p, p+n) from this process's resident set (MADV_DONTNEED on a file mapping:
// the data stays in the page cache and is faulted back in if touched again).
void ReleaseMapped(const void* p, size_t n);

}  // namespace fm
