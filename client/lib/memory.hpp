#pragma once
// el3client's view of emulated physical memory: the carveout file and the NS memory file, mapped
// at VA == PA where that range is free in the process, elsewhere otherwise.
#include "backend.hpp"

#include <cstddef>
#include <cstdint>
#include <vector>

namespace el3d::client {

// Physical [base, base + size) at `va`, from `file_offset` of one of the two files.
struct Mapping {
	uint64_t base = 0, size = 0, file_offset = 0;
	uint8_t* va = nullptr;
	int fd = -1;  // the file's descriptor, owned by PhysMemory
	bool identity() const { return reinterpret_cast<uintptr_t>(va) == base; }
	bool holds(uint64_t pa, uint64_t len) const { return pa >= base && pa - base <= size && len <= size - (pa - base); }
};

class PhysMemory {
public:
	PhysMemory() = default;
	~PhysMemory();  // unmaps both files and closes them (aliases made with alias() stay valid)
	PhysMemory(const PhysMemory&) = delete;
	PhysMemory& operator=(const PhysMemory&) = delete;

	// Open both files, check their ids, map the carveout and then every NS window. Where a range
	// is taken in this process, it is mapped elsewhere and one note goes to stderr (one for the
	// carveout, one for all NS windows). Throws Error(EL3_ERR_MAP); maps nothing then.
	void map(const CarveoutMap& carveout, const NsMemoryMap& ns);

	const CarveoutMap& carveout() const { return carveout_info_; }
	const NsMemoryMap& ns() const { return ns_info_; }
	const Mapping& carveout_mapping() const { return carveout_; }
	const std::vector<Mapping>& ns_windows() const { return windows_; }
	// The carveout and every NS window at VA == PA.
	bool identity() const;

	void* pa_to_va(uint64_t pa) const;      // nullptr outside both
	uint64_t va_to_pa(const void* va) const;  // 0 outside both
	// Map physical [pa, pa + len) again, MAP_SHARED | MAP_FIXED at `va`. Throws Error
	// (EL3_ERR_INVALID for bad arguments, EL3_ERR_MAP when mmap fails).
	void alias(uint64_t pa, std::size_t len, void* va) const;

private:
	void unmap();
	CarveoutMap carveout_info_;
	NsMemoryMap ns_info_;
	Mapping carveout_;
	std::vector<Mapping> windows_;
	int carveout_fd_ = -1, ns_fd_ = -1;
};

}  // namespace el3d::client
