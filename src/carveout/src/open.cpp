// Finding, creating and locking a carveout file (Carveout::open); validation is in load.cpp.
#include "el3d/carveout/carveout.hpp"

#include "el3d/util/crc.hpp"
#include "el3d/util/fd.hpp"
#include "el3d/util/numbers.hpp"
#include "internal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace el3d {

void detail::refuse(CarveoutRefusal why, const std::string& path, const std::string& msg)
{
	throw CarveoutError(why, "carveout file " + path + ": " + msg);
}

namespace {

using detail::refuse;
using format::StateHeader;
using format::Superblock;

std::string dirname_of(const std::string& path)
{
	auto slash = path.rfind('/');
	if (slash == std::string::npos)
		return ".";
	if (slash == 0)
		return "/";
	return path.substr(0, slash);
}

std::string basename_of(const std::string& path)
{
	auto slash = path.rfind('/');
	return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The name create_file() builds a new file under: "<name>.new." and mkostemp's six letters or digits.
bool is_temp_name(const std::string& name, const std::string& carveout_name)
{
	const std::string prefix = carveout_name + ".new.";
	if (name.size() != prefix.size() + 6 || name.compare(0, prefix.size(), prefix) != 0)
		return false;
	return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(prefix.size()), name.end(), [](char ch) {
		return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
	});
}

// Remove the temporary files that an opener killed while it created the carveout file left next
// to it. Called with the carveout file's lock held, so no el3d is creating or replacing this file
// now; a temporary file is removed only if it is a regular file of ours that nobody holds locked
// (its creator locks it until it is in place), or a second name of the file we hold (a creator
// that died between link() and unlink()).
void remove_stale_temp_files(const std::string& path, int own_fd)
{
	struct stat own {};
	if (::fstat(own_fd, &own) != 0)
		return;
	const std::string dir = dirname_of(path);
	const std::string name = basename_of(path);
	std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
	if (!d)
		return;
	while (const dirent* e = ::readdir(d.get())) {
		const std::string entry = e->d_name;
		if (!is_temp_name(entry, name))
			continue;
		const std::string tmp = dir + "/" + entry;
		UniqueFd fd(::open(tmp.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
		struct stat st {};
		if (!fd.valid() || ::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid())
			continue;
		const bool second_name = same_file(st, own);
		if (!second_name && ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
			continue;  // its creator is still at work
		struct stat now {};
		if (::lstat(tmp.c_str(), &now) != 0 || !same_file(now, st))
			continue;
		if (::unlink(tmp.c_str()) != 0) {
			spdlog::warn("cannot remove stale temporary file {}: {}", tmp, std::strerror(errno));
			continue;
		}
		spdlog::info("removed stale temporary file {} (left by a process killed while it created {})", tmp, path);
	}
}

// Take the exclusive lock or explain who has it.
void lock_or_refuse(int fd, const std::string& path)
{
	if (::flock(fd, LOCK_EX | LOCK_NB) == 0)
		return;
	if (errno != EWOULDBLOCK)
		refuse(CarveoutRefusal::Io, path, std::string("cannot lock: ") + std::strerror(errno));
	long pid = flock_holder_pid(fd);
	refuse(CarveoutRefusal::Locked, path,
	       "in use by another process" + (pid > 0 ? " (pid " + std::to_string(pid) + ")" : std::string()) +
	           "; only one el3d (or in-process el3client) may serve a carveout file at a time");
}

// Compare the file's geometry with what the caller explicitly asked for.
void check_geometry(const Geometry& have, const CarveoutOpenRequest& req)
{
	std::string diffs;
	auto diff = [&](const char* name, uint64_t file_value, uint64_t asked) {
		if (file_value != asked)
			diffs += std::string("\n  ") + name + ": file has " + hex(file_value) + ", asked for " + hex(asked);
	};
	if (req.platform) {
		const PlatformProfile* p = find_platform(*req.platform);
		if (p == nullptr)
			throw GeometryError("unknown platform '" + *req.platform + "' (known: " + platform_names() + ")");
		Geometry want = make_geometry(*p, req.overrides);
		if (want.platform != have.platform)
			diffs += "\n  platform: file has " + have.platform + ", asked for " + want.platform;
		diff("rmm_base", have.rmm_base, want.rmm_base);
		diff("rmm_limit", have.rmm_limit, want.rmm_limit);
		// The payload size is a default for new files (it depends on the ABI): an existing file keeps
		// its own unless --payload-size asks for another.
		if (req.overrides.payload_size)
			diff("payload_limit", have.payload_limit, want.payload_limit);
		diff("region_slots", have.region_slots, want.region_slots);
		diff("core_count", have.core_count, want.core_count);
	} else {
		const auto& o = req.overrides;
		if (o.rmm_base)
			diff("rmm_base", have.rmm_base, *o.rmm_base);
		if (o.rmm_size)
			diff("rmm_size", have.rmm_limit - have.rmm_base, *o.rmm_size);
		if (o.payload_size)
			diff("payload_size", have.payload_limit - have.rmm_base, *o.payload_size);
		if (o.region_slots)
			diff("region_slots", have.region_slots, *o.region_slots);
		if (o.core_count)
			diff("core_count", have.core_count, *o.core_count);
	}
	if (!diffs.empty())
		refuse(CarveoutRefusal::GeometryMismatch, req.path,
		       "its geometry differs from the one requested:" + diffs +
		           "\nStart without those options to use the file as it is, or add --reset to recreate it "
		           "(this erases its regions).");
}

// Create the file under a temporary name, then link (or, for a reset, rename) it into place, so
// that nobody ever sees a half-written carveout. Returns the locked fd, or -1 if another process
// created the file first (the caller then opens that one).
int create_file(const CarveoutOpenRequest& req, const Geometry& g, bool replace)
{
	const std::string dir = dirname_of(req.path);
	make_dirs(dir, 0700);
	std::string tmpl = req.path + ".new.XXXXXX";
	UniqueFd fd(::mkostemp(tmpl.data(), O_CLOEXEC));
	if (!fd.valid())
		refuse(CarveoutRefusal::Io, req.path, std::string("cannot create: ") + std::strerror(errno));
	const std::string tmp = tmpl;
	struct Unlinker {
		std::string p;
		~Unlinker()
		{
			if (!p.empty())
				::unlink(p.c_str());
		}
	} cleanup{tmp};
	try {
		if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0)
			throw SystemError("cannot lock " + tmp, errno);
		::fchmod(fd.get(), 0600);
		const uint64_t cap = req.log_capacity ? req.log_capacity : format::kDefaultLogCapacity;
		if (cap > format::kMaxLogCapacity)
			throw GeometryError("log capacity " + std::to_string(cap) + " is above the maximum " +
			                    std::to_string(format::kMaxLogCapacity));
		Superblock sb = format::make_superblock(g, cap);
		if (::ftruncate(fd.get(), static_cast<off_t>(sb.file_size)) != 0)
			throw SystemError("cannot size " + tmp, errno);
		// Reserve the metadata blocks so that commits never meet a full disk; the image stays sparse.
		if (::fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, static_cast<off_t>(sb.state_offset),
		                static_cast<off_t>(sb.image_offset - sb.state_offset)) != 0 &&
		    errno != EOPNOTSUPP)
			throw SystemError("cannot reserve metadata space in " + tmp, errno);
		write_exact(fd.get(), &sb, sizeof(sb), 0, "write header of " + tmp);
		// Generation 1, epoch 1, empty document ({} in CBOR is 0xa0).
		const uint8_t empty_map = 0xa0;
		StateHeader h{};
		std::memcpy(h.magic, format::kStateMagic, sizeof(h.magic));
		h.generation = 1;
		h.epoch = 1;
		h.payload_len = 1;
		h.crc = crc32(&empty_map, 1, crc32(&h, sizeof(h)));
		write_exact(fd.get(), &h, sizeof(h), sb.state_offset, "write state of " + tmp);
		write_exact(fd.get(), &empty_map, 1, sb.state_offset + sizeof(h), "write state of " + tmp);
		if (::fsync(fd.get()) != 0)
			throw SystemError("cannot sync " + tmp, errno);
		if (replace) {
			if (::rename(tmp.c_str(), req.path.c_str()) != 0)
				throw SystemError("cannot move " + tmp + " into place", errno);
		} else if (::link(tmp.c_str(), req.path.c_str()) != 0) {
			if (errno == EEXIST)
				return -1;
			throw SystemError("cannot link " + tmp + " into place", errno);
		}
		if (replace)
			cleanup.p.clear();
		UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
		if (dfd.valid())
			::fsync(dfd.get());
	} catch (const SystemError& e) {
		refuse(CarveoutRefusal::Io, req.path, e.what());
	}
	return fd.release();
}

}  // namespace

std::unique_ptr<Carveout> Carveout::open(const CarveoutOpenRequest& req)
{
	if (req.path.empty())
		throw CarveoutError(CarveoutRefusal::Io, "no carveout file path given");
	auto new_geometry = [&] {
		const std::string name = req.platform.value_or("fvp");
		const PlatformProfile* p = find_platform(name);
		if (p == nullptr)
			throw GeometryError("unknown platform '" + name + "' (known: " + platform_names() + ")");
		return make_geometry(*p, req.overrides);
	};

	std::unique_ptr<Carveout> c(new Carveout());
	c->path_ = req.path;
	c->durability_ = req.durability;
	// Once the file is ours (locked and accepted), clear what killed creators left next to it.
	auto opened = [&] {
		remove_stale_temp_files(c->path_, c->fd_);
		return std::move(c);
	};

	if (req.reset) {
		Geometry g = new_geometry();
		// Hold the old file's lock (if there is one) so a running daemon's file is never replaced.
		UniqueFd old(::open(req.path.c_str(), O_RDONLY | O_CLOEXEC));
		if (old.valid())
			lock_or_refuse(old.get(), req.path);
		c->fd_ = create_file(req, g, /*replace=*/true);
		::unlink(restore_intent_path(req.path).c_str());  // a restore of the file that was replaced
		c->map_and_load(true);
		return opened();
	}

	for (int attempt = 0; attempt < 3; ++attempt) {
		int fd = ::open(req.path.c_str(), O_RDWR | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT) {
			Geometry g = new_geometry();
			fd = create_file(req, g, /*replace=*/false);
			if (fd < 0)
				continue;  // created by someone else meanwhile: open theirs
			c->fd_ = fd;
			::unlink(restore_intent_path(req.path).c_str());  // left by a file of this name deleted since
			c->map_and_load(true);
			return opened();
		}
		if (fd < 0)
			refuse(CarveoutRefusal::Io, req.path, std::string("cannot open: ") + std::strerror(errno));
		c->fd_ = fd;
		lock_or_refuse(fd, req.path);
		// Before anything reads the file: a restore that passed its commit point is finished.
		c->finish_interrupted_restore();
		c->map_and_load(false);
		check_geometry(c->geom_, req);
		return opened();
	}
	refuse(CarveoutRefusal::Io, req.path, "the file keeps appearing and disappearing");
}

}  // namespace el3d
