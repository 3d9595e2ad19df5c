// Mapping the carveout file and the NS memory file at PA == VA (docs/client.md, "Memory: PA == VA").
#include "memory.hpp"

#include "el3_codes.hpp"
#include "el3d/util/numbers.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

namespace el3d::client {

namespace {

// Open a file el3d reports and check its random id (bytes 16..31 in both file formats).
int open_checked(const std::string& path, const std::string& id, const char* what)
{
	const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		throw Error(EL3_ERR_MAP, std::string("cannot open the ") + what + " " + path + ": " + std::strerror(errno) +
		                             " (it must be reachable at the path el3d uses, e.g. through a shared volume)");
	uint8_t got[16];
	if (::pread(fd, got, sizeof(got), 16) != static_cast<ssize_t>(sizeof(got)) || to_hex(got, sizeof(got)) != id) {
		::close(fd);
		throw Error(EL3_ERR_MAP, "the file at " + path + " is not the " + what + " el3d is serving (id " + id + ")");
	}
	return fd;
}

// Map [file_offset, + size) of `fd` at VA == base if that range is free, else anywhere. `why` gets
// errno of the identity attempt when it failed (0 when it worked). Throws Error if both fail.
uint8_t* map_range(int fd, uint64_t base, uint64_t size, uint64_t file_offset, int& why, const char* what)
{
	void* want = reinterpret_cast<void*>(static_cast<uintptr_t>(base));
	void* p = ::mmap(want, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED_NOREPLACE, fd,
	                 static_cast<off_t>(file_offset));
	if (p != MAP_FAILED && p != want) {  // kernels without MAP_FIXED_NOREPLACE treat it as a hint
		::munmap(p, size);
		p = MAP_FAILED;
		errno = EEXIST;
	}
	why = 0;
	if (p == MAP_FAILED) {
		why = errno;
		p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, static_cast<off_t>(file_offset));
		if (p == MAP_FAILED)
			throw Error(EL3_ERR_MAP, std::string("cannot map the ") + what + " [" + hex(base) + ", +" + hex(size) +
			                             "): " + std::strerror(errno));
	}
	return static_cast<uint8_t*>(p);
}

bool overlaps(const uint8_t* a, std::size_t alen, const uint8_t* b, std::size_t blen)
{
	return a < b + blen && b < a + alen;
}

}  // namespace

PhysMemory::~PhysMemory() { unmap(); }

void PhysMemory::unmap()
{
	if (carveout_.va != nullptr)
		::munmap(carveout_.va, carveout_.size);
	for (const Mapping& w : windows_)
		::munmap(w.va, w.size);
	windows_.clear();
	carveout_ = {};
	for (int* fd : {&carveout_fd_, &ns_fd_})
		if (*fd >= 0) {
			::close(*fd);
			*fd = -1;
		}
}

void PhysMemory::map(const CarveoutMap& carveout, const NsMemoryMap& ns)
{
	try {
		carveout_fd_ = open_checked(carveout.path, carveout.id, "carveout file");
		int why = 0;
		carveout_ = {carveout.base, carveout.size, carveout.file_offset, nullptr, carveout_fd_};
		carveout_.va = map_range(carveout_fd_, carveout.base, carveout.size, carveout.file_offset, why, "carveout file");
		if (why != 0)
			std::fprintf(stderr,
			             "el3client: physical range [%s, +%s) cannot be mapped at the same virtual address in this "
			             "process (%s); using an offset mapping at %p: dereference physical addresses through "
			             "el3_pa_to_va()\n",
			             hex(carveout.base).c_str(), hex(carveout.size).c_str(), std::strerror(why),
			             static_cast<void*>(carveout_.va));
		if (!ns.windows.empty()) {
			ns_fd_ = open_checked(ns.path, ns.id, "NS memory file");
			std::string moved;
			for (const NsWindowMap& w : ns.windows) {
				Mapping m{w.base, w.size, w.file_offset, nullptr, ns_fd_};
				m.va = map_range(ns_fd_, w.base, w.size, w.file_offset, why, "NS memory window");
				windows_.push_back(m);
				if (why != 0)
					moved += std::string(moved.empty() ? "" : ", ") + "[" + hex(w.base) + ", +" + hex(w.size) + ") (" +
					         std::strerror(why) + ")";
			}
			if (!moved.empty())
				std::fprintf(stderr,
				             "el3client: Non-secure memory %s cannot be mapped at the same virtual address in this "
				             "process; using offset mappings: dereference physical addresses through el3_pa_to_va()\n",
				             moved.c_str());
		}
	} catch (...) {
		unmap();
		throw;
	}
	carveout_info_ = carveout;
	ns_info_ = ns;
}

bool PhysMemory::identity() const
{
	if (!carveout_.identity())
		return false;
	for (const Mapping& w : windows_)
		if (!w.identity())
			return false;
	return true;
}

void* PhysMemory::pa_to_va(uint64_t pa) const
{
	if (carveout_.va != nullptr && pa >= carveout_.base && pa - carveout_.base < carveout_.size)
		return carveout_.va + (pa - carveout_.base);
	for (const Mapping& w : windows_)
		if (pa >= w.base && pa - w.base < w.size)
			return w.va + (pa - w.base);
	return nullptr;
}

uint64_t PhysMemory::va_to_pa(const void* va) const
{
	const auto* p = static_cast<const uint8_t*>(va);
	if (carveout_.va != nullptr && p >= carveout_.va && p < carveout_.va + carveout_.size)
		return carveout_.base + static_cast<uint64_t>(p - carveout_.va);
	for (const Mapping& w : windows_)
		if (p >= w.va && p < w.va + w.size)
			return w.base + static_cast<uint64_t>(p - w.va);
	return 0;
}

void PhysMemory::alias(uint64_t pa, std::size_t len, void* va) const
{
	const auto page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
	const auto at = reinterpret_cast<uintptr_t>(va);
	const std::string what = "el3_map_alias([" + hex(pa) + ", +" + hex(len) + ") at " + hex(at) + ")";
	if (va == nullptr || len == 0 || pa % page != 0 || len % page != 0 || at % page != 0)
		throw Error(EL3_ERR_INVALID, what + ": pa, len and va must be non-zero multiples of the page size (" +
		                                 hex(page) + ")");
	const Mapping* from = carveout_.holds(pa, len) ? &carveout_ : nullptr;
	for (const Mapping& w : windows_)
		if (from == nullptr && w.holds(pa, len))
			from = &w;
	if (from == nullptr)
		throw Error(EL3_ERR_INVALID, what + ": not inside the carveout or one Non-secure memory window");
	const auto* dst = static_cast<const uint8_t*>(va);
	bool clash = overlaps(dst, len, carveout_.va, carveout_.size);
	for (const Mapping& w : windows_)
		clash = clash || overlaps(dst, len, w.va, w.size);
	if (clash)
		throw Error(EL3_ERR_INVALID, what + ": the virtual range overlaps el3client's own mapping of physical memory");
	void* p = ::mmap(va, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, from->fd,
	                 static_cast<off_t>(from->file_offset + (pa - from->base)));
	if (p == MAP_FAILED)
		throw Error(EL3_ERR_MAP, what + ": " + std::strerror(errno));
}

}  // namespace el3d::client
